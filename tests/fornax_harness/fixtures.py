"""pytest fixtures for real clusters (registered by tests/conftest.py).

- ``k8s_bin``: the verified binary directory (a loud failure under CI when missing).
- ``cluster``: one shared cluster with the CRDs, for tests that clean up their own objects.
- ``cluster_factory``: start clusters for one test; all of them are destroyed afterwards.
- ``chain``: the A->B->C->D chain of four independent clusters (a, b, c, d), per module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .binaries import binaries_available, k8s_bin_dir
from .cluster import ClusterSpec, TestCluster, start_clusters
from .prereq import require

CHAIN = ("a", "b", "c", "d")


@pytest.fixture(scope="session")
def k8s_bin() -> Path:
    require(
        binaries_available(),
        "the Go-built Kubernetes binaries (kube-apiserver, etcd, ...)",
        "Run `make deps` or `bash scripts/k8s-binaries.sh` (Go 1.24+ and the Go module proxy).",
    )
    return k8s_bin_dir()


@pytest.fixture(scope="session")
def cluster(k8s_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    [shared] = start_clusters([ClusterSpec("shared")], tmp_path_factory.mktemp("shared"))
    yield shared
    shared.destroy()


@pytest.fixture
def cluster_factory(k8s_bin: Path, tmp_path: Path) -> Iterator[Callable[..., list[TestCluster]]]:
    started: list[TestCluster] = []

    def factory(*specs: ClusterSpec, timeout: float = 120.0) -> list[TestCluster]:
        clusters = start_clusters(specs, tmp_path / "clusters", timeout=timeout)
        started.extend(clusters)
        return clusters

    yield factory
    for c in started:
        c.destroy()


@pytest.fixture(scope="module")
def chain(k8s_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[TestCluster]]:
    clusters = start_clusters([ClusterSpec(n) for n in CHAIN], tmp_path_factory.mktemp("chain"))
    yield clusters
    for c in clusters:
        c.destroy()
