# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Blueprints (which tests a release must pass) and the plan of one validation run.

A blueprint, in the spirit of Akraino BluVal's ``bluval-<blueprint>.yaml``::

    blueprint: fornax                  # its name
    description: ...
    params: {image: ..., namespace: default}   # for every test that takes them
    layers:                            # run in this order
      k8s:                             # layer
        control_plane:                 # suite: results/<layer>/<suite>/
          readyz: {show_stopper: true} # test: show_stopper / optional / skip, params, timeout
          etcd: {show_stopper: true}

Flags (all false by default): ``show_stopper`` (a failure stops the run after this test has
run for every target), ``optional`` (runs only when asked for), ``skip`` (never runs).
Operators override a blueprint with a mapping of the same shape (``params`` and ``layers``),
merged key by key. Every name is checked against the catalog before anything runs, and a
problem names the file, the place and the value.
"""

from __future__ import annotations

import copy
import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Optional

from . import catalog
from .fleet import Fleet

FLAGS = ("show_stopper", "optional", "skip")
TEST_KEYS = (*FLAGS, "params", "timeout")
TOP_KEYS = ("blueprint", "description", "params", "layers")
ALL = "all"


class BlueprintError(ValueError):
    """A blueprint or run option that cannot be used; lists every problem found."""

    def __init__(self, source: str, problems: list) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"blueprint {source}: {len(self.problems)} problem(s):\n{lines}")


class Blueprint:
    """A checked blueprint: name, global params, layer -> suite -> test -> settings."""

    def __init__(self, name: str, description: str, params: dict, layers: OrderedDict) -> None:
        self.name = name
        self.description = description
        self.params = params
        self.layers = layers  # layer -> suite -> test name -> {flags, params, timeout}

    def entries(self) -> list:
        """(TestDef, settings) in blueprint order."""
        out = []
        for layer, suites in self.layers.items():
            for suite, tests in suites.items():
                for name, settings in tests.items():
                    out.append((catalog.BY_ID[f"{layer}/{suite}/{name}"], settings))
        return out


def _check_params(
    where: str, value: Any, allowed: Mapping[str, Any], problems: list
) -> Optional[dict]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{where}: must be a mapping of parameter -> value, got {value!r}")
        return None
    for key, given in value.items():
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            problems.append(f"{where}.{key}: unknown parameter (known here: {known})")
            continue
        default = allowed[key]
        if isinstance(default, bool) or default is None:
            ok = isinstance(given, bool) or default is None
        elif isinstance(default, (int, float)):
            ok = (
                isinstance(given, (int, float))
                and not isinstance(given, bool)
                and math.isfinite(given)
                and given >= 0
            )
        elif isinstance(default, list):
            ok = isinstance(given, list) and all(isinstance(v, str) for v in given)
        else:
            ok = isinstance(given, str)
        if not ok:
            problems.append(
                f"{where}.{key}: {given!r} is not a {type(default).__name__} like the default "
                f"{default!r}"
            )
    return dict(value)


def _check_test(where: str, test: catalog.TestDef, value: Any, problems: list) -> dict:
    settings: dict = {flag: False for flag in FLAGS}
    settings["params"] = {}
    settings["timeout"] = None
    if value is None:
        return settings
    if not isinstance(value, Mapping):
        problems.append(
            f"{where}: must be a mapping of {', '.join(TEST_KEYS)} (or empty), got {value!r}"
        )
        return settings
    for key, given in value.items():
        if key in FLAGS:
            if not isinstance(given, bool):
                problems.append(f"{where}.{key}: {given!r} must be true or false")
            else:
                settings[key] = given
        elif key == "params":
            settings["params"] = (
                _check_params(f"{where}.params", given, test.params, problems) or {}
            )
        elif key == "timeout":
            if isinstance(given, bool) or not isinstance(given, (int, float)) or given <= 0:
                problems.append(f"{where}.timeout: {given!r} must be a number of seconds > 0")
            else:
                settings["timeout"] = float(given)
        else:
            problems.append(f"{where}.{key}: unknown setting (known: {', '.join(TEST_KEYS)})")
    return settings


def _check_layers(value: Any, problems: list) -> OrderedDict:
    layers: OrderedDict = OrderedDict()
    if not isinstance(value, Mapping) or not value:
        problems.append("layers: must be a non-empty mapping of layer -> suites")
        return layers
    for layer, suites in value.items():
        where = f"layers.{layer}"
        if layer not in catalog.LAYERS:
            problems.append(f"{where}: unknown layer (known: {', '.join(catalog.LAYERS)})")
            continue
        if not isinstance(suites, Mapping) or not suites:
            problems.append(f"{where}: must be a non-empty mapping of suite -> tests")
            continue
        layers[layer] = OrderedDict()
        for suite, tests in suites.items():
            swhere = f"{where}.{suite}"
            known_suites = catalog.suites_of(layer)
            if suite not in known_suites:
                problems.append(
                    f"{swhere}: unknown suite of layer {layer} (known: {', '.join(known_suites)})"
                )
                continue
            if not isinstance(tests, Mapping) or not tests:
                problems.append(f"{swhere}: must be a non-empty mapping of test -> settings")
                continue
            layers[layer][suite] = OrderedDict()
            known = {t.name: t for t in catalog.tests_of(layer, suite)}
            for name, settings in tests.items():
                twhere = f"{swhere}.{name}"
                if name not in known:
                    problems.append(
                        f"{twhere}: unknown test of suite {layer}/{suite} (known: "
                        f"{', '.join(known)})"
                    )
                    continue
                layers[layer][suite][name] = _check_test(twhere, known[name], settings, problems)
    return layers


def merge(base: Any, override: Any) -> Any:
    """``override`` merged into ``base`` key by key (mappings); anything else replaces."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = OrderedDict((k, copy.deepcopy(v)) for k, v in base.items())
        for key, value in override.items():
            merged[key] = merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def load_blueprint(data: Any, source: str, overrides: Any = None) -> Blueprint:
    """Check a parsed blueprint (and the operator's overrides merged into it)."""
    problems: list = []
    if not isinstance(data, Mapping):
        raise BlueprintError(source, [f"the file must hold a mapping ({', '.join(TOP_KEYS)})"])
    if overrides:
        source = f"{source} with the operator's overrides"
        if not isinstance(overrides, Mapping):
            raise BlueprintError(source, [f"overrides: must be a mapping, got {overrides!r}"])
        for key in overrides:
            if key not in ("params", "layers"):
                problems.append(f"overrides.{key}: only params and layers can be overridden")
        data = merge(data, {k: v for k, v in overrides.items() if k in ("params", "layers")})
    for key in data:
        if key not in TOP_KEYS:
            problems.append(f"{key}: unknown key (known: {', '.join(TOP_KEYS)})")
    name = data.get("blueprint")
    if not isinstance(name, str) or not name:
        problems.append(f"blueprint: the blueprint's name must be a non-empty string, got {name!r}")
    description = data.get("description") or ""
    if not isinstance(description, str):
        problems.append("description: must be a string")
    defaults = {}
    for test in catalog.TESTS:
        defaults.update(test.params)
    params = _check_params("params", data.get("params"), defaults, problems) or {}
    layers = _check_layers(data.get("layers"), problems)
    if problems:
        raise BlueprintError(source, problems)
    return Blueprint(str(name), str(description), params, layers)


# -- the plan of one run ----------------------------------------------------------------------


class PlannedTest:
    """One test for one target, with its settings and whether (and why not) it runs."""

    __slots__ = ("cluster", "host", "params", "reason", "runs", "settings", "target", "test")
    __test__ = False

    def __init__(
        self,
        test: catalog.TestDef,
        target: str,
        settings: dict,
        params: dict,
        *,
        cluster: Optional[str] = None,
        host: Optional[str] = None,
        reason: str = "",
    ) -> None:
        self.test = test
        self.target = target
        self.settings = settings
        self.params = params
        self.cluster = cluster
        self.host = host
        self.reason = reason
        self.runs = not reason

    @property
    def show_stopper(self) -> bool:
        return bool(self.settings.get("show_stopper"))

    @property
    def name(self) -> str:
        return (
            self.test.name if self.target == catalog.FLEET else f"{self.test.name} [{self.target}]"
        )

    @property
    def timeout(self) -> float:
        return self.settings.get("timeout") or default_timeout(self.test, self.params)


class PlannedSuite:
    __slots__ = ("doc", "layer", "suite", "tests")

    def __init__(self, layer: str, suite: str, tests: list) -> None:
        self.layer = layer
        self.suite = suite
        self.doc = catalog.SUITE_DOCS.get((layer, suite), "")
        self.tests = tests

    @property
    def id(self) -> str:
        return f"{self.layer}/{self.suite}"


def default_timeout(test: catalog.TestDef, params: Mapping[str, Any]) -> float:
    """A bound on one test's run time (Robot Framework's test timeout) from its parameters."""
    api = float(params.get("api_timeout", 5.0))
    wait = float(params.get("wait_timeout", 0.0))
    disconnect = float(params.get("disconnect_timeout", 0.0))
    control = float(params.get("control_timeout", 0.0))
    if test.scope in (catalog.HOST, catalog.GATEWAY):
        return 60.0
    return 12 * api + 6 * wait + 3 * disconnect + 4 * control + 30


def _selected(names: list, test: catalog.TestDef) -> bool:
    return any(n == ALL or n in (test.layer, f"{test.layer}/{test.suite}", test.id) for n in names)


def check_options(blueprint: Blueprint, layers: list, optional: list) -> None:
    problems = []
    for layer in layers:
        if layer not in catalog.LAYERS:
            problems.append(f"layers: unknown layer {layer!r} (known: {', '.join(catalog.LAYERS)})")
        elif layer not in blueprint.layers:
            problems.append(
                f"layers: layer {layer!r} is not in blueprint {blueprint.name} (it has "
                f"{', '.join(blueprint.layers)})"
            )
    known = {ALL, *catalog.LAYERS}
    for test in catalog.TESTS:
        known.update((f"{test.layer}/{test.suite}", test.id))
    for name in optional:
        if name not in known:
            problems.append(
                f"optional: unknown name {name!r} (give a layer, layer/suite, "
                f"layer/suite/test or 'all')"
            )
    if problems:
        raise BlueprintError(blueprint.name, problems)


def targets(test: catalog.TestDef, fleet: Fleet) -> list:
    """(target, cluster, host) for every run of ``test`` on ``fleet``."""
    if test.scope == catalog.CLUSTER:
        return [(name, name, None) for name in fleet.names()]
    if test.scope == catalog.CHILD:
        return [(name, name, None) for name in fleet.non_root()]
    if test.scope == catalog.HOST:
        return [(h.name, h.cluster, h.name) for h in fleet.audited_hosts()]
    if test.scope == catalog.GATEWAY:
        return [(h.name, h.cluster, h.name) for h in fleet.gateway_hosts()]
    return [(catalog.FLEET, None, None)]


NO_TARGET = {
    catalog.CHILD: "the fleet has a single cluster: no cluster has a parent to register with",
    catalog.HOST: "no audited hosts in the inventory (none, or all with validate_host_audit: "
    "false, like the loopback tree's, whose hosts are processes on the controller)",
    catalog.GATEWAY: "the inventory has no gateway hosts",
}


def plan(
    blueprint: Blueprint,
    fleet: Fleet,
    *,
    layers: Optional[list] = None,
    optional: Optional[list] = None,
    destructive: bool = False,
) -> list:
    """The suites of one run, in blueprint order, each test planned for each of its targets."""
    layers = list(layers or [])
    optional = list(optional or [])
    check_options(blueprint, layers, optional)
    suites: list = []
    by_suite: dict = {}
    for test, settings in blueprint.entries():
        if layers and test.layer not in layers:
            continue
        params = dict(test.params)
        params.update({k: v for k, v in blueprint.params.items() if k in test.params})
        params.update(settings["params"])
        reason = ""
        if settings["skip"]:
            reason = "skip: the blueprint says so"
        elif test.disruptive and not destructive:
            reason = "disruptive: runs only with validate_destructive=true"
        elif settings["optional"] and not (
            _selected(optional, test) or (test.disruptive and destructive)
        ):
            reason = "optional: not asked for (validate_optional)"
        key = (test.layer, test.suite)
        if key not in by_suite:
            by_suite[key] = PlannedSuite(test.layer, test.suite, [])
            suites.append(by_suite[key])
        found = targets(test, fleet)
        if not found:
            by_suite[key].tests.append(
                PlannedTest(test, catalog.FLEET, settings, params, reason=NO_TARGET[test.scope])
            )
            continue
        for target, cluster, host in found:
            by_suite[key].tests.append(
                PlannedTest(
                    test, target, settings, params, cluster=cluster, host=host, reason=reason
                )
            )
    return suites


def plan_summary(suites: list) -> list:
    """A JSON-friendly view of a plan (for the playbook and test_info.yaml)."""
    return [
        {
            "layer": s.layer,
            "suite": s.suite,
            "tests": len(s.tests),
            "to_run": sum(1 for t in s.tests if t.runs),
        }
        for s in suites
    ]
