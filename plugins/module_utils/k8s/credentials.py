# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Where the credentials of a request come from, and when to fetch them again.

A kubeconfig user (or the in-cluster service account) becomes one ``Credential``:

- ``StaticToken``: a bearer token given inline (kubeconfig ``token``, option ``api_key``,
  an OIDC ``id-token``); refused before anything is sent when it is a JWT that has expired;
- ``TokenFile``: a token read from a file and read again every minute, so a rotated token
  (kubelet-projected service-account tokens, ``tokenFile``) is picked up without a restart;
- ``BasicAuth``: ``username``/``password``;
- ``ExecPlugin``: a client.authentication.k8s.io v1 / v1beta1 credential plugin, run without a
  terminal; its answer is cached until its ``expirationTimestamp`` and fetched again after a
  401.

Every error is a ``KubeConfigError`` that names the kubeconfig field at fault. Pure Python,
Python 3.8 syntax (module_utils run on managed hosts).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import Any, Optional, Tuple  # noqa: UP035 - Tuple at run time (3.8)

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_REMOVED_VERSIONS = {"client.authentication.k8s.io/v1alpha1": "Kubernetes 1.24"}
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")
EXEC_TIMEOUT_SECONDS = 60.0
EXEC_OUTPUT_LIMIT = 1 << 20  # an ExecCredential is a few KiB; more is garbage
TOKEN_FILE_REREAD_SECONDS = 60.0  # what client-go does for tokenFile and in-cluster tokens
EXPIRY_SKEW_SECONDS = 10.0  # fetch a credential again this long before it expires
# The exec extension a cluster may carry for its plugin (passed on with provideClusterInfo).
EXEC_CLUSTER_EXTENSION = "client.authentication.k8s.io/exec"


class KubeConfigError(ValueError):
    """The connection settings are unusable; the message names the field and value."""


CertPair = Tuple[bytes, bytes]  # noqa: UP006 - evaluated at run time (Python 3.8)


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT; {} when ``token`` is not one."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError, TypeError, AttributeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _utc(timestamp: float) -> str:
    import datetime  # noqa: PLC0415 - only for messages: a task without one never imports it

    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)  # noqa: UP017 - Python 3.8
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_not_expired(token: str, field: str, now: Optional[float] = None) -> None:
    """Refuse a JWT whose ``exp`` has passed (other tokens are opaque: the server judges them)."""
    expires = jwt_claims(token).get("exp")
    now = time.time() if now is None else now
    if isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires <= now:
        raise KubeConfigError(
            f"{field}: the token expired at {_utc(expires)}; get a new one (nothing was sent)"
        )


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


class Credential:
    """One source of credentials; ``current()`` gives (Authorization header, client cert pair)."""

    field = "credentials"
    refreshable = False  # can a 401 be answered by fetching the credential again?

    def current(self) -> tuple[Optional[str], Optional[CertPair]]:
        raise NotImplementedError

    def refresh(self) -> None:
        """Fetch the credential again (after the server answered 401)."""

    def describe(self) -> str:
        return self.field


class StaticToken(Credential):
    def __init__(self, token: str, field: str) -> None:
        if not isinstance(token, str) or not token.strip():
            raise KubeConfigError(f"{field}: expected a non-empty string")
        self.token = token.strip()
        self.field = field  # expiry is checked per request: an agent must start regardless

    def current(self) -> tuple[Optional[str], Optional[CertPair]]:
        check_not_expired(self.token, self.field)
        return f"Bearer {self.token}", None


class TokenFile(Credential):
    """A token kept in a file: read at once (errors early), then again every minute."""

    refreshable = True

    def __init__(
        self,
        path: str,
        field: str,
        reread_seconds: float = TOKEN_FILE_REREAD_SECONDS,
        clock: Any = time.monotonic,
    ) -> None:
        self.path = path
        self.field = field
        self.reread_seconds = reread_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._token = self._read()
        self._read_at = clock()

    def _read(self) -> str:
        try:
            with open(self.path, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise KubeConfigError(
                f"{self.field}: cannot read {self.path!r}: {exc.strerror}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise KubeConfigError(f"{self.field}: {self.path!r} is not text") from exc
        if not token:
            raise KubeConfigError(f"{self.field}: {self.path!r} is empty")
        check_not_expired(token, f"{self.field} ({self.path})")
        return token

    def current(self) -> tuple[Optional[str], Optional[CertPair]]:
        with self._lock:
            if self._clock() - self._read_at >= self.reread_seconds:
                self._token = self._read()
                self._read_at = self._clock()
            check_not_expired(self._token, f"{self.field} ({self.path})")
            return f"Bearer {self._token}", None

    def refresh(self) -> None:
        with self._lock:
            self._token = self._read()
            self._read_at = self._clock()


class BasicAuth(Credential):
    def __init__(self, username: str, password: str, field: str) -> None:
        for name, value in (("username", username), ("password", password)):
            if not isinstance(value, str) or not value:
                raise KubeConfigError(f"{field}.{name}: expected a non-empty string")
        pair = f"{username}:{password}".encode()
        self.header = "Basic " + base64.b64encode(pair).decode()
        self.field = field

    def current(self) -> tuple[Optional[str], Optional[CertPair]]:
        return self.header, None


def _exec_strings(value: Any, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KubeConfigError(f"{field}: expected a list of strings, got {value!r}")
    return list(value)


class ExecPlugin(Credential):
    """A client-go credential plugin (``users[].user.exec``), run on demand and cached.

    Ansible modules and the agent have no terminal: the plugin runs with stdin closed and
    ``spec.interactive: false``; ``interactiveMode: Always`` is refused up front.
    """

    refreshable = True

    def __init__(  # noqa: PLR0912, PLR0915, PLR0917 - one field of the exec config each
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
        self.api_version = api_version
        command = config.get("command")
        if not isinstance(command, str) or not command:
            raise KubeConfigError(
                f"{field}.command: expected the plugin's command, got {command!r}"
            )
        # Like client-go: a relative path with a separator is relative to the kubeconfig.
        if os.sep in command and not os.path.isabs(command):
            command = os.path.normpath(os.path.join(base_dir, command))
        self.command = command
        self.args = _exec_strings(config.get("args"), f"{field}.args")
        hint = config.get("installHint")
        if hint is not None and not isinstance(hint, str):
            raise KubeConfigError(f"{field}.installHint: expected a string, got {hint!r}")
        self.install_hint = hint
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
        provide = config.get("provideClusterInfo", False)
        if not isinstance(provide, bool):
            raise KubeConfigError(
                f"{field}.provideClusterInfo: expected true or false, got {provide!r}"
            )
        spec: dict[str, Any] = {"interactive": False}
        if provide:
            spec["cluster"] = dict(cluster_info or {})
        exec_info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": spec}
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
