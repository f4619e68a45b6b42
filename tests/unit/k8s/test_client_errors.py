"""Which API answers are worth asking again (KubeApiError.transient)."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import KubeApiError


@pytest.mark.parametrize(
    ("status", "message", "transient"),
    [
        (500, "etcdserver: request timed out", True),
        (503, "the server is shutting down", True),
        (429, "too many requests", True),
        (409, "the object has been modified", True),
        (408, "timeout", True),
        (
            500,
            "failed to create typed patch object (/x; v1, Kind=ConfigMap): .data: expected map",
            False,
        ),
        (422, "ConfigMap is invalid", False),
        (403, "forbidden", False),
        (404, "not found", False),
    ],
)
def test_transient(status, message, transient):
    assert KubeApiError(status, "Reason", message).transient is transient
