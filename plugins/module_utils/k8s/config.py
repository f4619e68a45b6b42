# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The one kubeconfig reader and writer, and connection settings for a Kubernetes API server.

Pure Python (no Ansible imports, Python 3.8 syntax): the modules, the agent, the roles (through
the ``kubeconfig`` filters) and the test harness all resolve their connection here.

Reading follows kubectl: KUBECONFIG lists files to merge (the first file to define a cluster,
user or context name wins, and so does the first current-context); a context's namespace; file
references relative to the file that holds them; client certificates (file or data), token,
tokenFile (read again as it rotates), exec plugins (credentials.py), OIDC id-tokens, basic auth,
impersonation (as, as-uid, as-groups, as-user-extra), proxy-url and the proxy environment,
http:// and https:// servers, and the in-cluster service account. Module options and their
K8S_AUTH_* fallbacks are kubernetes.core's. Booleans are strict: a quoted "false" is an error
naming the field, never a true value. Everything unusable fails naming the field; no request is
sent without the credentials a kubeconfig asks for.

Writing is kubeconfig_file.py (``write_kubeconfig``: atomic, mode 0600, the Go-safe dumper);
proxy rules are proxy.py, exec plugins exec_plugin.py. Those are imported only when used:
modules run from a zip, so every line imported costs compile time on every task.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import quote, urlsplit

# The options, their fallbacks and the proxy header names are args_common.py's (written once).
from .args_common import ENV_FALLBACKS, PROXY_HEADER_OPTIONS, PROXY_HEADERS_ENV
from .credentials import (
    EXEC_CLUSTER_EXTENSION,
    BasicAuth,
    Credential,
    KubeConfigError,
    StaticToken,
    TokenFile,
    jwt_claims,
)
from .yaml_support import CONFIG_LIMITS, YamlLimitError, safe_load

__all__ = [
    "ENV_FALLBACKS",
    "ConnectionSettings",
    "KubeConfig",
    "KubeConfigError",
    "env_bool",
    "incluster_settings",
    "jwt_claims",
    "kubeconfig_dict",
    "load_kubeconfig",
    "read_file",
    "resolve_settings",
    "settings_from_kubeconfig",
    "strict_bool",
]

# The proxy variables a server's scheme reads (as Go's http.ProxyFromEnvironment); with any of
# them set, proxy.py decides.
PROXY_ENV = {"https": ("HTTPS_PROXY", "https_proxy"), "http": ("HTTP_PROXY", "http_proxy")}
PROXY_ENV_NAMES = PROXY_ENV["https"] + PROXY_ENV["http"]
BOOL_OPTIONS = ("validate_certs", "persist_config")
# The spellings accepted for a boolean in an environment variable (case-insensitive).
ENV_TRUE = ("true", "yes", "on", "1")
ENV_FALSE = ("false", "no", "off", "0")

DEFAULT_KUBECONFIG = "~/.kube/config"
DEFAULT_NAMESPACE = "default"
# In-cluster configuration: the service account's files and the service's address.
SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Points the in-cluster reader at another directory (tests; a sidecar that mounts it elsewhere).
SERVICEACCOUNT_DIR_ENV = "FORNAX_SERVICEACCOUNT_DIR"
SERVICE_HOST_ENV = "KUBERNETES_SERVICE_HOST"
SERVICE_PORT_ENV = "KUBERNETES_SERVICE_PORT"
SCHEMES = ("https", "http")
SECTIONS = {"clusters": "cluster", "users": "user", "contexts": "context"}


# -- booleans ----------------------------------------------------------------------------------


def strict_bool(value: Any, where: str) -> bool:
    """A kubeconfig boolean: only a real true/false (Go's kubeconfig loader refuses the rest)."""
    if isinstance(value, bool):
        return value
    hint = " (a quoted string: drop the quotes)" if isinstance(value, str) else ""
    raise KubeConfigError(f"{where}: expected true or false, got {value!r}{hint}")


def env_bool(value: Any, where: str) -> bool:
    """A boolean option or environment value: true/false/yes/no/on/off/1/0, any case."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ENV_TRUE:
        return True
    if text in ENV_FALSE:
        return False
    raise KubeConfigError(
        f"{where}: expected a boolean ({'/'.join(ENV_TRUE)} or {'/'.join(ENV_FALSE)}), "
        f"got {value!r}"
    )


# -- settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to reach one API server as one identity."""

    server: str
    ca_data: Optional[bytes] = None
    client_cert_data: Optional[bytes] = None
    client_key_data: Optional[bytes] = None
    token: Optional[str] = None  # a static bearer token (also in ``credential``)
    verify: bool = True
    tls_server_name: Optional[str] = None
    source: str = field(default="options", compare=False)
    namespace: str = DEFAULT_NAMESPACE
    credential: Optional[Credential] = field(default=None, compare=False)
    impersonate: tuple[tuple[str, str], ...] = ()  # (header, value), repeated headers allowed
    proxy: Optional[str] = None  # http:// proxy URL, after NO_PROXY and loopback rules
    proxy_headers: tuple[tuple[str, str], ...] = ()  # sent to the proxy only

    def auth(self) -> Optional[Credential]:
        """The credential source of requests (a static token becomes one)."""
        if self.credential is not None:
            return self.credential
        if self.token:
            return StaticToken(self.token, "token")
        return None


# -- reading kubeconfig files ------------------------------------------------------------------


def read_file(path: str, option: str) -> bytes:
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise KubeConfigError(f"{option}: cannot read {path!r}: {exc.strerror}") from exc


def parse_yaml(text: bytes, where: str) -> Any:
    """The hardened loader (size, depth and alias budgets; JSON-safe values)."""
    try:
        return safe_load(text, where, CONFIG_LIMITS)
    except YamlLimitError as exc:
        raise KubeConfigError(str(exc)) from exc


class _Entry:
    """One named cluster, user or context, with the file that defined it."""

    __slots__ = ("base_dir", "body", "origin")

    def __init__(self, body: Mapping[str, Any], base_dir: str, origin: str) -> None:
        self.body = body
        self.base_dir = base_dir
        self.origin = origin


class KubeConfig:
    """One or more kubeconfigs merged like kubectl merges KUBECONFIG."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, _Entry]] = {s: {} for s in SECTIONS}
        self.current_context: Optional[str] = None
        self.origins: list[str] = []

    @property
    def source(self) -> str:
        return ", ".join(repr(o) for o in self.origins) or "(none)"

    def add(self, doc: Any, base_dir: str, origin: str) -> None:
        """Merge one parsed document; names already defined keep their first definition."""
        if doc is None:
            doc = {}
        if not isinstance(doc, Mapping):
            raise KubeConfigError(f"kubeconfig: {origin} does not hold a kubeconfig mapping")
        self.origins.append(origin)
        for section, singular in SECTIONS.items():
            items = doc.get(section)
            if items is None:
                continue
            if not isinstance(items, list):
                raise KubeConfigError(f"{section}: expected a list in {origin}, got {items!r}")
            for index, item in enumerate(items):
                where = f"{section}[{index}]"
                if not isinstance(item, Mapping):
                    raise KubeConfigError(f"{where}: expected a mapping in {origin}")
                name = item.get("name")
                if not isinstance(name, str) or not name:
                    hint = " (quote it: names are strings)" if name is not None else ""
                    raise KubeConfigError(
                        f"{where}.name: expected a string in {origin}, got {name!r}{hint}"
                    )
                body = item.get(singular)
                if body is None:
                    body = {}
                if not isinstance(body, Mapping):
                    raise KubeConfigError(
                        f"{section}[{name}].{singular}: expected a mapping in {origin}"
                    )
                self.entries[section].setdefault(name, _Entry(body, base_dir, origin))
        current = doc.get("current-context")
        if current is not None and not isinstance(current, str):
            raise KubeConfigError(f"current-context: expected a string in {origin}")
        if current and self.current_context is None:
            self.current_context = current

    def get(self, section: str, name: str, wanted_by: str) -> _Entry:
        entry = self.entries[section].get(name)
        if entry is None:
            known = ", ".join(sorted(self.entries[section])) or "none"
            raise KubeConfigError(
                f"{wanted_by}: no {SECTIONS[section]} named {name!r} in the kubeconfig "
                f"{self.source} (known: {known})"
            )
        return entry


def _split_paths(value: Any) -> list[str]:
    paths = list(value) if isinstance(value, (list, tuple)) else str(value).split(os.pathsep)
    if not all(isinstance(p, str) for p in paths):
        raise KubeConfigError(f"kubeconfig: expected paths, got {value!r}")
    return [p for p in paths if p.strip()]


def load_kubeconfig(
    kubeconfig: Any, *, skip_missing: bool = False, option: str = "kubeconfig"
) -> KubeConfig:
    """Read and merge kubeconfigs: a path, several (a list, or joined by ':'), or a dict.

    ``skip_missing`` is KUBECONFIG's rule (files that do not exist are left out); an explicitly
    named file must exist.
    """
    merged = KubeConfig()
    if isinstance(kubeconfig, Mapping):
        merged.add(kubeconfig, os.getcwd(), "(inline dict)")
        return merged
    if not isinstance(kubeconfig, (str, list, tuple)):
        raise KubeConfigError(
            f"{option}: expected a path or a dict, got {type(kubeconfig).__name__}"
        )
    for path in _split_paths(kubeconfig):
        full = os.path.abspath(os.path.expanduser(path))
        if skip_missing and not os.path.exists(full):
            continue
        text = read_file(full, option)
        merged.add(parse_yaml(text, f"{option}: {path!r}"), os.path.dirname(full), path)
    if not merged.origins:
        raise KubeConfigError(f"{option}: none of {kubeconfig!r} exists")
    return merged


def _relative(path: Any, base_dir: str, where: str) -> str:
    if not isinstance(path, str) or not path:
        raise KubeConfigError(f"{where}: expected a path, got {path!r}")
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(base_dir, path)


def _data_or_file(entry: _Entry, key: str, where: str) -> Optional[bytes]:
    """``<key>-data`` (base64) wins over ``<key>`` (a path relative to its kubeconfig)."""
    inline = entry.body.get(f"{key}-data")
    if inline:
        if not isinstance(inline, str):
            raise KubeConfigError(f"{where}.{key}-data: expected base64 text")
        try:
            return base64.b64decode(inline, validate=True)
        except (ValueError, TypeError) as exc:
            raise KubeConfigError(f"{where}.{key}-data: not valid base64") from exc
    path = entry.body.get(key)
    if path:
        return read_file(_relative(path, entry.base_dir, f"{where}.{key}"), f"{where}.{key}")
    return None


def _optional_str(body: Mapping[str, Any], key: str, where: str) -> Optional[str]:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise KubeConfigError(f"{where}.{key}: expected a string, got {value!r}")
    return value or None


def _impersonation(user: Mapping[str, Any], where: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    name = _optional_str(user, "as", where)
    uid = _optional_str(user, "as-uid", where)
    groups = user.get("as-groups") or []
    extra = user.get("as-user-extra") or {}
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise KubeConfigError(f"{where}.as-groups: expected a list of strings, got {groups!r}")
    if not isinstance(extra, Mapping):
        raise KubeConfigError(f"{where}.as-user-extra: expected a mapping of lists")
    if (uid or groups or extra) and not name:
        raise KubeConfigError(
            f"{where}.as: as-uid, as-groups and as-user-extra need a user to impersonate (as)"
        )
    if name:
        headers.append(("Impersonate-User", name))
    if uid:
        headers.append(("Impersonate-Uid", uid))
    headers.extend(("Impersonate-Group", g) for g in groups)
    for key, values in extra.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise KubeConfigError(f"{where}.as-user-extra.{key}: expected a list of strings")
        # The key is percent-encoded (header names allow few characters), the values are sent
        # as they are (client-go does the same; the API server decodes the key only).
        header = "Impersonate-Extra-" + quote(str(key), safe="-!#$&'*+.^_`|~")
        for value in values:
            if "\r" in value or "\n" in value:
                raise KubeConfigError(f"{where}.as-user-extra.{key}: a value holds a line break")
            headers.append((header, value))
    return headers


_REMOVED_AUTH_PROVIDERS = {
    "gcp": "the exec plugin gke-gcloud-auth-plugin",
    "azure": "the exec plugin kubelogin",
}


def _auth_provider(provider: Any, where: str) -> Credential:
    where = f"{where}.auth-provider"
    if not isinstance(provider, Mapping):
        raise KubeConfigError(f"{where}: expected a mapping, got {provider!r}")
    name = provider.get("name")
    if name in _REMOVED_AUTH_PROVIDERS:
        raise KubeConfigError(
            f"{where}.name: {name!r} auth-provider plugins were removed from the Kubernetes "
            f"clients in 1.26; use {_REMOVED_AUTH_PROVIDERS[name]} (users[].user.exec)"
        )
    if name != "oidc":
        raise KubeConfigError(f"{where}.name: {name!r} is not supported (only oidc id-tokens)")
    config = provider.get("config") or {}
    token = config.get("id-token") if isinstance(config, Mapping) else None
    if not token:
        raise KubeConfigError(
            f"{where}.config.id-token: missing; log in first, or use an OIDC exec plugin "
            "(kubelogin) that fetches and refreshes tokens"
        )
    try:
        return StaticToken(token, f"{where}.config.id-token")
    except KubeConfigError as exc:
        raise KubeConfigError(
            f"{exc} (refreshing OIDC tokens is not built in: use an exec plugin such as kubelogin)"
        ) from exc


def _exec_cluster_info(cluster: _Entry, ca: Optional[bytes]) -> dict[str, Any]:
    """The cluster as an exec plugin sees it with provideClusterInfo (ExecCredential spec)."""
    body = cluster.body
    info: dict[str, Any] = {"server": body.get("server")}
    for key, name in (
        ("tls-server-name", "tlsServerName"),
        ("insecure-skip-tls-verify", "insecureSkipTLSVerify"),
        ("proxy-url", "proxyURL"),
        ("disable-compression", "disableCompression"),
    ):
        if body.get(key) is not None:
            info[name] = body[key]
    if ca:
        info["certificateAuthorityData"] = base64.b64encode(ca).decode()
    for extension in body.get("extensions") or []:
        if isinstance(extension, Mapping) and extension.get("name") == EXEC_CLUSTER_EXTENSION:
            info["config"] = extension.get("extension")
    return info


def _user_credential(
    user: _Entry, where: str, cluster: _Entry, ca: Optional[bytes]
) -> tuple[Optional[Credential], Optional[str]]:
    """(credential source, static token) of a kubeconfig user."""
    body = user.body
    token = body.get("token")
    token_file = body.get("tokenFile")
    basic = body.get("username") is not None or body.get("password") is not None
    kinds = [k for k in ("exec", "auth-provider") if body.get(k) is not None]
    if len(kinds) > 1:
        raise KubeConfigError(f"{where}: exec and auth-provider cannot both be set")
    if (token or token_file) and basic:
        raise KubeConfigError(f"{where}: username/password and a token cannot both be set")
    # A bearer token wins over a plugin (as in client-go).
    if token:
        return StaticToken(token, f"{where}.token"), str(token).strip()
    if token_file:
        path = _relative(token_file, user.base_dir, f"{where}.tokenFile")
        return TokenFile(path, f"{where}.tokenFile"), None
    if body.get("auth-provider") is not None:
        return _auth_provider(body["auth-provider"], where), None
    if body.get("exec") is not None:
        from .exec_plugin import ExecPlugin  # noqa: PLC0415 - exec users only

        info = _exec_cluster_info(cluster, ca)
        return ExecPlugin(body["exec"], f"{where}.exec", user.base_dir, info), None
    if basic:
        return BasicAuth(body.get("username"), body.get("password"), where), None
    return None, None


def settings_from_kubeconfig(
    kubeconfig: Any,
    context: Optional[str] = None,
    *,
    skip_missing: bool = False,
    option: str = "kubeconfig",
) -> ConnectionSettings:
    """The settings of ``context`` (default the current one) of a kubeconfig (merged)."""
    config = (
        kubeconfig
        if isinstance(kubeconfig, KubeConfig)
        else load_kubeconfig(kubeconfig, skip_missing=skip_missing, option=option)
    )
    context_name = context or config.current_context
    if not context_name:
        raise KubeConfigError(
            f"context: the kubeconfig {config.source} has no current-context; name one"
        )
    cluster_name, user_name, namespace = _context(config, context_name)
    cluster = config.get("clusters", cluster_name, f"contexts[{context_name}].cluster")
    where_cl = f"clusters[{cluster_name}]"
    server, insecure, ca = _cluster_tls(cluster, where_cl)
    user = config.get("users", user_name, f"contexts[{context_name}].user") if user_name else None
    where_us = f"users[{user_name}]"
    credential, token, cert, key, impersonate = _user_settings(user, where_us, cluster, ca)
    proxy_url, headers = _cluster_proxy(cluster, where_cl)
    return ConnectionSettings(
        server=_check_server(server, f"{where_cl}.server"),
        ca_data=ca,
        client_cert_data=cert,
        client_key_data=key,
        token=token,
        verify=not insecure,
        tls_server_name=_optional_str(cluster.body, "tls-server-name", where_cl),
        source=f"kubeconfig {config.source} context {context_name!r}",
        namespace=namespace,
        credential=credential,
        impersonate=impersonate,
        proxy=proxy_url,
        proxy_headers=headers,
    )


def _context(config: KubeConfig, context_name: str) -> tuple:
    """(cluster name, user name or None, namespace) of the context ``context_name``."""
    ctx = config.get("contexts", context_name, "context")
    where_ctx = f"contexts[{context_name}]"
    cluster_name = ctx.body.get("cluster")
    user_name = ctx.body.get("user")
    if not isinstance(cluster_name, str) or not cluster_name:
        raise KubeConfigError(f"{where_ctx}.cluster: context {context_name!r} names no cluster")
    if user_name is not None and not isinstance(user_name, str):
        raise KubeConfigError(f"{where_ctx}.user: expected a string, got {user_name!r}")
    namespace = _optional_str(ctx.body, "namespace", where_ctx) or DEFAULT_NAMESPACE
    return cluster_name, user_name, namespace


def _cluster_tls(cluster: _Entry, where_cl: str) -> tuple:
    """(server URL, insecure-skip-tls-verify, CA bytes or None) of a cluster entry."""
    server = cluster.body.get("server")
    if not isinstance(server, str) or not server:
        raise KubeConfigError(f"{where_cl}.server: missing (the API server's URL)")
    insecure = strict_bool(
        cluster.body.get("insecure-skip-tls-verify", False), f"{where_cl}.insecure-skip-tls-verify"
    )
    if cluster.body.get("disable-compression") is not None:
        strict_bool(cluster.body["disable-compression"], f"{where_cl}.disable-compression")
    ca = _data_or_file(cluster, "certificate-authority", where_cl)
    if insecure and ca:
        raise KubeConfigError(
            f"{where_cl}.insecure-skip-tls-verify: true together with a certificate-authority "
            "is refused (as by kubectl): drop one"
        )
    return server, insecure, ca


def _user_settings(
    user: Optional[_Entry], where_us: str, cluster: _Entry, ca: Optional[bytes]
) -> tuple:
    """(credential, token, client cert, client key, impersonation headers) of a user entry."""
    if user is None:
        return None, None, None, None, ()
    credential, token = _user_credential(user, where_us, cluster, ca)
    cert = _data_or_file(user, "client-certificate", where_us)
    key = _data_or_file(user, "client-key", where_us)
    if bool(cert) != bool(key):
        raise KubeConfigError(
            f"{where_us}: client-certificate and client-key come together (one is missing)"
        )
    return credential, token, cert, key, tuple(_impersonation(user.body, where_us))


def _cluster_proxy(cluster: _Entry, where_cl: str) -> tuple:
    """(proxy-url or None, the headers it needs) of a cluster entry."""
    proxy_url = _optional_str(cluster.body, "proxy-url", where_cl)
    if not proxy_url:
        return proxy_url, ()
    from .proxy import check_proxy_url, proxy_headers  # noqa: PLC0415 - proxies only

    check_proxy_url(proxy_url, f"{where_cl}.proxy-url")
    return proxy_url, proxy_headers(proxy_url, None)


def _check_server(server: str, where: str) -> str:
    parts = urlsplit(server)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise KubeConfigError(f"{where}: {server!r} must be an https:// (or http://) URL")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise KubeConfigError(f"{where}: {server!r} has an invalid port") from exc
    return server.rstrip("/")


# -- in-cluster --------------------------------------------------------------------------------


def incluster_available(env: Mapping[str, str]) -> bool:
    return bool(env.get(SERVICE_HOST_ENV) and env.get(SERVICE_PORT_ENV))


def incluster_settings(
    env: Optional[Mapping[str, str]] = None, sa_dir: Optional[str] = None
) -> ConnectionSettings:
    """The pod's service account: token and CA under ``sa_dir`` (default the in-cluster path,
    or $FORNAX_SERVICEACCOUNT_DIR), server from KUBERNETES_SERVICE_HOST/PORT. The token is read
    again every minute: the kubelet rotates projected tokens."""
    env = os.environ if env is None else env
    sa_dir = sa_dir or env.get(SERVICEACCOUNT_DIR_ENV) or SERVICEACCOUNT_DIR
    host, port = env.get(SERVICE_HOST_ENV), env.get(SERVICE_PORT_ENV)
    if not host or not port:
        raise KubeConfigError(
            f"{SERVICE_HOST_ENV}/{SERVICE_PORT_ENV}: not set, so this is not a pod; give a "
            "kubeconfig or host"
        )
    if not port.isdigit():
        raise KubeConfigError(f"{SERVICE_PORT_ENV}: {port!r} is not a port")
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    where = f"in-cluster service account ({sa_dir})"
    credential = TokenFile(os.path.join(sa_dir, "token"), f"{where}: token")
    ca = read_file(os.path.join(sa_dir, "ca.crt"), f"{where}: ca.crt")
    namespace = DEFAULT_NAMESPACE
    ns_file = os.path.join(sa_dir, "namespace")
    if os.path.exists(ns_file):
        namespace = read_file(ns_file, f"{where}: namespace").decode().strip() or namespace
    return ConnectionSettings(
        server=server,
        ca_data=ca,
        source=where,
        namespace=namespace,
        credential=credential,
    )


# -- options + kubeconfig -> settings ----------------------------------------------------------


def _from_env(value: Any, option: str, env: Mapping[str, str]) -> Any:
    if value is not None and value != "":
        return value
    for name in ENV_FALLBACKS[option]:
        if env.get(name):
            return env[name]
    return None


def _env_name(option: str) -> str:
    return ENV_FALLBACKS[option][0]


def default_kubeconfig(env: Mapping[str, str]) -> Optional[tuple[Any, bool, str]]:
    """(kubeconfig, skip_missing, option name) kubectl would use, or None (then in-cluster)."""
    if env.get("KUBECONFIG"):
        return env["KUBECONFIG"], True, "KUBECONFIG"
    home = os.path.expanduser(DEFAULT_KUBECONFIG)
    if os.path.exists(home) or not incluster_available(env):
        return DEFAULT_KUBECONFIG, False, "kubeconfig"
    return None


def resolve_settings(
    *,
    kubeconfig: Any = None,
    context: Optional[str] = None,
    host: Optional[str] = None,
    api_key: Optional[str] = None,
    username: Optional[str] = None,
    password: Optional[str] = None,
    ca_cert: Optional[str] = None,
    client_cert: Optional[str] = None,
    client_key: Optional[str] = None,
    validate_certs: Any = None,
    proxy: Optional[str] = None,
    no_proxy: Optional[str] = None,
    proxy_headers: Optional[Mapping[str, Any]] = None,
    persist_config: Any = None,
    impersonate_user: Optional[str] = None,
    impersonate_groups: Any = None,
    env: Optional[Mapping[str, str]] = None,
    sa_dir: Optional[str] = None,
) -> ConnectionSettings:
    """Combine the options (kubernetes.core's), their K8S_AUTH_* fallbacks and a kubeconfig.

    Without ``kubeconfig`` and ``host``: $KUBECONFIG (merged), else ~/.kube/config, else the
    in-cluster service account. Explicit options win over the kubeconfig.
    """
    given = dict(locals())  # the parameters exactly as passed: nothing else is bound yet
    env = os.environ if env is None else env
    options = _options(given, env)
    _check_combinations(options)
    base = _base_settings(options, env, sa_dir)
    settings = _combined(options, base, env)
    _check_plain_http(settings)
    return settings


def _flag(value: Any, option: str, env: Mapping[str, str]) -> Optional[bool]:
    """A boolean option as given, else from its first K8S_AUTH_* variable set, else None."""
    if value is not None:
        return env_bool(value, option)
    var = next((name for name in ENV_FALLBACKS[option] if env.get(name)), None)
    return env_bool(env[var], var) if var else None


def _options(given: Mapping[str, Any], env: Mapping[str, str]) -> dict:
    """Every option as given, else from its environment variables; booleans strictly read,
    impersonate_groups as a list, proxy_headers from K8S_AUTH_PROXY_HEADERS_* when not given."""
    options = {
        name: _from_env(given[name], name, env)
        for name in ENV_FALLBACKS
        if name not in BOOL_OPTIONS and name != "impersonate_groups"
    }
    for name in BOOL_OPTIONS:
        options[name] = _flag(given[name], name, env)
    groups = given["impersonate_groups"]
    if groups is None and env.get(_env_name("impersonate_groups")):
        groups = env[_env_name("impersonate_groups")]
    options["impersonate_groups"] = (
        [g for g in groups.split(",") if g] if isinstance(groups, str) else groups
    )
    headers = given["proxy_headers"]
    if headers is None:
        from_env = {
            key: env[PROXY_HEADERS_ENV + key.upper()]
            for key in PROXY_HEADER_OPTIONS
            if env.get(PROXY_HEADERS_ENV + key.upper())
        }
        headers = from_env or None
    options["proxy_headers"] = headers
    return options


def _check_combinations(options: Mapping[str, Any]) -> None:
    if bool(options["client_cert"]) != bool(options["client_key"]):
        raise KubeConfigError("client_cert and client_key: give both or neither")
    if bool(options["username"]) != bool(options["password"]):
        raise KubeConfigError("username and password: give both or neither")
    if options["api_key"] and options["username"]:
        raise KubeConfigError("api_key and username/password: give one of them, not both")
    if options["impersonate_groups"] and not options["impersonate_user"]:
        raise KubeConfigError("impersonate_groups: needs impersonate_user (the user to act as)")


def _base_settings(
    options: Mapping[str, Any], env: Mapping[str, str], sa_dir: Optional[str]
) -> Optional[ConnectionSettings]:
    """What the options build on: the kubeconfig given, else (without a host, or with a
    context) the one kubectl would read or the in-cluster account; None for a bare host."""
    context = options["context"]
    if options["kubeconfig"] is not None:
        return settings_from_kubeconfig(options["kubeconfig"], context)
    if options["host"] is not None and not context:
        return None
    found = default_kubeconfig(env)
    if found is None:
        return incluster_settings(env, sa_dir)
    path, skip_missing, option = found
    return settings_from_kubeconfig(path, context, skip_missing=skip_missing, option=option)


def _explicit_credential(options: Mapping[str, Any], base: Optional[ConnectionSettings]) -> tuple:
    """(credential, token): api_key or username/password win over the kubeconfig's."""
    if options["api_key"]:
        return StaticToken(options["api_key"], "api_key"), options["api_key"]
    if options["username"]:
        return BasicAuth(options["username"], options["password"], "username/password"), None
    return (base.credential, base.token) if base else (None, None)


def _file_option(options: Mapping[str, Any], name: str, inherited: Optional[bytes]) -> Any:
    """The contents of the file option ``name`` when given, else what the kubeconfig says."""
    return read_file(options[name], name) if options[name] else inherited


def _impersonation_headers(options: Mapping[str, Any], base: Optional[ConnectionSettings]) -> tuple:
    if not options["impersonate_user"]:
        return base.impersonate if base else ()
    groups = options["impersonate_groups"] or []
    return (
        ("Impersonate-User", options["impersonate_user"]),
        *(("Impersonate-Group", g) for g in groups),
    )


def _chosen_proxy(
    options: Mapping[str, Any], server: str, base: Optional[ConnectionSettings], env: Mapping
) -> tuple:
    """(proxy URL or None, its headers) for ``server``: proxy.py decides when any is set."""
    kubeconfig_proxy = base.proxy if base else None
    if not (options["proxy"] or kubeconfig_proxy or any(env.get(n) for n in PROXY_ENV_NAMES)):
        return None, ()
    from .proxy import proxy_for  # noqa: PLC0415
    from .proxy import proxy_headers as make_headers  # noqa: PLC0415

    chosen = proxy_for(
        server,
        option=options["proxy"],
        no_proxy=options["no_proxy"],
        kubeconfig_proxy=kubeconfig_proxy,
        env=env,
    )
    return chosen, make_headers(chosen, options["proxy_headers"]) if chosen else ()


def _combined(
    options: Mapping[str, Any], base: Optional[ConnectionSettings], env: Mapping[str, str]
) -> ConnectionSettings:
    """The settings: explicit options over ``base`` (the kubeconfig's or in-cluster ones)."""
    server = _check_server(options["host"], "host") if options["host"] else base.server  # type: ignore[union-attr]
    credential, token = _explicit_credential(options, base)
    chosen_proxy, headers = _chosen_proxy(options, server, base, env)
    verify = options["validate_certs"]
    return ConnectionSettings(
        server=server,
        ca_data=_file_option(options, "ca_cert", base.ca_data if base else None),
        client_cert_data=_file_option(
            options, "client_cert", base.client_cert_data if base else None
        ),
        client_key_data=_file_option(options, "client_key", base.client_key_data if base else None),
        token=token,
        verify=verify if verify is not None else (base.verify if base else True),
        tls_server_name=base.tls_server_name if base else None,
        source=base.source if base else f"host {server!r}",
        namespace=base.namespace if base else DEFAULT_NAMESPACE,
        credential=credential,
        impersonate=_impersonation_headers(options, base),
        proxy=chosen_proxy,
        proxy_headers=headers,
    )


def _check_plain_http(settings: ConnectionSettings) -> None:
    """Credentials never travel in clear text, except to a loopback server (kubectl proxy)."""
    parts = urlsplit(settings.server)
    if parts.scheme != "http":
        return
    from .proxy import is_loopback  # noqa: PLC0415 - plain http only

    if is_loopback(parts.hostname or ""):
        return
    if settings.credential is not None or settings.token or settings.impersonate:
        raise KubeConfigError(
            f"host: {settings.server!r} is plain http and not on loopback: the credentials of "
            f"{settings.source} would travel in clear text; use https://"
        )


# -- writing -----------------------------------------------------------------------------------


def kubeconfig_dict(
    name: str,
    server: str,
    ca_pem: Optional[bytes] = None,
    *,
    client_cert_pem: Optional[bytes] = None,
    client_key_pem: Optional[bytes] = None,
    token: Optional[str] = None,
    ca_file: Optional[str] = None,
    client_cert_file: Optional[str] = None,
    client_key_file: Optional[str] = None,
    user: Optional[str] = None,
    namespace: Optional[str] = None,
) -> dict[str, Any]:
    """A kubeconfig for one cluster and one identity: certificates inlined (``*_pem``) or
    referenced by path (``*_file``)."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    user_name = user or name
    cluster: dict[str, Any] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = b64(ca_pem)
    elif ca_file:
        cluster["certificate-authority"] = ca_file
    credentials: dict[str, Any] = {}
    if client_cert_pem and client_key_pem:
        credentials["client-certificate-data"] = b64(client_cert_pem)
        credentials["client-key-data"] = b64(client_key_pem)
    elif client_cert_file and client_key_file:
        credentials["client-certificate"] = client_cert_file
        credentials["client-key"] = client_key_file
    if token:
        credentials["token"] = token
    context: dict[str, Any] = {"cluster": name, "user": user_name}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": user_name, "user": credentials}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
    }
