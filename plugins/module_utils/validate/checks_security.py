# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The security layer: child identities confined, TLS everywhere, the hosts' OS audited.

Confinement probes act with the child's real identity on its parent: a fresh, short-lived
token of the child's service account (TokenRequest, the same service account and RBAC the
agent uses; child_link names them), so nothing of the agent's is read or changed. Writes are
sent as server-side dry runs: if confinement were broken, the probe still changes nothing.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import socket
import ssl
from urllib.parse import urlsplit

from ..fornax import child_link, names
from ..k8s.client import KubeClient, KubeError
from ..k8s.config import ConnectionSettings
from .base import USER_AGENT, CheckFailed, Validation, closing, forbidden

try:
    from cryptography import x509

    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - ansible-core depends on it on the controller
    HAS_CRYPTOGRAPHY = False

PROBE_TOKEN_TTL = child_link.MIN_TOKEN_TTL
SECRET_PATHS = (
    "/api/v1/secrets",
    f"/api/v1/namespaces/{child_link.NAMESPACE}/secrets",
    "/api/v1/namespaces/kube-system/secrets",
    "/api/v1/namespaces/default/secrets",
)


# -- confinement ----------------------------------------------------------------------------------


def child_client(v: Validation, cluster: str, p: dict) -> KubeClient:
    """A client of ``cluster``'s parent acting as ``cluster``'s own identity there."""
    parent = v.fleet[cluster].parent
    token, _expires = v.call(
        parent,
        f"issue a probe token for child-{cluster}",
        lambda c: child_link.issue_token(c, cluster, PROBE_TOKEN_TTL),
        p,
    )
    admin = v.settings(parent)
    settings = ConnectionSettings(
        server=v.fleet[parent].api_endpoint,
        ca_data=admin.ca_data,
        token=token,
        verify=admin.verify,
        tls_server_name=admin.tls_server_name,
        source=f"probe identity of child {cluster} on {parent}",
    )
    return KubeClient(
        settings, timeout=float(p["api_timeout"]), connect_retries=1, user_agent=USER_AGENT
    )


def _works(child: KubeClient, cluster: str, parent: str) -> None:
    """The probe identity must be able to do what the agent needs, or the probe proves nothing."""
    try:
        child.get(names.edgecluster_path(cluster))
        child.get(names.MISSIONS, limit=1)
    except KubeError as exc:
        raise CheckFailed(
            f"the identity of child {cluster} at {parent} cannot even read its own EdgeCluster "
            f"and the Missions: {exc}",
            [cluster],
        ) from exc


def _verdict(cluster: str, parent: str, attempts: list, what: str) -> str:
    allowed = [f"{label} {outcome}" for label, outcome in attempts if outcome]
    if allowed:
        raise CheckFailed(
            f"child {cluster}'s identity at {parent}: {'; '.join(allowed)}", [cluster]
        )
    return f"child {cluster}'s identity at {parent} is refused {what} ({len(attempts)} probes)"


def parent_secrets(v: Validation, cluster: str, p: dict) -> str:
    parent = v.fleet[cluster].parent
    with closing(child_client(v, cluster, p)) as child:
        _works(child, cluster, parent)
        attempts = [
            (f"GET {path}", forbidden(lambda path=path: child.get(path))) for path in SECRET_PATHS
        ]
    return _verdict(cluster, parent, attempts, "Secrets")


def siblings(v: Validation, cluster: str, p: dict) -> list:
    """The other clusters registered at ``cluster``'s parent (a made-up name when none)."""
    parent = v.fleet[cluster].parent
    items = v.get(parent, names.EDGECLUSTERS, p).get("items") or []
    found = sorted(i["metadata"]["name"] for i in items if i["metadata"]["name"] != cluster)
    return found or [f"not-{cluster}"]


def sibling_objects(v: Validation, cluster: str, p: dict) -> str:
    parent = v.fleet[cluster].parent
    others = siblings(v, cluster, p)
    status = {"status": {"message": "validation probe"}}
    report = {"spec": {"missions": {}}}
    stranger = {
        "apiVersion": names.API_VERSION,
        "kind": "EdgeCluster",
        "metadata": {"name": f"{v.object_name('probe')}"},
    }
    with closing(child_client(v, cluster, p)) as child:
        _works(child, cluster, parent)
        attempts = []
        for other in others:
            attempts += [
                (
                    f"PATCH edgeclusters/{other}/status",
                    forbidden(
                        lambda o=other: child.patch(
                            names.edgecluster_path(o, status=True), status, dryRun="All"
                        )
                    ),
                ),
                (
                    f"PATCH clusterreports/{other}",
                    forbidden(
                        lambda o=other: child.patch(
                            names.clusterreport_path(o), report, dryRun="All"
                        )
                    ),
                ),
                (
                    f"DELETE edgeclusters/{other}",
                    forbidden(
                        lambda o=other: child.delete(names.edgecluster_path(o), dry_run=True)
                    ),
                ),
            ]
        attempts.append(
            (
                "POST edgeclusters (a new cluster)",
                forbidden(lambda: child.create(names.EDGECLUSTERS, stranger, dry_run=True)),
            )
        )
    return _verdict(cluster, parent, attempts, f"writes to {', '.join(others)}")


def missions_readonly(v: Validation, cluster: str, p: dict) -> str:
    parent = v.fleet[cluster].parent
    name = v.object_name("probe")
    obj = {
        "apiVersion": names.API_VERSION,
        "kind": "Mission",
        "metadata": {"name": name},
        "spec": {"missionresource": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
    }
    with closing(child_client(v, cluster, p)) as child:
        _works(child, cluster, parent)
        existing = child.get(names.MISSIONS, limit=1).get("items") or []
        victim = existing[0]["metadata"]["name"] if existing else name
        attempts = [
            ("POST missions", forbidden(lambda: child.create(names.MISSIONS, obj, dry_run=True))),
            (
                f"PATCH missions/{victim}",
                forbidden(
                    lambda: child.patch(names.mission_path(victim), {"spec": {}}, dryRun="All")
                ),
            ),
            (
                f"DELETE missions/{victim}",
                forbidden(lambda: child.delete(names.mission_path(victim), dry_run=True)),
            ),
        ]
    return _verdict(cluster, parent, attempts, "creating, changing and deleting Missions")


# -- TLS ------------------------------------------------------------------------------------------


def _endpoint(v: Validation, cluster: str) -> tuple:
    parts = urlsplit(v.fleet[cluster].api_endpoint)
    if parts.scheme != "https" or not parts.hostname:
        raise CheckFailed(
            f"cluster {cluster}: API endpoint {v.fleet[cluster].api_endpoint!r} is not https",
            [cluster],
        )
    return parts.hostname, parts.port or 443


def _tls_context(v: Validation, cluster: str) -> ssl.SSLContext:
    """Verifies the server against the cluster's CA (the system's without one); no identity."""
    settings = v.settings(cluster)
    if settings.ca_data:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cadata=settings.ca_data.decode())
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _handshake(v: Validation, cluster: str, p: dict) -> tuple:
    """(TLS version, peer certificate dict) of a verified handshake with the endpoint."""
    host, port = _endpoint(v, cluster)
    ctx = _tls_context(v, cluster)
    server_name = v.settings(cluster).tls_server_name or host
    try:
        with socket.create_connection((host, port), timeout=float(p["api_timeout"])) as sock:  # noqa: SIM117 - Python 3.8 targets
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                return tls.version(), tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        raise CheckFailed(
            f"cluster {cluster}: the certificate of {host}:{port} does not verify against the "
            f"cluster's CA for {server_name}: {exc.verify_message}",
            [cluster],
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        raise CheckFailed(
            f"cluster {cluster}: TLS to {host}:{port} failed: {exc}", [cluster]
        ) from exc


def anonymous_auth(v: Validation, cluster: str, p: dict) -> str:
    host, port = _endpoint(v, cluster)
    ctx = _tls_context(v, cluster)
    server_name = v.settings(cluster).tls_server_name or host
    if server_name != host:
        ctx.check_hostname = False  # the certificate names another host: tls_only checks it
    conn = http.client.HTTPSConnection(host, port, timeout=float(p["api_timeout"]), context=ctx)
    try:
        conn.request("GET", "/version", headers={"User-Agent": USER_AGENT})
        response = conn.getresponse()
        body = response.read()[:200]
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        raise CheckFailed(
            f"cluster {cluster} is unreachable at {host}:{port}: {exc}", [cluster]
        ) from exc
    finally:
        conn.close()
    if response.status != 401:
        raise CheckFailed(
            f"cluster {cluster}: a request without credentials got {response.status} "
            f"{response.reason} (anonymous access is on): {body!r}",
            [cluster],
        )
    return f"{cluster}: a request without credentials is refused with 401"


def tls_only(v: Validation, cluster: str, p: dict) -> str:
    host, port = _endpoint(v, cluster)
    version, _cert = _handshake(v, cluster, p)
    if version not in ("TLSv1.2", "TLSv1.3"):
        raise CheckFailed(f"cluster {cluster}: negotiated {version}", [cluster])
    answer = b""
    try:
        with socket.create_connection((host, port), timeout=float(p["api_timeout"])) as sock:
            sock.sendall(
                f"GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            )
            while len(answer) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        answer = answer or b""
    status = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    if status and status.group(1) != b"400":
        raise CheckFailed(
            f"cluster {cluster}: plain HTTP to {host}:{port} was answered "
            f"{status.group(1).decode()}: {answer[:120]!r}",
            [cluster],
        )
    return f"{cluster}: {version} with a verified certificate; plain HTTP gets no API answer"


def _not_after_pem(pem: bytes) -> list:
    if not HAS_CRYPTOGRAPHY:
        return []
    found = []
    for block in re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S):
        cert = x509.load_pem_x509_certificate(block)
        when = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(
            tzinfo=datetime.timezone.utc  # noqa: UP017 - Python 3.8 targets
        )
        found.append((cert.subject.rfc4514_string(), when))
    return found


def cert_expiry(v: Validation, cluster: str, p: dict) -> str:
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 - Python 3.8 targets
    _version, peer = _handshake(v, cluster, p)
    certs: list = []
    if peer and peer.get("notAfter"):
        when = datetime.datetime.fromtimestamp(
            ssl.cert_time_to_seconds(peer["notAfter"]),
            datetime.timezone.utc,  # noqa: UP017
        )
        certs.append(("the API server's serving certificate", when))
    settings = v.settings(cluster)
    for label, pem in (("CA", settings.ca_data), ("admin client", settings.client_cert_data)):
        for subject, when in _not_after_pem(pem or b""):
            certs.append((f"{label} certificate {subject}", when))
    days = float(p["min_days"])
    soon = [
        f"{what} expires {when:%Y-%m-%d} ({(when - now).days} days)"
        for what, when in certs
        if (when - now).total_seconds() < days * 86400
    ]
    if soon:
        raise CheckFailed(f"cluster {cluster}: {'; '.join(soon)} (min_days {days:g})", [cluster])
    left = min(int((when - now).days) for _what, when in certs) if certs else 0
    return f"{cluster}: {len(certs)} certificates valid for at least {left} more days"


# -- the hosts' OS --------------------------------------------------------------------------------


def evidence(v: Validation, layer: str, suite: str, host: str) -> dict:
    """What the playbook collected from ``host`` for ``layer/suite`` (an error when nothing)."""
    path = os.path.join(v.evidence_dir, layer, suite, "evidence", f"{host}.json")
    try:
        with open(path, encoding="utf-8") as handle:
            found = json.load(handle)
    except FileNotFoundError as exc:
        raise CheckFailed(
            f"host {host}: no evidence collected ({path} is missing: the collection play did "
            "not reach it)",
            [v.cluster_of_host(host)],
        ) from exc
    except (OSError, ValueError) as exc:
        raise CheckFailed(f"host {host}: unreadable evidence {path}: {exc}") from exc
    if found.get("error"):
        raise CheckFailed(f"host {host}: {found['error']}", [v.cluster_of_host(host)])
    return found


def lynis_report(text: str) -> dict:
    """The keys of a lynis report file; list keys (``warning[]``) collect their values."""
    report: dict = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#"):
            continue
        if key.endswith("[]"):
            report.setdefault(key[:-2], []).append(value)
        else:
            report[key] = value
    return report


def _lynis(v: Validation, host: str) -> tuple:
    found = evidence(v, "security", "os", host)
    report = lynis_report(str(found.get("report") or ""))
    if "hardening_index" not in report:
        raise CheckFailed(
            f"host {host}: the lynis report has no hardening index", [v.cluster_of_host(host)]
        )
    return found, report


def lynis_hardening(v: Validation, host: str, p: dict) -> str:
    _found, report = _lynis(v, host)
    index = int(report["hardening_index"])
    if index < int(p["min_index"]):
        raise CheckFailed(
            f"host {host}: lynis hardening index {index} is below min_index {p['min_index']}",
            [v.cluster_of_host(host)],
        )
    return f"host {host}: lynis {report.get('lynis_version', '?')} hardening index {index}"


def lynis_warnings(v: Validation, host: str, p: dict) -> str:
    _found, report = _lynis(v, host)
    warnings = [w.split("|") for w in report.get("warning", [])]
    allowed = set(p["allowed"])
    bad = [f"{w[0]} ({w[1] if len(w) > 1 else ''})" for w in warnings if w[0] not in allowed]
    if bad:
        raise CheckFailed(
            f"host {host}: lynis warnings: {'; '.join(bad)}", [v.cluster_of_host(host)]
        )
    waived = [w[0] for w in warnings if w[0] in allowed]
    return f"host {host}: no lynis warnings" + (
        f" (allowed: {', '.join(waived)})" if waived else ""
    )
