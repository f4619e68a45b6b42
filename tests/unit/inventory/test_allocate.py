"""Allocation: deterministic, independent of file order, and stable when clusters are added."""

from __future__ import annotations

import ipaddress
import itertools
import random
from typing import Any

from hierarchy_docs import cluster

from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.allocate import (
    first_choice,
    place,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.load import (
    load_hierarchy,
)


def generated(count: int, fan_out: int = 5) -> dict[str, Any]:
    items = []
    for index in range(count):
        item: dict[str, Any] = {"name": f"site-{index}", "apiEndpoint": "https://198.18.0.1:6443"}
        if index:
            item["parent"] = f"site-{(index - 1) // fan_out}"
        items.append(item)
    vpcs = [
        {"name": f"vpc-{index}", "clusters": [{"cluster": f"site-{index}", "subnets": []}]}
        for index in range(20)
    ]
    for index, vpc in enumerate(vpcs):
        vpc["clusters"][0]["subnets"] = [f"172.16.{index}.0/24"]
    return {"plugin": "centaurus.fornax.hierarchy", "clusters": items, "vpcs": vpcs}


def allocation(document: dict[str, Any]) -> dict[str, tuple]:
    hierarchy = load_hierarchy(document, source="fornax.yml")
    found: dict[str, tuple] = {
        name: (c.pod_cidr, c.service_cidr) for name, c in hierarchy.clusters.items()
    }
    found.update({name: (vpc.vni,) for name, vpc in hierarchy.vpcs.items()})
    return found


def test_same_file_same_result():
    assert allocation(generated(300)) == allocation(generated(300))


def test_file_order_does_not_matter():
    document = generated(300)
    shuffled = generated(300)
    random.Random(7).shuffle(shuffled["clusters"])
    random.Random(8).shuffle(shuffled["vpcs"])
    assert allocation(shuffled) == allocation(document)


def test_adding_a_cluster_keeps_the_others(doc):
    before = allocation(doc)
    doc["clusters"].append(
        {"name": "north", "parent": "east", "apiEndpoint": "https://198.18.3.10:6443"}
    )
    doc["vpcs"].append(
        {"name": "red", "clusters": [{"cluster": "north", "subnets": ["10.9.0.0/24"]}]}
    )
    after = allocation(doc)
    assert {name: after[name] for name in before} == before
    assert after["north"][0] not in {value[0] for value in before.values()}


def test_adding_many_clusters_keeps_a_generated_tree():
    before = allocation(generated(500))
    after = allocation(generated(520))
    moved = [name for name in before if before[name] != after[name]]
    assert moved == []


def test_first_choice_winners_never_move_for_a_newcomer_with_another_first_choice():
    """The documented guarantee, checked over many additions in a crowded pool."""
    slots = 1024
    names = [f"c{index}" for index in range(400)]  # 40 % full: many collisions
    placed, left = place("podCidr", names, slots, lambda slot: False)
    assert left == []
    assert any(p.round > 0 for p in placed.values())  # the pool is crowded enough to test
    for newcomer in (f"new-{index}" for index in range(80)):
        wish = first_choice("podCidr", newcomer, slots)
        again, _left_over = place("podCidr", [*names, newcomer], slots, lambda slot: False)
        for name, old in placed.items():
            if old.round == 0 and not (old.slot == wish and newcomer < name):
                assert again[name].slot == old.slot, (newcomer, name)


def test_given_values_are_kept_and_avoided(doc):
    free = allocation(doc)
    east_pod = free["east"][0]
    cluster(doc, "west")["podCidr"] = east_pod  # take east's allocated block by hand
    after = allocation(doc)
    assert after["west"][0] == east_pod
    assert after["east"][0] != east_pod


def test_vnis_avoid_given_ones_and_stay_in_the_pool(doc):
    doc["pools"] = {"vni": {"first": 5000, "last": 5001}}
    doc["vpcs"] += [
        {"name": "red", "vni": 5000, "clusters": [{"cluster": "west", "subnets": ["10.7.0.0/24"]}]},
        {"name": "green", "clusters": [{"cluster": "west", "subnets": ["10.8.0.0/24"]}]},
    ]
    assert allocation(doc)["green"] == (5001,)


def test_allocated_cidrs_come_from_the_pools_and_never_overlap():
    document = generated(400)
    document["pools"] = {
        "podCidr": {"cidr": "10.64.0.0/14", "prefixLength": 24},
        "serviceCidr": {"cidr": "10.64.0.0/14", "prefixLength": 26},  # the same range: shared
    }
    values = allocation(document)
    networks = [
        ipaddress.ip_network(v)
        for name, pair in values.items()
        if name.startswith("site")
        for v in pair
    ]
    pool = ipaddress.ip_network("10.64.0.0/14")
    assert all(network.subnet_of(pool) for network in networks)
    ordered = sorted(networks)
    for one, other in itertools.pairwise(ordered):
        assert not one.overlaps(other), (one, other)
