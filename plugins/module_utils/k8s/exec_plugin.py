# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""client-go credential plugins (kubeconfig ``users[].user.exec``), v1 and v1beta1.

The plugin runs on demand without a terminal (stdin closed, ``spec.interactive: false``); its
ExecCredential is checked field by field and cached until its ``expirationTimestamp``, and
fetched again after a 401. Every error names the kubeconfig field. Imported by config.py only
for a user that has an exec plugin.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import Any, Optional

from .credentials import CertPair, Credential, KubeConfigError

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_REMOVED_VERSIONS = {"client.authentication.k8s.io/v1alpha1": "Kubernetes 1.24"}
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
EXEC_TIMEOUT_SECONDS = 60.0
EXEC_OUTPUT_LIMIT = 1 << 20  # an ExecCredential is a few KiB; more is garbage
EXPIRY_SKEW_SECONDS = 10.0  # fetch a credential again this long before it expires


_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(text: Any, field: str) -> float:
    """Seconds since the epoch of an RFC 3339 time stamp (as Kubernetes writes them)."""
    found = _RFC3339.match(text) if isinstance(text, str) else None
    if not found:
        raise KubeConfigError(f"{field}: {text!r} is not an RFC 3339 time stamp")
    import datetime  # noqa: PLC0415 - exec plugins only

    date, clock, fraction, zone = found.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    moment = datetime.datetime.fromisoformat(f"{date}T{clock}{zone}")
    return moment.timestamp() + (float(fraction) if fraction else 0.0)


def _exec_strings(value: Any, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KubeConfigError(f"{field}: expected a list of strings, got {value!r}")
    return list(value)


def _exec_api_version(config: Mapping[str, Any], field: str) -> str:
    api_version = config.get("apiVersion")
    if api_version in EXEC_REMOVED_VERSIONS:
        raise KubeConfigError(
            f"{field}.apiVersion: {api_version!r} was removed in "
            f"{EXEC_REMOVED_VERSIONS[api_version]}; use {EXEC_API_VERSIONS[0]!r}"
        )
    if api_version not in EXEC_API_VERSIONS:
        raise KubeConfigError(
            f"{field}.apiVersion: {api_version!r} is not one of {', '.join(EXEC_API_VERSIONS)}"
        )
    return api_version


def _exec_command(config: Mapping[str, Any], field: str, base_dir: str) -> str:
    command = config.get("command")
    if not isinstance(command, str) or not command:
        raise KubeConfigError(f"{field}.command: expected the plugin's command, got {command!r}")
    # Like client-go: a relative path with a separator is relative to the kubeconfig.
    if os.sep in command and not os.path.isabs(command):
        command = os.path.normpath(os.path.join(base_dir, command))
    return command


def _exec_env(config: Mapping[str, Any], field: str) -> dict:
    """The variables ``env`` adds to the plugin's environment."""
    extra_env = {}
    for index, item in enumerate(config.get("env") or []):
        where = f"{field}.env[{index}]"
        if not isinstance(item, Mapping):
            raise KubeConfigError(f"{where}: expected {{name, value}}, got {item!r}")
        name, value = item.get("name"), item.get("value")
        if not isinstance(name, str) or not name or not isinstance(value, str):
            raise KubeConfigError(f"{where}: name and value must be strings, got {item!r}")
        extra_env[name] = value
    if config.get("env") is not None and not isinstance(config.get("env"), list):
        raise KubeConfigError(f"{field}.env: expected a list, got {config.get('env')!r}")
    return extra_env


def _check_interactive_mode(config: Mapping[str, Any], field: str, api_version: str) -> None:
    """Refuse a mode that needs a terminal: modules and the agent have none."""
    mode = config.get("interactiveMode")
    if mode is None and api_version.endswith("/v1"):
        raise KubeConfigError(
            f"{field}.interactiveMode: required by {api_version} (Never, IfAvailable, Always)"
        )
    mode = mode or "IfAvailable"
    if mode not in INTERACTIVE_MODES:
        raise KubeConfigError(
            f"{field}.interactiveMode: {mode!r} is not one of {', '.join(INTERACTIVE_MODES)}"
        )
    if mode == "Always":
        raise KubeConfigError(
            f"{field}.interactiveMode: 'Always' needs a terminal, and Ansible modules and the "
            "agent run without one; use a plugin mode that works unattended (Never)"
        )


def _provide_cluster_info(config: Mapping[str, Any], field: str) -> bool:
    provide = config.get("provideClusterInfo", False)
    if not isinstance(provide, bool):
        raise KubeConfigError(
            f"{field}.provideClusterInfo: expected true or false, got {provide!r}"
        )
    return provide


class ExecPlugin(Credential):
    """A client-go credential plugin (``users[].user.exec``), run on demand and cached.

    Ansible modules and the agent have no terminal: the plugin runs with stdin closed and
    ``spec.interactive: false``; ``interactiveMode: Always`` is refused up front.
    """

    refreshable = True

    def __init__(  # noqa: PLR0917 - kubeconfig reader's order
        self,
        config: Any,
        field: str,
        base_dir: str,
        cluster_info: Optional[Mapping[str, Any]] = None,
        timeout: float = EXEC_TIMEOUT_SECONDS,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not isinstance(config, Mapping):
            raise KubeConfigError(f"{field}: expected a mapping, got {config!r}")
        self.field = field
        self.api_version = _exec_api_version(config, field)
        self.command = _exec_command(config, field, base_dir)
        self.args = _exec_strings(config.get("args"), f"{field}.args")
        hint = config.get("installHint")
        if hint is not None and not isinstance(hint, str):
            raise KubeConfigError(f"{field}.installHint: expected a string, got {hint!r}")
        self.install_hint = hint
        extra_env = _exec_env(config, field)
        _check_interactive_mode(config, field, self.api_version)
        spec: dict[str, Any] = {"interactive": False}
        if _provide_cluster_info(config, field):
            spec["cluster"] = dict(cluster_info or {})
        exec_info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": spec}
        self.env = dict(os.environ if env is None else env)
        self.env.update(extra_env)
        self.env["KUBERNETES_EXEC_INFO"] = json.dumps(exec_info)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._cached: Optional[tuple[Optional[str], Optional[CertPair]]] = None
        self._expires: Optional[float] = None
        self.runs = 0  # how often the plugin ran (tests and the bench read it)

    def _hint(self) -> str:
        return f" (installHint: {self.install_hint.strip()})" if self.install_hint else ""

    def _resolve(self) -> str:
        import shutil  # noqa: PLC0415 - exec plugins only: kept out of every task's start-up

        if os.sep in self.command:
            if not os.path.isfile(self.command):
                raise KubeConfigError(
                    f"{self.field}.command: {self.command!r} does not exist{self._hint()}"
                )
            return self.command
        found = shutil.which(self.command, path=self.env.get("PATH"))
        if not found:
            raise KubeConfigError(
                f"{self.field}.command: {self.command!r} is not on PATH{self._hint()}"
            )
        return found

    def _run(self) -> tuple[tuple[Optional[str], Optional[CertPair]], Optional[float]]:
        import subprocess  # noqa: PLC0415 - exec plugins only

        argv = [self._resolve(), *self.args]
        self.runs += 1
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=self.env,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise KubeConfigError(
                f"{self.field}.command: {self.command!r} did not answer within {self.timeout:.0f} s"
            ) from exc
        except OSError as exc:
            raise KubeConfigError(
                f"{self.field}.command: cannot run {self.command!r}: {exc.strerror}{self._hint()}"
            ) from exc
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip()[-500:]
            raise KubeConfigError(
                f"{self.field}.command: {self.command!r} exited with {done.returncode}"
                + (f": {stderr}" if stderr else "")
            )
        return self._parse(done.stdout)

    def _parse(
        self, stdout: bytes
    ) -> tuple[tuple[Optional[str], Optional[CertPair]], Optional[float]]:
        what = f"{self.field}: the output of {self.command!r}"
        if len(stdout) > EXEC_OUTPUT_LIMIT:
            raise KubeConfigError(f"{what} is larger than {EXEC_OUTPUT_LIMIT} bytes")
        try:
            answer = json.loads(stdout)
        except ValueError as exc:
            raise KubeConfigError(f"{what} is not JSON ({exc}): {stdout[:80]!r}") from exc
        if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
            raise KubeConfigError(f"{what} is not an ExecCredential (kind: ExecCredential)")
        if answer.get("apiVersion") != self.api_version:
            raise KubeConfigError(
                f"{self.field}.apiVersion: the plugin answered {answer.get('apiVersion')!r}, "
                f"the kubeconfig asks for {self.api_version!r}"
            )
        status = answer.get("status")
        if not isinstance(status, dict):
            raise KubeConfigError(f"{what} has no status")
        expires = None
        if status.get("expirationTimestamp") is not None:
            expires = parse_rfc3339(
                status["expirationTimestamp"], f"{what}: status.expirationTimestamp"
            )
            if expires <= time.time():
                raise KubeConfigError(
                    f"{what}: the credential expired at {status['expirationTimestamp']} already"
                )
        token = status.get("token")
        cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
        if token is not None and (not isinstance(token, str) or not token):
            raise KubeConfigError(f"{what}: status.token is not a non-empty string")
        if bool(cert) != bool(key):
            raise KubeConfigError(
                f"{what}: status.clientCertificateData and status.clientKeyData come together"
            )
        if cert and (not isinstance(cert, str) or not isinstance(key, str)):
            raise KubeConfigError(f"{what}: status.clientCertificateData/clientKeyData: PEM text")
        if not token and not cert:
            raise KubeConfigError(
                f"{what} holds neither status.token nor status.clientCertificateData"
            )
        header = f"Bearer {token}" if token else None
        pair = (cert.encode(), key.encode()) if cert else None
        return (header, pair), expires

    def _fresh(self) -> bool:
        if self._cached is None:
            return False
        return self._expires is None or time.time() < self._expires - EXPIRY_SKEW_SECONDS

    def current(self) -> tuple[Optional[str], Optional[CertPair]]:
        with self._lock:
            cached = self._cached
            if cached is None or not self._fresh():
                cached, self._expires = self._run()
                self._cached = cached
            return cached

    def refresh(self) -> None:
        with self._lock:
            self._cached, self._expires = self._run()
