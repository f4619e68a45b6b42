"""Every validation rule fails the load, naming the file, the entry and the reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hierarchy_docs import cluster, error_of

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.limits import MAX_TIERS
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy import parse
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.errors import (
    HierarchyError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.load import (
    load_hierarchy,
)

Change = Callable[[dict[str, Any]], None]


def test_base_document_is_valid(doc):
    hierarchy = load_hierarchy(doc, source="fornax.yml")
    assert list(hierarchy.clusters) == ["root", "east", "west"]


def add_cluster(**fields: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        item = {"name": "extra", "parent": "root", "apiEndpoint": "https://198.18.9.1:6443"}
        item.update(fields)
        document["clusters"].append(item)

    return change


def set_field(name: str, key: str, value: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        cluster(document, name)[key] = value

    return change


def cycle(document: dict[str, Any]) -> None:
    document["clusters"] += [
        {"name": "x", "parent": "y", "apiEndpoint": "https://198.18.9.1:6443"},
        {"name": "y", "parent": "x", "apiEndpoint": "https://198.18.9.2:6443"},
    ]


def nested_with_other_parent(document: dict[str, Any]) -> None:
    cluster(document, "east")["children"] = [
        {"name": "south", "parent": "west", "apiEndpoint": "https://198.18.9.1:6443"}
    ]


def two_roots(document: dict[str, Any]) -> None:
    document["clusters"].append({"name": "island", "apiEndpoint": "https://198.18.9.1:6443"})


def vpc(**fields: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        item = {"name": "green", "clusters": [{"cluster": "root", "subnets": ["10.201.0.0/24"]}]}
        item.update(fields)
        document["vpcs"].append(item)

    return change


def second_gateway(document: dict[str, Any]) -> None:
    cluster(document, "east")["hosts"].append(
        {"name": "east-gw2", "roles": ["gateway"], "address": "198.18.1.3"}
    )


def drop_wan(document: dict[str, Any]) -> None:
    del cluster(document, "east")["gateway"]["wanAddress"]


def vpc_in_west(document: dict[str, Any]) -> None:
    document["vpcs"][0]["clusters"].append({"cluster": "west", "subnets": ["10.200.2.0/24"]})


def chain(depth: int, nested: bool) -> Change:
    """A chain of ``depth`` clusters below west, nested or flat."""

    def change(document: dict[str, Any]) -> None:
        names = [f"n{i}" for i in range(depth)]
        endpoint = "https://198.18.9.1:6443"
        if nested:
            item: dict[str, Any] = {"name": names[-1], "apiEndpoint": endpoint}
            for name in reversed(names[:-1]):
                item = {"name": name, "apiEndpoint": endpoint, "children": [item]}
            cluster(document, "west")["children"] = [item]
            return
        for index, name in enumerate(names):
            parent = names[index - 1] if index else "west"
            document["clusters"].append({"name": name, "parent": parent, "apiEndpoint": endpoint})

    return change


def tiny_pool(document: dict[str, Any]) -> None:
    document["pools"] = {"podCidr": {"cidr": "10.64.0.0/23", "prefixLength": 24}}


CASES: dict[str, tuple[Change, list[str]]] = {
    # tree
    "cycle": (cycle, ["clusters[", "'x'", "parent links form a cycle", "x -> y -> x"]),
    "two parents (nested and field)": (
        nested_with_other_parent,
        ["clusters[1] 'east'.children[0] 'south'", "two parents"],
    ),
    "two parents (list)": (
        add_cluster(parent=["root", "east"]),
        ["clusters[3] 'extra'", "field 'parent'", "exactly one parent", "['root', 'east']"],
    ),
    "duplicate cluster": (
        add_cluster(name="west"),
        ["clusters[3] 'west'", "duplicate cluster name", "first declared at clusters[2] 'west'"],
    ),
    "unknown parent": (
        add_cluster(parent="nowhere"),
        ["clusters[3] 'extra'", "field 'parent'", "unknown cluster 'nowhere'"],
    ),
    "two roots": (two_roots, ["clusters[3] 'island'", "exactly one root", "'root', 'island'"]),
    "duplicate host": (
        add_cluster(hosts=[{"name": "west-cp", "roles": ["edge_node"]}]),
        ["clusters[3] 'extra'.hosts[0] 'west-cp'", "duplicate host name"],
    ),
    # names
    "name with capital": (
        add_cluster(name="Edge1"),
        ["clusters[3]", "field 'name'", "'Edge1' is not a DNS-1123 label"],
    ),
    "name with underscore": (
        add_cluster(name="edge_1"),
        ["clusters[3]", "'edge_1' is not a DNS-1123 label"],
    ),
    "name too long": (add_cluster(name="a" * 64), ["clusters[3]", "longer than 63"]),
    "vpc name": (vpc(name="Blue!"), ["vpcs[1]", "field 'name'", "'Blue!' is not a DNS-1123"]),
    "host name": (
        add_cluster(hosts=[{"name": "bad host", "roles": ["edge_node"]}]),
        ["hosts[0]", "host name 'bad host'"],
    ),
    "name written as a number": (
        add_cluster(name=101),
        ["clusters[3]", "field 'name': 101 must be a non-empty string", "quote it"],
    ),
    # what reaches a systemd unit or a command line
    "address with a shell command": (
        add_cluster(hosts=[{"name": "x-cp", "roles": ["control_plane"], "address": "a.b;id"}]),
        ["clusters[3] 'extra'.hosts[0] 'x-cp'", "field 'address'", "'a.b;id' is neither an IP"],
    ),
    "address with spaces": (
        add_cluster(hosts=[{"name": "x-cp", "roles": ["edge_node"], "address": "a b"}]),
        ["hosts[0] 'x-cp'", "field 'address'", "neither an IP address nor a DNS name"],
    ),
    "address that is a mistyped IP": (
        add_cluster(hosts=[{"name": "x-cp", "roles": ["edge_node"], "address": "198.18.0.300"}]),
        ["hosts[0] 'x-cp'", "'198.18.0.300' is neither"],
    ),
    "address with an IPv6 zone": (
        add_cluster(hosts=[{"name": "x-cp", "roles": ["edge_node"], "address": "fe80::1%eth0"}]),
        ["hosts[0] 'x-cp'", "field 'address'"],
    ),
    "endpoint from a name that is no DNS name": (
        add_cluster(apiEndpoint=None, hosts=[{"name": "cp_1", "roles": ["control_plane"]}]),
        ["clusters[3] 'extra'.hosts[0] 'cp_1'", "no 'address'", "'cp_1' is neither"],
    ),
    # bounds
    "nested deeper than the tiers": (
        chain(16, nested=True),
        ["'n14'.children", "nested deeper than the 16 tiers", "tier 0 to 15"],
    ),
    "parent links deeper than the tiers": (
        chain(16, nested=False),
        ["clusters[17] 'n14'", "tier 16 (root/west/n0/", "deeper than the 16 tiers"],
    ),
    # Mission policy
    "mission policy field": (
        set_field("west", "missionPolicy", {"podSecurity": "root"}),
        ["clusters[2] 'west'", "missionPolicy.podSecurity: 'root' is not one of"],
    ),
    "mission policy unknown field": (
        lambda d: d["defaults"].update(missionPolicy={"resource": ["pods"]}),
        ["defaults", "missionPolicy.resource: unknown field"],
    ),
    "mission policy resource": (
        set_field("west", "missionPolicy", {"extraResources": ["Roles"]}),
        ["clusters[2] 'west'", "missionPolicy.resources: 'Roles' is not <plural>.<group>"],
    ),
    "mission policy not a mapping": (
        set_field("west", "missionPolicy", ["pods"]),
        ["clusters[2] 'west'", "missionPolicy: ['pods'] must be a mapping"],
    ),
    # field types and values
    "unknown field": (
        add_cluster(kubedistro="k3s"),
        ["clusters[3]", "unknown field(s) 'kubedistro'", "allowed:"],
    ),
    "kube distro": (
        set_field("west", "kubeDistro", "k9s"),
        ["clusters[2] 'west'", "field 'kubeDistro'", "'k9s' is not one of k8s, k3s, arktos"],
    ),
    "label value type": (
        set_field("west", "labels", {"edge": True}),
        ["clusters[2] 'west'", "field 'labels'", "'edge': True", "quote"],
    ),
    "label key": (
        set_field("west", "labels", {"bad key": "x"}),
        ["clusters[2] 'west'", "label key 'bad key'"],
    ),
    "api port type": (
        lambda d: d["defaults"].update(apiPort="6443"),
        ["defaults", "field 'apiPort'", "'6443' must be an integer in 1..65535"],
    ),
    "api endpoint": (
        set_field("west", "apiEndpoint", "http://198.18.2.10"),
        ["clusters[2] 'west'", "field 'apiEndpoint'", "https://host:port"],
    ),
    "hosts not a list": (
        set_field("west", "hosts", {"name": "w"}),
        ["clusters[2] 'west'.hosts", "must be a list, got mapping"],
    ),
    "host role": (
        add_cluster(hosts=[{"name": "h1", "roles": ["master"]}]),
        ["hosts[0] 'h1'", "field 'roles'", "['master']", "control_plane, gateway, edge_node"],
    ),
    "host roles not strings": (
        add_cluster(hosts=[{"name": "h1", "roles": [{"control_plane": True}]}]),
        ["hosts[0] 'h1'", "field 'roles'", "must be a non-empty list of distinct roles"],
    ),
    "host roles repeated": (
        add_cluster(hosts=[{"name": "h1", "roles": ["edge_node", "edge_node"]}]),
        ["hosts[0] 'h1'", "field 'roles'"],
    ),
    "cidr host bits": (
        set_field("west", "podCidr", "10.1.0.1/16"),
        ["clusters[2] 'west'", "field 'podCidr'", "'10.1.0.1/16' is not a CIDR"],
    ),
    "wan address": (
        lambda d: cluster(d, "east")["gateway"].update(wanAddress="gw.example"),
        ["clusters[1] 'east'.gateway", "field 'wanAddress'", "'gw.example' is not an IP address"],
    ),
    "wan mac": (
        lambda d: cluster(d, "east")["gateway"].update(wanMac="02:00:00:00:01"),
        ["clusters[1] 'east'.gateway", "field 'wanMac'", "'02:00:00:00:01' is not a MAC address"],
    ),
    "wan mac read as a number": (
        lambda d: cluster(d, "east")["gateway"].update(wanMac=2000000001),
        ["clusters[1] 'east'.gateway", "field 'wanMac'", "must be a non-empty string (quote it"],
    ),
    "divider address": (
        lambda d: d["vpcs"][0]["clusters"][0].update(
            divider={"address": "2001:db8::3", "mac": "02:00:00:00:00:03"}
        ),
        ["vpcs[0] 'blue'.clusters[0].divider", "field 'address'", "is not an IPv4 address"],
    ),
    "divider without mac": (
        lambda d: d["vpcs"][0]["clusters"][0].update(divider={"address": "198.18.0.3"}),
        ["vpcs[0] 'blue'.clusters[0].divider", "field 'mac' is required"],
    ),
    "divider field": (
        lambda d: d["vpcs"][0]["clusters"][0].update(divider={"ip": "198.18.0.3"}),
        ["vpcs[0] 'blue'.clusters[0].divider", "'ip'"],
    ),
    "interface name": (
        lambda d: cluster(d, "root")["gateway"].update(lanInterface="a-very-long-interface"),
        ["clusters[0] 'root'.gateway", "field 'lanInterface'", "not a network interface name"],
    ),
    "host var name": (
        lambda d: d["defaults"].update(hostVars={"bad-name": 1}),
        ["defaults", "field 'hostVars'", "'bad-name' is not a valid Ansible variable name"],
    ),
    "vni zero": (
        vpc(vni=0),
        ["vpcs[1] 'green'", "field 'vni'", "0 must be an integer in 1..16777215"],
    ),
    "vni too big": (vpc(vni=1 << 24), ["vpcs[1] 'green'", "16777216"]),
    "plugin key": (
        lambda d: d.update(plugin="hierarchy"),
        ["plugin", "'hierarchy' must be 'centaurus.fornax.hierarchy'"],
    ),
    "no clusters": (lambda d: d.update(clusters=[]), ["clusters", "at least one cluster"]),
    "pool prefix": (
        lambda d: d.update(pools={"podCidr": {"cidr": "10.0.0.0/16", "prefixLength": 8}}),
        ["pools.podCidr", "field 'prefixLength'", "8 must be between"],
    ),
    # cluster settings
    "two gateway hosts": (second_gateway, ["clusters[1] 'east'", "at most one gateway host"]),
    "gateway without host": (
        set_field("west", "gateway", {"wanAddress": "192.0.2.9"}),
        ["clusters[2] 'west'.gateway", "no host with role gateway"],
    ),
    "no api endpoint": (
        add_cluster(apiEndpoint=None, hosts=[{"name": "n1", "roles": ["edge_node"]}]),
        ["clusters[3] 'extra'", "no API endpoint"],
    ),
    # addresses and VNIs
    "overlapping cidrs": (
        lambda d: (
            cluster(d, "root").update(podCidr="10.0.0.0/16"),
            cluster(d, "west").update(serviceCidr="10.0.128.0/24"),
        ),
        [
            "clusters[2] 'west'",
            "field 'serviceCidr': 10.0.128.0/24 overlaps podCidr 10.0.0.0/16",
            "of clusters[0] 'root'",
        ],
    ),
    "same cidr twice": (
        lambda d: (
            cluster(d, "east").update(podCidr="10.9.0.0/16"),
            cluster(d, "west").update(podCidr="10.9.0.0/16"),
        ),
        ["'west'", "overlaps podCidr 10.9.0.0/16 of clusters[1] 'east'"],
    ),
    "vni clash": (
        vpc(vni=1001),
        ["vpcs[1] 'green'.clusters[0]", "VNI clash", "VNI 1001", "cluster 'root'", "VPC 'blue'"],
    ),
    "translated vni clash": (
        vpc(vni=7, clusters=[{"cluster": "east", "subnets": ["10.201.1.0/24"], "vni": 2001}]),
        ["vpcs[1] 'green'.clusters[0]", "VNI clash", "VNI 2001", "cluster 'east'"],
    ),
    "gateway without wan": (
        drop_wan,
        ["clusters[1] 'east'.gateway", "gateway 'east-gw' has no wanAddress", "VPC 'blue'"],
    ),
    "vpc cluster without gateway": (
        vpc_in_west,
        ["vpcs[0] 'blue'.clusters[2]", "cluster 'west' has no host with role gateway"],
    ),
    "vpc unknown cluster": (
        vpc(clusters=[{"cluster": "mars", "subnets": ["10.201.0.0/24"]}]),
        ["vpcs[1] 'green'.clusters[0]", "unknown cluster 'mars'"],
    ),
    "vpc duplicate": (vpc(name="blue"), ["vpcs[1] 'blue'", "duplicate VPC name"]),
    "vpc cluster twice": (
        vpc(
            clusters=[
                {"cluster": "root", "subnets": ["10.201.0.0/24"]},
                {"cluster": "root", "subnets": ["10.201.1.0/24"]},
            ]
        ),
        ["vpcs[1] 'green'.clusters[1]", "already listed"],
    ),
    "vpc subnets overlap": (
        lambda d: d["vpcs"][0]["clusters"][1].update(subnets=["10.200.0.128/25"]),
        ["vpcs[0] 'blue'.clusters[1]", "subnet 10.200.0.128/25 overlaps subnet 10.200.0.0/24"],
    ),
    "pool exhausted": (
        tiny_pool,
        ["pools.podCidr", "10.64.0.0/23", "exhausted", "1 cluster(s)"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule(doc, case):
    change, expected = CASES[case]
    change(doc)
    message = error_of(doc)
    assert message.startswith("fornax.yml: invalid Fornax hierarchy"), message
    for part in expected:
        assert part in message, f"{part!r} not in:\n{message}"


def test_all_problems_of_a_stage_are_reported_together(doc):
    cluster(doc, "west")["kubeDistro"] = "k9s"
    cluster(doc, "east")["labels"] = {"a": 1}
    doc["vpcs"][0]["vni"] = -1
    with pytest.raises(HierarchyError) as caught:
        load_hierarchy(doc, source="fornax.yml")
    assert len(caught.value.problems) == 3
    assert "3 problems" in str(caught.value)


def test_the_deepest_allowed_tree_loads(doc):
    chain(14, nested=True)(doc)  # root, west and 14 below: tiers 0 to 15
    deepest = list(load_hierarchy(doc, source="fornax.yml").clusters.values())[-1]
    assert deepest.tier == MAX_TIERS - 1


def test_more_clusters_than_a_tree_holds(doc, monkeypatch):
    monkeypatch.setattr(parse, "MAX_CLUSTERS", 3)  # the real bound is 100,000
    assert len(load_hierarchy(doc, source="fornax.yml").clusters) == 3
    doc["clusters"].append({"name": "extra", "parent": "root"})
    message = error_of(doc)
    assert "clusters[3]: one cluster too many: a tree holds at most 3" in message


def test_top_level_must_be_a_mapping():
    assert "(top level): must be a mapping, got list" in error_of([1, 2])


def test_cycle_without_any_root():
    document = {
        "plugin": "centaurus.fornax.hierarchy",
        "clusters": [
            {"name": "p", "parent": "q", "apiEndpoint": "https://198.18.0.1:6443"},
            {"name": "q", "parent": "p", "apiEndpoint": "https://198.18.0.2:6443"},
        ],
    }
    assert "parent links form a cycle: p -> q -> p" in error_of(document)


DEEP = (
    "clusters[2] 'west'.children[0] 'n0'.children[0] 'n1'.children[0] 'n2'"
    ".children[0] 'n3'.children[0] 'n4'"
)


def deepest(document: dict[str, Any]) -> dict[str, Any]:
    """The last cluster of a nested chain of 5 below west (tier 6)."""
    chain(5, nested=True)(document)
    item = cluster(document, "west")
    while item.get("children"):
        item = item["children"][0]
    return item


def test_a_field_deep_in_the_tree_is_named_by_its_whole_path(doc):
    item = deepest(doc)
    item["labels"] = {"zone": "not valid!"}
    item["hosts"] = [
        {"name": "n4-cp", "roles": ["control_plane"], "address": "198.18.9.9"},
        {"name": "n4-gw", "roles": ["gateway"], "address": "evil.example;id"},
    ]
    item["gateway"] = {"wanAddress": "192.0.2.300"}
    message = error_of(doc)
    assert "3 problems" in message, message
    assert f"{DEEP}: field 'labels': label 'zone': value 'not valid!'" in message, message
    assert f"{DEEP}.hosts[1] 'n4-gw': field 'address': 'evil.example;id'" in message, message
    assert f"{DEEP}.gateway: field 'wanAddress': '192.0.2.300' is not an IP" in message, message


def test_a_later_stage_names_a_deep_cluster_by_its_whole_path(doc):
    item = deepest(doc)
    del item["apiEndpoint"]
    item["gateway"] = {"wanAddress": "192.0.2.30"}
    message = error_of(doc)
    assert f"{DEEP}: no API endpoint: set 'apiEndpoint'" in message, message
    assert f"{DEEP}.gateway: gateway settings but no host with role gateway" in message, message
