"""Every kubeconfig the roles and modules write is read back by the Go client, whatever the
cluster is called.

Clusters named ``101``, ``on``, ``y``, ``n``, ``1e3``, ``off``, ``0o17`` and ``null`` are valid
DNS-1123 labels that Go's YAML 1.1 reader takes for numbers, booleans or null when they are
not quoted (docs/security.md, "YAML for Go readers"). A hierarchy file declares them; a real
``ansible-playbook`` run renders the control_plane role's kubeconfig template with the
inventory's values for every kubeconfig the role writes, and writes the agent's parent
kubeconfig the way the cascade role does (``to_safe_yaml``); cluster_link's own writer writes
its ``dest`` file. ``kubectl config view`` (Go) must read each one and give the names back as
strings. A control shows that the check can fail: PyYAML's own dumper, which does not quote
``y``, ``n`` or ``1e3``, makes files kubectl refuses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.child_link import (
    child_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.modules.cluster_link import write_private

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "control_plane"
NAMES = ["101", "on", "y", "n", "1e3", "off", "0o17", "null"]
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def hierarchy(python: str) -> dict:
    host_vars = {"ansible_connection": "local", "ansible_python_interpreter": python}
    clusters = [
        {
            "name": name,
            **({"parent": NAMES[0]} if index else {}),
            "hosts": [
                {
                    "name": f"cp-{index}",
                    "roles": ["control_plane"],
                    "address": f"127.0.0.{index + 1}",
                    "vars": host_vars,
                }
            ],
        }
        for index, name in enumerate(NAMES)
    ]
    return {"plugin": "centaurus.fornax.hierarchy", "clusters": clusters}


def kubeconfig_tasks() -> list[dict]:
    """The role's template tasks, with the variables its task files give them."""
    uses = [
        path.name
        for path in sorted((ROLE / "tasks").glob("*.yml"))
        for _use in re.findall(r"src: kubeconfig\.j2", path.read_text())
    ]
    # install.yml (components, admin, agent) and pki.yml (the controller's admin); a new use
    # of the template must be added here too.
    assert uses == ["install.yml", "pki.yml"], uses
    template = str(ROLE / "templates" / "kubeconfig.j2")
    return [
        {
            "name": "kubeconfigs of install.yml",
            "ansible.builtin.template": {
                "src": template,
                "dest": "{{ out }}/{{ fornax_cluster }}-{{ item }}.kubeconfig",
                "mode": "0600",
            },
            "loop": "{{ __control_plane_kubeconfigs }}",
            "vars": {
                "__control_plane_kc_server": "{{ __control_plane_local_server }}",
                "__control_plane_kc_user": "{{ item }}",
                "__control_plane_kc_dir": "{{ __control_plane_pki }}",
            },
        },
        {
            "name": "kubeconfig of pki.yml",
            "ansible.builtin.template": {
                "src": template,
                "dest": "{{ out }}/{{ fornax_cluster }}-controller-admin.kubeconfig",
                "mode": "0600",
            },
            "vars": {
                "__control_plane_kc_server": "{{ fornax_api_endpoint }}",
                "__control_plane_kc_user": "admin",
                "__control_plane_kc_dir": "{{ __control_plane_local_pki }}",
            },
        },
        {
            "name": "parent kubeconfig of cascade's link.yml",
            "ansible.builtin.copy": {
                "content": "{{ links[fornax_cluster] | centaurus.fornax.to_safe_yaml }}",
                "dest": "{{ out }}/{{ fornax_cluster }}-parent.kubeconfig",
                "mode": "0600",
            },
        },
    ]


def go_reads(kubectl: Path, path: Path) -> dict:
    done = subprocess.run(
        [str(kubectl), "config", "view", "--kubeconfig", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl cannot read {path.name}: {done.stderr}"
    return json.loads(done.stdout)


def test_the_go_client_reads_every_written_kubeconfig(k8s_bin, tmp_path):
    kubectl = k8s_bin / "kubectl"
    out = tmp_path / "out"
    out.mkdir()
    source = tmp_path / "tree.yml"
    source.write_text(yaml.safe_dump(hierarchy(sys.executable)))  # names quoted: PyYAML reads it
    links = {
        name: child_kubeconfig(f"https://127.0.0.1:{6443 + i}", CA, f"token-{i}", context=name)
        for i, name in enumerate(NAMES)
    }
    (tmp_path / "links.json").write_text(json.dumps({"links": links, "out": str(out)}))
    play = {
        "hosts": "control_plane",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": kubeconfig_tasks(),
    }
    (tmp_path / "play.yml").write_text(json.dumps([play]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    done = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(source),
            "-e",
            f"@{tmp_path / 'links.json'}",
            str(tmp_path / "play.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name, config in links.items():  # cluster_link's own dest file
        write_private(str(out / f"{name}-cluster_link.kubeconfig"), config)

    components = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    kinds = [*components["__control_plane_kubeconfigs"], "controller-admin", "parent"]
    kinds.append("cluster_link")
    written = sorted(out.glob("*.kubeconfig"))
    assert len(written) == len(NAMES) * len(kinds), [p.name for p in written]
    for name in NAMES:
        for kind in kinds:
            view = go_reads(kubectl, out / f"{name}-{kind}.kubeconfig")
            assert view["current-context"] == name
            assert [c["name"] for c in view["clusters"]] == [name]
            assert [c["name"] for c in view["contexts"]] == [name]
            assert view["contexts"][0]["context"]["cluster"] == name


@pytest.mark.parametrize("name", ["y", "n", "1e3"])
def test_the_check_can_fail(k8s_bin, tmp_path, name):
    """PyYAML's dumper reads these back as strings itself, so it leaves them unquoted."""
    path = tmp_path / "plain.kubeconfig"
    path.write_text(yaml.safe_dump(child_kubeconfig("https://127.0.0.1:6443", CA, "t", name)))
    assert f"name: {name}\n" in path.read_text()
    done = subprocess.run(
        [str(k8s_bin / "kubectl"), "config", "view", "--kubeconfig", str(path), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0, done.stdout
    assert "cannot unmarshal" in done.stderr, done.stderr
