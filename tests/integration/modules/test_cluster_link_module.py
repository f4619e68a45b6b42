"""The cluster_link module in real playbooks: present, idempotence, check, rotation, absent."""

from __future__ import annotations

import stat
import time

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import child_link, names
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    settings_from_kubeconfig,
)

API = "/apis/edgeclusters.kubeedge.io/v1"


def task(title: str, ignore_errors: bool = False, check_mode=None, **options) -> dict:
    body = {"name": title, "centaurus.fornax.cluster_link": options}
    if check_mode is not None:
        body["check_mode"] = check_mode
    if ignore_errors:
        body["ignore_errors"] = True
    return body


def token_of(path) -> str:
    return child_link.kubeconfig_token(yaml.safe_load(path.read_text()))


def test_cluster_link_lifecycle(cluster, playbook, tmp_path):
    kc = str(cluster.kubeconfig_path)
    dest = tmp_path / "child.kubeconfig"
    link = {"kubeconfig": kc, "name": "mb", "labels": {"zone": "z1"}, "dest": str(dest)}
    try:
        # Check mode first: nothing is created, the plan says what would be.
        preview = playbook([task("link", **link)], check=True, diff=True)
        assert preview.returncode == 0, preview.stdout
        assert preview["link"]["changed"] is True
        assert "kubeconfig" not in preview["link"]
        with cluster.client() as admin:
            assert admin.get_or_none(f"{API}/edgeclusters/mb") is None
        assert not dest.exists()

        run = playbook(
            [
                task("link", **link),
                task("again", **link),
                task("check again", check_mode=True, **link),
                task("rotate", rotate=True, **link),
                task("bad name", ignore_errors=True, **{**link, "name": "B_ad"}),
                task("bad ttl", ignore_errors=True, **{**link, "token_ttl": 5}),
                task("over the cap", ignore_errors=True, **{**link, "token_ttl": 86401}),
                task("bad horizon", ignore_errors=True, **{**link, "link_ttl": 0}),
            ],
            diff=True,
        )
        assert run["link"]["changed"] is True
        assert run["link"]["token_issued"] is True
        assert run["again"]["changed"] is False, run["again"]
        assert run["again"]["token_issued"] is False
        assert run["check again"]["changed"] is False
        assert run["again"]["kubeconfig"] == run["link"]["kubeconfig"]  # kept, not reissued
        assert run["rotate"]["changed"] is True and run["rotate"]["token_issued"] is True
        assert stat.S_IMODE(dest.stat().st_mode) == 0o600
        assert run["bad name"]["failed"] is True
        assert "name: 'B_ad' must be a DNS-1123 label" in run["bad name"]["msg"]
        assert "token_ttl: 5" in run["bad ttl"]["msg"]
        assert "token_ttl: 86401 must be an integer from 600 to 86400" in run["over the cap"]["msg"]
        assert "link_ttl: 0 must be a positive integer" in run["bad horizon"]["msg"]
        horizon = run["link"]["link_horizon"]
        assert run["again"]["link_horizon"] == horizon  # a second run leaves the horizon
        with cluster.client() as admin:
            assert child_link.link_horizon(admin, "mb") == horizon
        with KubeClient(settings_from_kubeconfig(str(dest))) as child:
            assert child.get(f"{API}/edgeclusters/mb")["metadata"]["labels"]["zone"] == "z1"
        old = yaml.safe_load(dest.read_text())

        # Revocation, then removal.
        run = playbook([task("revoke", rotate=True, revoke_previous=True, **link)])
        assert run["revoke"]["changed"] is True
        with cluster.client() as admin:
            assert not child_link.token_reusable(
                admin, "mb", old, cluster.server, cluster.ca.cert_pem
            )
        # The revoked token is refused within the API server's 10 s authentication cache.
        deadline = time.monotonic() + 15
        with KubeClient(settings_from_kubeconfig(old), connect_retries=0) as stolen:
            while True:
                try:
                    stolen.get(f"{API}/missions")
                except KubeApiError as refused:
                    if refused.status == 401:
                        break
                assert time.monotonic() < deadline, "the revoked token still works after 15 s"
                time.sleep(0.5)
        with KubeClient(settings_from_kubeconfig(str(dest))) as child:  # the new one works
            child.get(f"{API}/edgeclusters/mb")
        run = playbook(
            [
                task("remove", state="absent", **link),
                task("remove again", state="absent", **link),
            ]
        )
        assert run["remove"]["changed"] is True
        # 6 objects, the whole report and its shards, and the child's horizon
        assert len(run["remove"]["removed"]) == 8 + names.REPORT_SHARDS
        assert not dest.exists()
        assert run["remove again"]["changed"] is False
    finally:
        with cluster.client() as admin:
            child_link.unlink_child(admin, "mb")
