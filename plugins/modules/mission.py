#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Apply or delete a Fornax Mission, preview its placement, and wait for it across a subtree."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mission
short_description: Manage a Fornax Mission, preview where it lands, wait for it across a subtree
version_added: 0.1.0
description:
  - Applies a Mission (C(edgeclusters.kubeedge.io/v1)) server-side with a field manager, or
    deletes it. The Mission comes from O(definition), from a file O(src), or from options that
    mirror its spec (O(resource), O(command), O(clusters), O(match_labels), O(statecheck)).
  - C(changed) and the diff compare only the fields this field manager applies (what it sends
    now and what it owned before), so status written by the agent, server defaults and
    bookkeeping never show as changes; a second run with the same input reports no change.
  - In check mode the apply is a server dry run (admission runs, nothing is stored).
  - Every run returns a placement preview over the clusters known to this cluster (its
    EdgeClusters and, through their status, the clusters below them). It says which would run
    the Mission, which would say C(not match), and which cannot be decided here because their
    labels are not visible. A cluster named in O(clusters) that is not known is a warning,
    not an error (it may register later).
  - With O(wait), waits until the Mission is in O(wait_for.state) in the clusters
    O(wait_for.clusters), or in at least O(wait_for.min_ready) of the selected clusters of
    O(wait_for.subtree); on time-out the task fails and lists the clusters that are behind.
  - Many Missions in one task - O(definition) as a list or as YAML text of several documents,
    O(src) as a file of several documents or a directory - are a set. Every Mission of the set
    is read and checked first, then applied as a server dry run; only when all pass are the
    changing ones applied, so a bad entry (named by its file and document, or its index, and
    the field) changes nothing. Each Mission is reported in RV(missions).
author:
  - centaurus.fornax contributors (@centaurus-fornax)
requirements:
  - jmespath (only for O(wait_for.condition))
extends_documentation_fragment:
  - centaurus.fornax.k8s_auth
  - centaurus.fornax.k8s_wait
options:
  name:
    description:
      - Name of the Mission. Required unless O(definition) or O(src) names it (then it wins).
      - Not with a set of Missions (each names itself in C(metadata.name)).
    type: str
  state:
    description: V(present) applies the Mission(s), V(absent) deletes them.
    type: str
    choices: [present, absent]
    default: present
  definition:
    description:
      - The whole Mission as a mapping or YAML text, for example an existing Mission file of
        the original Fornax.
      - A list of Missions (mappings), or YAML text of several documents, applies them all in
        one task (a set; see the description).
    type: raw
  src:
    description:
      - Path of a file holding the Mission (YAML), or several Missions as several documents.
      - A directory applies every C(.yaml), C(.yml) and C(.json) file in it (not below it), in
        name order, each file one or more Missions (a set).
    type: path
  labels:
    description: Labels of the Mission (C(metadata.labels)); with the spec options only.
    type: dict
  resource:
    description:
      - The Kubernetes object(s) to create in every matching cluster (C(spec.missionresource)),
        as a mapping, a list of mappings, or YAML text (several documents allowed).
      - Parsed before anything is sent; invalid YAML fails the task naming the field.
    type: raw
  command:
    description: A host command instead of a resource (C(spec.missioncommand)).
    type: dict
    suboptions:
      command:
        description: The command; C([kubectl]) and C([kubeconfig]) are substituted.
        type: str
        required: true
      trigger:
        description: Command whose exit status decides whether O(command.command) runs.
        type: str
      runwhentriggersucceed:
        description: Run the command when the trigger succeeds (default when it fails).
        type: bool
      reversecommand:
        description: Command run when the Mission is deleted.
        type: str
  clusters:
    description: Place the Mission on the clusters of these names (C(spec.placement.clusters)).
    type: list
    elements: str
  match_labels:
    description:
      - Place the Mission on clusters carrying ANY one of these label pairs
        (C(spec.placement.matchlabels); not a Kubernetes label selector).
      - Without O(clusters) and O(match_labels) the Mission goes to every cluster.
    type: dict
  statecheck:
    description: Command whose output becomes each cluster's state (C(spec.statecheck.command)).
    type: str
  field_manager:
    description: Field manager of the server-side apply.
    type: str
    default: centaurus.fornax
  force_conflicts:
    description: Take over fields another field manager owns instead of failing on the conflict.
    type: bool
    default: false
  wait_for:
    description:
      - What O(wait) waits for. Default every selected cluster of the tree ready.
    type: dict
    suboptions:
      state:
        description:
          - The state to reach. V(ready) (the default) means any state that counts as ready
            (C(2/2), C(applied), C(complete), C(done), ...); anything else is compared exactly.
        type: str
      condition:
        description:
          - A JMESPath expression over the Mission's C(status) (C(states), C(summary),
            C(subtreeSummaries), C(observedGeneration), ...), instead of O(wait_for.state),
            O(wait_for.clusters), O(wait_for.subtree) and O(wait_for.min_ready). The wait is
            over when its value is true in JMESPath's sense (not null, false or empty) and the
            status is for the Mission's current generation.
          - For example C(summary.failed == `0` && summary.ready >= `3`), or
            C(states."b/c" == 'applied').
          - Needs the C(jmespath) Python package where the module runs.
        type: str
      clusters:
        description: Paths of clusters (below this one, e.g. C(b), C(b/c)) that must reach it.
        type: list
        elements: str
      subtree:
        description: Path of the subtree to count in (default the whole tree below).
        type: str
      min_ready:
        description:
          - How many selected clusters of the subtree must reach the state, as a count (C(3))
            or a percentage (C(50%)) of those the placement selects (unreachable ones count
            against it). Default C(100%). At least one cluster is always needed.
        type: raw
attributes:
  check_mode:
    description: Server dry run (of every Mission of a set); the placement preview is returned.
    support: full
  diff_mode:
    description:
      - Before and after of the fields this field manager applies; one diff per Mission of a set.
    support: full
  action_group:
    description: Use C(group/centaurus.fornax.k8s) in C(module_defaults) to set the connection.
    support: full
    membership: [centaurus.fornax.k8s]
"""

EXAMPLES = r"""
- name: Where would it run? Check mode is a server dry run plus the placement preview
  centaurus.fornax.mission:
    name: nginx
    resource:
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: nginx, namespace: default}
      spec:
        replicas: 2
        selector: {matchLabels: {app: nginx}}
        template:
          metadata: {labels: {app: nginx}}
          spec: {containers: [{name: nginx, image: nginx:1.27}]}
    match_labels: {company: futurewei}
  check_mode: true
  register: plan

- name: Apply it and wait until 90% of the clusters below b run it
  centaurus.fornax.mission:
    name: nginx
    resource: "{{ lookup('file', 'nginx-deployment.yaml') }}"
    match_labels: {company: futurewei}
    wait: true
    wait_timeout: 300
    wait_for:
      subtree: b
      min_ready: 90%

- name: An original Fornax Mission file, unchanged
  centaurus.fornax.mission:
    src: missions/deployment-to-all.yaml

- name: A host command on two named clusters, waiting for both to report done
  centaurus.fornax.mission:
    name: prepull
    command:
      trigger: "[kubectl] --kubeconfig [kubeconfig] get ns tools"
      command: "[kubectl] --kubeconfig [kubeconfig] create ns tools"
    clusters: [b, c]
    wait: true
    wait_for:
      clusters: [b, b/c]
      state: done

- name: Wait for field values of the status (JMESPath), like kubernetes.core users ask for
  centaurus.fornax.mission:
    name: nginx
    resource: "{{ lookup('file', 'nginx-deployment.yaml') }}"
    wait: true
    wait_for:
      condition: "summary.ready >= `3` && summary.failed == `0`"

- name: Many Missions in one task - every file of a directory, each checked before any is sent
  centaurus.fornax.mission:
    src: missions/
  register: applied

- name: Which of them changed
  ansible.builtin.debug:
    msg: "{{ applied.missions | selectattr('changed') | map(attribute='name') | list }}"

- name: A list of definitions in one task, waiting for all of them (one wait_timeout for all)
  centaurus.fornax.mission:
    definition:
      - "{{ lookup('file', 'missions/nginx.yaml') | from_yaml }}"
      - "{{ lookup('file', 'missions/prepull.yaml') | from_yaml }}"
    wait: true
    wait_timeout: 600

- name: Remove every Mission of the directory
  centaurus.fornax.mission:
    src: missions/
    state: absent

- name: Remove it everywhere
  centaurus.fornax.mission:
    name: nginx
    state: absent
    wait: true
"""

RETURN = r"""
mission:
  description: The Mission as the API server returned it (the dry-run result in check mode).
  returned: state=present, one Mission (not a set)
  type: dict
missions:
  description: One entry per Mission, in the order given (a directory - its files in name order).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the Mission.
      type: str
    source:
      description: Where it came from - C(definition[3]), C(src 'dir/a.yaml' document 2), ...
      type: str
    state:
      description: The O(state) asked for.
      type: str
    operation:
      description: C(created), C(updated), C(unchanged), C(deleted) or C(absent) (was not there).
      type: str
    changed:
      description: Whether this Mission changed (or would, in check mode).
      type: bool
    diff:
      description: Before and after of the fields this field manager applies.
      type: dict
    placement_preview:
      description: As RV(placement_preview), for this Mission.
      returned: state=present
      type: dict
    wait:
      description: As RV(wait), for this Mission.
      returned: when O(wait) is set and not in check mode
      type: dict
  sample:
    - name: nginx
      source: src 'missions/nginx.yaml' document 1
      state: present
      operation: unchanged
      changed: false
      diff: {before: {}, after: {}}
problems:
  description: "Every refused Mission of a set, each C(source: field: why) (nothing was applied)."
  returned: when a set fails its checks or the server's dry run
  type: list
  elements: str
placement_preview:
  description: Where the placement would run the Mission among the clusters known here.
  returned: state=present, one Mission (not a set), when the EdgeClusters can be read
  type: dict
  contains:
    run:
      description: Paths of the clusters that would run it.
      type: list
      elements: str
    not_match:
      description: Paths of the clusters that would say C(not match).
      type: list
      elements: str
    unknown:
      description: Paths whose decision needs labels not visible from here.
      type: list
      elements: str
    clusters:
      description: Path -> C({decision, health}); decision is C(run), C(not match) or
        C(unknown (labels not visible from here)).
      type: dict
    unknown_names:
      description: Names in O(clusters) that are not a known cluster.
      type: list
      elements: str
  sample:
    run: [b, b/c/d]
    not_match: [b/c]
    unknown: []
    clusters: {b: {decision: run, health: healthy}}
    unknown_names: []
wait:
  description: The last look of the wait.
  returned: when O(wait) is set and not in check mode, one Mission (not a set)
  type: dict
  contains:
    met:
      description: Whether the condition held.
      type: bool
    behind:
      description: Clusters not (yet) in the wanted state, each C({path, state}).
      type: list
      elements: dict
    detail:
      description: The condition in words.
      type: str
    value:
      description: The value of O(wait_for.condition) at the last look.
      returned: when O(wait_for.condition) is set
      type: raw
    elapsed:
      description: Seconds waited.
      type: float
"""

import time
from collections.abc import Callable

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    mission_set,
    preview,
    progress,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.fornax.names import (
    EDGECLUSTERS,
    MISSIONS,
    mission_path,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.ansible_module import (
    error_message,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.args_common import (
    APPLY_ARG_SPEC,
    STATE_SPEC,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.runner import (
    k8s_module,
    object_service,
    run_module,
)

SPEC_OPTIONS = ("labels", "resource", "command", "clusters", "match_labels", "statecheck")
OWN_OPTIONS = {
    "name": {"type": "str"},
    "state": STATE_SPEC,
    "definition": {"type": "raw"},
    "src": {"type": "path"},
    "labels": {"type": "dict"},
    "resource": {"type": "raw"},
    "command": {
        "type": "dict",
        "options": {
            "command": {"type": "str", "required": True},
            "trigger": {"type": "str"},
            "runwhentriggersucceed": {"type": "bool"},
            "reversecommand": {"type": "str"},
        },
    },
    "clusters": {"type": "list", "elements": "str"},
    "match_labels": {"type": "dict"},
    "statecheck": {"type": "str"},
    **APPLY_ARG_SPEC,
    "wait_for": {
        "type": "dict",
        "options": {
            "state": {"type": "str"},
            "condition": {"type": "str"},
            "clusters": {"type": "list", "elements": "str"},
            "subtree": {"type": "str"},
            "min_ready": {"type": "raw"},
        },
    },
}
MUTUALLY_EXCLUSIVE = [("definition", "src")] + [
    (source, option) for source in ("definition", "src") for option in SPEC_OPTIONS
]


def desired_missions(params: dict) -> tuple:
    """(list of mission_set.Sourced, is_set): every Mission checked before any is sent."""
    options = {option: params[option] for option in SPEC_OPTIONS}
    return mission_set.load_missions(params["definition"], params["src"], params["name"], options)


def known_clusters(module, client):  # noqa: ANN001, ANN201 - None when they cannot be read
    try:
        return preview.known_clusters(client.get(EDGECLUSTERS).get("items") or [])
    except KubeApiError as exc:
        module.warn(f"no placement preview: cannot list EdgeClusters ({exc})")
        return None


def placement_preview(module, known, mission: dict, prefix: str = "") -> dict:  # noqa: ANN001
    if known is None:
        return {}
    placement = (mission.get("spec") or {}).get("placement")
    result = preview.preview(placement, known)
    for warning in preview.unknown_name_warnings(placement, result):
        module.warn(prefix + warning)
    return result


def wait_check(cond: dict) -> Callable[[dict], dict]:
    """The look of a wait: the JMESPath condition, or the state over clusters or a subtree."""
    if cond.get("condition") is not None:
        clash = [k for k in ("state", "clusters", "subtree", "min_ready") if cond.get(k)]
        if clash:
            raise progress.WaitSpecError(
                f"wait_for.condition: give it alone, not with wait_for.{clash[0]}"
            )
        compiled = progress.compile_condition(cond["condition"])
        return lambda mission: progress.evaluate_condition(mission, compiled)
    progress.parse_min_ready(cond.get("min_ready"))  # a bad value fails before waiting

    def check(mission):  # noqa: ANN001, ANN202
        return progress.evaluate(
            mission,
            state=cond.get("state") or progress.READY_WORD,
            clusters=cond.get("clusters"),
            subtree=cond.get("subtree"),
            min_ready=cond.get("min_ready"),
        )

    return check


def behind_text(report: dict) -> str:
    behind = ", ".join(f"{b['path']} ({b['state'] or 'no state yet'})" for b in report["behind"])
    return f"{report['detail']}; behind: {behind or 'none reported yet'}"


def wait_all(module, svc, entries: list, check: Callable) -> None:  # noqa: ANN001
    """Wait for every Mission of ``entries`` within one wait_timeout; fail naming the late."""
    p = module.params
    deadline = time.monotonic() + p["wait_timeout"]
    late, last = [], None
    for entry in entries:
        outcome = svc.wait_for(
            mission_path(entry["name"]),
            check,
            timeout=max(0.0, deadline - time.monotonic()),
            sleep=p["wait_sleep"],
            met=lambda verdict: verdict["met"],
        )
        entry["wait"] = dict(outcome.verdict, elapsed=round(outcome.elapsed, 2))
        if not outcome.met:
            late.append(entry)
            last = outcome.value
    if not late:
        return
    if len(entries) == 1:
        report = entries[0]["wait"]
        module.fail_json(
            msg=f"wait_timeout: Mission {entries[0]['name']} not there after "
            f"{p['wait_timeout']} s: {behind_text(report)}",
            wait=report,
            behind=report["behind"],
            mission=last,
            changed=entries[0]["changed"],
        )
    module.fail_json(
        msg=f"wait_timeout: {len(late)} of {len(entries)} Missions not there after "
        f"{p['wait_timeout']} s: "
        + "; ".join(f"{e['name']}: {behind_text(e['wait'])}" for e in late),
        missions=entries,
        changed=any(e["changed"] for e in entries),
    )


def entry_of(sourced, change, state: str) -> dict:  # noqa: ANN001
    """The per-Mission result: where it came from, what happened, its diff."""
    name = sourced.mission["metadata"]["name"]
    diff = dict(change.diff, before_header=f"mission {name}", after_header=f"mission {name}")
    return {
        "name": name,
        "source": sourced.source,
        "state": state,
        "operation": change.operation,
        "changed": change.changed,
        "diff": diff,
    }


def apply_missions(svc, missions: list, many: bool) -> list:  # noqa: ANN001
    """Changes of ``missions`` in order: one apply, or a set through dry runs first."""
    if not many:
        path = mission_path(missions[0].mission["metadata"]["name"])
        return [svc.present(path, missions[0].mission)]
    names = [m.mission["metadata"]["name"] for m in missions]
    live = {mission_path(n): obj for n, obj in svc.read_all(MISSIONS, names).items()}
    paths = [mission_path(n) for n in names]
    items = [(m.source, path, m.mission) for m, path in zip(missions, paths)]  # noqa: B905
    return svc.present_all(items, live, describe=error_message)


def present(module, client) -> dict:  # noqa: ANN001 - KubeClient
    p = module.params
    missions, many = desired_missions(p)
    check = wait_check(p["wait_for"] or {}) if p["wait"] else None  # fails before applying
    svc = object_service(module, client)
    changes = apply_missions(svc, missions, many)
    known = known_clusters(module, client)
    entries = []
    for sourced, change in zip(missions, changes):  # noqa: B905 - Python 3.8
        entry = entry_of(sourced, change, "present")
        prefix = f"mission {entry['name']}: " if many else ""
        entry["placement_preview"] = placement_preview(module, known, sourced.mission, prefix)
        entries.append(entry)
    result = {"changed": any(c.changed for c in changes), "missions": entries}
    if many:
        result["diff"] = [e["diff"] for e in entries]
    else:
        result.update(
            mission=changes[0].result,
            diff=changes[0].diff,
            placement_preview=entries[0]["placement_preview"],
        )
    if p["wait"] and not module.check_mode:
        wait_all(module, svc, entries, check)
        if not many:
            result["wait"] = entries[0]["wait"]
    return result


def names_to_delete(params: dict) -> tuple:
    """(list of Sourced, is_set) of the Missions to delete."""
    if params["definition"] is not None or params["src"]:
        return desired_missions(params)
    if not params["name"]:
        raise mission_set.MissionSpecError("name: required to delete a Mission")
    named = {"metadata": {"name": params["name"]}}
    return [mission_set.Sourced("name", named)], False


def wait_gone(module, svc, entries: list) -> None:  # noqa: ANN001
    p = module.params
    deadline = time.monotonic() + p["wait_timeout"]
    for entry in entries:
        if entry["operation"] != "deleted":
            continue
        outcome = svc.wait_gone(
            mission_path(entry["name"]),
            timeout=max(0.0, deadline - time.monotonic()),
            sleep=p["wait_sleep"],
        )
        if not outcome.met:
            finalizers = (outcome.value.get("metadata") or {}).get("finalizers")
            module.fail_json(
                msg=f"wait_timeout: Mission {entry['name']} still exists after "
                f"{p['wait_timeout']} s (finalizers: {finalizers})",
                changed=True,
                missions=entries,
            )
        entry["wait"] = {"met": True, "elapsed": round(outcome.elapsed, 2)}


def absent(module, client) -> dict:  # noqa: ANN001 - KubeClient
    missions, many = names_to_delete(module.params)
    svc = object_service(module, client)
    names = [m.mission["metadata"]["name"] for m in missions]
    live = svc.read_all(MISSIONS, names)
    changes = [svc.absent(mission_path(n), live[n]) for n in names]
    entries = [entry_of(m, c, "absent") for m, c in zip(missions, changes)]  # noqa: B905
    result = {
        "changed": any(c.changed for c in changes),
        "missions": entries,
        "diff": [e["diff"] for e in entries] if many else changes[0].diff,
    }
    if module.params["wait"] and not module.check_mode:
        wait_gone(module, svc, entries)
        if not many and changes[0].changed:
            result["wait"] = entries[0]["wait"]
    return result


def run(module, client) -> dict:  # noqa: ANN001 - KubeClient
    return (
        present(module, client) if module.params["state"] == "present" else absent(module, client)
    )


def main() -> None:
    module = k8s_module(OWN_OPTIONS, wait=True, mutually_exclusive=MUTUALLY_EXCLUSIVE)
    run_module(module, run, f"mission {module.params['name'] or ''}".strip())


if __name__ == "__main__":
    main()
