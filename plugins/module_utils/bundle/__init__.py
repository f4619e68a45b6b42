# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The offline bundle: what a fleet needs, its layout, its manifest (docs/bundle.md)."""
