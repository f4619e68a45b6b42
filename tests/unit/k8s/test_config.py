"""Connection settings: kubeconfig parsing, explicit options, K8S_AUTH_* fallbacks, clear errors."""

from __future__ import annotations

import base64

import pytest
import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    KubeConfigError,
    kubeconfig_dict,
    resolve_settings,
    settings_from_kubeconfig,
)

CA = b"-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"


def write(tmp_path, config, name="config"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def two_contexts():
    config = kubeconfig_dict("a", "https://127.0.0.1:6443", CA, token="token-a")
    second = kubeconfig_dict("b", "https://127.0.0.1:7443", CA, token="token-b")
    for section in ("clusters", "users", "contexts"):
        config[section] += second[section]
    return config


def test_current_context_is_used(tmp_path):
    settings = settings_from_kubeconfig(write(tmp_path, two_contexts()))
    assert settings.server == "https://127.0.0.1:6443"
    assert settings.token == "token-a"
    assert settings.ca_data == CA
    assert settings.verify is True


def test_named_context_wins(tmp_path):
    settings = settings_from_kubeconfig(write(tmp_path, two_contexts()), context="b")
    assert (settings.server, settings.token) == ("https://127.0.0.1:7443", "token-b")


def test_inline_dict_and_client_certificates(tmp_path):
    config = kubeconfig_dict("a", "https://h:1", CA, client_cert_pem=b"CERT", client_key_pem=b"KEY")
    settings = settings_from_kubeconfig(config)
    assert (settings.client_cert_data, settings.client_key_data) == (b"CERT", b"KEY")


def test_file_references_are_relative_to_the_kubeconfig(tmp_path):
    (tmp_path / "ca.crt").write_bytes(CA)
    config = kubeconfig_dict("a", "https://h:1", CA)
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    config["clusters"][0]["cluster"]["certificate-authority"] = "ca.crt"
    assert settings_from_kubeconfig(write(tmp_path, config)).ca_data == CA


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update({"current-context": "nope"}), "no context named 'nope'"),
        (lambda c: c["clusters"][0]["cluster"].pop("server"), "has no server"),
        (lambda c: c.pop("current-context"), "has no current-context"),
        (
            lambda c: c["clusters"][0]["cluster"].update({"certificate-authority-data": "%%%"}),
            "certificate-authority-data: not valid base64",
        ),
    ],
)
def test_broken_kubeconfigs_name_the_field(tmp_path, mutate, message):
    config = kubeconfig_dict("a", "https://h:1", CA, token="t")
    mutate(config)
    with pytest.raises(KubeConfigError, match=message):
        settings_from_kubeconfig(write(tmp_path, config))


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(KubeConfigError, match=r"kubeconfig: cannot read '/nonexistent/kc'"):
        resolve_settings(kubeconfig="/nonexistent/kc", env={})
    bad = tmp_path / "bad"
    bad.write_text("clusters: [unclosed")
    with pytest.raises(KubeConfigError, match="is not valid YAML"):
        resolve_settings(kubeconfig=str(bad), env={})
    scalar = tmp_path / "scalar"
    scalar.write_text("just text")
    with pytest.raises(KubeConfigError, match="does not hold a kubeconfig mapping"):
        resolve_settings(kubeconfig=str(scalar), env={})


def test_environment_fallbacks(tmp_path):
    (tmp_path / "ca.crt").write_bytes(CA)
    env = {
        "K8S_AUTH_HOST": "https://10.0.0.1:6443",
        "K8S_AUTH_API_KEY": "secret",
        "K8S_AUTH_SSL_CA_CERT": str(tmp_path / "ca.crt"),
        "K8S_AUTH_VERIFY_SSL": "no",
    }
    settings = resolve_settings(env=env)
    assert settings.server == "https://10.0.0.1:6443"
    assert settings.token == "secret"
    assert settings.ca_data == CA
    assert settings.verify is False


def test_explicit_options_override_the_kubeconfig(tmp_path):
    path = write(tmp_path, two_contexts())
    settings = resolve_settings(kubeconfig=path, host="https://other:443", api_key="k", env={})
    assert (settings.server, settings.token, settings.ca_data) == ("https://other:443", "k", CA)


def test_kubeconfig_env_variable_is_the_default(tmp_path):
    path = write(tmp_path, two_contexts())
    assert resolve_settings(env={"KUBECONFIG": path}).server == "https://127.0.0.1:6443"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"host": "http://plain:80"}, "host: 'http://plain:80' must be an https:// URL"),
        ({"host": "https://h", "validate_certs": "maybe"}, "validate_certs: expected a boolean"),
        ({"host": "https://h", "client_cert": "/x"}, "client_cert and client_key: give both"),
        ({"kubeconfig": 42}, "kubeconfig: expected a path or a dict, got int"),
    ],
)
def test_bad_options_name_the_field(options, message):
    with pytest.raises(KubeConfigError, match=message):
        resolve_settings(env={}, **options)


def test_kubeconfig_dict_is_self_contained():
    config = kubeconfig_dict("x", "https://h:1", CA, client_cert_pem=b"C", client_key_pem=b"K")
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == b"C"
    assert config["current-context"] == "x"
