# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Which proxy a connection goes through, as kubectl decides it (config.py's proxy rules).

Loaded only when a proxy is in play (the ``proxy`` option, a cluster's ``proxy-url``, or the
proxy environment) or a server is plain http: a task without one does not compile it (modules
run from a zip, so every imported line costs time on every task).
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from .args_common import PROXY_HEADER_OPTIONS
from .config import PROXY_ENV
from .credentials import KubeConfigError

PROXY_SCHEMES = ("http",)


def redact(url: Optional[str]) -> str:
    """``url`` without its password (for messages)."""
    parts = urlsplit(url or "")
    if parts.password is None:
        return url or ""
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def check_proxy_url(proxy: str, where: str) -> str:
    parts = urlsplit(proxy)
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        raise KubeConfigError(
            f"{where}: {redact(proxy)!r} is not supported: only http:// proxies (CONNECT for https "
            "servers) are; socks5:// and https:// proxies are not"
        )
    return proxy


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bypasses_proxy(host: str, port: int, no_proxy: str) -> bool:  # noqa: PLR0912
    """Whether ``host`` matches a NO_PROXY list (Go's rules: *, IPs, CIDRs, domains, :port)."""
    host = host.lower().strip("[]")
    try:
        address: Any = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if address is not None and address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry_port = None
        if entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry):
            entry, _sep, text = entry.rpartition(":")
            entry_port = int(text) if text.isdigit() else None
        entry = entry.strip("[]")
        if entry_port is not None and entry_port != port:
            continue
        try:
            entry_ip: Any = ipaddress.ip_address(entry)
        except ValueError:
            entry_ip = None
        if entry_ip is not None:
            if address == entry_ip:
                return True
            continue
        if entry.startswith("*."):
            entry = entry[1:]
        if entry.startswith("."):
            if host.endswith(entry):
                return True
        elif host == entry or host.endswith("." + entry):
            return True
    return False


def proxy_for(
    server: str,
    *,
    option: Optional[str] = None,
    no_proxy: Optional[str] = None,
    kubeconfig_proxy: Optional[str] = None,
    env: Mapping[str, str],
) -> Optional[str]:
    """The proxy for ``server``: the ``proxy`` option (unless ``no_proxy`` matches), else the
    cluster's proxy-url, else HTTPS_PROXY/HTTP_PROXY unless NO_PROXY (or ``no_proxy``) matches.
    Like Go's clients, the environment's proxy is never used for a loopback server."""
    parts = urlsplit(server)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if option:
        if no_proxy and bypasses_proxy(host, port, no_proxy):
            return None
        return check_proxy_url(option, "proxy")
    if kubeconfig_proxy:
        return kubeconfig_proxy
    names = PROXY_ENV[parts.scheme]
    value = next((env[n] for n in names if env.get(n)), None)
    if not value or is_loopback(host):
        return None
    bypass = (
        no_proxy if no_proxy is not None else (env.get("NO_PROXY") or env.get("no_proxy") or "")
    )
    if bypass and bypasses_proxy(host, port, bypass):
        return None
    if "://" not in value:
        value = "http://" + value
    return check_proxy_url(value, names[0])


def proxy_headers(
    proxy: Optional[str], headers: Optional[Mapping[str, Any]]
) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    headers = headers or {}
    unknown = sorted(set(headers) - set(PROXY_HEADER_OPTIONS))
    if unknown:
        raise KubeConfigError(f"proxy_headers: unknown key(s) {unknown}")
    parts = urlsplit(proxy) if proxy else None
    basic = headers.get("proxy_basic_auth")
    if not basic and parts is not None and parts.username:
        basic = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    if basic:
        out.append(("Proxy-Authorization", "Basic " + base64.b64encode(basic.encode()).decode()))
    if headers.get("basic_auth"):
        token = base64.b64encode(str(headers["basic_auth"]).encode()).decode()
        out.append(("Authorization", "Basic " + token))
    if headers.get("user_agent"):
        out.append(("User-Agent", str(headers["user_agent"])))
    return tuple(out)
