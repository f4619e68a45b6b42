# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Connection settings for a Kubernetes API server, from a kubeconfig or explicit options.

Pure Python (no Ansible imports): the modules, the agent and the test harness all resolve their
connection here, with the same K8S_AUTH_* environment fallbacks as kubernetes.core.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from .yaml_support import require_yaml, yaml

# Option name -> environment variable consulted when the option is not given.
ENV_FALLBACKS = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
    "client_cert": "K8S_AUTH_CERT_FILE",
    "client_key": "K8S_AUTH_KEY_FILE",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
}


class KubeConfigError(ValueError):
    """The connection settings are unusable; the message names the field and value."""


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to open a TLS connection to one API server."""

    server: str
    ca_data: Optional[bytes] = None
    client_cert_data: Optional[bytes] = None
    client_key_data: Optional[bytes] = None
    token: Optional[str] = None
    verify: bool = True
    tls_server_name: Optional[str] = None
    source: str = field(default="options", compare=False)


def _env_or(value: Any, option: str, env: Mapping[str, str]) -> Any:
    if value is None or value == "":
        return env.get(ENV_FALLBACKS[option]) or None
    return value


def _as_bool(value: Any, option: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise KubeConfigError(f"{option}: expected a boolean, got {value!r}")


def _read_file(path: str, option: str) -> bytes:
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise KubeConfigError(f"{option}: cannot read {path!r}: {exc.strerror}") from exc


def _data_or_file(entry: Mapping[str, Any], key: str, where: str, base_dir: str) -> Optional[bytes]:
    """Read ``<key>-data`` (base64) or ``<key>`` (a path relative to the kubeconfig)."""
    inline = entry.get(f"{key}-data")
    if inline:
        try:
            return base64.b64decode(inline, validate=True)
        except (ValueError, TypeError) as exc:
            raise KubeConfigError(f"{where}.{key}-data: not valid base64") from exc
    path = entry.get(key)
    if path:
        full = path if os.path.isabs(path) else os.path.join(base_dir, path)
        return _read_file(full, f"{where}.{key}")
    return None


def _named(items: Any, name: str, section: str, source: str) -> Mapping[str, Any]:
    for item in items or []:
        if isinstance(item, Mapping) and item.get("name") == name:
            return item.get(section.rstrip("s")) or {}
    raise KubeConfigError(f"kubeconfig {source}: no {section[:-1]} named {name!r} in {section}")


def load_kubeconfig(
    kubeconfig: Any, context: Optional[str] = None
) -> tuple[Mapping[str, Any], str, str]:
    """Return (parsed kubeconfig, its base directory, a description of its source)."""
    if isinstance(kubeconfig, Mapping):
        return kubeconfig, os.getcwd(), "(inline dict)"
    if not isinstance(kubeconfig, str):
        raise KubeConfigError(
            f"kubeconfig: expected a path or a dict, got {type(kubeconfig).__name__}"
        )
    path = os.path.expanduser(kubeconfig)
    require_yaml()
    text = _read_file(path, "kubeconfig")
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"kubeconfig: {kubeconfig!r} is not valid YAML: {exc}") from exc
    if not isinstance(parsed, Mapping):
        raise KubeConfigError(f"kubeconfig: {kubeconfig!r} does not hold a kubeconfig mapping")
    return parsed, os.path.dirname(os.path.abspath(path)), repr(kubeconfig)


def settings_from_kubeconfig(kubeconfig: Any, context: Optional[str] = None) -> ConnectionSettings:
    config, base_dir, source = load_kubeconfig(kubeconfig, context)
    context_name = context or config.get("current-context")
    if not context_name:
        raise KubeConfigError(f"context: kubeconfig {source} has no current-context; name one")
    ctx = _named(config.get("contexts"), context_name, "contexts", source)
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if not cluster_name:
        raise KubeConfigError(f"context: context {context_name!r} of {source} names no cluster")
    cluster = _named(config.get("clusters"), cluster_name, "clusters", source)
    user = _named(config.get("users"), user_name, "users", source) if user_name else {}
    server = cluster.get("server")
    if not server:
        raise KubeConfigError(f"kubeconfig {source}: cluster {cluster_name!r} has no server")
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read_file(user["tokenFile"], f"users[{user_name}].tokenFile").decode().strip()
    where = f"users[{user_name}]"
    return ConnectionSettings(
        server=server.rstrip("/"),
        ca_data=_data_or_file(
            cluster, "certificate-authority", f"clusters[{cluster_name}]", base_dir
        ),
        client_cert_data=_data_or_file(user, "client-certificate", where, base_dir),
        client_key_data=_data_or_file(user, "client-key", where, base_dir),
        token=token,
        verify=not cluster.get("insecure-skip-tls-verify", False),
        tls_server_name=cluster.get("tls-server-name"),
        source=f"kubeconfig {source} context {context_name!r}",
    )


def resolve_settings(
    *,
    kubeconfig: Any = None,
    context: Optional[str] = None,
    host: Optional[str] = None,
    api_key: Optional[str] = None,
    ca_cert: Optional[str] = None,
    client_cert: Optional[str] = None,
    client_key: Optional[str] = None,
    validate_certs: Any = None,
    env: Optional[Mapping[str, str]] = None,
) -> ConnectionSettings:
    """Combine explicit options, K8S_AUTH_* variables and a kubeconfig into one set of settings.

    Explicit options win over the kubeconfig they are combined with; without a host and a
    kubeconfig, $KUBECONFIG and then ~/.kube/config are used.
    """
    env = os.environ if env is None else env
    kubeconfig = _env_or(kubeconfig, "kubeconfig", env)
    context = _env_or(context, "context", env)
    host = _env_or(host, "host", env)
    api_key = _env_or(api_key, "api_key", env)
    ca_cert = _env_or(ca_cert, "ca_cert", env)
    client_cert = _env_or(client_cert, "client_cert", env)
    client_key = _env_or(client_key, "client_key", env)
    validate_certs = _env_or(validate_certs, "validate_certs", env)

    if kubeconfig is None and host is None:
        kubeconfig = (env.get("KUBECONFIG") or "").split(os.pathsep)[0] or "~/.kube/config"
    base = settings_from_kubeconfig(kubeconfig, context) if kubeconfig is not None else None
    if base is None and not host:
        raise KubeConfigError("host: no API server given (set host or kubeconfig)")
    server = (host or base.server).rstrip("/")  # type: ignore[union-attr]
    if not server.startswith("https://"):
        raise KubeConfigError(f"host: {server!r} must be an https:// URL (TLS everywhere)")
    if bool(client_cert) != bool(client_key):
        raise KubeConfigError("client_cert and client_key: give both or neither")
    return ConnectionSettings(
        server=server,
        ca_data=_read_file(ca_cert, "ca_cert") if ca_cert else (base.ca_data if base else None),
        client_cert_data=_read_file(client_cert, "client_cert")
        if client_cert
        else (base.client_cert_data if base else None),
        client_key_data=_read_file(client_key, "client_key")
        if client_key
        else (base.client_key_data if base else None),
        token=api_key or (base.token if base else None),
        verify=_as_bool(validate_certs, "validate_certs")
        if validate_certs is not None
        else (base.verify if base else True),
        tls_server_name=base.tls_server_name if base else None,
        source=base.source if base else f"host {server!r}",
    )


def kubeconfig_dict(
    name: str,
    server: str,
    ca_pem: bytes,
    *,
    client_cert_pem: Optional[bytes] = None,
    client_key_pem: Optional[bytes] = None,
    token: Optional[str] = None,
) -> dict[str, Any]:
    """A self-contained kubeconfig (certificates inlined) for one cluster and one identity."""

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    user: dict[str, Any] = {}
    if client_cert_pem and client_key_pem:
        user["client-certificate-data"] = b64(client_cert_pem)
        user["client-key-data"] = b64(client_key_pem)
    if token:
        user["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
