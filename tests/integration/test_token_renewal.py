"""The agent renews its bounded-lifetime parent token by itself and keeps working."""

from __future__ import annotations

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import child_link, names
from fornax_harness.tree import start_tree, wait_for


def parent_token(tree) -> str:
    config = yaml.safe_load((tree["b"].dir / "parent.kubeconfig").read_text())
    return child_link.kubeconfig_token(config)


def test_agent_renews_its_token(k8s_bin, tmp_path):
    # Renew after 0.1 % of the lifetime: at once, instead of after two thirds of a day.
    tree = start_tree(
        tmp_path, {"a": None, "b": "a"}, overrides={"b": {"token_renew_after": 0.001}}
    )
    try:
        first = parent_token(tree)
        renewed = wait_for(
            lambda: parent_token(tree) != first and parent_token(tree), 20, "a new token"
        )
        claims = child_link.token_claims(renewed)
        assert claims["sub"] == "system:serviceaccount:fornax-system:child-b"
        assert (tree["b"].dir / "parent.kubeconfig").stat().st_mode & 0o077 == 0
        with tree.client("a") as a:
            a.create(
                names.MISSIONS,
                {
                    "apiVersion": names.API_VERSION,
                    "kind": "Mission",
                    "metadata": {"name": "after-renewal"},
                    "spec": {
                        "missionresource": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: r\n  namespace: default\n"
                    },
                },
            )
            wait_for(
                lambda: (
                    (a.get(names.mission_path("after-renewal")).get("status") or {}).get("states")
                    == {"b": "applied"}
                ),
                20,
                "b still reports with its renewed token",
            )
    finally:
        tree.destroy()
