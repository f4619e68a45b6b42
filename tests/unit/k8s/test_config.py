"""The one kubeconfig reader/writer: merging, contexts, every auth kind, strict booleans,
proxies, in-cluster, K8S_AUTH_* fallbacks, and errors that name the field."""

from __future__ import annotations

import base64
import json
import os
import stat
import time

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s import credentials
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    ENV_FALLBACKS,
    KubeConfigError,
    env_bool,
    incluster_settings,
    kubeconfig_dict,
    resolve_settings,
    settings_from_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    read_kubeconfig_file,
    set_user_token,
    write_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.proxy import (
    bypasses_proxy,
    proxy_for,
)

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"


def write(tmp_path, config, name="config"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def jwt(**claims):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def two_contexts():
    config = kubeconfig_dict("a", "https://127.0.0.1:6443", CA, token="token-a")
    second = kubeconfig_dict("b", "https://127.0.0.1:7443", CA, token="token-b")
    for section in ("clusters", "users", "contexts"):
        config[section] += second[section]
    return config


def header(settings):
    return settings.auth().current()[0]


# -- contexts, files, merging -------------------------------------------------------------------


def test_current_context_is_used(tmp_path):
    settings = settings_from_kubeconfig(write(tmp_path, two_contexts()))
    assert settings.server == "https://127.0.0.1:6443"
    assert settings.token == "token-a"
    assert settings.ca_data == CA
    assert settings.verify is True
    assert settings.namespace == "default"


def test_named_context_wins_and_its_namespace_is_kept(tmp_path):
    config = two_contexts()
    config["contexts"][1]["context"]["namespace"] = "team-b"
    settings = settings_from_kubeconfig(write(tmp_path, config), context="b")
    assert (settings.server, settings.token) == ("https://127.0.0.1:7443", "token-b")
    assert settings.namespace == "team-b"


def test_inline_dict_and_client_certificates():
    config = kubeconfig_dict("a", "https://h:1", CA, client_cert_pem=b"CERT", client_key_pem=b"KEY")
    settings = settings_from_kubeconfig(config)
    assert (settings.client_cert_data, settings.client_key_data) == (b"CERT", b"KEY")


def test_file_references_are_relative_to_their_own_kubeconfig(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ca.crt").write_bytes(CA)
    (tmp_path / "sub" / "token").write_text("from-file\n")
    config = kubeconfig_dict("a", "https://h:1", ca_file="ca.crt")
    config["users"][0]["user"] = {"tokenFile": "token"}
    settings = settings_from_kubeconfig(write(tmp_path / "sub", config))
    assert settings.ca_data == CA
    assert header(settings) == "Bearer from-file"


def test_kubeconfig_variable_merges_like_kubectl(tmp_path):
    first = kubeconfig_dict("a", "https://first:1", CA, token="t1")
    second = kubeconfig_dict("a", "https://second:1", CA, token="t2")  # same names: first wins
    second["clusters"].append({"name": "b", "cluster": {"server": "https://b:1"}})
    second["users"].append({"name": "b", "user": {"token": "tb"}})
    second["contexts"].append({"name": "b", "context": {"cluster": "b", "user": "b"}})
    second["current-context"] = "b"  # ignored: the first file's current-context wins
    paths = [
        write(tmp_path, first, "one"),
        str(tmp_path / "missing"),
        write(tmp_path, second, "two"),
    ]
    env = {"KUBECONFIG": os.pathsep.join(paths)}
    settings = resolve_settings(env=env)
    assert (settings.server, settings.token) == ("https://first:1", "t1")
    assert resolve_settings(env=env, context="b").server == "https://b:1"
    # an explicit list (or a:b string) merges the same way; a missing explicit file is an error
    assert resolve_settings(kubeconfig=[paths[0], paths[2]], context="b", env={}).token == "tb"
    with pytest.raises(KubeConfigError, match=r"kubeconfig: cannot read .*missing"):
        resolve_settings(kubeconfig=os.pathsep.join(paths), env={})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update({"current-context": "nope"}), r"context: no context named 'nope'"),
        (lambda c: c["clusters"][0]["cluster"].pop("server"), r"clusters\[a\]\.server: missing"),
        (lambda c: c.pop("current-context"), "has no current-context"),
        (
            lambda c: c["clusters"][0]["cluster"].update({"certificate-authority-data": "%%%"}),
            r"clusters\[a\]\.certificate-authority-data: not valid base64",
        ),
        (
            lambda c: c["contexts"][0]["context"].update(user="ghost"),
            r"contexts\[a\]\.user: no user",
        ),
        (lambda c: c["clusters"][0].update(name=101), r"clusters\[0\]\.name: expected a string"),
        (
            lambda c: c["clusters"][0]["cluster"].update(server="ftp://h"),
            r"clusters\[a\]\.server: 'ftp://h' must be an https:// \(or http://\) URL",
        ),
        (
            lambda c: c["users"][0]["user"].update(username="u", password="p"),
            r"users\[a\]: username/password and a token cannot both be set",
        ),
        (
            lambda c: c["users"][0]["user"].update({"as-groups": ["g"]}),
            r"users\[a\]\.as: .* need a user to impersonate",
        ),
        (
            lambda c: c["clusters"][0]["cluster"].update({"proxy-url": "socks5://p:1080"}),
            r"clusters\[a\]\.proxy-url: 'socks5://p:1080' is not supported",
        ),
        (
            lambda c: c["users"][0]["user"].update(token=jwt(exp=1000)),
            r"users\[a\]\.token: the token expired at 1970-01-01T00:16:40Z",
        ),
        (
            lambda c: c["users"][0].update(user={"auth-provider": {"name": "gcp"}}),
            r"users\[a\]\.auth-provider\.name: 'gcp' .*gke-gcloud-auth-plugin",
        ),
        (
            lambda c: c["users"][0].update(
                user={"auth-provider": {"name": "oidc", "config": {"id-token": jwt(exp=5)}}}
            ),
            r"users\[a\]\.auth-provider\.config\.id-token: the token expired",
        ),
    ],
)
def test_broken_kubeconfigs_name_the_field(tmp_path, mutate, message):
    config = kubeconfig_dict("a", "https://h:1", CA, token="t")
    mutate(config)
    with pytest.raises(KubeConfigError, match=message):
        credential = settings_from_kubeconfig(write(tmp_path, config)).auth()
        if credential is not None:
            credential.current()  # an expired token is refused before the first request


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(KubeConfigError, match=r"kubeconfig: cannot read '/nonexistent/kc'"):
        resolve_settings(kubeconfig="/nonexistent/kc", env={})
    bad = tmp_path / "bad"
    bad.write_text("clusters: [unclosed")
    with pytest.raises(KubeConfigError, match=r"^kubeconfig: '.*/bad': not valid YAML at line 2"):
        resolve_settings(kubeconfig=str(bad), env={})
    scalar = tmp_path / "scalar"
    scalar.write_text("just text")
    with pytest.raises(KubeConfigError, match="does not hold a kubeconfig mapping"):
        resolve_settings(kubeconfig=str(scalar), env={})


# -- strict booleans ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["false", "true", "no", 0, 1, None.__class__.__name__])
def test_kubeconfig_booleans_must_be_real_booleans(tmp_path, value):
    config = kubeconfig_dict("a", "https://h:1", token="t")
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = value
    with pytest.raises(
        KubeConfigError,
        match=rf"clusters\[a\]\.insecure-skip-tls-verify: expected true or false, got {value!r}",
    ):
        settings_from_kubeconfig(write(tmp_path, config))


def test_a_real_insecure_flag_turns_verification_off(tmp_path):
    config = kubeconfig_dict("a", "https://h:1", token="t")
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    assert settings_from_kubeconfig(write(tmp_path, config)).verify is False
    config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = False
    assert settings_from_kubeconfig(write(tmp_path, config)).verify is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("Yes", True), ("on", True), ("1", True), ("false", False), ("NO", False)],
)
def test_environment_booleans_accept_the_usual_spellings(text, expected):
    assert env_bool(text, "K8S_AUTH_VERIFY_SSL") is expected
    env = {"K8S_AUTH_HOST": "https://h:1", "K8S_AUTH_VERIFY_SSL": text}
    assert resolve_settings(env=env).verify is expected


@pytest.mark.parametrize("text", ["maybe", "flase", "2", "", " "])
def test_environment_booleans_refuse_anything_else(text):
    env = {"K8S_AUTH_HOST": "https://h:1", "K8S_AUTH_VALIDATE_CERTS": text or "x" + text}
    with pytest.raises(KubeConfigError, match="K8S_AUTH_VALIDATE_CERTS: expected a boolean"):
        resolve_settings(env=env)


# -- options and environment --------------------------------------------------------------------


def test_environment_fallbacks(tmp_path):
    (tmp_path / "ca.crt").write_bytes(CA)
    env = {
        "K8S_AUTH_HOST": "https://10.0.0.1:6443",
        "K8S_AUTH_API_KEY": "secret",
        "K8S_AUTH_SSL_CA_CERT": str(tmp_path / "ca.crt"),
        "K8S_AUTH_VERIFY_SSL": "no",
        "K8S_AUTH_IMPERSONATE_USER": "jane",
        "K8S_AUTH_IMPERSONATE_GROUPS": "dev,ops",
        "K8S_AUTH_PROXY": "http://proxy:3128",
        "K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH": "u:p",
    }
    settings = resolve_settings(env=env)
    assert settings.server == "https://10.0.0.1:6443"
    assert settings.token == "secret"
    assert settings.ca_data == CA
    assert settings.verify is False
    assert settings.impersonate == (
        ("Impersonate-User", "jane"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Group", "ops"),
    )
    assert settings.proxy == "http://proxy:3128"
    assert settings.proxy_headers == (("Proxy-Authorization", "Basic dTpw"),)


def test_every_kubernetes_core_option_has_its_fallback():
    assert set(ENV_FALLBACKS) == {
        "kubeconfig", "context", "host", "api_key", "username", "password", "ca_cert",
        "client_cert", "client_key", "validate_certs", "proxy", "no_proxy", "persist_config",
        "impersonate_user", "impersonate_groups",
    }  # fmt: skip


def test_explicit_options_override_the_kubeconfig(tmp_path):
    path = write(tmp_path, two_contexts())
    settings = resolve_settings(kubeconfig=path, host="https://other:443", api_key="k", env={})
    assert (settings.server, settings.token, settings.ca_data) == ("https://other:443", "k", CA)
    basic = resolve_settings(kubeconfig=path, username="u", password="p", env={})
    assert header(basic) == "Basic " + base64.b64encode(b"u:p").decode()


def test_impersonation_from_the_kubeconfig(tmp_path):
    config = kubeconfig_dict("a", "https://h:1", token="t")
    config["users"][0]["user"].update(
        {
            "as": "jane",
            "as-uid": "42",
            "as-groups": ["dev"],
            "as-user-extra": {"scopes.example.com": ["a b"]},
        }
    )
    settings = settings_from_kubeconfig(write(tmp_path, config))
    assert settings.impersonate == (
        ("Impersonate-User", "jane"),
        ("Impersonate-Uid", "42"),
        ("Impersonate-Group", "dev"),
        ("Impersonate-Extra-scopes.example.com", "a b"),
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"host": "ftp://plain:80"}, "host: 'ftp://plain:80' must be an https:// "),
        ({"host": "https://h", "validate_certs": "maybe"}, "validate_certs: expected a boolean"),
        ({"host": "https://h", "client_cert": "/x"}, "client_cert and client_key: give both"),
        ({"kubeconfig": 42}, "kubeconfig: expected a path or a dict, got int"),
        ({"host": "https://h", "impersonate_groups": ["g"]}, "impersonate_groups: needs"),
        ({"host": "https://h", "proxy": "socks5://p:1"}, "proxy: 'socks5://p:1' is not supported"),
        ({"host": "http://10.1.2.3:8001", "api_key": "t"}, "host: 'http://10.1.2.3:8001' is plain"),
    ],
)
def test_bad_options_name_the_field(options, message):
    with pytest.raises(KubeConfigError, match=message):
        resolve_settings(env={}, **options)


def test_plain_http_to_loopback_works():
    settings = resolve_settings(host="http://127.0.0.1:8001", env={})
    assert settings.server == "http://127.0.0.1:8001"
    assert settings.auth() is None


# -- proxies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("api.example.com", 443, "example.com", True),
        ("example.com", 443, ".example.com", False),
        ("api.example.com", 443, ".example.com", True),
        ("api.example.com", 443, "*.example.com", True),
        ("10.1.2.3", 443, "10.0.0.0/8", True),
        ("10.1.2.3", 443, "10.1.2.3", True),
        ("10.1.2.3", 6443, "10.1.2.3:443", False),
        ("anything", 1, "*", True),
        ("other.org", 443, "example.com, 10.0.0.0/8", False),
    ],
)
def test_no_proxy_rules(host, port, no_proxy, bypass):
    assert bypasses_proxy(host, port, no_proxy) is bypass


def test_proxy_choice_follows_kubectl():
    env = {"HTTPS_PROXY": "proxy:3128", "NO_PROXY": ".internal", "HTTP_PROXY": "http://p80:1"}
    assert proxy_for("https://api.example.com", env=env) == "http://proxy:3128"
    assert proxy_for("https://api.internal", env=env) is None
    assert proxy_for("https://127.0.0.1:6443", env=env) is None  # loopback: never the env's
    assert proxy_for("http://api.example.com", env=env) == "http://p80:1"
    # the kubeconfig's proxy-url wins over the environment, and applies to loopback too
    assert proxy_for("https://127.0.0.1:1", kubeconfig_proxy="http://k:1", env=env) == "http://k:1"
    # the proxy option wins over both, unless no_proxy matches
    assert proxy_for(
        "https://a.b", option="http://o:1", kubeconfig_proxy="http://k:1", env=env
    ) == ("http://o:1")
    assert proxy_for("https://a.b", option="http://o:1", no_proxy="b", env=env) is None


# -- exec plugins -------------------------------------------------------------------------------


def plugin(tmp_path, body, name="plugin"):
    script = tmp_path / name
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def exec_config(tmp_path, command, **extra):
    config = kubeconfig_dict("a", "https://h:1", CA)
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": command,
            "interactiveMode": "Never",
            **extra,
        }
    }
    return write(tmp_path, config)


def credential_json(api="v1", **status):
    return json.dumps(
        {
            "apiVersion": f"client.authentication.k8s.io/{api}",
            "kind": "ExecCredential",
            "status": status,
        }
    )


def test_exec_plugin_token_is_cached_until_it_expires(tmp_path):
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    count = tmp_path / "count"
    body = f'echo run >> {count}\necho "$KUBERNETES_EXEC_INFO" > {tmp_path}/info\n'
    body += f"echo '{credential_json(token='tok-' + '1', expirationTimestamp=soon)}'\n"
    settings = settings_from_kubeconfig(
        exec_config(
            tmp_path,
            plugin(tmp_path, body),
            args=["--flag"],
            env=[{"name": "FOO", "value": "bar"}],
            provideClusterInfo=True,
        )
    )
    credential = settings.auth()
    assert credential.current() == ("Bearer tok-1", None)
    assert credential.current() == ("Bearer tok-1", None)
    assert count.read_text().count("run") == 1
    info = json.loads((tmp_path / "info").read_text())
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == "https://h:1"
    assert info["spec"]["cluster"]["certificateAuthorityData"] == base64.b64encode(CA).decode()
    credential.refresh()  # what a 401 does
    assert count.read_text().count("run") == 2


def test_exec_plugin_relative_command_and_client_certificates(tmp_path):
    (tmp_path / "bin").mkdir()
    plugin(
        tmp_path / "bin",
        f"echo '{credential_json(api='v1beta1', clientCertificateData='C', clientKeyData='K')}'\n",
    )
    config = kubeconfig_dict("a", "https://h:1", CA)
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./bin/plugin"}
    }
    settings = settings_from_kubeconfig(write(tmp_path, config))
    assert settings.auth().current() == (None, (b"C", b"K"))


@pytest.mark.parametrize(
    ("body", "extra", "message"),
    [
        (None, {}, r"users\[a\]\.exec\.command: '/nonexistent/aws' does not exist \(installHint: "),
        ("echo boom >&2; exit 3\n", {}, r"users\[a\]\.exec\.command: '.*' exited with 3: boom"),
        ("echo not json\n", {}, r"users\[a\]\.exec: the output of .* is not JSON"),
        ('echo \'{"kind": "Other"}\'\n', {}, "is not an ExecCredential"),
        (
            f"echo '{credential_json(api='v1beta1', token='x')}'\n",
            {},
            r"exec\.apiVersion: the plugin answered",
        ),
        (f"echo '{credential_json()}'\n", {}, "holds neither status.token"),
        (
            f"echo '{credential_json(token='x', expirationTimestamp='2001-01-01T00:00:00Z')}'\n",
            {},
            "expired at 2001-01-01T00:00:00Z already",
        ),
        (None, {"interactiveMode": "Always"}, r"exec\.interactiveMode: 'Always' needs a terminal"),
        (
            None,
            {"apiVersion": "client.authentication.k8s.io/v1alpha1"},
            "removed in Kubernetes 1.24",
        ),
        (None, {"provideClusterInfo": "yes"}, r"exec\.provideClusterInfo: expected true or false"),
    ],
)
def test_broken_exec_plugins_name_the_field(tmp_path, body, extra, message):
    command = plugin(tmp_path, body) if body else "/nonexistent/aws"
    extra.setdefault("installHint", "install the AWS CLI")
    with pytest.raises(KubeConfigError, match=message):
        settings_from_kubeconfig(exec_config(tmp_path, command, **extra)).auth().current()


def test_v1_exec_needs_an_interactive_mode(tmp_path):
    config = kubeconfig_dict("a", "https://h:1", CA)
    config["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "x"}
    }
    with pytest.raises(KubeConfigError, match=r"exec\.interactiveMode: required"):
        settings_from_kubeconfig(config)


def test_token_file_is_read_again_after_a_minute(tmp_path):
    token = tmp_path / "token"
    token.write_text("one")
    now = [0.0]
    source = credentials.TokenFile(str(token), "tokenFile", clock=lambda: now[0])
    token.write_text("two")
    assert source.current()[0] == "Bearer one"
    now[0] = 61
    assert source.current()[0] == "Bearer two"


# -- in-cluster ---------------------------------------------------------------------------------


def test_in_cluster_settings(tmp_path):
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_bytes(CA)
    (tmp_path / "namespace").write_text("apps")
    env = {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "FORNAX_SERVICEACCOUNT_DIR": str(tmp_path),
        "HOME": str(tmp_path),  # no ~/.kube/config there
    }
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path)
    try:
        settings = resolve_settings(env=env)
    finally:
        if old is not None:
            os.environ["HOME"] = old
    assert settings.server == "https://10.96.0.1:443"
    assert (settings.ca_data, settings.namespace) == (CA, "apps")
    assert header(settings) == "Bearer sa-token"
    six = incluster_settings(dict(env, KUBERNETES_SERVICE_HOST="fd00::1"))
    assert six.server == "https://[fd00::1]:443"
    with pytest.raises(KubeConfigError, match=r"ca\.crt: cannot read"):
        (tmp_path / "ca.crt").unlink()
        incluster_settings(env)


# -- writing ------------------------------------------------------------------------------------


def test_hostile_yaml_is_refused_naming_the_file(tmp_path):
    bomb = tmp_path / "bomb"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
        for i in range(9)
    ]
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(KubeConfigError, match=r"^kubeconfig: '.*/bomb': "):
        resolve_settings(kubeconfig=str(bomb), env={})


def test_writer_quotes_names_go_would_misread(tmp_path):
    config = kubeconfig_dict("101", "https://h:1", CA, token="t", user="n")
    assert write_kubeconfig(str(tmp_path / "k"), config)
    text = (tmp_path / "k").read_text()
    assert "name: '101'" in text and "name: 'n'" in text
    assert settings_from_kubeconfig(str(tmp_path / "k")).token == "t"


def test_writer_is_atomic_private_and_idempotent(tmp_path):
    path = tmp_path / "out.kubeconfig"
    config = kubeconfig_dict("101", "https://h:1", CA, token="t")
    assert write_kubeconfig(str(path), config) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert write_kubeconfig(str(path), config) is False
    assert settings_from_kubeconfig(str(path)).server == "https://h:1"
    assert [p.name for p in tmp_path.iterdir()] == ["out.kubeconfig"]


def test_set_user_token_changes_only_the_current_contexts_user(tmp_path):
    path = write(tmp_path, two_contexts())
    config = read_kubeconfig_file(path)
    config["current-context"] = "b"
    write_kubeconfig(path, config)
    set_user_token(path, "renewed")
    after = read_kubeconfig_file(path)
    assert [u["user"]["token"] for u in after["users"]] == ["token-a", "renewed"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_kubeconfig_dict_is_self_contained():
    config = kubeconfig_dict("x", "https://h:1", CA, client_cert_pem=b"C", client_key_pem=b"K")
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == b"C"
    assert config["current-context"] == "x"
