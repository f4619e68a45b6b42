#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Missions with their per-cluster states as a tree and a summary, optionally from below."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mission_info
short_description: Show Fornax Missions with their states per cluster, as a tree and in sum
version_added: 0.1.0
description:
  - Reads Missions of the cluster it connects to, with the state of each cluster below it
    (C(status.states), keyed by path such as C(b/c)), the same states nested as a tree, and a
    summary (clusters, matched, ready, failed, unreachable, notMatch).
  - A cluster keeps a bounded amount of state and folds large subtrees into counts
    (C(status.subtreeSummaries)). With O(children), the module also reads the same Mission on
    the named clusters below and puts their finer view in place of what the top keeps for
    their subtrees.
author:
  - centaurus.fornax contributors (@centaurus-fornax)
requirements:
  - jmespath (only for O(condition))
extends_documentation_fragment:
  - centaurus.fornax.k8s_auth
options:
  name:
    description: Only this Mission (default all of them).
    type: str
  label_selector:
    description: Only Missions matching this Kubernetes label selector.
    type: str
  condition:
    description:
      - A JMESPath expression evaluated on each returned Mission's C(status), for example
        C(summary.failed == `0`) or C(states."b/c"). Each Mission then carries
        C(condition) (its value and whether it holds) and the result C(condition_met) tells
        whether it holds for every returned Mission; use it in C(until) or C(assert).
      - Needs the C(jmespath) Python package where the module runs.
    type: str
  children:
    description:
      - Path of a cluster below this one (C(b), C(b/c)) -> how to reach it, for detail beyond
        what this cluster keeps. The value is a kubeconfig path, a kubeconfig dict, or a dict
        of connection options (C(kubeconfig), C(context), C(host), C(api_key), C(ca_cert),
        C(client_cert), C(client_key), C(validate_certs)).
      - A child that cannot be read is reported in C(walk_errors) and leaves the view from
        above in place; it does not fail the task.
    type: dict
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: Nothing to show.
    support: none
  action_group:
    description: Use C(group/centaurus.fornax.k8s) in C(module_defaults) to set the connection.
    support: full
    membership: [centaurus.fornax.k8s]
"""

EXAMPLES = r"""
- name: How is nginx doing?
  centaurus.fornax.mission_info:
    kubeconfig: /etc/fornax/root-admin.kubeconfig
    name: nginx
  register: info

- name: Not one cluster failed
  ansible.builtin.assert:
    that: info.missions[0].summary.failed == 0

- name: Retry until no cluster failed and three are ready (a JMESPath test of field values)
  centaurus.fornax.mission_info:
    name: nginx
    condition: "summary.failed == `0` && summary.ready >= `3`"
  register: info
  until: info.condition_met
  retries: 30
  delay: 10

- name: Detail of b's subtree from b itself
  centaurus.fornax.mission_info:
    name: nginx
    children:
      b: /etc/fornax/b-admin.kubeconfig
      b/c: {kubeconfig: /etc/fornax/c-admin.kubeconfig, context: admin}
"""

RETURN = r"""
missions:
  description: One entry per Mission.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Mission name., type: str}
    generation: {description: C(metadata.generation)., type: int}
    observed_generation: {description: Generation the states are for., type: int}
    content_kind: {description: "Kind of the content, or C(command).", type: str}
    placement: {description: C(spec.placement)., type: dict}
    states:
      description: Path -> state, merged with the children's views when walked.
      type: dict
    tree:
      description: The states nested by path, each node C({state, class, children}).
      type: dict
    subtree_summaries: {description: "Folded subtrees, path -> counts.", type: dict}
    summary:
      description: Counts over the subtree (the agent's, or computed from states and folds).
      type: dict
      sample: {clusters: 3, matched: 2, ready: 1, failed: 0, unreachable: 1, notMatch: 1}
    walked: {description: Paths whose own view was read., type: list, elements: str}
    condition:
      description: With O(condition) - C({value, met}) for this Mission's status.
      type: dict
  sample:
    - name: nginx
      states: {b: 2/2, b/c: not match}
      tree:
        b:
          state: 2/2
          class: ready
          children: {c: {state: not match, class: notMatch, children: {}}}
      summary: {clusters: 2, matched: 1, ready: 1, failed: 0, unreachable: 0, notMatch: 1}
summary:
  description: The summaries of all returned Missions added up.
  returned: always
  type: dict
walk_errors:
  description: Child path -> why it could not be read.
  returned: always
  type: dict
condition_met:
  description: Whether O(condition) holds for every returned Mission (false when none is).
  returned: when O(condition) is set
  type: bool
"""

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    progress,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.names import (
    API_VERSION,
    mission_path,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.states import (
    empty_counts,
    summarize,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.ansible_module import (
    client_from_params,
    error_message,
    fail,
    read_named_or_selected,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.args_common import (
    AUTH_OPTIONS,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.runner import (
    k8s_module,
    run_module,
)

OWN_OPTIONS = {
    "name": {"type": "str"},
    "label_selector": {"type": "str"},
    "condition": {"type": "str"},
    "children": {"type": "dict"},
}


def child_params(value, retries: int, timeout: float) -> dict:  # noqa: ANN001
    """A child's connection value -> connection options."""
    if isinstance(value, str) or (isinstance(value, dict) and "clusters" in value):
        params = {"kubeconfig": value}
    elif isinstance(value, dict):
        unknown = sorted(set(value) - set(AUTH_OPTIONS))
        if unknown:
            raise ValueError(f"children: unknown connection option(s) {unknown}")
        params = dict(value)
    else:
        raise ValueError(f"children: expected a kubeconfig path or a dict, got {value!r}")
    return dict(params, api_retries=retries, api_timeout=timeout)


def read_children(module, names: list) -> tuple:  # noqa: ANN001 - AnsibleModule
    """(path -> {mission name -> Mission}, path -> error) from the clusters in ``children``."""
    views: dict = {}
    errors: dict = {}
    for path, value in sorted((module.params["children"] or {}).items()):
        try:
            with client_from_params(
                child_params(value, module.params["api_retries"], module.params["api_timeout"])
            ) as client:
                found = {}
                for name in names:
                    mission = client.get_or_none(mission_path(name))
                    if mission is not None:
                        found[name] = mission
                views[path.strip("/")] = found
        except (KubeError, ValueError, ImportError) as exc:
            errors[path] = error_message(exc)
    return views, errors


def describe(mission: dict, views: dict) -> dict:
    meta = mission.get("metadata") or {}
    status = mission.get("status") or {}
    name = meta.get("name")
    states = dict(status.get("states") or {})
    folded = dict(status.get("subtreeSummaries") or {})
    walked = []
    for path in sorted(views, key=lambda p: (p.count("/"), p)):
        child = views[path].get(name)
        if child is not None:
            states, folded = progress.merge_child_view(states, folded, path, child)
            walked.append(path)
    summary = summarize(states, folded.values()) if walked else progress.mission_summary(mission)
    return {
        "name": name,
        "generation": meta.get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "content_kind": status.get("contentKind"),
        "placement": (mission.get("spec") or {}).get("placement") or {},
        "states": states,
        "tree": progress.states_tree(states),
        "subtree_summaries": folded,
        "summary": summary,
        "walked": walked,
    }


def prepare(module):  # noqa: ANN001, ANN201 - the compiled condition or None
    """Mask the children's secrets and compile the condition before connecting anywhere."""
    p = module.params
    if p["children"]:
        from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (  # noqa: PLC0415
            secret_values,
        )

        module.no_log_values.update(secret_values(p["children"]))
    if p["condition"] is None:
        return None
    try:
        return progress.compile_condition(p["condition"], "condition")
    except ValueError as exc:
        fail(module, exc)


def run(module, client, compiled=None) -> dict:  # noqa: ANN001
    p = module.params
    items = read_named_or_selected(client, API_VERSION, "missions", p["name"], p["label_selector"])
    client.close()  # the children are read through their own connections
    names = [m["metadata"]["name"] for m in items]
    views, errors = read_children(module, names) if p["children"] else ({}, {})
    missions = []
    for mission in sorted(items, key=lambda m: m["metadata"]["name"]):
        entry = describe(mission, views)
        if compiled is not None:
            verdict = progress.evaluate_condition(mission, compiled)
            entry["condition"] = {"value": verdict["value"], "met": verdict["met"]}
        missions.append(entry)
    total = empty_counts()
    for entry in missions:
        for key in total:
            total[key] += int(entry["summary"].get(key, 0))
    result = {"changed": False, "missions": missions, "summary": total, "walk_errors": errors}
    if compiled is not None:
        result["condition_met"] = bool(missions) and all(m["condition"]["met"] for m in missions)
    return result


def main() -> None:
    module = k8s_module(OWN_OPTIONS)
    compiled = prepare(module)
    run_module(module, lambda m, client: run(m, client, compiled), "mission_info")


if __name__ == "__main__":
    main()
