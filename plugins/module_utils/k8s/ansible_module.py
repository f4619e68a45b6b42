# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The one place where AnsibleModule meets the Kubernetes client.

- the options are ``args_common``'s (written once there);
- ``client_from_module``: connection settings -> KubeClient, failing the task with the field;
- ``error_message`` / ``fail``: any error of ours -> one clear line for ``fail_json``.
"""

from __future__ import annotations

import ssl
from typing import Any, NoReturn

from .args_common import AUTH_OPTIONS
from .client import KubeApiError, KubeClient, KubeError, KubeUnreachable, resource_path
from .config import (
    KubeConfigError,
    resolve_settings,
)


def client_from_params(params: dict, user_agent: str = "centaurus.fornax") -> KubeClient:
    """A client for the connection options in ``params`` (KubeConfigError names the field)."""
    settings = resolve_settings(**{name: params.get(name) for name in AUTH_OPTIONS})
    try:
        return KubeClient(
            settings,
            timeout=float(params.get("api_timeout") or 30),
            connect_retries=max(0, int(params.get("api_retries") or 0)),
            user_agent=user_agent,
        )
    except ssl.SSLError as exc:
        raise KubeConfigError(
            f"ca_cert/client_cert/client_key of {settings.source}: unusable certificate or key: "
            f"{exc}"
        ) from exc


def error_message(exc: BaseException, action: str = "") -> str:
    """One line that says what failed, naming the field and value where there is one."""
    prefix = f"{action}: " if action else ""
    if isinstance(exc, KubeApiError):
        causes = "; ".join(
            f"{c.get('field') or '?'}: {c.get('message') or c.get('reason') or ''}".strip()
            for c in exc.causes
        )
        detail = exc.message if not causes or causes in exc.message else f"{exc.message} ({causes})"
        if exc.status == 404 and "could not find the requested resource" in exc.message:
            detail += " (is the kind served here? the Fornax CRDs must be installed)"
        return f"{prefix}the API server answered {exc.status} {exc.reason}: {detail}"
    if isinstance(exc, KubeUnreachable):
        return (
            f"{prefix}{exc} (is the API server running, and are host/kubeconfig right? "
            "api_retries and api_timeout bound the attempts)"
        )
    return f"{prefix}{exc}"


def fail(module: Any, exc: BaseException, action: str = "", **extra: Any) -> NoReturn:
    """fail_json with ``error_message``; 'field' tells which option or field was wrong."""
    result = dict(extra)
    if isinstance(exc, KubeApiError):
        result["status"] = exc.status
        result["causes"] = exc.causes
    elif isinstance(exc, (ValueError, KubeError)) and ":" in str(exc):
        head = str(exc).split(":", 1)[0]
        if " " not in head.strip():
            result["field"] = head.strip()
    module.fail_json(msg=error_message(exc, action), **result)
    raise AssertionError("fail_json returned")  # pragma: no cover - fail_json exits


def client_from_module(module: Any) -> KubeClient:
    """The KubeClient for a module's connection options, or a failed task that names why."""
    name = getattr(module, "_name", "") or "module"
    kubeconfig = module.params.get("kubeconfig")
    if isinstance(kubeconfig, dict):
        from .kubeconfig_file import secret_values  # noqa: PLC0415 - a dict kubeconfig only

        module.no_log_values.update(secret_values(kubeconfig))
    try:
        return client_from_params(module.params, f"centaurus.fornax/{name.split('.')[-1]}")
    except (KubeConfigError, KubeError, ImportError) as exc:
        fail(module, exc)


def read_named_or_selected(
    client: KubeClient,
    api_version: str,
    plural: str,
    name: str | None = None,
    label_selector: str | None = None,
) -> list:
    """The object called ``name`` (none when absent), or every object ``label_selector`` picks."""
    if name:
        found = client.get_or_none(resource_path(api_version, plural, name))
        return [found] if found else []
    listing = client.get(resource_path(api_version, plural), labelSelector=label_selector)
    return listing.get("items") or []
