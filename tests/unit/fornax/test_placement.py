"""The placement rule: empty selects all, names select, ANY one label pair selects."""

from __future__ import annotations

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.placement import (
    cluster_labels,
    placement_matches,
)

D_LABELS = {"company": "futurewei", "zone": "east"}


@pytest.mark.parametrize(
    ("placement", "name", "labels", "expected"),
    [
        (None, "b", {}, True),
        ({}, "b", {}, True),
        ({"clusters": [], "matchlabels": {}}, "b", {}, True),
        ({"clusters": [{"name": "c"}]}, "c", {}, True),
        ({"clusters": [{"name": "c"}]}, "b", {}, False),
        ({"clusters": [{"name": "c"}, {"name": "d"}]}, "d", {}, True),
        ({"matchlabels": {"company": "futurewei"}}, "d", D_LABELS, True),
        ({"matchlabels": {"company": "futurewei"}}, "c", {}, False),
        # ANY one pair selects (not a selector where all must match)
        ({"matchlabels": {"company": "futurewei", "zone": "west"}}, "d", D_LABELS, True),
        ({"matchlabels": {"company": "acme", "zone": "west"}}, "d", D_LABELS, False),
        # names OR labels
        ({"clusters": [{"name": "b"}], "matchlabels": {"company": "futurewei"}}, "b", {}, True),
        (
            {"clusters": [{"name": "b"}], "matchlabels": {"company": "futurewei"}},
            "d",
            D_LABELS,
            True,
        ),
        ({"clusters": [{"name": "b"}], "matchlabels": {"company": "futurewei"}}, "c", {}, False),
        # built-in labels
        ({"matchlabels": {"kubernetes.io/hostname": "c"}}, "c", {}, True),
        ({"matchlabels": {"role.kubernetes.io/edgecluster": ""}}, "x", {}, True),
        ({"matchlabels": {"edgeclusters.kubeedge.io/kubedistro": "k3s"}}, "x", {}, False),
    ],
)
def test_placement(placement, name, labels, expected):
    assert placement_matches(placement, name, labels) is expected


def test_distro_label_follows_the_distro():
    placement = {"matchlabels": {"edgeclusters.kubeedge.io/kubedistro": "k3s"}}
    assert placement_matches(placement, "x", {}, distro="k3s")


def test_builtin_labels_cannot_be_spoofed():
    labels = cluster_labels("real", {"kubernetes.io/hostname": "fake"})
    assert labels["kubernetes.io/hostname"] == "real"
