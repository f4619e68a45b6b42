# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The Robot Framework keyword library of the validation: one keyword per catalog test.

``FornaxValidation(config)`` reads the run's configuration (written by runner.py: the fleet,
the blueprint, the options), plans the run the same way the runner did, and offers a keyword
per test of the catalog (``Control Plane Is Ready    b``), plus ``Gate`` (a test setup that
skips a test once a show-stopper has failed) and ``Remove This Run's Missions`` (suite
teardown). It needs no Robot Framework import: a plain class is a library, an exception with
``ROBOT_SKIP_EXECUTION`` skips a test.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from ..fornax import names
from . import catalog, checks_fornax, checks_k8s, checks_network, checks_security
from .base import CheckFailed, CheckSkipped, Validation, log
from .blueprint import load_blueprint, plan
from .control import Controller, Journal
from .fleet import fleet_from_members

# test id -> check function (the catalog names each test once; this says how it is checked)
CHECKS = {
    "k8s/control_plane/readyz": checks_k8s.readyz,
    "k8s/control_plane/etcd": checks_k8s.etcd,
    "k8s/nodes/nodes_ready": checks_k8s.nodes_ready,
    "k8s/nodes/system_pods": checks_k8s.system_pods,
    "k8s/api/server_version": checks_k8s.server_version,
    "k8s/api/api_groups": checks_k8s.api_groups,
    "k8s/api/crds": checks_k8s.crds,
    "fornax/registration/registered": checks_fornax.registered,
    "fornax/registration/subtree": checks_fornax.subtree,
    "fornax/registration/labels": checks_fornax.labels,
    "fornax/registration/tree": checks_fornax.tree,
    "fornax/missions/to_all": checks_fornax.to_all,
    "fornax/missions/job": checks_fornax.job_scenario,
    "fornax/missions/update": checks_fornax.update,
    "fornax/missions/delete": checks_fornax.delete,
    "fornax/missions/by_name": checks_fornax.by_name,
    "fornax/missions/by_label": checks_fornax.by_label,
    "fornax/missions/rollup": checks_fornax.rollup,
    "fornax/missions/edgecluster_info": checks_fornax.edgecluster_info,
    "fornax/missions/drift_deleted": checks_fornax.drift_deleted,
    "fornax/missions/drift_scaled": checks_fornax.drift_scaled,
    "fornax/disruption/stop_agent": checks_fornax.stop_agent,
    "fornax/disruption/cut_uplink": checks_fornax.cut_uplink,
    "fornax/disruption/stop_apiserver": checks_fornax.stop_apiserver,
    "security/confinement/parent_secrets": checks_security.parent_secrets,
    "security/confinement/sibling_objects": checks_security.sibling_objects,
    "security/confinement/missions_readonly": checks_security.missions_readonly,
    "security/tls/anonymous_auth": checks_security.anonymous_auth,
    "security/tls/tls_only": checks_security.tls_only,
    "security/tls/cert_expiry": checks_security.cert_expiry,
    "security/os/lynis_hardening": checks_security.lynis_hardening,
    "security/os/lynis_warnings": checks_security.lynis_warnings,
    "network/xdp/programs_attached": checks_network.programs_attached,
    "network/xdp/maps_consistent": checks_network.maps_consistent,
    "network/pods/pod_to_pod": checks_network.pod_to_pod,
}

TEST_TAG = "test:"
AFFECTS_TAG = "affects:"
SHOW_STOPPER_TAG = "show_stopper"


def method_name(keyword: str) -> str:
    """The Python name Robot Framework maps a keyword name to (case and spaces ignored)."""
    return keyword.lower().replace(" ", "_")


def load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class Listener:
    """Robot Framework listener (API 3): tags a failed test with the clusters at fault and
    remembers the first failed show-stopper of the suite."""

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, library: FornaxValidation) -> None:
        self.library = library

    def end_test(self, _data: Any, result: Any) -> None:
        lib = self.library
        if result.failed and lib.affects:
            result.tags.add([f"{AFFECTS_TAG}{name}" for name in lib.affects])
        lib.affects = []
        if result.failed and SHOW_STOPPER_TAG in result.tags and lib.stopped_by is None:
            test_id = next((t[len(TEST_TAG) :] for t in result.tags if t.startswith(TEST_TAG)), "")
            lib.stopped_by = test_id
            lib.stopped_what = result.name

    def close(self) -> None:
        self.library.validation.close()


class FornaxValidation:
    """Keywords that check a live Fornax fleet; see the catalog for what each one proves."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self, config: str) -> None:
        cfg = load_config(config)
        self.config = cfg
        self.fleet = fleet_from_members(cfg["members"])
        blueprint = load_blueprint(cfg["blueprint"], cfg["blueprint_source"], cfg.get("overrides"))
        suites = plan(
            blueprint,
            self.fleet,
            layers=cfg.get("layers"),
            optional=cfg.get("optional"),
            destructive=bool(cfg.get("destructive")),
        )
        self.planned = {(t.test.id, t.target): t for s in suites for t in s.tests}
        journal = Journal(cfg["state_dir"], self.fleet[self.fleet.root].api_endpoint)
        self.controller = Controller(
            self.fleet,
            journal,
            inventory_sources=cfg.get("inventory_sources"),
            ansible_bin=cfg.get("ansible_bin") or "ansible",
        )
        self.validation = Validation(
            self.fleet,
            cfg["run_id"],
            crds_dir=cfg.get("crds_dir") or "",
            evidence_dir=cfg.get("results_dir") or "",
            controller=self.controller,
        )
        self.affects: list = []
        self.stopped_by: Optional[str] = None
        self.stopped_what = ""
        self.ROBOT_LIBRARY_LISTENER = Listener(self)

    def gate(self, test_id: str) -> None:
        """Skip this test when a show-stopper of another check has failed in this suite."""
        if self.stopped_by is not None and self.stopped_by != test_id:
            raise CheckSkipped(f"not run: show-stopper {self.stopped_what} failed")

    def remove_this_runs_missions(self) -> None:
        """Delete the Missions this run created at the root (its teardown; never fails)."""
        v = self.validation
        selector = f"{names.VALIDATION_LABEL}={v.short_id}"
        try:
            with v.client(v.fleet.root) as client:
                items = client.get(names.MISSIONS, labelSelector=selector).get("items") or []
                for item in items:
                    client.delete_if_exists(names.mission_path(item["metadata"]["name"]))
                    log(f"deleted leftover Mission {item['metadata']['name']}")
        except Exception as exc:
            log(f"*WARN* could not remove this run's Missions: {exc}")
        finally:
            v.close()

    def _check(self, test_id: str, target: str) -> None:
        planned = self.planned.get((test_id, target))
        if planned is None:
            raise CheckFailed(f"{test_id} is not planned for {target} in this run")
        self.affects = []
        try:
            message = CHECKS[test_id](self.validation, target, planned.params)
        except CheckFailed as exc:
            self.affects = exc.affects or ([planned.cluster] if planned.cluster else [])
            raise
        log(message)


def _keyword(test: catalog.TestDef) -> Any:
    def run(self, target: str) -> None:  # noqa: ANN001 - a method, bound below
        self._check(test.id, target)

    run.__name__ = method_name(test.keyword)
    run.__doc__ = f"{test.doc}\n\nTest ``{test.id}``, run for each {test.scope}."
    return run


for _test in catalog.TESTS:
    setattr(FornaxValidation, method_name(_test.keyword), _keyword(_test))
