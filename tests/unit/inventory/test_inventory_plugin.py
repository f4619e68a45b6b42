"""The plugin against Ansible's real inventory: groups, group nesting, hostvars contract."""

from __future__ import annotations

import gc
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader
from ansible.vars.manager import VariableManager
from hierarchy_docs import EXAMPLES

from ansible_collections.centaurus.fornax.plugins.inventory.hierarchy import (
    EXAMPLES as EXAMPLES_TEXT,
)
from ansible_collections.centaurus.fornax.plugins.inventory.hierarchy import load_document
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy import rollout
from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.load import (
    load_hierarchy,
)

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "hostvars-contract.md"


@pytest.fixture(scope="module")
def plugin() -> Any:
    """The plugin as Ansible loads it, through its collection loader.

    The session already imported ``ansible_collections`` as a plain package (tests/conftest.py),
    which the collection loader refuses to reuse; set those modules aside while it runs.
    """
    plain = {
        name: sys.modules.pop(name)
        for name in list(sys.modules)
        if name == "ansible_collections" or name.startswith("ansible_collections.")
    }
    init_plugin_loader()
    found = inventory_loader.get("centaurus.fornax.hierarchy")
    assert found is not None
    yield found
    for name in [n for n in sys.modules if n.startswith("ansible_collections")]:
        del sys.modules[name]
    sys.modules.update(plain)


@pytest.fixture(scope="module")
def abcd(plugin) -> tuple[InventoryManager, VariableManager]:
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(EXAMPLES / "acceptance-abcd.yml")])
    return inventory, VariableManager(loader=loader, inventory=inventory)


def hostvars(abcd, host: str) -> dict[str, Any]:
    inventory, variables = abcd
    return variables.get_vars(host=inventory.get_host(host))


def members(abcd, group: str) -> set[str]:
    return {host.name for host in abcd[0].groups[group].get_hosts()}


def contract_variables() -> list[str]:
    """The variable names the contract's table lists (`fornax_...` in its first column), but
    those it marks "or unset" (set only where they differ from their default)."""
    names = []
    for line in CONTRACT.read_text().splitlines():
        if line.startswith("| `fornax_") and "or unset" not in line.split("|")[2]:
            names += re.findall(r"`(fornax_[a-z_]+)`", line.split("|")[1])
    return names


def test_cluster_subtree_tier_and_role_groups(abcd):
    assert members(abcd, "cluster_d") == {"d-cp-1", "d-node-1"}
    assert members(abcd, "subtree_b") == {"b-cp-1", "b-gw-1", "c-cp-1", "d-cp-1", "d-node-1"}
    assert members(abcd, "subtree_d") == {"d-cp-1", "d-node-1"}
    assert len(members(abcd, "subtree_a")) == 7
    assert members(abcd, "tier_0") == {"a-cp-1", "a-gw-1"}
    assert members(abcd, "tier_3") == {"d-cp-1", "d-node-1"}
    assert members(abcd, "control_plane") == {"a-cp-1", "b-cp-1", "c-cp-1", "d-cp-1"}
    assert members(abcd, "gateways") == {"a-gw-1", "b-gw-1"}
    assert members(abcd, "edge_nodes") == {"c-cp-1", "d-node-1"}


def test_subtree_groups_nest_like_the_tree(abcd):
    groups = abcd[0].groups
    children = {g.name for g in groups["subtree_b"].child_groups}
    assert children == {"cluster_b", "subtree_c"}
    assert {g.name for g in groups["subtree_d"].child_groups} == {"cluster_d"}
    # a host is put in its cluster group only; the ancestors come from group nesting
    assert [g.name for g in groups["subtree_a"].child_groups] == ["cluster_a", "subtree_b"]
    assert groups["subtree_a"].hosts == []


def test_every_contract_variable_is_set_on_every_host(abcd):
    names = contract_variables()
    assert len(names) >= 14, names
    for host in abcd[0].get_hosts():
        missing = [name for name in names if name not in hostvars(abcd, host.name)]
        assert missing == [], (host.name, missing)


def test_hostvars_of_a_leaf_host(abcd):
    found = hostvars(abcd, "d-node-1")
    assert found["ansible_host"] == "198.18.3.21"
    assert found["ansible_user"] == "debian"
    assert found["fornax_cluster"] == "d"
    assert found["fornax_parent"] == "c"
    assert found["fornax_path"] == "a/b/c/d"
    assert found["fornax_tier"] == 3
    assert found["fornax_children"] == []
    assert found["fornax_kube_distro"] == "k8s"  # d overrides b's subtree default
    assert found["fornax_cluster_labels"] == {"company": "futurewei"}
    assert found["fornax_api_endpoint"] == "https://198.18.3.10:6443"
    assert found["fornax_parent_api_endpoint"] == "https://198.18.2.10:6443"
    assert found["fornax_parent_group"] == "cluster_c"
    assert found["fornax_host_roles"] == ["edge_node"]
    assert found["fornax_gateway"] is None
    assert found["fornax_vpcs"] == []
    assert re.fullmatch(r"10\.\d+\.\d+\.0/24", found["fornax_pod_cidr"])


def test_subtree_defaults_are_inherited(abcd):
    assert hostvars(abcd, "c-cp-1")["fornax_kube_distro"] == "k3s"  # from b's defaults
    assert hostvars(abcd, "b-cp-1")["fornax_kube_distro"] == "k3s"
    assert hostvars(abcd, "a-cp-1")["fornax_kube_distro"] == "k8s"
    assert hostvars(abcd, "c-cp-1")["fornax_host_roles"] == ["control_plane", "edge_node"]


def test_root_and_gateway_hostvars(abcd):
    found = hostvars(abcd, "a-gw-1")
    assert found["fornax_parent"] is None
    assert found["fornax_parent_api_endpoint"] is None
    assert found["fornax_parent_group"] is None
    assert found["fornax_tier"] == 0
    assert found["fornax_path"] == "a"
    assert found["fornax_children"] == ["b"]
    assert found["fornax_host_roles"] == ["gateway"]
    (vpc,) = found["fornax_vpcs"]
    assert found["fornax_gateway"] == {
        "host": "a-gw-1",
        "lan_address": "198.18.0.2",
        "wan_address": "192.0.2.1",
        "lan_interface": "eth0",
        "wan_interface": "eth1",
        "wan_mac": "02:00:c0:00:02:01",
        # what the gateway role writes, derived once here: b's gateway as the peer of the VPC
        "peer_macs": {"192.0.2.2": "02:00:c0:00:02:02"},
        "dividers": [{"vni": vpc["vni"], "address": "198.18.0.3", "mac": "02:00:c6:12:00:03"}],
    }
    assert vpc["divider"] == {"address": "198.18.0.3", "mac": "02:00:c6:12:00:03"}


def test_vpc_view_from_both_sides(abcd):
    (in_a,) = hostvars(abcd, "a-cp-1")["fornax_vpcs"]
    (in_b,) = hostvars(abcd, "b-cp-1")["fornax_vpcs"]
    assert in_a["name"] == in_b["name"] == "vpc-demo"
    assert 4096 <= in_a["vni"] <= 16777215 and in_a["vni"] == in_b["vni"]  # allocated
    assert in_a["subnets"] == ["10.200.0.0/24"]
    assert in_a["remote"] == [
        {
            "cluster": "b",
            "vni": in_b["vni"],
            "subnets": ["10.200.1.0/24"],
            "gateway_wan_address": "192.0.2.2",
            "gateway_wan_mac": "02:00:c0:00:02:02",
        }
    ]


def test_vni_translation_in_the_two_level_example(plugin):
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(EXAMPLES / "two-level.yml")])
    variables = VariableManager(loader=loader, inventory=inventory)
    (west,) = variables.get_vars(host=inventory.get_host("west-node-1"))["fornax_vpcs"]
    assert (west["vni"], west["remote"][0]["vni"]) == (2001, 1001)
    assert west["remote"][0]["cluster"] == "cloud"


def test_parse_error_names_file_entry_and_reason(plugin, tmp_path):
    source = tmp_path / "broken.yml"
    source.write_text(
        "plugin: centaurus.fornax.hierarchy\n"
        "clusters:\n"
        "  - {name: a, apiEndpoint: 'https://198.18.0.1:6443'}\n"
        "  - {name: b, parent: zz, apiEndpoint: 'https://198.18.0.2:6443'}\n"
    )
    with pytest.raises(AnsibleParserError) as caught:
        plugin.parse(InventoryData(), DataLoader(), str(source), cache=False)
    message = str(caught.value)
    assert str(source) in message
    assert "clusters[1] 'b' (line 4): field 'parent': unknown cluster 'zz'" in message


def test_unreadable_yaml_is_a_parser_error(plugin, tmp_path):
    source = tmp_path / "bad.yml"
    source.write_text("plugin: centaurus.fornax.hierarchy\nclusters: [\n")
    with pytest.raises(AnsibleParserError, match="cannot read the hierarchy"):
        plugin.parse(InventoryData(), DataLoader(), str(source), cache=False)


def test_verify_file_claims_only_its_own_files(plugin, tmp_path):
    mine = tmp_path / "tree.yml"
    mine.write_text("plugin: centaurus.fornax.hierarchy\nclusters: []\n")
    other = tmp_path / "hosts.yml"
    other.write_text("all:\n  hosts:\n    h1:\n")
    text = tmp_path / "tree.txt"
    text.write_text("plugin: centaurus.fornax.hierarchy\n")
    assert plugin.verify_file(str(mine))
    assert not plugin.verify_file(str(other))
    assert not plugin.verify_file(str(text))


def test_json_and_yaml_flow_documents_load_alike():
    assert load_document('{"plugin": "x", "clusters": []}') == {"plugin": "x", "clusters": []}
    assert load_document("{plugin: x, clusters: []}") == {"plugin": "x", "clusters": []}


def test_vault_values_stay_encrypted():
    data = load_document("vars:\n  secret: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    6162\n")
    assert type(data["vars"]["secret"]).__name__ == "EncryptedString"


def test_the_documented_examples_are_valid_hierarchies():
    first, second = EXAMPLES_TEXT.split("\n---\n")
    tree = load_hierarchy(load_document(first), source="EXAMPLES")
    assert [c.path for c in tree.clusters.values()] == [
        "cloud",
        "cloud/edge-west",
        "cloud/edge-east",
    ]
    tree = load_hierarchy(load_document(second), source="EXAMPLES")
    assert tree.root.mission_policy.pod_security == "restricted"
    assert "roles.rbac.authorization.k8s.io" in tree.root.mission_policy.resources


def inventory_of(plugin, tmp_path, text: str) -> tuple[InventoryManager, VariableManager]:
    source = tmp_path / "tree.yml"
    source.write_text(text)
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(source)])
    return inventory, VariableManager(loader=loader, inventory=inventory)


SMALL = """\
plugin: centaurus.fornax.hierarchy
defaults:
  missionPolicy: {podSecurity: restricted}
clusters:
  - name: a
    hosts: [{name: a-cp, roles: [control_plane], address: a-cp.example.com}]
    children:
      - name: b
        labels: {zone: west}
        missionPolicy: {extraResources: [roles.rbac.authorization.k8s.io]}
        hosts: [{name: b-cp, roles: [control_plane], address: 198.18.1.10}]
      - name: c
        hosts: [{name: c-cp, roles: [control_plane], address: 198.18.2.10}]
"""


def test_mission_policy_is_inherited_field_by_field_and_exported(plugin, tmp_path):
    tree = inventory_of(plugin, tmp_path, SMALL)
    a, b, c = (hostvars(tree, f"{name}-cp")["fornax_mission_policy"] for name in "abc")
    assert a == c and a["podSecurity"] == "restricted"
    assert "roles.rbac.authorization.k8s.io" not in a["resources"]
    assert b["podSecurity"] == "restricted"  # inherited, while b adds a resource
    assert "roles.rbac.authorization.k8s.io" in b["resources"]
    assert set(a["resources"]) < set(b["resources"])
    # one variable for the tree, one more only where a cluster differs
    groups = tree[0].groups
    assert "fornax_mission_policy" in groups["subtree_a"].vars
    assert "fornax_mission_policy" in groups["cluster_b"].vars
    assert "fornax_mission_policy" not in groups["cluster_c"].vars


def test_every_host_sees_the_tree_depth_and_its_limit(abcd):
    found = hostvars(abcd, "d-node-1")
    assert (found["fornax_tiers"], found["fornax_max_tiers"]) == (4, 16)


def test_the_default_grant_is_left_unset_and_the_filter_reads_it_as_the_defaults(abcd):
    """A cluster granting the defaults carries no fornax_mission_policy (--list writes every
    host's variables: the default grant was half of each host's strings); the roles read it
    through the mission_policy filter, which gives the default grant for an unset one."""
    from ansible_collections.centaurus.fornax.plugins.filter.security import (  # noqa: PLC0415
        mission_policy,
    )
    from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.policy import (  # noqa: PLC0415
        MissionPolicy,
    )

    found = hostvars(abcd, "d-node-1")
    assert "fornax_mission_policy" not in found
    assert "fornax_mission_policy" not in abcd[0].groups["subtree_a"].vars
    assert mission_policy(found.get("fornax_mission_policy")) == MissionPolicy().to_dict()


def test_a_cluster_back_on_the_defaults_under_a_stricter_tree_says_so(plugin, tmp_path):
    """The root grants less than the defaults: a cluster that asks for the defaults again
    must carry them, or it would inherit the root's grant through the subtree group."""
    text = SMALL.replace(
        "missionPolicy: {extraResources: [roles.rbac.authorization.k8s.io]}",
        "missionPolicy: {podSecurity: baseline}",
    )
    tree = inventory_of(plugin, tmp_path, text)
    assert hostvars(tree, "a-cp")["fornax_mission_policy"]["podSecurity"] == "restricted"
    b = hostvars(tree, "b-cp")["fornax_mission_policy"]
    assert b["podSecurity"] == "baseline"


def test_constructed_options(plugin, tmp_path):
    text = SMALL + (
        "keyed_groups:\n  - {key: fornax_cluster_labels, prefix: label}\n"
        "compose:\n  depth_name: \"'tier-' ~ fornax_tier\"\n"
        "groups:\n  leaves: fornax_children | length == 0\n"
    )
    tree = inventory_of(plugin, tmp_path, text)
    assert members(tree, "label_zone_west") == {"b-cp"}
    assert members(tree, "leaves") == {"b-cp", "c-cp"}
    assert hostvars(tree, "a-cp")["depth_name"] == "tier-0"


def test_unsafe_values_are_never_templated(plugin, tmp_path):
    from ansible.template import is_trusted_as_template  # noqa: PLC0415

    text = SMALL.replace(
        "defaults:\n",
        "defaults:\n  hostVars:\n    cmd: !unsafe \"{{ lookup('pipe', 'id') }}\"\n"
        '    fine: "{{ 1 + 1 }}"\n',
    )
    tree = inventory_of(plugin, tmp_path, text)
    found = tree[0].groups["subtree_a"].vars
    assert found["cmd"] == "{{ lookup('pipe', 'id') }}"
    assert not is_trusted_as_template(found["cmd"])
    assert is_trusted_as_template(found["fine"])
    assert is_trusted_as_template(tree[0].groups["cluster_b"].vars["fornax_cluster"])


def test_a_yaml_inventory_that_mentions_the_plugin_is_not_claimed(plugin, tmp_path):
    other = tmp_path / "hosts.yml"
    other.write_text("# not for centaurus.fornax.hierarchy\nall:\n  hosts:\n    h1:\n")
    assert not plugin.verify_file(str(other))
    other.write_text("# plugin: centaurus.fornax.hierarchy is for trees\nall: {hosts: {h1: }}\n")
    assert not plugin.verify_file(str(other))
    flow = tmp_path / "flow.yml"
    flow.write_text("{clusters: [], plugin: centaurus.fornax.hierarchy}\n")
    assert plugin.verify_file(str(flow))
    flow = tmp_path / "flow.json"
    flow.write_text('{"clusters": [],\n "plugin": "centaurus.fornax.hierarchy"}')
    assert plugin.verify_file(str(flow))


def test_problems_name_the_line(plugin, tmp_path):
    source = tmp_path / "broken.yml"
    source.write_text(SMALL.replace("address: 198.18.1.10", "address: 'x;reboot'"))
    with pytest.raises(AnsibleParserError) as caught:
        plugin.parse(InventoryData(), DataLoader(), str(source), cache=False)
    assert "clusters[0] 'a'.children[0] 'b'.hosts[0] 'b-cp' (line 11): field 'address'" in str(
        caught.value
    )


ALIAS_BOMB = "\n".join(
    [
        "plugin: centaurus.fornax.hierarchy",
        'x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(f"x{i}: &x{i} [{','.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 9)),
        "clusters: []",
    ]
)


def test_an_alias_bomb_fails_at_once_naming_the_line():
    assert len(ALIAS_BOMB) < 700
    with pytest.raises(ValueError, match=r"tree.yml: line \d+, column \d+: aliases repeat"):
        load_document(ALIAS_BOMB, "tree.yml")


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_a_thousand_nested_levels_fail_clearly(form):
    if form == "json":
        text = '{"plugin": "x", "clusters": ' + "[" * 1000 + "]" * 1000 + "}"
    else:
        text = "plugin: x\nclusters:\n" + "".join("  " * i + "- \n" for i in range(1000))
    with pytest.raises(ValueError, match="nested deeper than 200 levels"):
        load_document(text, "tree.yml")


def mixed_tree(count: int) -> dict[str, Any]:
    """Clusters of fan-out 3, most k3s, some k8s, labels on some, VPCs in a few, gateways on
    every other one, one host with two roles."""
    clusters = []
    for index in range(count):
        hosts = [{"name": f"c{index}-cp", "roles": ["control_plane"], "address": f"10.9.0.{index}"}]
        item: dict[str, Any] = {"name": f"c{index}", "hosts": hosts}
        if index:
            item["parent"] = f"c{(index - 1) // 3}"
        if index % 7 == 3:
            item["kubeDistro"] = "k8s"
        if index % 4 == 1:
            item["labels"] = {"zone": f"z{index % 3}"}
        if index % 2 == 0:
            hosts.append(
                {"name": f"c{index}-gw", "roles": ["gateway"], "address": f"10.9.1.{index}"}
            )
            item["gateway"] = {"wanAddress": f"192.0.2.{index + 1}"}
        if index == 5:
            hosts[0]["roles"] = ["control_plane", "edge_node"]
        clusters.append(item)
    vpcs = [
        {
            "name": f"v{n}",
            "clusters": [
                {"cluster": f"c{m}", "subnets": [f"172.{16 + n}.{m}.0/24"]}
                for m in (n * 2, n * 2 + 10)
            ],
        }
        for n in range(3)
    ]
    return {
        "plugin": "centaurus.fornax.hierarchy",
        "defaults": {
            "kubeDistro": "k3s",
            "gateway": {"lanInterface": "eth0", "wanInterface": "eth1"},
        },
        "clusters": clusters,
        "vpcs": vpcs,
    }


def expected_hostvars(tree) -> dict[str, dict[str, Any]]:
    """What every host must see: each cluster's full contract values, computed from the tree
    (however the plugin spreads them over groups)."""
    from ansible_collections.centaurus.fornax.plugins.module_utils.hierarchy.layout import (  # noqa: PLC0415
        cluster_vars,
        vpcs_by_cluster,
    )

    vpcs = vpcs_by_cluster(tree)
    found = {}
    for cluster in tree.clusters.values():
        values = cluster_vars(cluster, vpcs.get(cluster.name, []))
        if not cluster.mission_policy.is_default():
            values["fornax_mission_policy"] = cluster.mission_policy.to_dict()
        for host in cluster.hosts:
            found[host.name] = dict(values, fornax_host_roles=list(host.roles))
    return found


@pytest.mark.parametrize("source", ["abcd", "generated", "small"])
def test_hostvars_are_each_clusters_own_values_wherever_they_are_set(plugin, tmp_path, source):
    """Shared values live on the root's subtree group and a cluster group overrides them only
    where it differs: every host still sees exactly its cluster's values, trusted strings
    included (ansible-inventory --list would show untrusted ones as __ansible_unsafe)."""
    from ansible.template import is_trusted_as_template  # noqa: PLC0415

    if source == "abcd":
        text = (EXAMPLES / "acceptance-abcd.yml").read_text()
    elif source == "small":
        text = SMALL
    else:
        text = json.dumps(mixed_tree(60))
    tree = inventory_of(plugin, tmp_path, text)
    expected = expected_hostvars(load_hierarchy(load_document(text), source="t"))
    assert set(expected) == {host.name for host in tree[0].get_hosts()}
    for name, want in expected.items():
        found = hostvars(tree, name)
        assert {key: found[key] for key in want} == want, name
        assert found["inventory_file"] == str(tmp_path / "tree.yml")
        assert found["inventory_dir"] == str(tmp_path)
        assert is_trusted_as_template(found["fornax_cluster"])
        assert is_trusted_as_template(found["fornax_kube_distro"])


def test_rollout_problems_name_clusters_without_one_control_plane_host(plugin, tmp_path, abcd):
    assert hostvars(abcd, "a-cp-1")["fornax_rollout_problems"] == []
    text = SMALL.replace(
        "hosts: [{name: c-cp, roles: [control_plane], address: 198.18.2.10}]",
        "apiEndpoint: https://198.18.2.10:6443",
    ).replace(
        "hosts: [{name: a-cp, roles: [control_plane], address: a-cp.example.com}]",
        "hosts: [{name: a-cp, roles: [control_plane], address: a-cp.example.com},"
        " {name: a-cp2, roles: [control_plane], address: 198.18.0.11}]",
    )
    found = hostvars(inventory_of(plugin, tmp_path, text), "b-cp")["fornax_rollout_problems"]
    assert found == [
        "cluster a has 2 control-plane hosts (a-cp, a-cp2); the control_plane role runs a "
        "single-member etcd, so exactly one is needed",
        "cluster c has 0 control-plane hosts (none); the control_plane role runs a "
        "single-member etcd, so exactly one is needed",
    ]


def test_rollout_problems_name_a_pod_cidr_too_small_for_the_clusters_nodes(plugin, tmp_path):
    # Three nodes need four parts of at least 16 addresses: a /27 cannot give them; the run
    # stops in validate_inventory.yml, before any host changes.
    nodes = ", ".join(
        f"{{name: c-n{i}, roles: [edge_node], address: 198.18.2.{20 + i}}}" for i in range(3)
    )
    text = SMALL.replace(
        "      - name: c\n        hosts: [{name: c-cp, roles: [control_plane], address: 198.18.2.10}]",
        "      - name: c\n        podCidr: 10.99.0.0/27\n"
        f"        hosts: [{{name: c-cp, roles: [control_plane], address: 198.18.2.10}}, {nodes}]",
    )
    found = hostvars(inventory_of(plugin, tmp_path, text), "c-n0")["fornax_rollout_problems"]
    assert found == [
        "cluster c: fornax_pod_cidr 10.99.0.0/27 is too small for 3 nodes: each needs at least"
        " 16 addresses"
    ]
    fits = text.replace("podCidr: 10.99.0.0/27", "podCidr: 10.99.0.0/26")
    assert hostvars(inventory_of(plugin, tmp_path, fits), "c-n0")["fornax_rollout_problems"] == []


def inventory_graph(data: InventoryData) -> dict[str, Any]:
    """Everything Ansible keeps about groups and hosts, in comparable form (member and
    ancestor sets are compared as sets: Ansible itself builds them in set order)."""
    groups = {
        name: {
            "depth": group.depth,
            "hosts": [host.name for host in group.hosts],
            "host_names": set(group.host_names),
            "children": [child.name for child in group.child_groups],
            "parents": [parent.name for parent in group.parent_groups],
            "members": sorted(host.name for host in group.get_hosts()),
            "vars": group.vars,
        }
        for name, group in data.groups.items()
    }
    hosts = {
        name: {"groups": sorted(g.name for g in host.groups), "vars": host.vars}
        for name, host in data.hosts.items()
    }
    members = {name: sorted(names) for name, names in data.get_groups_dict().items()}
    order = [host.name for host in data.groups["all"].get_hosts()]
    return {"groups": groups, "hosts": hosts, "dict": members, "all": order}


@pytest.mark.parametrize("before", ["empty", "another source"])
def test_groups_and_hosts_linked_directly_are_what_ansible_links(
    plugin, tmp_path, monkeypatch, before
):
    """The plugin links the groups and hosts it creates on Ansible's objects itself (_Links):
    the result is the graph Ansible's add_group/add_child/add_host build, also when another
    source made some of the groups and hosts first and Ansible had cached member lists."""
    source = tmp_path / "tree.yml"
    source.write_text(json.dumps(mixed_tree(60)))
    links = sys.modules[type(plugin).__module__]._Links

    def parsed(fast: bool) -> dict[str, Any]:
        monkeypatch.setattr(links, "fast", fast)
        data = InventoryData()
        if before == "another source":
            data.add_group("cluster_c4")
            data.add_host("c4-cp", group="cluster_c4")
            data.set_variable("c4-cp", "from_elsewhere", 1)
            data.add_host("elsewhere", group=data.add_group("subtree_c1"))
            data.reconcile_inventory()  # as InventoryManager does after each source
            assert len(data.groups["all"].get_hosts()) == 2
            assert data.get_groups_dict()["all"] == ["c4-cp", "elsewhere"]
        data.current_source = str(source)
        plugin.parse(data, DataLoader(), str(source), cache=False)
        return inventory_graph(data)

    fast = parsed(True)
    assert fast == parsed(False)
    assert len(fast["dict"]["all"]) == len(fast["hosts"]) == 90 + (before != "empty")
    # tier by tier (Ansible's own order for upgrade.yml's serial batches, docs/hierarchy.md)
    if before == "empty":
        assert fast["all"][:5] == ["c0-cp", "c0-gw", "c1-cp", "c2-cp", "c2-gw"]
    assert fast["groups"]["cluster_c13"]["depth"] == 5  # all, subtree_c0, c1, c4, c13


def test_the_model_is_freed_when_the_parse_ends(plugin, tmp_path):
    """The tree's parent and child links are reference cycles; the plugin drops them when it is
    done, so the model is freed at once rather than left to the cyclic collector (whose first
    pass after the parse would scan all of it)."""
    source = tmp_path / "tree.yml"
    source.write_text(SMALL)
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        plugin.parse(InventoryData(), DataLoader(), str(source), cache=False)
        left = [
            type(o).__name__
            for o in gc.get_objects()
            if type(o).__name__ in ("Cluster", "Host", "Gateway")
            and type(o).__module__.endswith("hierarchy.model")
        ]
    finally:
        if collecting:
            gc.enable()
    assert left == []


def test_rollout_problems_name_what_the_gateway_role_would_lack(plugin, tmp_path):
    # site.yml applies the gateway role to every gateways host; validate_inventory.yml stops
    # the run on these before any host changes (the examples have everything: no problem).
    text = (EXAMPLES / "two-level.yml").read_text()
    assert (
        hostvars(inventory_of(plugin, tmp_path, text), "cloud-gw-1")["fornax_rollout_problems"]
        == []
    )
    broken = (
        text.replace('      wanMac: "02:00:c0:00:02:01"', "")
        .replace('        divider: {address: 198.18.1.3, mac: "02:00:c6:12:01:03"}\n', "")
        .replace("    lanInterface: eth0\n", "")
    )
    found = hostvars(inventory_of(plugin, tmp_path, broken), "west-gw-1")["fornax_rollout_problems"]
    assert found == [
        "cluster cloud: gateway host cloud-gw-1 has no lan_interface: set gateway.lanInterface"
        " (or defaults.gateway.lanInterface)",
        "cluster edge-west: gateway host west-gw-1 has no lan_interface: set gateway.lanInterface"
        " (or defaults.gateway.lanInterface)",
        "cluster edge-west: gateway host west-gw-1: VPC vpc-blue spans clusters (cloud) but names"
        " no divider for VNI 2001 here: set divider {address, mac} in vpcs[0] 'vpc-blue'"
        ".clusters[1]",
        "cluster edge-west: gateway host west-gw-1: VPC vpc-blue reaches cluster cloud, whose"
        " gateway cloud-gw-1 has no wanMac: set gateway.wanMac of cluster cloud",
    ]
    # what the role would write is exported only where the file gives it
    gateway = hostvars(inventory_of(plugin, tmp_path, broken), "cloud-gw-1")["fornax_gateway"]
    assert (gateway["peer_macs"], gateway["dividers"]) == (
        {"192.0.2.2": "02:00:c0:00:02:02"},
        [{"vni": 1001, "address": "198.18.0.3", "mac": "02:00:c6:12:00:03"}],
    )


def test_rollout_problems_are_capped_with_a_count_of_the_rest():
    # Every host carries the list: a tree with thousands of problems must not make
    # `ansible-inventory --list` quadratic, and the operator reads the first ones anyway.
    problems = [f"cluster c{i}: broken" for i in range(rollout.MAX_PROBLEMS + 7)]
    found = rollout.capped(problems)
    assert found[: rollout.MAX_PROBLEMS] == problems[: rollout.MAX_PROBLEMS]
    assert found[rollout.MAX_PROBLEMS :] == ["and 7 more problems like these"]
    assert rollout.capped(problems[:3]) == problems[:3]
    assert rollout.capped(problems[:4], 3)[-1] == "and 1 more problem like these"
