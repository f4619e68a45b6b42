"""Test harness of centaurus.fornax: real Kubernetes clusters on loopback, pytest helpers."""

from .cluster import ClusterSpec, TestCluster, install_crds, start_clusters
from .process import HarnessError

__all__ = ["ClusterSpec", "HarnessError", "TestCluster", "install_crds", "start_clusters"]
