# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""What every check uses: the run's context, its clients, bounded waits and its verdicts.

A check is a function ``check(v: Validation, target: str, p: dict) -> str``: it returns what
it saw (logged) when the test passes, raises ``CheckFailed`` (which may name the clusters it
found at fault, so the report colours them) or ``CheckSkipped`` (with the reason). Every wait
is bounded by a parameter; an unreachable API server is a failure naming the cluster, never a
hang: clients time out after ``api_timeout`` seconds and retry once.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

from ..fornax.names import VALIDATION_LABEL
from ..k8s.client import KubeApiError, KubeClient, KubeError, KubeUnreachable
from ..k8s.config import ConnectionSettings, KubeConfigError, settings_from_kubeconfig
from ..k8s.waiter import poll
from .fleet import Fleet

# VALIDATION_LABEL marks every object a validation run creates (value: the run's id); the
# clean-up at the start of every run removes whatever carries it.
FIELD_MANAGER = "centaurus.fornax.validate"
USER_AGENT = "centaurus.fornax.validate"


def log(message: str) -> None:
    """A line for the Robot Framework log (it records what a keyword writes to stdout)."""
    sys.stdout.write(f"{message}\n")


class CheckFailed(AssertionError):
    """The test fails; ``affects`` names the clusters at fault (for the report's picture)."""

    ROBOT_SUPPRESS_NAME = True  # the message says it all

    def __init__(self, message: str, affects: Any = ()) -> None:
        super().__init__(message)
        self.affects = sorted({str(a) for a in affects if a})


class CheckSkipped(Exception):
    """The test cannot apply here; the message says why (Robot Framework marks it SKIP)."""

    ROBOT_SKIP_EXECUTION = True


class Validation:
    """One run's fleet, identity and connections (one instance per suite, used by one thread)."""

    def __init__(
        self,
        fleet: Fleet,
        run_id: str,
        *,
        crds_dir: str = "",
        evidence_dir: str = "",
        controller: Any = None,
        log: Callable[[str], None] = log,
    ) -> None:
        self.fleet = fleet
        self.run_id = run_id
        self.crds_dir = crds_dir
        self.evidence_dir = evidence_dir
        self.controller = controller
        self.log = log
        self._clients: dict = {}
        self._settings: dict = {}

    # -- names -----------------------------------------------------------------------------------

    @property
    def short_id(self) -> str:
        """The run id's random part: short enough for object names."""
        return self.run_id.rsplit("-", 1)[-1]

    def object_name(self, what: str) -> str:
        return f"fv-{self.short_id}-{what}"

    def cluster_of_host(self, host: str) -> Optional[str]:
        for cluster in self.fleet.clusters.values():
            if any(h.name == host for h in cluster.hosts):
                return cluster.name
        return None

    def marker(self) -> dict:
        return {VALIDATION_LABEL: self.short_id}

    # -- connections -----------------------------------------------------------------------------

    def settings(self, cluster: str) -> ConnectionSettings:
        """The admin connection of ``cluster`` (its kubeconfig on the controller)."""
        if cluster not in self._settings:
            path = self.fleet[cluster].kubeconfig
            if not path:
                raise CheckFailed(
                    f"cluster {cluster}: no admin kubeconfig known on the controller (set "
                    "validate_kubeconfig for its control-plane host)",
                    [cluster],
                )
            try:
                self._settings[cluster] = settings_from_kubeconfig(path)
            except KubeConfigError as exc:
                raise CheckFailed(f"cluster {cluster}: {exc}", [cluster]) from exc
        return self._settings[cluster]

    def client(self, cluster: str, p: Optional[dict] = None) -> KubeClient:
        """A client of ``cluster`` with a short timeout and one retry (cached per timeout)."""
        timeout = float((p or {}).get("api_timeout", 5.0))
        key = (cluster, timeout)
        if key not in self._clients:
            self._clients[key] = KubeClient(
                self.settings(cluster),
                timeout=timeout,
                connect_retries=1,
                retry_delay=0.2,
                user_agent=USER_AGENT,
            )
        return self._clients[key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def call(
        self, cluster: str, what: str, fn: Callable[[KubeClient], Any], p: Optional[dict] = None
    ) -> Any:
        """``fn(client)`` on ``cluster``; API errors become a failure naming the cluster."""
        try:
            return fn(self.client(cluster, p))
        except KubeUnreachable as exc:
            raise CheckFailed(
                f"cluster {cluster} is unreachable ({what}): {exc}", [cluster]
            ) from exc
        except KubeError as exc:
            raise CheckFailed(f"cluster {cluster}: {what}: {exc}", [cluster]) from exc

    def get(self, cluster: str, path: str, p: Optional[dict] = None, **query: Any) -> Any:
        return self.call(cluster, f"GET {path}", lambda c: c.get(path, **query), p)

    def get_or_none(self, cluster: str, path: str, p: Optional[dict] = None) -> Any:
        return self.call(cluster, f"GET {path}", lambda c: c.get_or_none(path), p)

    # -- waits -----------------------------------------------------------------------------------

    def wait(
        self,
        what: str,
        probe: Callable[[], tuple],
        timeout: float,
        *,
        interval: float = 1.0,
    ) -> Any:
        """Call ``probe() -> (ok, detail, affects)`` until ok; fail after ``timeout`` seconds.

        An API error inside the probe counts as "not yet" (the detail says which), so an
        unreachable cluster ends the wait only when the time is up.
        """
        started = time.monotonic()

        def fetch() -> tuple:
            try:
                return probe()
            except CheckFailed as exc:
                return False, str(exc), exc.affects
            except KubeError as exc:
                return False, str(exc), ()

        outcome = poll(fetch, lambda v: v[0], timeout=timeout, sleep=interval)
        _ok, detail, affects = outcome.value
        if not outcome.met:
            raise CheckFailed(f"{what}: not so after {timeout:g} s: {detail}", affects)
        self.log(f"{what}: after {time.monotonic() - started:.1f} s")
        return detail


def forbidden(action: Callable[[], Any]) -> Optional[str]:
    """None when the API server refuses ``action`` with 403; else what happened instead."""
    try:
        action()
    except KubeApiError as exc:
        if exc.status == 403:
            return None
        return f"answered {exc.status} {exc.reason} instead of 403 Forbidden"
    except KubeError as exc:
        return f"failed without an answer: {exc}"
    return "was ALLOWED"


@contextmanager
def closing(client: KubeClient) -> Iterator[KubeClient]:
    try:
        yield client
    finally:
        client.close()
