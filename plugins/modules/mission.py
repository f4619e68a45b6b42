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
    type: str
  state:
    description: V(present) applies the Mission, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  definition:
    description:
      - The whole Mission as a mapping or YAML text (one document), for example an existing
        Mission file of the original Fornax.
    type: raw
  src:
    description: Path of a file holding the Mission (YAML).
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
    description: Server dry run; the placement preview is returned as well.
    support: full
  diff_mode:
    description: Before and after of the fields this field manager applies.
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

- name: Remove it everywhere
  centaurus.fornax.mission:
    name: nginx
    state: absent
    wait: true
"""

RETURN = r"""
mission:
  description: The Mission as the API server returned it (the dry-run result in check mode).
  returned: state=present
  type: dict
placement_preview:
  description: Where the placement would run the Mission among the clusters known here.
  returned: state=present, when the EdgeClusters can be read
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
  returned: when O(wait) is set and not in check mode
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

from collections.abc import Callable

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import (
    mission_spec,
    preview,
    progress,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.ansible_module import (
    argument_spec,
    client_from_module,
    fail,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.apply import (
    apply_object,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeApiError,
    KubeClient,
    KubeError,
    resource_path,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.waiter import (
    poll,
)

SPEC_OPTIONS = ("labels", "resource", "command", "clusters", "match_labels", "statecheck")
OWN_OPTIONS = {
    "name": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
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
    "field_manager": {"type": "str", "default": "centaurus.fornax"},
    "force_conflicts": {"type": "bool", "default": False},
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
EDGECLUSTERS = resource_path(mission_spec.GROUP_VERSION, "edgeclusters")


def desired_mission(params: dict) -> dict:
    if params["definition"] is not None:
        mission = mission_spec.load_definition(params["definition"])
    elif params["src"]:
        mission = mission_spec.load_src(params["src"])
    else:
        return mission_spec.checked(
            mission_spec.from_options(
                params["name"], **{option: params[option] for option in SPEC_OPTIONS}
            )
        )
    named = (mission.get("metadata") or {}).get("name")
    return mission_spec.checked(mission, None if named else params["name"])


def placement_preview(module: AnsibleModule, client, mission: dict) -> dict:  # noqa: ANN001
    try:
        items = client.get(EDGECLUSTERS).get("items") or []
    except KubeApiError as exc:
        module.warn(f"no placement preview: cannot list EdgeClusters ({exc})")
        return {}
    placement = (mission.get("spec") or {}).get("placement")
    result = preview.preview(placement, preview.known_clusters(items))
    for warning in preview.unknown_name_warnings(placement, result):
        module.warn(warning)
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


def wait_present(
    module: AnsibleModule,
    client: KubeClient,
    path: str,
    name: str,
    *,
    changed: bool,
    check: Callable,
) -> dict:
    p = module.params
    outcome = poll(
        lambda: client.get(path),
        check,
        timeout=p["wait_timeout"],
        sleep=p["wait_sleep"],
        met=lambda verdict: verdict["met"],
    )
    report = dict(outcome.verdict, elapsed=round(outcome.elapsed, 2))
    if not outcome.met:
        behind = ", ".join(
            f"{b['path']} ({b['state'] or 'no state yet'})" for b in report["behind"]
        )
        module.fail_json(
            msg=(
                f"wait_timeout: Mission {name} not there after {p['wait_timeout']} s: "
                f"{report['detail']}; behind: {behind or 'none reported yet'}"
            ),
            wait=report,
            behind=report["behind"],
            mission=outcome.value,
            changed=changed,
        )
    return report


def present(module: AnsibleModule, client) -> dict:  # noqa: ANN001 - KubeClient
    p = module.params
    mission = desired_mission(p)
    name = mission["metadata"]["name"]
    path = mission_spec.mission_path(name)
    check = wait_check(p["wait_for"] or {}) if p["wait"] else None  # fails before applying
    outcome = apply_object(
        client,
        path,
        mission,
        field_manager=p["field_manager"],
        force=p["force_conflicts"],
        dry_run=module.check_mode,
    )
    result = {
        "changed": outcome.changed,
        "mission": outcome.result,
        "diff": {"before": outcome.before or {}, "after": outcome.after or {}},
        "placement_preview": placement_preview(module, client, mission),
    }
    if p["wait"] and not module.check_mode:
        result["wait"] = wait_present(
            module, client, path, name, changed=outcome.changed, check=check
        )
    return result


def absent(module: AnsibleModule, client) -> dict:  # noqa: ANN001 - KubeClient
    p = module.params
    if p["definition"] is not None or p["src"]:
        name = desired_mission(p)["metadata"]["name"]
    elif p["name"]:
        name = p["name"]
    else:
        raise mission_spec.MissionSpecError("name: required to delete a Mission")
    path = mission_spec.mission_path(name)
    live = client.get_or_none(path)
    result = {"changed": live is not None, "diff": {"before": live or {}, "after": {}}}
    if live is None:
        result["diff"]["before"] = {}
        return result
    result["diff"]["before"] = {"metadata": {"name": name}, "spec": live.get("spec")}
    client.delete_if_exists(path, dry_run=module.check_mode)
    if p["wait"] and not module.check_mode:
        outcome = poll(
            lambda: client.get_or_none(path),
            lambda obj: obj is None,
            timeout=p["wait_timeout"],
            sleep=p["wait_sleep"],
        )
        if not outcome.met:
            finalizers = (outcome.value.get("metadata") or {}).get("finalizers")
            module.fail_json(
                msg=f"wait_timeout: Mission {name} still exists after {p['wait_timeout']} s "
                f"(finalizers: {finalizers})",
                changed=True,
            )
        result["wait"] = {"met": True, "elapsed": round(outcome.elapsed, 2)}
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(OWN_OPTIONS, wait=True),
        mutually_exclusive=[("definition", "src")]
        + [(source, option) for source in ("definition", "src") for option in SPEC_OPTIONS],
        supports_check_mode=True,
    )
    client = client_from_module(module)
    try:
        if module.params["state"] == "present":
            result = present(module, client)
        else:
            result = absent(module, client)
    except (KubeError, ValueError, OSError) as exc:
        fail(module, exc, f"mission {module.params['name'] or ''}".strip())
    finally:
        client.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
