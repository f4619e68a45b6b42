# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""A small, dependency-free HTTP(S) client for the Kubernetes API.

Why not the kubernetes Python package: importing it costs about 0.3 s and building its client
more (the per-task start-up complaint anchors.md records against kubernetes.core); its config
loader turns a quoted ``insecure-skip-tls-verify: "false"`` into "do not verify" and logs a
failing exec plugin instead of failing, so requests go out without credentials. The agent also
needs precise control of watches. This client speaks JSON over one persistent connection (TLS,
or plain http to a loopback ``kubectl proxy``), through an http:// proxy when asked (CONNECT for
https), applies server-side with a field manager, and bounds every wait and retry.

Retries are safe: a request that never reached the server (connection refused, TLS handshake
failed, a keep-alive connection the server had closed) is sent again whatever its method; an
idempotent request (GET, HEAD, PUT, DELETE, apply and merge PATCH) whose answer was lost is sent
again too; a POST whose answer was lost is NOT: ``create`` reads the object back (ours: done;
absent: sent once more; someone else's: 409), and ``request`` raises ``KubeAnswerLost``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import select
import shutil
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Optional
from urllib.parse import quote, urlencode, urlsplit

from .config import ConnectionSettings
from .credentials import Credential, KubeConfigError

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"  # a list of operations (the agent's report shards)
MAX_THROTTLED_RETRIES = 20
TYPED_PATCH_ERROR = "failed to create typed patch object"
MAX_RETRY_AFTER = 1.0
# Methods whose repetition leaves the server as one request would (RFC 9110 9.2.2), plus the
# PATCH kinds that set fields rather than append (server-side apply, JSON merge patch).
IDEMPOTENT_METHODS = ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
IDEMPOTENT_PATCHES = (APPLY_PATCH, MERGE_PATCH)


def _retry_after(header: Optional[str]) -> float:
    """Seconds to wait before resending a 429'd request: the server's hint, capped."""
    try:
        return min(max(float(header or 0.2), 0.05), MAX_RETRY_AFTER)
    except ValueError:
        return 0.2


def is_idempotent(method: str, content_type: Optional[str] = None) -> bool:
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "PATCH" and content_type in IDEMPOTENT_PATCHES


class KubeError(Exception):
    """Base class of every error this client raises."""


class KubeUnreachable(KubeError):
    """The API server did not answer within the bounded retries."""


class KubeAnswerLost(KubeUnreachable):
    """A request that is not safe to repeat was sent, and its answer was lost."""


class KubeCredentialError(KubeError):
    """The credentials of a request could not be had (the message names the kubeconfig field)."""


class KubeTLSError(KubeError):
    """The server's certificate is not trusted, or the client's is refused: never retried."""


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


def _at_version(obj: Mapping[str, Any], version: str) -> dict[str, Any]:
    """``obj`` with ``metadata.resourceVersion`` set: a replace that only lands on that version."""
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}


def contains(live: Any, desired: Any) -> bool:
    """Whether ``live`` holds everything ``desired`` says (server defaults may add more)."""
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            key in live and contains(live[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired))  # noqa: B905 - Python 3.8
        )
    return live == desired


def _no_delay(sock: Any) -> None:
    """Send small writes at once (TCP_NODELAY), as request/response clients do."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _OneWrite:
    """Sends a request's headers and body in one write.

    http.client writes them in two. Over TLS, writes by a child's token identity (a larger
    header block) then waited about 45 ms now and then, one PATCH in seven or so against a
    parent, with TCP_NODELAY set or not: a report round of 4 ms took 50. In one write none
    waits (back-to-back PATCHes against the harness's API servers, p90: 47 -> 3 ms). This
    overrides http.client's internal ``_send_output`` (the same in every Python 3 release);
    other bodies (files, chunked) take its own path.
    """

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, bytes) and not encode_chunked:
            buffer = self._buffer  # type: ignore[attr-defined]
            buffer.extend((b"", b""))
            head = b"\r\n".join(buffer)
            del buffer[:]
            self.send(head + message_body)  # type: ignore[attr-defined]
            return
        super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _PlainConnection(_OneWrite, http.client.HTTPConnection):
    """Plain HTTP (through a proxy), requests sent without delay."""

    def connect(self) -> None:
        super().connect()
        _no_delay(self.sock)


class _TLSConnection(_OneWrite, http.client.HTTPSConnection):
    """HTTPS with a chosen TLS server name (kubeconfig ``tls-server-name``), tunnel or not."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: Optional[float],
        context: ssl.SSLContext,
        server_hostname: str,
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._fornax_context = context
        self._server_hostname = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, and CONNECT through a proxy
        _no_delay(self.sock)
        self.sock = self._fornax_context.wrap_socket(
            self.sock, server_hostname=self._server_hostname
        )


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
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise KubeError(f"server {settings.server!r} is not an https:// or http:// URL")
        self.settings = settings
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self.connect_retries = connect_retries
        self.retry_delay = retry_delay
        self.user_agent = user_agent
        self.credential: Optional[Credential] = settings.auth()
        self.proxy = urlsplit(settings.proxy) if settings.proxy else None
        self._cert_pair: Optional[tuple[bytes, bytes]] = None
        if settings.client_cert_data and settings.client_key_data:
            self._cert_pair = (settings.client_cert_data, settings.client_key_data)
        self._ssl = self._build_ssl_context(self._cert_pair) if self.tls else None
        self._conn: Optional[http.client.HTTPConnection] = None
        self.sent = 0  # requests written to a connection (tests read it)

    # -- TLS -----------------------------------------------------------------------------------

    def _build_ssl_context(self, pair: Optional[tuple[bytes, bytes]]) -> ssl.SSLContext:
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
        if pair:
            self._load_client_pair(ctx, pair)
        return ctx

    @staticmethod
    def _load_client_pair(ctx: ssl.SSLContext, pair: tuple[bytes, bytes]) -> None:
        # ssl loads a client key pair only from files: write them into a private directory and
        # remove it as soon as the context holds them, so no key outlives this call on disk
        # (not even when the process is killed later).
        secrets = tempfile.mkdtemp(prefix="fornax-kube-")
        try:
            cert = os.path.join(secrets, "client.crt")
            key = os.path.join(secrets, "client.key")
            for path, data in ((cert, pair[0]), (key, pair[1])):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            ctx.load_cert_chain(cert, key)
        finally:
            shutil.rmtree(secrets, ignore_errors=True)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            self.close()

    # -- HTTP ----------------------------------------------------------------------------------

    def _new_connection(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        proxy = self.proxy
        host, port = self.host, self.port
        if proxy is not None:
            host, port = proxy.hostname or "", proxy.port or 80
        if not self.tls:
            # Plain http, through a proxy with absolute URLs (see _url).
            return _PlainConnection(host, port, timeout=timeout)
        context = self._ssl or self._build_ssl_context(self._cert_pair)
        conn = _TLSConnection(
            host,
            port,
            timeout=timeout,
            context=context,
            server_hostname=self.settings.tls_server_name or self.host,
        )
        if proxy is not None:
            conn.set_tunnel(self.host, self.port, headers=dict(self.settings.proxy_headers))
        return conn

    def _credentials(self) -> Optional[str]:
        """The Authorization header now; a client certificate from a plugin renews TLS."""
        if self.credential is None:
            return None
        try:
            header, pair = self.credential.current()
        except KubeConfigError as exc:
            raise KubeCredentialError(str(exc)) from exc
        if pair is not None and pair != self._cert_pair and self.tls:
            self._cert_pair = pair
            self._ssl = self._build_ssl_context(pair)
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        return header

    def _headers(self, content_type: Optional[str], accept: str) -> list[tuple[str, str]]:
        headers = [("Accept", accept), ("User-Agent", self.user_agent)]
        if content_type:
            headers.append(("Content-Type", content_type))
        authorization = self._credentials()
        if authorization:
            headers.append(("Authorization", authorization))
        headers.extend(self.settings.impersonate)
        if self.proxy is not None and not self.tls:
            headers.extend(self.settings.proxy_headers)
        return headers

    def _url(self, path: str, query: Optional[Mapping[str, Any]]) -> str:
        url = self.base_path + path
        if query:
            clean = {k: v for k, v in query.items() if v is not None}
            if clean:
                url += "?" + urlencode(clean)
        if self.proxy is not None and not self.tls:
            url = f"http://{self.host}:{self.port}{url}"  # absolute form for an http proxy
        return url

    @staticmethod
    def _send(
        conn: http.client.HTTPConnection,
        method: str,
        url: str,
        payload: Optional[bytes],
        headers: list[tuple[str, str]],
    ) -> None:
        """Write one request; headers may repeat (Impersonate-Group)."""
        conn.putrequest(method, url, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if payload is not None:
            conn.putheader("Content-Length", str(len(payload)))
        conn.endheaders(payload)

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        """An open connection: reused when the server has not closed it meanwhile."""
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                readable, _w, _x = select.select([conn.sock], [], [], 0)
            except (OSError, ValueError):
                readable = [conn.sock]
            if readable:  # an idle keep-alive connection only reads when closed by the server
                conn.close()
                conn = None
            else:
                conn.sock.settimeout(timeout)
        if conn is None or conn.sock is None:
            conn = conn or self._new_connection(timeout)
            self._conn = conn
            try:
                conn.connect()
            except ssl.SSLCertVerificationError as exc:
                self._drop_connection()
                raise KubeTLSError(
                    f"TLS to {self.settings.server}: the server's certificate is not trusted: "
                    f"{exc} (check ca_cert / certificate-authority, or tls-server-name; "
                    "validate_certs=false only for a test)"
                ) from exc
            except OSError as exc:
                self._drop_connection()
                if "Tunnel connection failed" in str(exc):
                    from .proxy import redact  # noqa: PLC0415 - proxies only

                    raise KubeUnreachable(
                        f"proxy: {redact(self.settings.proxy)} refused CONNECT to "
                        f"{self.host}:{self.port}: {exc}"
                    ) from exc
                raise
        return conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: Optional[str] = None,
        query: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
        resend_safe: Optional[bool] = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer (None for an empty body).

        A request that did not reach the server is sent again up to ``connect_retries`` times
        with a growing pause. One whose answer was lost is sent again only when it is
        idempotent (or ``resend_safe``); otherwise KubeAnswerLost is raised. An answer with an
        error status raises KubeApiError at once (a 429 waits and resends; a 401 with a
        credential that can be fetched again does so once).
        """
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            content_type = content_type or "application/json"
        payload = body.encode() if isinstance(body, str) else body
        url = self._url(path, query)
        safe = is_idempotent(method, content_type) if resend_safe is None else resend_safe
        wait = timeout or self.timeout
        last_error: Optional[BaseException] = None
        attempt = throttled = 0
        refreshed = False
        while attempt <= self.connect_retries:
            response, raw, last_error = self._attempt(
                method, path, url, payload=payload, content_type=content_type, wait=wait, safe=safe
            )
            if response is None:  # not answered, and safe to send again
                attempt += 1
                time.sleep(self.retry_delay * attempt)
                continue
            if response.status == 429 and throttled < MAX_THROTTLED_RETRIES:
                # Not processed (throttled, or storage still initialising): safe to resend.
                throttled += 1
                time.sleep(_retry_after(response.getheader("Retry-After")))
                continue
            if response.status == 401 and not refreshed and self._refresh_credential():
                refreshed = True  # not processed: resend once with the credential fetched again
                continue
            return self._decode(response.status, response.reason, raw, self.credential)
        raise KubeUnreachable(
            f"API server {self.settings.server} did not answer {method} {path} after "
            f"{self.connect_retries + 1} attempts: {last_error}"
        )

    def _attempt(
        self,
        method: str,
        path: str,
        url: str,
        *,
        payload: Optional[bytes],
        content_type: Optional[str],
        wait: float,
        safe: bool,
    ) -> tuple:
        """Send once: (response, body, None), or (None, None, error) when no answer came and
        the request may be sent again; KubeAnswerLost when it may not (``safe`` is false)."""
        headers = self._headers(content_type, "application/json")
        try:
            conn = self._connect(wait)
        except OSError as exc:  # nothing was sent: safe to try again for any method
            return None, None, exc
        try:
            self.sent += 1
            self._send(conn, method, url, payload, headers)
            response = conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            # Sent (at least in part), and no answer came back.
            self._drop_connection()
            if not safe:
                raise KubeAnswerLost(
                    f"API server {self.settings.server}: the answer to {method} {path} was "
                    f"lost ({exc}); it may or may not have been carried out"
                ) from exc
            return None, None, exc
        if response.will_close:
            self._drop_connection()
        return response, raw, None

    def _refresh_credential(self) -> bool:
        """Fetch a credential that can be fetched again (after a 401); False when it cannot."""
        if self.credential is None or not self.credential.refreshable:
            return False
        try:
            self.credential.refresh()
        except KubeConfigError as exc:
            raise KubeCredentialError(str(exc)) from exc
        return True

    @staticmethod
    def _decode(
        status: int, reason: str, raw: bytes, credential: Optional[Credential] = None
    ) -> Any:
        data: Any = None
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw.decode(errors="replace")
        if status >= 400:
            message = data.get("message", "") if isinstance(data, dict) else str(data or "")
            message = message.strip() or reason
            if status == 401:
                source = credential.describe() if credential else None
                message += (
                    f" (the credentials of {source} were refused)"
                    if source
                    else " (no credentials were sent: the connection settings hold none)"
                )
            raise KubeApiError(status, reason, message, data)
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

    def create(
        self,
        path: str,
        obj: Mapping[str, Any],
        *,
        dry_run: bool = False,
        resend_safe: bool = False,
    ) -> Any:
        """POST ``obj`` to the collection ``path``.

        ``resend_safe``: the request stores nothing (TokenRequest, reviews), so it may be sent
        again like a GET. Otherwise a lost answer is reconciled: the object is read back by its
        name; if it holds ``obj`` it was ours and is returned; if it is absent ``obj`` is sent
        once more; if it holds something else that is a 409.
        """
        query = {"dryRun": "All" if dry_run else None}
        try:
            return self.request("POST", path, obj, query=query, resend_safe=resend_safe or dry_run)
        except KubeAnswerLost as lost:
            return self._reconcile_create(path, obj, query, lost)

    def _reconcile_create(
        self, path: str, obj: Mapping[str, Any], query: Mapping[str, Any], lost: KubeAnswerLost
    ) -> Any:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise KubeAnswerLost(
                f"{lost}; the object has no fixed name (generateName), so whether it exists "
                "cannot be told: not sent again"
            ) from lost
        object_path = f"{path.split('?', maxsplit=1)[0]}/{_quote(name)}"
        for resends in range(2):
            live = self.get_or_none(object_path)
            if live is not None:
                if contains(live, obj):
                    return live
                raise KubeApiError(
                    409,
                    "AlreadyExists",
                    f"{object_path} exists with other content than the create whose answer "
                    "was lost",
                    live,
                )
            if resends:
                break
            try:
                return self.request("POST", path, obj, query=query)
            except KubeApiError as exc:
                if exc.status != 409:  # the first one landed meanwhile: read it back
                    raise
            except KubeAnswerLost:
                continue
        raise KubeUnreachable(f"{lost}; read back and sent once more: still not created")

    def replace(self, path: str, obj: Mapping[str, Any], *, dry_run: bool = False) -> Any:
        return self.request("PUT", path, obj, query={"dryRun": "All" if dry_run else None})

    def write_whole(
        self,
        collection: str,
        obj: Mapping[str, Any],
        version: Optional[str],
        may_replace: Optional[Callable[[Any], bool]] = None,
    ) -> Any:
        """Make ``obj`` the whole object of its name in ``collection`` (spec, labels and
        annotations; a status subresource is left as it is); for objects one writer owns.

        ``version`` is the resourceVersion the writer's cache holds, None when it holds none: a
        create then (refused by the server when the object exists: atomic), else a replace at
        that version. Both cost the API server less than a server-side apply, which merges
        field ownership, and a replace is exact: nothing a previous write set survives it.
        When the cache was stale (409: the object exists, or changed since ``version``; 404:
        it went) the live object is read once and, when ``may_replace(live)`` (default: always),
        replaced at its own version. Returns what was written, or None when ``may_replace``
        refused the live object. A second conflict is raised (a 409: transient).
        """
        name = obj["metadata"]["name"]
        path = f"{collection}/{_quote(name)}"
        try:
            if version is None:
                return self.create(collection, obj)
            return self.replace(path, _at_version(obj, version))
        except KubeApiError as exc:
            if exc.status not in (404, 409):
                raise
        live = self.get_or_none(path)
        if live is None:
            return self.create(collection, obj)
        if may_replace is not None and not may_replace(live):
            return None
        return self.replace(path, _at_version(obj, live["metadata"]["resourceVersion"]))

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
        headers = self._headers(None, "application/json")
        conn = self._new_connection(timeout_seconds + 15)
        try:
            try:
                self._send(conn, "GET", self._url(path, query), None, headers)
                response = conn.getresponse()
            except ssl.SSLCertVerificationError as exc:
                raise KubeTLSError(f"watch {path} on {self.settings.server}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise KubeUnreachable(f"watch {path} on {self.settings.server}: {exc}") from exc
            if response.status >= 400:
                self._decode(response.status, response.reason, response.read(), self.credential)
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
