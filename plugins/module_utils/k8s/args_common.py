# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""The options the Kubernetes modules share, each written once.

``CONNECTION`` is the one list of the connection options: for each its argument spec
(kubernetes.core's names and aliases) and the ``K8S_AUTH_*`` variables read when it is not
given. Everything else is derived from it: ``AUTH_ARG_SPEC`` (the modules),
``ENV_FALLBACKS`` (config.resolve_settings), ``AUTH_OPTIONS`` (what resolve_settings takes),
the ``k8s_auth`` doc fragment (types, aliases, defaults and the fallback sentence of each
option), and docs/modules.md is checked against it by a unit test.

Pure Python (no Ansible imports, Python 3.8 syntax): config.py and the agent import it too.
"""

from __future__ import annotations

from typing import Any

PROXY_HEADERS_ENV = "K8S_AUTH_PROXY_HEADERS_"  # + the suboption in upper case

PROXY_HEADERS_SPEC: dict[str, dict] = {
    "proxy_basic_auth": {"type": "str", "no_log": True},
    "basic_auth": {"type": "str", "no_log": True},
    "user_agent": {"type": "str"},
}
PROXY_HEADER_OPTIONS = tuple(PROXY_HEADERS_SPEC)

# option -> (argument spec, environment variables read in order when the option is not given)
CONNECTION: dict[str, tuple[dict, tuple[str, ...]]] = {
    # Not no_log as a whole (kubernetes.core's choice), which hides every path and name in the
    # errors: client_from_module masks the secrets of a kubeconfig given as a dict instead.
    "kubeconfig": ({"type": "raw", "no_log": False}, ("K8S_AUTH_KUBECONFIG",)),
    "context": ({"type": "str"}, ("K8S_AUTH_CONTEXT",)),
    "host": ({"type": "str"}, ("K8S_AUTH_HOST",)),
    "api_key": ({"type": "str", "no_log": True}, ("K8S_AUTH_API_KEY",)),
    "username": ({"type": "str"}, ("K8S_AUTH_USERNAME",)),
    "password": ({"type": "str", "no_log": True}, ("K8S_AUTH_PASSWORD",)),
    "ca_cert": (
        {"type": "path", "aliases": ["ssl_ca_cert"]},
        ("K8S_AUTH_CA_CERT", "K8S_AUTH_SSL_CA_CERT"),
    ),
    "client_cert": (
        {"type": "path", "aliases": ["cert_file"]},
        ("K8S_AUTH_CLIENT_CERT", "K8S_AUTH_CERT_FILE"),
    ),
    "client_key": (
        {"type": "path", "aliases": ["key_file"], "no_log": False},
        ("K8S_AUTH_CLIENT_KEY", "K8S_AUTH_KEY_FILE"),
    ),
    "validate_certs": (
        {"type": "bool", "aliases": ["verify_ssl"]},
        ("K8S_AUTH_VALIDATE_CERTS", "K8S_AUTH_VERIFY_SSL"),
    ),
    "proxy": ({"type": "str"}, ("K8S_AUTH_PROXY",)),
    "no_proxy": ({"type": "str"}, ("K8S_AUTH_NO_PROXY",)),
    "proxy_headers": (
        {"type": "dict", "options": PROXY_HEADERS_SPEC},
        tuple(PROXY_HEADERS_ENV + key.upper() for key in PROXY_HEADER_OPTIONS),
    ),
    "persist_config": ({"type": "bool"}, ("K8S_AUTH_PERSIST_CONFIG",)),
    "impersonate_user": ({"type": "str"}, ("K8S_AUTH_IMPERSONATE_USER",)),
    "impersonate_groups": ({"type": "list", "elements": "str"}, ("K8S_AUTH_IMPERSONATE_GROUPS",)),
}

# The client's bounds: not part of the connection, no environment fallback.
CLIENT_BOUNDS: dict[str, dict] = {
    "api_timeout": {"type": "float", "default": 30},
    "api_retries": {"type": "int", "default": 3},
}

AUTH_ARG_SPEC: dict[str, dict] = dict(
    {name: spec for name, (spec, _env) in CONNECTION.items()}, **CLIENT_BOUNDS
)
# The options resolve_settings takes (the connection itself, not the client's bounds).
AUTH_OPTIONS = tuple(CONNECTION)
# Option -> environment variables consulted, in order, when it is not given. proxy_headers is
# read per suboption (PROXY_HEADERS_ENV), so it is not among them.
ENV_FALLBACKS: dict[str, tuple[str, ...]] = {
    name: env for name, (_spec, env) in CONNECTION.items() if name != "proxy_headers"
}

WAIT_ARG_SPEC: dict[str, dict] = {
    "wait": {"type": "bool", "default": False},
    "wait_timeout": {"type": "int", "default": 120},
    "wait_sleep": {"type": "float", "default": 1},
}

# Options several modules have with the same meaning.
STATE_SPEC: dict = {"type": "str", "choices": ["present", "absent"], "default": "present"}
DEFAULT_FIELD_MANAGER = "centaurus.fornax"
APPLY_ARG_SPEC: dict[str, dict] = {
    "field_manager": {"type": "str", "default": DEFAULT_FIELD_MANAGER},
    "force_conflicts": {"type": "bool", "default": False},
}


def argument_spec(own: dict[str, Any], *, wait: bool = False) -> dict[str, Any]:
    """A module's own options plus the shared connection (and wait) options."""
    spec = dict(AUTH_ARG_SPEC)
    if wait:
        spec.update(WAIT_ARG_SPEC)
    spec.update(own)
    return spec
