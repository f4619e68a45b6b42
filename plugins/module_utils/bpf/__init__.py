# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""BPF side of the collection: map layouts, bpftool driver, declarative map sync (pure Python)."""
