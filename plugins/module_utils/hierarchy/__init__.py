# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The Fornax hierarchy: one declarative file describing a tree of clusters (pure Python).

Stages, one module each, every rule written once:

- ``parse``      document (already loaded from YAML/JSON) -> cluster and VPC specs, field checks
- ``tree``       parent links -> one rooted tree (duplicates, unknown/two parents, cycles)
- ``inherit``    defaults flowing down the tree, per-subtree overrides
- ``allocate``   deterministic CIDR and VNI allocation from pools
- ``validate``   address and VNI rules across clusters (overlaps, clashes, gateways)
- ``layout``     the tree -> Ansible groups, group vars and host vars (the hostvars contract)

``load.load_hierarchy`` runs them in order and raises ``errors.HierarchyError`` naming the
file, the entry and the reason of every problem found.
"""
