# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Where the credentials of a request come from, and when to fetch them again.

A kubeconfig user (or the in-cluster service account) becomes one ``Credential``:

- ``StaticToken``: a bearer token given inline (kubeconfig ``token``, option ``api_key``,
  an OIDC ``id-token``); refused before anything is sent when it is a JWT that has expired;
- ``TokenFile``: a token read from a file and read again every minute, so a rotated token
  (kubelet-projected service-account tokens, ``tokenFile``) is picked up without a restart;
- ``BasicAuth``: ``username``/``password``;
- ``ExecPlugin`` (exec_plugin.py, imported only for such a user): a client-go credential
  plugin, cached until its ``expirationTimestamp`` and fetched again after a 401.

Every error is a ``KubeConfigError`` that names the kubeconfig field at fault. Pure Python,
Python 3.8 syntax (module_utils run on managed hosts).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any, Optional, Tuple  # noqa: UP035 - Tuple at run time (3.8)

from .timestamps import rfc3339

TOKEN_FILE_REREAD_SECONDS = 60.0  # what client-go does for tokenFile and in-cluster tokens
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


def check_not_expired(token: str, field: str, now: Optional[float] = None) -> None:
    """Refuse a JWT whose ``exp`` has passed (other tokens are opaque: the server judges them)."""
    expires = jwt_claims(token).get("exp")
    now = time.time() if now is None else now
    if isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires <= now:
        raise KubeConfigError(
            f"{field}: the token expired at {rfc3339(expires)}; get a new one (nothing was sent)"
        )


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
