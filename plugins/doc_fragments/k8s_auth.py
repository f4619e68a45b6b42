# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Connection options shared by every module that talks to a Kubernetes API server."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of a kubeconfig file, or the kubeconfig itself as a dictionary.
      - Without O(kubeconfig) and O(host), E(K8S_AUTH_KUBECONFIG), then the first entry of
        E(KUBECONFIG), then C(~/.kube/config) is used.
    type: raw
  context:
    description:
      - Context of the kubeconfig to use. Default its C(current-context).
      - Environment fallback E(K8S_AUTH_CONTEXT).
    type: str
  host:
    description:
      - URL of the API server (C(https://) only). Wins over the server of the kubeconfig.
      - Environment fallback E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token. Wins over the credentials of the kubeconfig.
      - Environment fallback E(K8S_AUTH_API_KEY).
    type: str
  ca_cert:
    description:
      - Path of the CA certificate that signed the API server's certificate.
      - Environment fallback E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  client_cert:
    description:
      - Path of a client certificate (with O(client_key)).
      - Environment fallback E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path of the key of O(client_cert).
      - Environment fallback E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  validate_certs:
    description:
      - Verify the API server's certificate. Default what the kubeconfig says (true unless it
        sets C(insecure-skip-tls-verify)).
      - Environment fallback E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  api_timeout:
    description:
      - Seconds to wait for one answer of the API server.
    type: float
    default: 30
  api_retries:
    description:
      - How many times a request is sent again when the API server does not answer (connection
        refused or reset, time-out), with a growing pause; then the task fails and says so.
    type: int
    default: 3
notes:
  - Uses a small built-in HTTPS client, no C(kubernetes) Python package. PyYAML is the only
    requirement on the managed host.
requirements:
  - PyYAML
"""
