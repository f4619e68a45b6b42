"""Real nodes and the offline bundle (issue 11).

- pod_ready_seconds: median of REPEAT Missions, each created at the root of a root -> leaf tree,
  until its Deployment's pod is Running and Ready on the leaf's real kubelet (containerd, the
  kubelet and kube-proxy on this machine, installed by the roles; images imported from the
  node's OCI archives). The same harness pieces as tests/integration/test_nodes.py.
- bundle_build_seconds, bundle_mb: playbooks/bundle.yml for the one-cluster inventory of
  tests/integration/test_bundle_offline.py (its helpers), measured once.
- site_rollout_offline_seconds: site.yml from that bundle on a podman host with no network,
  measured once. It takes 10-15 minutes on two cores (most of it the PKI and the control
  plane), too long for every bench run: only with FORNAX_BENCH_OFFLINE=1 (take the podman
  lock: flock /tmp/fornax-podman.lock); otherwise the metric is left out and says so.

Needs root, containerd, the CNI plugins, nft and podman, like the tests it borrows from. Names
carry ``$FORNAX_TEST_ID`` (default ``fxbench``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType

from fornax_harness.node import images_dir, mission_pod_ready_seconds, node_tree, proxy_leftovers

ROOT = Path(__file__).resolve().parents[2]
REPEAT = 5
TAG = os.environ.get("FORNAX_TEST_ID", "fxbench")
POD_CIDR = "10.251.78.0/24"


def _offline() -> ModuleType:
    """tests/integration/test_bundle_offline.py, for its helpers (one place of the procedure)."""
    path = ROOT / "tests/integration/test_bundle_offline.py"
    spec = importlib.util.spec_from_file_location("fornax_bench_offline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pod_ready(work: Path) -> float:
    tree, node = node_tree(work, TAG, POD_CIDR, images_dir())
    try:
        samples = [
            mission_pod_ready_seconds(tree, f"{TAG}-root", node, f"web-{i}") for i in range(REPEAT)
        ]
    finally:
        leftovers = node.destroy()
        tree.destroy()
    if leftovers.strip() or proxy_leftovers():
        raise SystemExit(f"bench nodes: the node left something behind: {leftovers}")
    return statistics.median(samples)


def bundle(work: Path) -> dict[str, float]:
    offline = _offline()
    env = offline.podman_env()
    inventory = offline.write_inventory(work)
    path, build_seconds, size = offline.build_bundle(env, inventory, work)
    metrics = {"bundle_build_seconds": build_seconds, "bundle_mb": size / 1048576}
    if os.environ.get("FORNAX_BENCH_OFFLINE") != "1":
        print("[bench] site_rollout_offline_seconds left out: set FORNAX_BENCH_OFFLINE=1")
        return metrics
    image = offline.prerequisites(env)
    try:
        offline.start_host(env, image)
        rc, out, seconds = offline.playbook(
            env, inventory, "site.yml", "-e", f"fornax_bundle={path}"
        )
    finally:
        subprocess.run(
            ["podman", "rm", "-f", "-t", "5", offline.NAME],
            env=env,
            capture_output=True,
            check=False,
        )
    if rc != 0:
        raise SystemExit(f"bench nodes: the offline rollout failed:\n{out[-4000:]}")
    return {**metrics, "site_rollout_offline_seconds": seconds}


def run() -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"fornax-bench-{TAG}-"))
    try:
        return {"pod_ready_seconds": pod_ready(work / "pods"), **bundle(work / "bundle")}
    finally:
        shutil.rmtree(work, ignore_errors=True)
