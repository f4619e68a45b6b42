# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Connection options shared by every module that talks to a Kubernetes API server.

The options are those of kubernetes.core (same names, aliases and K8S_AUTH_* variables). They are
written once, in ``CONNECTION`` of plugins/module_utils/k8s/args_common.py (argument spec and
variables of each); this text only documents them. ansible-test reads a fragment without running
it, so the text is not generated: tests/unit/modules/test_bulk_and_runner.py holds it to the
table (every option, its type, aliases, default and elements, each variable named), as
validate-modules holds the modules' specs to it.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of a kubeconfig file, several paths (a list, or joined by C(:)) merged like
        kubectl merges E(KUBECONFIG), or the kubeconfig itself as a dictionary.
      - Without O(kubeconfig) and O(host), E(K8S_AUTH_KUBECONFIG), then the files of
        E(KUBECONFIG) (merged; missing ones left out), then C(~/.kube/config); when none of them
        exists and E(KUBERNETES_SERVICE_HOST) is set, the pod's service account (in-cluster
        configuration, see the notes).
      - Every kind of kubeconfig user works as with kubectl - client certificates (file or
        data), C(token), C(tokenFile) (relative to the kubeconfig, read again every minute),
        C(exec) credential plugins (client.authentication.k8s.io v1 and v1beta1, run without a
        terminal, cached until their C(expirationTimestamp)), C(auth-provider) C(oidc)
        id-tokens, C(username)/C(password), and impersonation (C(as), C(as-uid), C(as-groups),
        C(as-user-extra)). The cluster's C(proxy-url), C(tls-server-name) and the context's
        C(namespace) are honoured. What cannot be used fails the task naming the field.
    type: raw
  context:
    description:
      - Context of the kubeconfig to use. Default its C(current-context).
      - Environment fallback E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server. Wins over the server of the kubeconfig.
      - C(http://) is accepted for a loopback server (C(kubectl proxy)); credentials are never
        sent over plain http to another host.
      - Environment fallback E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token. Wins over the credentials of the kubeconfig.
      - Environment fallback E(K8S_AUTH_API_KEY).
    type: str
  username:
    description:
      - User name for basic authentication (with O(password)).
      - Environment fallback E(K8S_AUTH_USERNAME).
    type: str
  password:
    description:
      - Password for basic authentication (with O(username)).
      - Environment fallback E(K8S_AUTH_PASSWORD).
    type: str
  ca_cert:
    description:
      - Path of the CA certificate that signed the API server's certificate.
      - Environment fallback E(K8S_AUTH_CA_CERT), then E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path of a client certificate (with O(client_key)).
      - Environment fallback E(K8S_AUTH_CLIENT_CERT), then E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path of the key of O(client_cert).
      - Environment fallback E(K8S_AUTH_CLIENT_KEY), then E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Verify the API server's certificate. Default what the kubeconfig says (true unless it
        sets C(insecure-skip-tls-verify) to a real C(true); a quoted C("false") is an error).
      - Environment fallback E(K8S_AUTH_VALIDATE_CERTS), then E(K8S_AUTH_VERIFY_SSL); the
        variable must read C(true), C(yes), C(on), C(1), C(false), C(no), C(off) or C(0) (any
        case), anything else fails the task naming the variable.
    type: bool
    aliases: [verify_ssl]
  proxy:
    description:
      - URL of an C(http://) proxy (CONNECT for an https server). Wins over the cluster's
        C(proxy-url) and over E(HTTPS_PROXY)/E(HTTP_PROXY), which are used otherwise (not for a
        loopback server, and not for a host E(NO_PROXY) names, as with kubectl).
      - Environment fallback E(K8S_AUTH_PROXY).
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains (C(.example.com)), IPs, CIDRs (C(10.0.0.0/8)) or C(*)
        to reach without a proxy. Replaces E(NO_PROXY) when given.
      - Environment fallback E(K8S_AUTH_NO_PROXY).
    type: str
  proxy_headers:
    description:
      - Headers sent to the proxy.
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - C(user:password) for the proxy's basic authentication (C(Proxy-Authorization)).
          - Environment fallback E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH).
        type: str
      basic_auth:
        description:
          - C(user:password) sent to the proxy as C(Authorization).
          - Environment fallback E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH).
        type: str
      user_agent:
        description:
          - C(User-Agent) sent to the proxy.
          - Environment fallback E(K8S_AUTH_PROXY_HEADERS_USER_AGENT).
        type: str
  persist_config:
    description:
      - Accepted for kubernetes.core compatibility. These modules never write to a kubeconfig
        they read (exec credentials are cached in memory, OIDC tokens are not refreshed), so
        there is nothing to persist.
      - Environment fallback E(K8S_AUTH_PERSIST_CONFIG).
    type: bool
  impersonate_user:
    description:
      - Act as this user (C(Impersonate-User)); replaces the kubeconfig's C(as).
      - Environment fallback E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to act as (C(Impersonate-Group)), with O(impersonate_user).
      - Environment fallback E(K8S_AUTH_IMPERSONATE_GROUPS) (comma-separated).
    type: list
    elements: str
  api_timeout:
    description:
      - Seconds to wait for one answer of the API server.
    type: float
    default: 30
  api_retries:
    description:
      - How many times a request is sent again when it did not reach the API server
        (connection refused or reset), or when its answer was lost and it is safe to repeat
        (reads, deletes, replaces, server-side apply), with a growing pause; then the task
        fails and says so.
      - A create whose answer was lost is never sent blindly again - the object is read back
        (there with this content - done; absent - sent once more).
    type: int
    default: 3
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
