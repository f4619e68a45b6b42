"""The client's retry rules, the read-back test of a create whose answer was lost, key files."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    APPLY_PATCH,
    MERGE_PATCH,
    KubeClient,
    contains,
    is_idempotent,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import ConnectionSettings
from fornax_harness.pki import CertificateAuthority


@pytest.mark.parametrize(
    ("method", "content_type", "safe"),
    [
        ("GET", None, True),
        ("HEAD", None, True),
        ("PUT", "application/json", True),
        ("DELETE", "application/json", True),
        ("PATCH", APPLY_PATCH, True),
        ("PATCH", MERGE_PATCH, True),
        ("PATCH", "application/json-patch+json", False),  # "add to a list" twice adds twice
        ("POST", "application/json", False),
    ],
)
def test_only_idempotent_requests_are_sent_again_blindly(method, content_type, safe):
    assert is_idempotent(method, content_type) is safe


def test_a_read_back_object_is_ours_when_it_holds_what_was_sent():
    sent = {"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}, "list": [{"a": 1}]}
    live = {
        "metadata": {"name": "a", "labels": {"x": "1"}, "uid": "u", "resourceVersion": "7"},
        "data": {"k": "v"},
        "list": [{"a": 1, "default": True}],
    }
    assert contains(live, sent)
    assert not contains(dict(live, data={"k": "other"}), sent)
    assert not contains(dict(live, list=[]), sent)
    assert not contains({"metadata": {"name": "a"}}, sent)


def test_a_client_key_is_not_left_on_disk(tmp_path, monkeypatch):
    """ssl needs the key pair as files: they are gone once the TLS context holds them."""
    ca = CertificateAuthority(tmp_path / "ca", "unit")
    pair = ca.issue("user", "fornax-unit", client=True)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    settings = ConnectionSettings(
        server="https://127.0.0.1:1",
        ca_data=ca.cert_pem,
        client_cert_data=pair.cert_pem,
        client_key_data=pair.key_pem,
    )
    client = KubeClient(settings)
    assert client._ssl is not None
    assert list(scratch.iterdir()) == []
    client.close()
