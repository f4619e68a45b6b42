# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Connection options shared by every module that talks to a Kubernetes API server.

The options themselves (names, types, aliases, defaults, K8S_AUTH_* fallbacks: kubernetes.core's)
are written once, in ``CONNECTION`` of plugins/module_utils/k8s/args_common.py, which the
modules' argument specs and the kubeconfig reader use too. Only the words are written here:
DOCUMENTATION joins them with what args_common says of each option, so the two cannot drift
(an option without words, or words for no option, fails here at once).
"""

from __future__ import annotations

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.args_common import (
    AUTH_ARG_SPEC,
    CONNECTION,
    PROXY_HEADERS_ENV,
)

# Option -> its description (suboption descriptions under proxy_headers' "suboptions").
WORDS = yaml.safe_load(r"""
kubeconfig:
  - Path of a kubeconfig file, several paths (a list, or joined by C(:)) merged like
    kubectl merges E(KUBECONFIG), or the kubeconfig itself as a dictionary.
  - Without O(kubeconfig), O(host) and its environment fallback, the files of E(KUBECONFIG)
    (merged; missing ones left out), then C(~/.kube/config); when none of them exists and
    E(KUBERNETES_SERVICE_HOST) is set, the pod's service account (in-cluster configuration,
    see the notes).
  - Every kind of kubeconfig user works as with kubectl - client certificates (file or
    data), C(token), C(tokenFile) (relative to the kubeconfig, read again every minute),
    C(exec) credential plugins (client.authentication.k8s.io v1 and v1beta1, run without a
    terminal, cached until their C(expirationTimestamp)), C(auth-provider) C(oidc)
    id-tokens, C(username)/C(password), and impersonation (C(as), C(as-uid), C(as-groups),
    C(as-user-extra)). The cluster's C(proxy-url), C(tls-server-name) and the context's
    C(namespace) are honoured. What cannot be used fails the task naming the field.
context:
  - Context of the kubeconfig to use. Default its C(current-context).
host:
  - URL of the API server. Wins over the server of the kubeconfig.
  - C(http://) is accepted for a loopback server (C(kubectl proxy)); credentials are never
    sent over plain http to another host.
api_key:
  - Bearer token. Wins over the credentials of the kubeconfig.
username:
  - User name for basic authentication (with O(password)).
password:
  - Password for basic authentication (with O(username)).
ca_cert:
  - Path of the CA certificate that signed the API server's certificate.
client_cert:
  - Path of a client certificate (with O(client_key)).
client_key:
  - Path of the key of O(client_cert).
validate_certs:
  - Verify the API server's certificate. Default what the kubeconfig says (true unless it
    sets C(insecure-skip-tls-verify) to a real C(true); a quoted C("false") is an error).
  - The environment variable must read C(true), C(yes), C(on), C(1), C(false), C(no), C(off)
    or C(0) (any case), anything else fails the task naming the variable.
proxy:
  - URL of an C(http://) proxy (CONNECT for an https server). Wins over the cluster's
    C(proxy-url) and over E(HTTPS_PROXY)/E(HTTP_PROXY), which are used otherwise (not for a
    loopback server, and not for a host E(NO_PROXY) names, as with kubectl).
no_proxy:
  - Comma-separated hosts, domains (C(.example.com)), IPs, CIDRs (C(10.0.0.0/8)) or C(*)
    to reach without a proxy. Replaces E(NO_PROXY) when given.
proxy_headers:
  description:
    - Headers sent to the proxy.
  suboptions:
    proxy_basic_auth:
      - C(user:password) for the proxy's basic authentication (C(Proxy-Authorization)).
    basic_auth:
      - C(user:password) sent to the proxy as C(Authorization).
    user_agent:
      - C(User-Agent) sent to the proxy.
persist_config:
  - Accepted for kubernetes.core compatibility. These modules never write to a kubeconfig
    they read (exec credentials are cached in memory, OIDC tokens are not refreshed), so
    there is nothing to persist.
impersonate_user:
  - Act as this user (C(Impersonate-User)); replaces the kubeconfig's C(as).
impersonate_groups:
  - Groups to act as (C(Impersonate-Group)), with O(impersonate_user).
  - The environment variable separates the groups by commas.
api_timeout:
  - Seconds to wait for one answer of the API server.
api_retries:
  - How many times a request is sent again when it did not reach the API server
    (connection refused or reset), or when its answer was lost and it is safe to repeat
    (reads, deletes, replaces, server-side apply), with a growing pause; then the task
    fails and says so.
  - A create whose answer was lost is never sent blindly again - the object is read back
    (there with this content - done; absent - sent once more).
""")

REST = r"""
notes:
  - Uses a small built-in HTTP client, no C(kubernetes) Python package. PyYAML is the only
    requirement on the managed host.
  - In-cluster configuration reads C(token), C(ca.crt) and C(namespace) from
    C(/var/run/secrets/kubernetes.io/serviceaccount) (E(FORNAX_SERVICEACCOUNT_DIR) points
    elsewhere) and the server from E(KUBERNETES_SERVICE_HOST) and E(KUBERNETES_SERVICE_PORT);
    the token is read again every minute, as the kubelet rotates it.
  - An exec plugin runs with E(KUBERNETES_EXEC_INFO) set and no terminal;
    C(interactiveMode=Always) is refused. A missing plugin names its C(installHint).
requirements:
  - PyYAML
"""


def _fallback(names: tuple) -> list:
    if not names:
        return []
    return ["Environment fallback " + ", then ".join(f"E({n})" for n in names) + "."]


def _option(spec: dict, words: list, env: tuple) -> dict:
    doc = {"description": [" ".join(w.split()) for w in words] + _fallback(env)}
    for key in ("type", "elements", "default", "aliases"):
        if key in spec:
            doc[key] = spec[key]
    return doc


def _options() -> dict:
    if set(WORDS) != set(AUTH_ARG_SPEC):
        raise ValueError(
            f"k8s_auth: words and options differ: {sorted(set(WORDS) ^ set(AUTH_ARG_SPEC))}"
        )
    options = {}
    for name, spec in AUTH_ARG_SPEC.items():
        env = CONNECTION[name][1] if name in CONNECTION else ()
        if "options" not in spec:
            options[name] = _option(spec, WORDS[name], env)
            continue
        options[name] = _option(spec, WORDS[name]["description"], ())
        options[name]["suboptions"] = {
            sub: _option(
                subspec, WORDS[name]["suboptions"][sub], (PROXY_HEADERS_ENV + sub.upper(),)
            )
            for sub, subspec in spec["options"].items()
        }
    return options


class ModuleDocFragment:
    DOCUMENTATION = yaml.safe_dump({"options": _options()}, sort_keys=False, width=100) + REST
