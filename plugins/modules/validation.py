#!/usr/bin/python
# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Release validation of a live Fornax fleet: plan, clean up, run (the validate role's engine)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: validation
short_description: Validate a live Fornax fleet with Robot Framework suites, Akraino BluVal style
version_added: 0.1.0
description:
  - The engine of the C(centaurus.fornax.validate) role and C(playbooks/validate.yml); runs on
    the controller. See C(docs/validation.md) in the collection.
  - O(step=plan) checks the blueprint (every layer, suite, test, flag and parameter is known),
    the options and the fleet, and says what would run. Nothing is touched; a problem fails
    with every place named.
  - O(step=cleanup) undoes the disruptions a killed earlier run left in its journal (an agent
    stopped, an uplink cut, an API server stopped) and deletes every validation Mission (label
    C(edgeclusters.kubeedge.io/validation)) at the root.
  - O(step=run) runs each planned suite under Robot Framework with the collection's keyword
    library and leaves C(<results_dir>/<layer>/<suite>/) with C(output.xml), C(log.html),
    C(report.html), C(xunit.xml) (JUnit) and C(debug.log), plus C(test_info.yaml) and
    C(index.html) (the tree as a picture). It cleans up after itself whatever happens,
    SIGINT and SIGTERM included.
  - The task does not fail when tests fail; the role asserts on C(record.result).
author:
  - centaurus.fornax contributors (@centaurus-fornax)
requirements:
  - robotframework (on the controller, for O(step=run))
options:
  step:
    description: What to do.
    type: str
    required: true
    choices: [plan, cleanup, run]
  blueprint:
    description:
      - Path of the blueprint file on the controller (the role's default is the one the
        collection ships).
    type: path
    required: true
  overrides:
    description:
      - The operator's changes to the blueprint, a mapping with C(params) and C(layers) in the
        blueprint's shape, merged key by key.
    type: dict
    default: {}
  members:
    description:
      - One record per inventory host of the fleet, built by the role from the hierarchy
        inventory's variables (C(host), C(cluster), C(parent), C(path), C(tier), C(children),
        C(labels), C(distro), C(api_endpoint), C(parent_api_endpoint), C(gateway), C(vpcs),
        C(roles), C(address)) and its own (C(kubeconfig), C(controls), C(audit)).
    type: list
    elements: dict
    required: true
  layers:
    description: Run only these layers (default every layer of the blueprint).
    type: list
    elements: str
    default: []
  optional:
    description:
      - Optional tests to run, by C(layer), C(layer/suite), C(layer/suite/test) or C(all).
    type: list
    elements: str
    default: []
  destructive:
    description:
      - Run the disruptive tests (stop an agent, cut an uplink, stop an API server); what they
        stop is restored.
    type: bool
    default: false
  run_id:
    description: The run's id (O(step=plan) makes one when empty; later steps pass it back).
    type: str
    default: ""
  results_dir:
    description: Directory of this run's results; empty means O(results_root)/<run id>.
    type: path
    default: ""
  results_root:
    description:
      - Where runs without O(results_dir) keep their results (a C(latest) link points to the
        newest).
    type: path
    default: ~/.fornax/validation
  state_dir:
    description: Directory of the disruption journal on the controller.
    type: path
    default: ~/.fornax/validation/state
  crds_dir:
    description: The collection's CRD directory (what C(k8s/api/crds) compares against).
    type: path
    default: ""
  inventory_sources:
    description:
      - The inventory sources, for the C(ansible) commands that run control actions on hosts.
    type: list
    elements: str
    default: []
  ansible_bin:
    description: The C(ansible) executable for control actions.
    type: str
    default: ansible
attributes:
  check_mode:
    description: O(step=plan) runs in check mode; the other steps do nothing in check mode.
    support: partial
    details:
      - Planning reads and checks only; cleaning up and running change the fleet, so in check
        mode they are skipped.
  diff_mode:
    description: Nothing to show.
    support: none
"""

EXAMPLES = r"""
- name: Plan (fails before anything runs on a bad blueprint)
  centaurus.fornax.validation:
    step: plan
    blueprint: "{{ role_path }}/files/blueprint-fornax.yml"
    members: "{{ fleet_members }}"
  register: plan

- name: Run
  centaurus.fornax.validation:
    step: run
    blueprint: "{{ role_path }}/files/blueprint-fornax.yml"
    members: "{{ fleet_members }}"
    run_id: "{{ plan.run_id }}"
    results_dir: "{{ plan.results_dir }}"
  register: run
"""

RETURN = r"""
run_id:
  description: The run's id.
  returned: always
  type: str
  sample: 20261202T101500Z-3fa2c9d1
results_dir:
  description: Where this run's results are.
  returned: always
  type: str
plan:
  description: What the run does (O(step=plan)).
  returned: when step is plan
  type: dict
  contains:
    suites: {description: Per suite its tests and how many run., type: list, elements: dict}
    audit_hosts: {description: Hosts the os suite audits., type: list, elements: str}
    gateway_hosts: {description: Gateway hosts the xdp suite checks., type: list, elements: str}
cleanup:
  description: What the clean-up undid and deleted.
  returned: when step is cleanup or run
  type: list
  elements: str
record:
  description:
    - The run, as in test_info.yaml (O(step=run)); C(result) is PASS, FAIL (a show-stopper
      failed) or INTERRUPTED.
  returned: when step is run
  type: dict
"""

import os
import platform
import uuid

from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.yaml_support import (
    YamlLimitError,
    safe_load,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate import runner
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.blueprint import (
    BlueprintError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.validate.fleet import FleetError


def new_run_id() -> str:
    import datetime  # noqa: PLC0415 - only the plan step needs it

    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")  # noqa: UP017
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def read_blueprint(path: str) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return safe_load(handle.read(), path)
    except OSError as exc:
        raise BlueprintError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    except YamlLimitError as exc:
        raise BlueprintError(path, [str(exc)]) from exc


OWN_OPTIONS = {
    "step": {"type": "str", "required": True, "choices": ["plan", "cleanup", "run"]},
    "blueprint": {"type": "path", "required": True},
    "overrides": {"type": "dict", "default": {}},
    "members": {"type": "list", "elements": "dict", "required": True},
    "layers": {"type": "list", "elements": "str", "default": []},
    "optional": {"type": "list", "elements": "str", "default": []},
    "destructive": {"type": "bool", "default": False},
    "run_id": {"type": "str", "default": ""},
    "results_dir": {"type": "path", "default": ""},
    "results_root": {"type": "path", "default": "~/.fornax/validation"},
    "state_dir": {"type": "path", "default": "~/.fornax/validation/state"},
    "crds_dir": {"type": "path", "default": ""},
    "inventory_sources": {"type": "list", "elements": "str", "default": []},
    "ansible_bin": {"type": "str", "default": "ansible"},
}
# The options handed to the runner as they are (the rest is derived).
PASSED_ON = (
    "members",
    "overrides",
    "layers",
    "optional",
    "destructive",
    "state_dir",
    "crds_dir",
    "inventory_sources",
    "ansible_bin",
)


def run_config(params: dict) -> dict:
    """The runner's configuration from the options (the blueprint is read later)."""
    run_id = params["run_id"] or new_run_id()
    config = {name: params[name] for name in PASSED_ON}
    config.update(
        run_id=run_id,
        blueprint=None,
        blueprint_source=params["blueprint"],
        results_dir=params["results_dir"] or os.path.join(params["results_root"], run_id),
    )
    return config


def point_latest(results_root: str, run_id: str) -> None:
    """results_root/latest -> this run (only when the link is ours to move)."""
    latest = os.path.join(results_root, "latest")
    if os.path.islink(latest) or not os.path.exists(latest):
        tmp = f"{latest}.{os.getpid()}"
        os.symlink(run_id, tmp)
        os.replace(tmp, latest)


def run_step(module: AnsibleModule, config: dict, common: dict) -> None:
    """Plan, clean up or run; exits the module."""
    p = module.params
    config["blueprint"] = read_blueprint(p["blueprint"])
    if p["step"] == "plan":
        module.exit_json(plan=runner.plan_record(config), **common)
    if module.check_mode:
        module.exit_json(msg=f"step {p['step']} does nothing in check mode", **common)
    if p["step"] == "cleanup":
        done = runner.start_cleanup(config)
        module.exit_json(cleanup=done, **dict(common, changed=bool(done)))
    if not runner.HAS_ROBOT:
        module.fail_json(msg=runner.ROBOT_MISSING, **common)
    versions = {"ansible-core": ANSIBLE_VERSION, "python": platform.python_version()}
    record = runner.run_validation(config, versions)
    if not p["results_dir"]:
        point_latest(p["results_root"], config["run_id"])
    module.exit_json(record=record, cleanup=record["cleanup"], **common)


def main() -> None:
    module = AnsibleModule(argument_spec=OWN_OPTIONS, supports_check_mode=True)
    config = run_config(module.params)
    common = {"changed": False, "run_id": config["run_id"], "results_dir": config["results_dir"]}
    try:
        run_step(module, config, common)
    except (BlueprintError, FleetError) as exc:
        module.fail_json(msg=str(exc), **common)


if __name__ == "__main__":
    main()
