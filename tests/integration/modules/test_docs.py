"""ansible-doc renders every module of issue 4 with examples and return values."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

MODULES = ("mission", "mission_info", "edgecluster", "edgecluster_info", "cluster_link")


def test_ansible_doc_renders_each_module_with_examples_and_returns():
    names = [f"centaurus.fornax.{m}" for m in MODULES]
    done = subprocess.run(
        ["ansible-doc", "--json", *names], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    docs = json.loads(done.stdout)
    for name in names:
        entry = docs[name]
        assert entry["doc"]["short_description"], name
        assert {"kubeconfig", "context", "host", "api_key", "validate_certs"} <= set(
            entry["doc"]["options"]
        ), name
        assert yaml.safe_load(entry["examples"]), name
        assert entry["return"], name
        membership = entry["doc"]["attributes"]["action_group"]["membership"]
        assert membership == ["centaurus.fornax.k8s"], name
    assert "wait_for" in docs["centaurus.fornax.mission"]["doc"]["options"]


def test_the_action_group_lists_the_five_modules():
    runtime = yaml.safe_load((Path(__file__).resolve().parents[3] / "meta/runtime.yml").read_text())
    assert sorted(runtime["action_groups"]["k8s"]) == sorted(MODULES)
