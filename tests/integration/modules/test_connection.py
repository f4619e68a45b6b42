"""The connection layer against a real API server: exec plugins, impersonation, a CONNECT proxy,
in-cluster configuration, KUBECONFIG merging, plain http through `kubectl proxy`, a create whose
answer a relay drops, and broken kubeconfigs that fail naming the field with nothing sent.

The proxy and the relay are small loopback servers of this file; every other part is real.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.client import (
    KubeAnswerLost,
    KubeApiError,
    KubeClient,
    KubeCredentialError,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.config import (
    kubeconfig_dict,
    resolve_settings,
    settings_from_kubeconfig,
)
from ansible_collections.centaurus.fornax.plugins.module_utils.k8s.kubeconfig_file import (
    read_kubeconfig_file,
    write_kubeconfig,
)

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
NS = "default"
SA = "exec-probe"
CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"


def whoami(client: KubeClient) -> dict:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    return client.create(WHOAMI, review, resend_safe=True)["status"]["userInfo"]


# -- loopback helpers: a CONNECT proxy and a relay that drops what it is told to -------------------


def _pump(a: socket.socket, b: socket.socket, on_data=None) -> None:
    peers = {a: b, b: a}
    try:
        while True:
            readable, _w, _x = select.select([a, b], [], [], 30)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                if on_data is not None and not on_data(sock is a, data):
                    return
                peers[sock].sendall(data)
    except OSError:
        return
    finally:
        for sock in (a, b):
            with contextlib.suppress(OSError):
                sock.close()


class ConnectProxy:
    """An HTTP CONNECT proxy on loopback that sends every tunnel to the API server's port."""

    def __init__(self, api_port: int, require_auth: str | None = None) -> None:
        self.api_port = api_port
        self.require_auth = require_auth
        self.connects: list[tuple[str, dict[str, str]]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(5)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
        method, target, _version = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            name, _sep, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.connects.append((target, headers))
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        if self.require_auth and headers.get("proxy-authorization") != self.require_auth:
            client.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
            )
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.api_port), timeout=5)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        client.settimeout(None)
        upstream.settimeout(None)
        _pump(client, upstream)

    def close(self) -> None:
        self._listener.close()


class DroppingRelay:
    """A TCP relay to the API server that can drop the next request or the next answer."""

    def __init__(self, api_port: int) -> None:
        self.api_port = api_port
        self.drop: str | None = None  # "request" or "answer", once
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.api_port), timeout=5)
            upstream.settimeout(None)
            threading.Thread(target=_pump, args=(client, upstream, self._data), daemon=True).start()

    def _data(self, from_client: bool, _data: bytes) -> bool:
        wanted = "request" if from_client else "answer"
        if self.drop == wanted:
            self.drop = None
            return False  # close both ends without passing the bytes on
        return True

    def close(self) -> None:
        self._listener.close()


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sa_tokens(cluster):
    """Two service accounts with cluster-admin (test only) and a token of each: (sa, token)."""
    made = []
    with cluster.client() as admin:
        for name in (SA, f"{SA}-2"):
            path = f"/api/v1/namespaces/{NS}/serviceaccounts/{name}"
            admin.apply(
                path,
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": name, "namespace": NS},
                },
                field_manager="test",
            )
            binding = f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/test-{name}"
            admin.apply(
                binding,
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": f"test-{name}"},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NS}],
                },
                field_manager="test",
            )
            request = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600},
            }
            token = admin.create(f"{path}/token", request, resend_safe=True)["status"]["token"]
            made.append((name, token, path, binding))
        yield [(name, token) for name, token, _p, _b in made]
        for _name, _token, path, binding in made:
            admin.delete_if_exists(binding)
            admin.delete_if_exists(path)


def plugin_kubeconfig(cluster, tmp_path: Path, body: str, **exec_fields) -> Path:
    script = tmp_path / "plugin.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    config = kubeconfig_dict("exec", cluster.server, cluster.ca.cert_pem)
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(script),
            "interactiveMode": "Never",
            **exec_fields,
        }
    }
    path = tmp_path / "exec.kubeconfig"
    write_kubeconfig(str(path), config)
    return path


def exec_credential(token: str, seconds: int = 3600) -> str:
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))
    return json.dumps(
        {
            "apiVersion": "client.authentication.k8s.io/v1",
            "kind": "ExecCredential",
            "status": {"token": token, "expirationTimestamp": expires},
        }
    )


# -- the Python layer ------------------------------------------------------------------------------------


def test_exec_plugin_returns_a_service_account_token_once(cluster, sa_tokens, tmp_path):
    name, token = sa_tokens[0]
    runs = tmp_path / "runs"
    path = plugin_kubeconfig(
        cluster, tmp_path, f"echo run >> {runs}\necho '{exec_credential(token)}'\n"
    )
    with KubeClient(settings_from_kubeconfig(str(path))) as client:
        assert whoami(client)["username"] == f"system:serviceaccount:{NS}:{name}"
        client.get("/api/v1/namespaces")
        client.get("/version")
    assert runs.read_text().count("run") == 1  # cached until its expirationTimestamp


def test_a_401_fetches_the_exec_credential_again(cluster, sa_tokens, tmp_path):
    _name, token = sa_tokens[0]
    state = tmp_path / "state"
    # first answer: a token the server refuses; every later one: the real token
    body = (
        f"if [ -f {state} ]; then echo '{exec_credential(token)}'; "
        f"else touch {state}; echo '{exec_credential('wrong')}'; fi\n"
    )
    with KubeClient(settings_from_kubeconfig(str(plugin_kubeconfig(cluster, tmp_path, body)))) as c:
        assert c.get("/api/v1/namespaces")["kind"] == "NamespaceList"
        assert c.credential.runs == 2


def test_impersonation_really_runs_as_the_impersonated_user(cluster, tmp_path):
    config = read_kubeconfig_file(str(cluster.kubeconfig_path))
    config["users"][0]["user"].update(
        {
            "as": "jane",
            "as-groups": ["devs", "ops"],
            "as-uid": "7",
            "as-user-extra": {"scopes.example.com/team": ["a b", "c"]},
        }
    )
    path = tmp_path / "as-jane.kubeconfig"
    write_kubeconfig(str(path), config)
    with KubeClient(settings_from_kubeconfig(str(path))) as client:
        info = whoami(client)
        assert (info["username"], info.get("uid")) == ("jane", "7")
        assert {"devs", "ops"} <= set(info["groups"])
        assert info["extra"] == {"scopes.example.com/team": ["a b", "c"]}
        with pytest.raises(KubeApiError) as denied:  # jane has no rights: the admin's are gone
            client.get("/api/v1/namespaces")
        assert denied.value.status == 403 and '"jane"' in denied.value.message
    settings = resolve_settings(
        kubeconfig=str(cluster.kubeconfig_path), impersonate_user="bob", env={}
    )
    with KubeClient(settings) as client:
        assert whoami(client)["username"] == "bob"


def test_connect_proxy_from_proxy_url_option_and_environment(cluster):
    proxy = ConnectProxy(
        cluster.api_port, require_auth="Basic " + base64.b64encode(b"u:p").decode()
    )
    try:
        config = read_kubeconfig_file(str(cluster.kubeconfig_path))
        config["clusters"][0]["cluster"]["proxy-url"] = proxy.url.replace("://", "://u:p@")
        with KubeClient(settings_from_kubeconfig(config)) as client:
            assert whoami(client)["username"] == "fornax-admin"
        assert proxy.connects[-1][0] == f"127.0.0.1:{cluster.api_port}"
        # HTTPS_PROXY, for a server name only the proxy resolves (the certificate names it)
        server = f"https://kubernetes.default.svc:{cluster.api_port}"
        env = {
            "HTTPS_PROXY": proxy.url,
            "NO_PROXY": "example.com",
            "K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH": "u:p",
        }
        settings = resolve_settings(kubeconfig=str(cluster.kubeconfig_path), host=server, env=env)
        with KubeClient(settings) as client:
            assert client.get("/version")["gitVersion"]
        assert proxy.connects[-1][0] == f"kubernetes.default.svc:{cluster.api_port}"
        # without the proxy's password: the proxy refuses, and the error says so
        settings = resolve_settings(
            kubeconfig=str(cluster.kubeconfig_path), host=server, env={"HTTPS_PROXY": proxy.url}
        )
        with (
            KubeClient(settings, connect_retries=0) as client,
            pytest.raises(Exception, match="407"),
        ):
            client.get("/version")
    finally:
        proxy.close()


def test_in_cluster_config_and_token_rotation(cluster, sa_tokens, tmp_path):
    (name1, token1), (name2, token2) = sa_tokens
    sa_dir = tmp_path / "serviceaccount"
    sa_dir.mkdir()
    (sa_dir / "token").write_text(token1)
    (sa_dir / "ca.crt").write_bytes(cluster.ca.cert_pem)
    (sa_dir / "namespace").write_text(NS)
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(cluster.api_port)}
    old_home = os.environ["HOME"]
    os.environ["HOME"] = str(tmp_path)  # no ~/.kube/config: in-cluster it is
    try:
        settings = resolve_settings(env=env, sa_dir=str(sa_dir))
    finally:
        os.environ["HOME"] = old_home
    assert settings.namespace == NS
    with KubeClient(settings) as client:
        assert whoami(client)["username"] == f"system:serviceaccount:{NS}:{name1}"
        (sa_dir / "token").write_text(token2)  # the kubelet rotates the projected token
        client.credential.reread_seconds = 0  # (a minute in production)
        assert whoami(client)["username"] == f"system:serviceaccount:{NS}:{name2}"


def test_kubeconfig_variable_merges_files(cluster, tmp_path):
    admin = read_kubeconfig_file(str(cluster.kubeconfig_path))
    user_only = {"apiVersion": "v1", "kind": "Config", "users": admin["users"]}
    rest = dict(admin, users=[])
    write_kubeconfig(str(tmp_path / "a"), rest)
    write_kubeconfig(str(tmp_path / "b"), user_only)
    env = {"KUBECONFIG": f"{tmp_path / 'a'}:{tmp_path / 'nope'}:{tmp_path / 'b'}"}
    with KubeClient(resolve_settings(env=env)) as client:
        assert whoami(client)["username"] == "fornax-admin"


@contextlib.contextmanager
def kubectl_proxy(cluster):
    """`kubectl proxy` on a free loopback port: (url, process)."""
    proc = subprocess.Popen(
        [
            str(cluster.bin / "kubectl"),
            "--kubeconfig",
            str(cluster.kubeconfig_path),
            "proxy",
            "--port=0",
            "--address=127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        line = ""
        while "Starting to serve on" not in line:
            assert time.monotonic() < deadline, "kubectl proxy did not start"
            ready, _w, _x = select.select([proc.stdout], [], [], 1)
            if ready:
                line = proc.stdout.readline()
                assert line or proc.poll() is None, "kubectl proxy exited"
        yield "http://" + line.strip().rsplit(" ", 1)[-1], proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_plain_http_through_kubectl_proxy(cluster):
    with kubectl_proxy(cluster) as (url, _proc):
        client = KubeClient(resolve_settings(host=url, env={}))
        assert whoami(client)["username"] == "fornax-admin"
        assert client.get("/version")["gitVersion"]
        client.close()


def test_kubectl_reads_what_the_writer_writes_for_names_go_would_misread(cluster, tmp_path):
    """A cluster named 101 and a user named n: unquoted, Go's YAML reader takes a number and a
    boolean and kubectl refuses the file."""
    config = kubeconfig_dict(
        "101",
        cluster.server,
        cluster.ca.cert_pem,
        client_cert_pem=cluster.admin.cert_pem,
        client_key_pem=cluster.admin.key_pem,
        user="n",
    )
    path = tmp_path / "names.kubeconfig"
    write_kubeconfig(str(path), config)
    done = subprocess.run(
        [str(cluster.bin / "kubectl"), "--kubeconfig", str(path), "get", "--raw", "/version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gitVersion"]
    with KubeClient(settings_from_kubeconfig(str(path))) as client:
        assert whoami(client)["username"] == "fornax-admin"


def test_roles_write_kubeconfigs_through_the_filters(cluster, tmp_path, playbook):
    """What control_plane and cascade do: the filters build and write, kubectl reads."""
    pki = cluster.pki_dir
    dest = tmp_path / "n.kubeconfig"
    run = playbook(
        [
            {
                "name": "Write",
                "ansible.builtin.copy": {
                    "content": (
                        "{{ 'n' | centaurus.fornax.kubeconfig(server=server, "
                        "certificate_authority=pki ~ '/ca.crt', client_certificate=pki ~ "
                        "'/admin.crt', client_key=pki ~ '/admin.key', user='101') "
                        "| centaurus.fornax.kubeconfig_yaml }}"
                    ),
                    "dest": str(dest),
                    "mode": "0600",
                },
            }
        ],
        vars={"server": cluster.server, "pki": str(pki)},
    )
    assert run["Write"].get("changed"), run["Write"]
    done = subprocess.run(
        [str(cluster.bin / "kubectl"), "--kubeconfig", str(dest), "get", "--raw", "/version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (done.stderr, dest.read_text())


# -- safe retries ------------------------------------------------------------------------------------------


def configmap(name: str, **metadata) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NS, **metadata},
        "data": {"k": "v"},
    }


def test_a_create_whose_answer_is_lost_is_read_back_not_sent_twice(cluster):
    relay = DroppingRelay(cluster.api_port)
    config = read_kubeconfig_file(str(cluster.kubeconfig_path))
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    try:
        with (
            KubeClient(settings_from_kubeconfig(config), retry_delay=0.05) as client,
            cluster.client() as admin,
        ):
            client.get("/version")  # a warm connection: the next bytes are the request
            relay.drop = "answer"  # the server creates it; its answer never arrives
            created = client.create(CONFIGMAPS, configmap("lost-answer"))
            live = admin.get(f"{CONFIGMAPS}/lost-answer")
            assert created["metadata"]["uid"] == live["metadata"]["uid"]
            assert relay.drop is None  # the drop happened

            client.get("/version")
            relay.drop = "request"  # the request never reaches the server: sent once more
            created = client.create(CONFIGMAPS, configmap("lost-request"))
            assert (
                admin.get(f"{CONFIGMAPS}/lost-request")["metadata"]["uid"]
                == created["metadata"]["uid"]
            )

            # someone else's object under that name: a conflict, never overwritten
            admin.create(CONFIGMAPS, dict(configmap("theirs"), data={"k": "other"}))
            client.get("/version")
            relay.drop = "request"
            with pytest.raises(KubeApiError) as conflict:
                client.create(CONFIGMAPS, configmap("theirs"))
            assert conflict.value.status == 409
            assert admin.get(f"{CONFIGMAPS}/theirs")["data"] == {"k": "other"}

            # generateName: whether it exists cannot be told, so it is not sent again
            client.get("/version")
            relay.drop = "answer"
            with pytest.raises(KubeAnswerLost, match="not sent again"):
                client.create(
                    CONFIGMAPS,
                    {**configmap(""), "metadata": {"generateName": "gen-", "namespace": NS}},
                )
            made = [
                i
                for i in admin.get(CONFIGMAPS)["items"]
                if i["metadata"]["name"].startswith("gen-")
            ]
            assert len(made) == 1

            # a GET whose answer is lost is simply sent again
            client.get("/version")
            relay.drop = "answer"
            sent = client.sent
            assert client.get(f"{CONFIGMAPS}/lost-answer")["data"] == {"k": "v"}
            assert client.sent == sent + 2
            for name in ("lost-answer", "lost-request", "theirs", made[0]["metadata"]["name"]):
                admin.delete_if_exists(f"{CONFIGMAPS}/{name}")
    finally:
        relay.close()


# -- bad input: named field, nothing sent -------------------------------------------------------------------


def fake_jwt(exp: int) -> str:
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, 'sub': 'x'})}.c2ln"


@pytest.mark.parametrize(
    ("user", "message"),
    [
        (
            {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": "fornax-no-such-plugin",
                    "interactiveMode": "Never",
                    "installHint": "apt-get install it",
                }
            },
            r"users\[relay\]\.exec\.command: 'fornax-no-such-plugin' is not on PATH \(installHint: apt-get install it\)",
        ),
        (
            {"exec": "FAIL"},
            r"users\[relay\]\.exec\.command: '.*plugin\.sh' exited with 1: no credentials for you",
        ),
        ({"exec": "GARBAGE"}, r"users\[relay\]\.exec: the output of .* is not JSON"),
        (
            {"token": fake_jwt(1_600_000_000)},
            r"users\[relay\]\.token: the token expired at 2020-09-13",
        ),
    ],
)
def test_broken_credentials_name_the_field_and_send_nothing(cluster, tmp_path, user, message):
    relay = DroppingRelay(cluster.api_port)
    if user.get("exec") in ("FAIL", "GARBAGE"):
        script = tmp_path / "plugin.sh"
        body = (
            "echo no credentials for you >&2; exit 1\n"
            if user["exec"] == "FAIL"
            else "echo '<html>'\n"
        )
        script.write_text("#!/bin/sh\n" + body)
        script.chmod(0o755)
        user = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": str(script),
                "interactiveMode": "Never",
            }
        }
    config = kubeconfig_dict("relay", f"https://127.0.0.1:{relay.port}", cluster.ca.cert_pem)
    config["users"][0]["user"] = user
    try:
        with (
            KubeClient(settings_from_kubeconfig(config)) as client,
            pytest.raises(KubeCredentialError, match=message),
        ):
            client.get("/api/v1/namespaces")
        assert relay.connections == 0
    finally:
        relay.close()


# -- the same through the modules (ansible-playbook) ---------------------------------------------------------


def test_modules_use_every_kind_of_kubeconfig(cluster, sa_tokens, tmp_path, playbook):
    _name, token = sa_tokens[0]
    exec_path = plugin_kubeconfig(cluster, tmp_path, f"echo '{exec_credential(token)}'\n")
    sa_dir = tmp_path / "sa"
    sa_dir.mkdir()
    (sa_dir / "token").write_text(token)
    (sa_dir / "ca.crt").write_bytes(cluster.ca.cert_pem)
    admin = read_kubeconfig_file(str(cluster.kubeconfig_path))
    write_kubeconfig(str(tmp_path / "a"), dict(admin, users=[]))
    write_kubeconfig(
        str(tmp_path / "b"), {"apiVersion": "v1", "kind": "Config", "users": admin["users"]}
    )
    broken = dict(admin, **{"current-context": "gone"})
    proxy = ConnectProxy(cluster.api_port)
    proxied = read_kubeconfig_file(str(cluster.kubeconfig_path))
    proxied["clusters"][0]["cluster"]["proxy-url"] = proxy.url
    write_kubeconfig(str(tmp_path / "proxied"), proxied)
    quoted = read_kubeconfig_file(str(cluster.kubeconfig_path))
    quoted["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = "false"
    no_kubeconfig = {"HOME": str(tmp_path), "KUBECONFIG": ""}
    incluster_env = {
        **no_kubeconfig,
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(cluster.api_port),
        "FORNAX_SERVICEACCOUNT_DIR": str(sa_dir),
    }

    def info(title, environment=None, ignore=False, **options):
        body = {"name": title, "centaurus.fornax.mission_info": options}
        if environment:
            body["environment"] = environment
        if ignore:
            body["ignore_errors"] = True
        return body

    try:
        with kubectl_proxy(cluster) as (url, _proc):
            run = playbook(
                [
                    info("exec", kubeconfig=str(exec_path)),
                    info(
                        "impersonated",
                        ignore=True,
                        kubeconfig=str(cluster.kubeconfig_path),
                        impersonate_user="jane",
                    ),
                    info("in-cluster", environment=incluster_env),
                    info(
                        "merged", environment={"KUBECONFIG": f"{tmp_path / 'a'}:{tmp_path / 'b'}"}
                    ),
                    info("http", host=url),
                    info("proxied", kubeconfig=str(tmp_path / "proxied")),
                    info("unknown context", ignore=True, kubeconfig=broken),
                    info("quoted boolean", ignore=True, kubeconfig=quoted),
                    info(
                        "env boolean",
                        ignore=True,
                        environment={"K8S_AUTH_VERIFY_SSL": "maybe"},
                        kubeconfig=str(cluster.kubeconfig_path),
                    ),
                ]
            )
    finally:
        proxy.close()
    for title in ("exec", "in-cluster", "merged", "http", "proxied"):
        assert not run[title].get("failed"), (title, run[title].get("msg"))
        assert run[title]["missions"] == [] or isinstance(run[title]["missions"], list)
    assert run["impersonated"]["failed"] and 'User "jane" cannot list' in run["impersonated"]["msg"]
    assert run["unknown context"]["field"] == "context"
    assert "no context named 'gone'" in run["unknown context"]["msg"]
    assert run["quoted boolean"]["field"] == "clusters[shared].insecure-skip-tls-verify"
    assert run["env boolean"]["field"] == "K8S_AUTH_VERIFY_SSL"
    assert proxy.connects, "the proxied task did not go through the proxy"
    # a kubeconfig given as a dict keeps its secrets out of the output, its names in it
    assert admin["users"][0]["user"]["client-key-data"] not in run.stdout + run.stderr
