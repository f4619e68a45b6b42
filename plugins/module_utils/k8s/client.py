# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""A small, dependency-free HTTPS client for the Kubernetes API.

Why not the kubernetes Python package: importing it and building its client costs about a second
per Ansible task (the complaint anchors.md records against kubernetes.core), and the agent needs
precise control of watches. This client speaks JSON over one persistent TLS connection, applies
server-side with a field manager, and bounds every wait and retry.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Iterator, Mapping
from typing import Any, Optional
from urllib.parse import quote, urlencode, urlsplit

from .config import ConnectionSettings

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
MAX_THROTTLED_RETRIES = 20
TYPED_PATCH_ERROR = "failed to create typed patch object"
MAX_RETRY_AFTER = 1.0


def _retry_after(header: Optional[str]) -> float:
    """Seconds to wait before resending a 429'd request: the server's hint, capped."""
    try:
        return min(max(float(header or 0.2), 0.05), MAX_RETRY_AFTER)
    except ValueError:
        return 0.2


class KubeError(Exception):
    """Base class of every error this client raises."""


class KubeUnreachable(KubeError):
    """The API server did not answer within the bounded retries."""


class KubeApiError(KubeError):
    """The API server answered with an error status."""

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body

    @property
    def transient(self) -> bool:
        """True when asking again may succeed: the server's trouble (5xx), a timeout (408), a
        conflict of versions (409) or throttling (429); other 4xx answers refuse the request.

        Server-side apply answers a field of the wrong type (``replicas: two``) with a 500
        that names the typed patch: the request is at fault, and asking again cannot help.
        """
        if self.status >= 500:
            return TYPED_PATCH_ERROR not in self.message
        return self.status in (408, 409, 429)

    @property
    def causes(self) -> list:
        details = self.body.get("details") if isinstance(self.body, dict) else None
        return list((details or {}).get("causes") or [])


def _quote(segment: str) -> str:
    return quote(segment, safe="")


def resource_path(
    api_version: str,
    plural: str,
    name: Optional[str] = None,
    namespace: Optional[str] = None,
    subresource: Optional[str] = None,
) -> str:
    """The REST path of a resource collection or object: /api/v1/... or /apis/group/version/..."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = prefix
    if namespace:
        path += f"/namespaces/{_quote(namespace)}"
    path += f"/{plural}"
    if name:
        path += f"/{_quote(name)}"
        if subresource:
            path += f"/{subresource}"
    return path


class KubeClient:
    """One API server, one persistent connection (not thread-safe: one client per thread)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        timeout: float = 30.0,
        connect_retries: int = 3,
        retry_delay: float = 0.5,
        user_agent: str = "fornax-client",
    ) -> None:
        parts = urlsplit(settings.server)
        if parts.scheme != "https" or not parts.hostname:
            raise KubeError(f"server {settings.server!r} is not an https:// URL")
        self.settings = settings
        self.host = parts.hostname
        self.port = parts.port or 443
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self.connect_retries = connect_retries
        self.retry_delay = retry_delay
        self.user_agent = user_agent
        self._secrets_dir: Optional[str] = None
        self._ssl = self._build_ssl_context()
        self._conn: Optional[http.client.HTTPSConnection] = None

    # -- TLS -----------------------------------------------------------------------------------

    def _build_ssl_context(self) -> ssl.SSLContext:
        s = self.settings
        # Verifies the server certificate and host name by default.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if not s.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif s.ca_data:
            # Like kubectl: a cluster's CA replaces the system trust store (and skips loading it).
            ctx.load_verify_locations(cadata=s.ca_data.decode())
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
        if s.client_cert_data and s.client_key_data:
            # ssl can only load a client key pair from files: keep them in a private directory
            # for the life of this client.
            self._secrets_dir = tempfile.mkdtemp(prefix="fornax-kube-")
            cert = os.path.join(self._secrets_dir, "client.crt")
            key = os.path.join(self._secrets_dir, "client.key")
            for path, data in ((cert, s.client_cert_data), (key, s.client_key_data)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            ctx.load_cert_chain(cert, key)
        return ctx

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._secrets_dir:
            shutil.rmtree(self._secrets_dir, ignore_errors=True)
            self._secrets_dir = None

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            self.close()

    # -- HTTP ----------------------------------------------------------------------------------

    def _new_connection(self, timeout: Optional[float]) -> http.client.HTTPSConnection:
        server_hostname = self.settings.tls_server_name
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._ssl)
        if server_hostname:
            # http.client has no SNI override; wrap the socket ourselves.
            def connect(conn: http.client.HTTPSConnection = conn) -> None:
                sock = socket.create_connection((self.host, self.port), timeout)
                conn.sock = self._ssl.wrap_socket(sock, server_hostname=server_hostname)

            conn.connect = connect  # type: ignore[method-assign]
        return conn

    def _headers(self, content_type: Optional[str], accept: str) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": self.user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        return headers

    def _url(self, path: str, query: Optional[Mapping[str, Any]]) -> str:
        url = self.base_path + path
        if query:
            clean = {k: v for k, v in query.items() if v is not None}
            if clean:
                url += "?" + urlencode(clean)
        return url

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: Optional[str] = None,
        query: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer (None for an empty body).

        Connection failures are retried ``connect_retries`` times with a growing delay; an
        answer with an error status raises KubeApiError at once.
        """
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            content_type = content_type or "application/json"
        payload = body.encode() if isinstance(body, str) else body
        headers = self._headers(content_type, "application/json")
        url = self._url(path, query)
        last_error: Optional[BaseException] = None
        attempt = throttled = 0
        while attempt <= self.connect_retries:
            if self._conn is None:
                self._conn = self._new_connection(timeout or self.timeout)
            elif self._conn.sock is not None:
                self._conn.sock.settimeout(timeout or self.timeout)
            try:
                self._conn.request(method, url, body=payload, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                # A stale keep-alive connection or a server that is (re)starting: reconnect.
                last_error = exc
                self._conn.close()
                self._conn = None
                attempt += 1
                time.sleep(self.retry_delay * attempt)
                continue
            if response.status == 429 and throttled < MAX_THROTTLED_RETRIES:
                # Not processed (throttled, or storage still initialising): safe to resend.
                throttled += 1
                time.sleep(_retry_after(response.getheader("Retry-After")))
                continue
            return self._decode(response.status, response.reason, raw)
        raise KubeUnreachable(
            f"API server {self.settings.server} did not answer {method} {path} after "
            f"{self.connect_retries + 1} attempts: {last_error}"
        )

    @staticmethod
    def _decode(status: int, reason: str, raw: bytes) -> Any:
        data: Any = None
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw.decode(errors="replace")
        if status >= 400:
            message = data.get("message", "") if isinstance(data, dict) else str(data or "")
            raise KubeApiError(status, reason, message.strip() or reason, data)
        return data

    # -- verbs ---------------------------------------------------------------------------------

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def get_or_none(self, path: str) -> Any:
        try:
            return self.get(path)
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, path: str, obj: Mapping[str, Any], *, dry_run: bool = False) -> Any:
        return self.request("POST", path, obj, query={"dryRun": "All" if dry_run else None})

    def replace(self, path: str, obj: Mapping[str, Any], *, dry_run: bool = False) -> Any:
        return self.request("PUT", path, obj, query={"dryRun": "All" if dry_run else None})

    def patch(self, path: str, patch: Any, *, patch_type: str = MERGE_PATCH, **query: Any) -> Any:
        return self.request("PATCH", path, patch, content_type=patch_type, query=query)

    def apply(
        self,
        path: str,
        obj: Mapping[str, Any],
        *,
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> Any:
        """Server-side apply ``obj`` at the object path ``path`` (JSON is valid apply YAML)."""
        query = {
            "fieldManager": field_manager,
            "force": "true" if force else None,
            "dryRun": "All" if dry_run else None,
        }
        return self.request("PATCH", path, json.dumps(obj), content_type=APPLY_PATCH, query=query)

    def delete(self, path: str, *, propagation: str = "Background", dry_run: bool = False) -> Any:
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            options["dryRun"] = ["All"]
        return self.request("DELETE", path, options)

    def delete_if_exists(self, path: str, **kwargs: Any) -> bool:
        try:
            self.delete(path, **kwargs)
        except KubeApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def watch(
        self,
        path: str,
        *,
        resource_version: Optional[str] = None,
        timeout_seconds: int = 300,
        label_selector: Optional[str] = None,
        allow_bookmarks: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """Yield watch events ({"type", "object"}) of a collection until the server ends the watch.

        Uses its own connection so that other requests can go on meanwhile. The server closes the
        watch after ``timeout_seconds``; the socket read timeout is a little longer, so a silent
        server cannot hang the caller. A 410 Gone (an expired resourceVersion) is raised as
        KubeApiError and means: re-list, then watch again.
        """
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "timeoutSeconds": timeout_seconds,
            "labelSelector": label_selector,
            "allowWatchBookmarks": "true" if allow_bookmarks else None,
        }
        conn = self._new_connection(timeout_seconds + 15)
        try:
            try:
                conn.request(
                    "GET", self._url(path, query), headers=self._headers(None, "application/json")
                )
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise KubeUnreachable(f"watch {path} on {self.settings.server}: {exc}") from exc
            if response.status >= 400:
                self._decode(response.status, response.reason, response.read())
            while True:
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise KubeUnreachable(
                        f"watch {path} on {self.settings.server} broke: {exc}"
                    ) from exc
                if not line:
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise KubeApiError(
                        int(status.get("code") or 500),
                        str(status.get("reason") or "WatchError"),
                        str(status.get("message") or "watch error"),
                        status,
                    )
                yield event
        finally:
            conn.close()
