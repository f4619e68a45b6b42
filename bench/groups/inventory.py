"""Hierarchy inventory plugin at scale: a generated tree of 10,000 clusters (fan-out 10).

Metrics:
- inventory_parse_10k_seconds: median time of the real plugin's ``parse`` (read, load,
  validate, allocate, populate) into a real ``InventoryData``
- inventory_parse_10k_cpu_seconds: the same parses' median CPU time (process time): steadier
  than wall time on a shared machine
- inventory_parse_10k_wrapped_seconds: the same with the ``InventoryData`` wrapped the way
  ``InventoryManager`` wraps it for every plugin (it copies and tags each variable value)
- inventory_parse_10k_peak_mb: peak RSS of a fresh Python process importing Ansible and
  doing one such parse
- ansible_inventory_list_10k_seconds: the whole ``ansible-inventory --list`` command on the
  file (subprocess), with the plugin enabled directly as docs/hierarchy.md recommends
- ansible_inventory_list_10k_auto_seconds: the same through the default ``auto`` plugin
  (which first reads the whole file with Ansible's own, slower YAML loader)
- ansible_inventory_list_10k_no_fact_vars_seconds: ``--list`` with the plugin enabled directly
  and ``inject_facts_as_vars`` off (ANSIBLE_INJECT_FACT_VARS=False), as docs/hierarchy.md
  recommends for large fleets: Ansible then skips its per-host ``clean_facts``
- ansible_inventory_export_10k_seconds: ``--list --export`` (group variables stay on their
  groups instead of being merged into each of the 20,000 hosts)
- inventory_parse_10k_block_yaml_seconds: ``parse`` of the same tree written as block-style
  YAML (the main file is JSON, which is YAML too: generated trees are machine-written)

The tree: 10,000 clusters, each with a control-plane host and a gateway host (20,000 hosts),
a label, allocated pod/service CIDRs; 100 VPCs with subnets in 3 clusters each.
"""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from ansible._internal._datatag._tags import Origin
from ansible.inventory.data import InventoryData
from ansible.inventory.manager import _InventoryDataWrapper
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

from groups._stats import median_seconds

CLUSTERS = 10_000
FAN_OUT = 10
VPCS = 100
REPEAT = 5
ROOT = Path(__file__).resolve().parents[2]


def cluster_name(index: int) -> str:
    return f"c{index}"


def host_address(index: int, role: int) -> str:
    # 198.18.0.0/15 (benchmark range): 2 x 10,000 hosts fit below 198.19.255.255
    value = (198 << 24) | (18 << 16) | (index * 2 + role + 1)
    return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))


def mac(index: int, role: int) -> str:
    value = index * 2 + role + 1
    return f"02:00:c6:{(value >> 16) & 255:02x}:{(value >> 8) & 255:02x}:{value & 255:02x}"


def generated_tree(clusters: int = CLUSTERS, fan_out: int = FAN_OUT, vpcs: int = VPCS) -> dict:
    items = []
    for index in range(clusters):
        name = cluster_name(index)
        item: dict = {
            "name": name,
            "labels": {"site": f"s{index % 97}"},
            "hosts": [
                {
                    "name": f"{name}-cp",
                    "roles": ["control_plane"],
                    "address": host_address(index, 0),
                },
                {"name": f"{name}-gw", "roles": ["gateway"], "address": host_address(index, 1)},
            ],
            "gateway": {
                "wanAddress": f"192.0.2.{index % 250 + 1}",
                "wanMac": mac(index, 0),
            },
        }
        if index:
            item["parent"] = cluster_name((index - 1) // fan_out)
        items.append(item)
    networks = []
    for index in range(vpcs):
        members = [(index * 37 + k * 1013) % clusters for k in range(3)]
        networks.append(
            {
                "name": f"vpc-{index}",
                "clusters": [
                    {
                        "cluster": cluster_name(m),
                        "subnets": [f"172.{16 + k}.{index}.0/24"],
                        "divider": {"address": host_address(m, 1), "mac": mac(m, 1)},
                    }
                    for k, m in enumerate(members)
                ],
            }
        )
    return {
        "plugin": "centaurus.fornax.hierarchy",
        # A fleet site.yml can roll out: no fornax_rollout_problems (each host carries them).
        "defaults": {
            "kubeDistro": "k3s",
            "hostVars": {"ansible_user": "debian"},
            "gateway": {"lanInterface": "eth1", "wanInterface": "eth0"},
        },
        "clusters": items,
        "vpcs": networks,
    }


def block_yaml(tree: dict) -> str:
    return yaml.safe_dump(tree, default_flow_style=False, sort_keys=False)


PARSE_ONCE = """
import sys
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader
init_plugin_loader()
plugin = inventory_loader.get("centaurus.fornax.hierarchy")
data = InventoryData()
data.current_source = sys.argv[1]
plugin.parse(data, DataLoader(), sys.argv[1], cache=False)
assert len(data.hosts) == 2 * %d, len(data.hosts)
# VmHWM, not ru_maxrss: the latter keeps the forking parent's size from before exec
with open("/proc/self/status") as status:
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(peak_kb / 1024)
"""


@functools.cache
def hierarchy_plugin():
    """The plugin as Ansible loads it (the collection loader is set up once per process)."""
    init_plugin_loader()
    return inventory_loader.get("centaurus.fornax.hierarchy")


def parser(wrapped: bool = False):
    """A function parsing ``path`` once with the real plugin into a fresh InventoryData."""
    plugin = hierarchy_plugin()
    loader = DataLoader()

    def parse(path: str) -> object:
        data = InventoryData()
        data.current_source = path
        target: object = data
        if wrapped:
            origin = Origin(description="bench")
            target = _InventoryDataWrapper(data, target_plugin=plugin, origin=origin)
        plugin.parse(target, loader, path, cache=False)
        return data

    return parse


def wall_and_cpu(fn, repeat: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``repeat`` calls of ``fn``."""
    walls, cpus = [], []
    for _run in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def cli_seconds(
    path: str, enabled: str | None, *extra: str, settings: dict[str, str] | None = None
) -> float:
    env = dict(os.environ, **(settings or {}))
    if enabled:
        env["ANSIBLE_INVENTORY_ENABLED"] = enabled
    started = time.perf_counter()
    done = subprocess.run(
        ["ansible-inventory", "-i", path, "--list", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or '"c9999-gw"' not in done.stdout:
        raise SystemExit(f"ansible-inventory failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def run() -> dict[str, float]:
    tree = generated_tree()
    with tempfile.TemporaryDirectory(prefix="fornax-bench-") as tmp:
        path = str(Path(tmp) / "tree-10k.yml")
        Path(path).write_text(json.dumps(tree))
        block_path = str(Path(tmp) / "tree-10k-block.yml")
        Path(block_path).write_text(block_yaml(tree))
        parse = parser()
        parse(path)  # warm-up: imports, regex compilation
        parse_seconds, parse_cpu = wall_and_cpu(lambda: parse(path), REPEAT)
        parse_wrapped = parser(wrapped=True)
        wrapped_seconds = median_seconds(lambda: parse_wrapped(path), 3)
        block_seconds = median_seconds(lambda: parse(block_path), 1)
        peak = subprocess.run(
            [sys.executable, "-c", PARSE_ONCE % CLUSTERS, path],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        direct = "centaurus.fornax.hierarchy,auto,yaml,ini"
        list_seconds = median_seconds(lambda: cli_seconds(path, direct), 3)
        auto_seconds = cli_seconds(path, None)
        no_facts = {"ANSIBLE_INJECT_FACT_VARS": "False"}
        no_facts_seconds = median_seconds(lambda: cli_seconds(path, direct, settings=no_facts), 3)
        export_seconds = median_seconds(lambda: cli_seconds(path, direct, "--export"), 3)
    return {
        "inventory_parse_10k_seconds": parse_seconds,
        "inventory_parse_10k_cpu_seconds": parse_cpu,
        "inventory_parse_10k_wrapped_seconds": wrapped_seconds,
        "inventory_parse_10k_peak_mb": float(peak.stdout.strip().splitlines()[-1]),
        "ansible_inventory_list_10k_seconds": list_seconds,
        "ansible_inventory_list_10k_auto_seconds": auto_seconds,
        "ansible_inventory_list_10k_no_fact_vars_seconds": no_facts_seconds,
        "ansible_inventory_export_10k_seconds": export_seconds,
        "inventory_parse_10k_block_yaml_seconds": block_seconds,
    }
