# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The one kubeconfig writer, and the one rule for "the" user and cluster of a kubeconfig.

Kept apart from config.py (the reader every task needs) because only cluster_link, the agent's
token renewal, the roles' filters and the harness write kubeconfigs: modules run from a zip, so
every imported line costs time on every task.

- ``write_kubeconfig``: atomic (a temporary file in the same directory, fsync, rename), mode
  0600, skipped when the file already holds the same text; through the YAML dumper that quotes
  what Go's YAML 1.1 reader would misread (a cluster named ``101`` or ``n``).
- ``context_user`` / ``context_cluster``: the entries of the current (or a named) context.
- ``set_user_token``: the agent's token renewal.
- ``secret_values``: what Ansible must mask of a kubeconfig given as a dict.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from typing import Any, Optional

from .config import KubeConfigError, load_kubeconfig, parse_yaml, read_file
from .yaml_support import safe_dump

SECRET_KEYS = frozenset(
    (
        "token",
        "password",
        "client-key-data",
        "id-token",
        "refresh-token",
        "client-secret",
        "access-token",
        "value",  # exec env values
        "api_key",  # connection options (mission_info children)
    )
)


def secret_values(config: Any) -> set:
    """The secret strings of a kubeconfig dict (tokens, keys, passwords, exec env values), for
    Ansible to mask in its output while the rest (names, servers, paths) stays readable."""
    found: set = set()
    if isinstance(config, Mapping):
        for key, value in config.items():
            if key in SECRET_KEYS and isinstance(value, str) and value:
                found.add(value)
            else:
                found |= secret_values(value)
    elif isinstance(config, list):
        for item in config:
            found |= secret_values(item)
    return found


def kubeconfig_text(config: Mapping[str, Any]) -> str:
    """``config`` as YAML that kubectl reads back unchanged (checked by the reader first)."""
    load_kubeconfig(config)  # names are strings, sections are lists of mappings
    return safe_dump(dict(config))


def write_kubeconfig(path: str, config: Mapping[str, Any], mode: int = 0o600) -> bool:
    """Write ``config`` to ``path`` atomically with ``mode``; False when it was there already."""
    text = kubeconfig_text(config)
    path = os.path.abspath(os.path.expanduser(path))
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text and (os.stat(path).st_mode & 0o777) == mode:
                return False
    except (OSError, UnicodeDecodeError):
        pass
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def read_kubeconfig_file(path: str) -> dict[str, Any]:
    """One kubeconfig file as a dict (for callers that rewrite it)."""
    doc = parse_yaml(read_file(path, "kubeconfig"), f"kubeconfig: {path!r}")
    if not isinstance(doc, Mapping):
        raise KubeConfigError(f"kubeconfig: {path!r} does not hold a kubeconfig mapping")
    return dict(doc)


def context_user(config: Mapping[str, Any], context: Optional[str] = None) -> dict[str, Any]:
    """The user entry (the dict under ``user``) of ``context`` (default the current one):
    the one rule for "the" user of a kubeconfig."""
    merged = load_kubeconfig(config)
    name = context or merged.current_context
    if not name:
        raise KubeConfigError("context: the kubeconfig has no current-context; name one")
    user_name = merged.get("contexts", name, "context").body.get("user")
    if not user_name:
        raise KubeConfigError(f"contexts[{name}].user: the context names no user")
    for item in config.get("users") or []:
        if item.get("name") == user_name:
            body = item.get("user")
            if body is None:
                body = item["user"] = {}
            return body
    raise KubeConfigError(f"contexts[{name}].user: no user named {user_name!r}")


def context_cluster(config: Mapping[str, Any], context: Optional[str] = None) -> dict[str, Any]:
    """The cluster entry (the dict under ``cluster``) of ``context`` (default the current one)."""
    merged = load_kubeconfig(config)
    name = context or merged.current_context
    if not name:
        raise KubeConfigError("context: the kubeconfig has no current-context; name one")
    cluster_name = merged.get("contexts", name, "context").body.get("cluster")
    return dict(merged.get("clusters", cluster_name, f"contexts[{name}].cluster").body)


def set_user_token(path: str, token: str, context: Optional[str] = None) -> None:
    """Replace the token of the user of ``context`` in the kubeconfig file ``path`` (atomic)."""
    config = read_kubeconfig_file(path)
    context_user(config, context)["token"] = token
    write_kubeconfig(path, config)
