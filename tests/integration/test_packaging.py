"""The collection as users get it: the built artifact (with the XDP objects), its dependencies,
an execution environment from ansible-builder, the generated changelog, and a fresh venv with
ONLY ansible-core and the runtime requirements running site.yml's syntax check and the modules.

Galaxy is not reachable here: the dependency collections are installed offline from tarballs
made of the copies the `ansible` PyPI package carries (an installed collection holds the same
MANIFEST.json and FILES.json as its artifact). The fresh venv's packages come from PyPI.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from fornax_harness.prereq import require

ROOT = Path(__file__).resolve().parents[2]
DEPENDENCIES = ("ansible.posix", "community.crypto")
OBJECTS = ("bpf/build/divider.bpf.o", "bpf/build/gateway.bpf.o", "bpf/build/host.bpf.o")
DEV_ONLY = (
    "ruff",
    "pytest",
    "ansible-lint",
    "molecule",
    "kubernetes",
    "ansible",
    "ansible-builder",
)


def run(*argv: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 600) -> str:
    done = subprocess.run(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    """centaurus-fornax-<version>.tar.gz, built as `make collection` builds it."""
    require(shutil.which("clang") is not None, "clang (the XDP objects)", "apt-get install clang")
    run("make", "-s", "-C", "bpf")
    out = tmp_path_factory.mktemp("artifact")
    return Path(run("scripts/build-collection.sh", str(out)).strip().splitlines()[-1])


def test_artifact_holds_the_xdp_objects_and_declares_its_dependencies(artifact):
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert set(OBJECTS) <= names
    assert {"bpf/gateway.bpf.c", "bpf/Makefile", "roles/gateway/tasks/main.yml"} <= names
    assert {"meta/execution-environment.yml", "requirements.txt", "bindep.txt"} <= names
    leaked = [n for n in names if n.split("/")[0] in (".ci", ".venv", "build", ".demo")]
    leaked += [n for n in names if n.startswith("tests/output") or n == "bench/results.json"]
    assert not leaked and not any("__pycache__" in n for n in names)
    assert set(manifest["dependencies"]) == set(DEPENDENCIES)
    for key in ("repository", "documentation", "issues"):
        assert manifest[key].startswith("https://")


def dependency_tarballs(directory: Path) -> list[Path]:
    """Artifacts of ansible.posix and community.crypto made of the `ansible` package's copies.

    That package leaves out a few files its FILES.json lists (CI settings): FILES.json is
    rewritten to what is there, and MANIFEST.json to FILES.json's new checksum.
    """
    import ansible_collections  # noqa: PLC0415 - the ansible package's collections

    roots = [Path(p) for p in ansible_collections.__path__]
    made = []
    for fqcn in DEPENDENCIES:
        namespace, name = fqcn.split(".")
        source = next(
            r / namespace / name for r in roots if (r / namespace / name / "MANIFEST.json").exists()
        )
        manifest = json.loads((source / "MANIFEST.json").read_text())
        files = json.loads((source / "FILES.json").read_text())
        files["files"] = [
            f for f in files["files"] if (source / f["name"]).exists() or f["name"] == "."
        ]
        files_text = json.dumps(files, indent=2).encode()
        manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(files_text).hexdigest()
        manifest_text = json.dumps(manifest, indent=2).encode()
        version = manifest["collection_info"]["version"]
        target = directory / f"{namespace}-{name}-{version}.tar.gz"
        with tarfile.open(target, "w:gz") as tar:
            for arcname, data in (("MANIFEST.json", manifest_text), ("FILES.json", files_text)):
                info = tarfile.TarInfo(arcname)
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
            for entry in files["files"]:
                if entry["name"] != ".":
                    tar.add(source / entry["name"], arcname=entry["name"], recursive=False)
        made.append(target)
    return made


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, artifact) -> dict:
    """A venv with only requirements.txt, and the artifact installed with its dependencies."""
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    run(*pip, "-r", str(ROOT / "requirements.txt"), timeout=900)
    installed = {
        line.split("==")[0].lower()
        for line in run(str(venv / "bin" / "pip"), "freeze", "--all").splitlines()
    }
    collections = base / "collections"
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_INVENTORY_ENABLED": "centaurus.fornax.hierarchy,yaml,ini,host_list",
        "PYTHONPATH": "",
    }
    return {
        "venv": venv,
        "collections": collections,
        "env": env,
        "installed": installed,
        "base": base,
    }


def test_runtime_requirements_carry_no_development_tools(fresh):
    assert {"ansible-core", "pyyaml", "jmespath"} <= fresh["installed"]
    assert not fresh["installed"] & set(DEV_ONLY)


def test_fresh_venv_installs_the_artifact_and_checks_site_yml(fresh, artifact):
    env, base = fresh["env"], fresh["base"]
    galaxy = str(fresh["venv"] / "bin" / "ansible-galaxy")
    playbook = str(fresh["venv"] / "bin" / "ansible-playbook")
    statically = base / "roles.yml"
    statically.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Every role, imported statically (module names resolved now)",
                    "hosts": "all",
                    "gather_facts": False,
                    "roles": [
                        f"centaurus.fornax.{r}"
                        for r in (
                            "prerequisites",
                            "control_plane",
                            "hub",
                            "cascade",
                            "teardown",
                            "gateway",
                        )
                    ],
                }
            ]
        )
    )
    # Without the dependencies the roles do not resolve: the check below can fail.
    bare = base / "bare"
    run(
        galaxy,
        "collection",
        "install",
        "--offline",
        "--no-deps",
        "-p",
        str(bare),
        str(artifact),
        env=env,
    )
    done = subprocess.run(
        [playbook, "--syntax-check", "-i", "localhost,", str(statically)],
        env={**os.environ, **env, "ANSIBLE_COLLECTIONS_PATH": str(bare)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0 and "ansible.posix.sysctl" in done.stdout + done.stderr
    # With them (offline, from tarballs): the artifact, its roles and site.yml check out.
    deps = dependency_tarballs(base)
    run(
        galaxy,
        "collection",
        "install",
        "--offline",
        "-p",
        str(fresh["collections"]),
        str(artifact),
        *map(str, deps),
        env=env,
    )
    installed = fresh["collections"] / "ansible_collections"
    assert {p.name for p in (installed / "ansible").iterdir()} >= {"posix"}
    run(playbook, "--syntax-check", "-i", "localhost,", str(statically), env=env)
    site = installed / "centaurus" / "fornax" / "playbooks" / "site.yml"
    inventory = ROOT / "inventories" / "local" / "hosts.yml"
    run(playbook, "--syntax-check", "-i", str(inventory), str(site), cwd=base, env=env)


def test_fresh_venv_runs_the_modules(fresh, artifact, cluster, tmp_path):
    if not (fresh["collections"] / "ansible_collections" / "centaurus").exists():
        run(
            str(fresh["venv"] / "bin" / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "--no-deps",
            "-p",
            str(fresh["collections"]),
            str(artifact),
            env=fresh["env"],
        )
    python = str(fresh["venv"] / "bin" / "python")
    book = tmp_path / "modules.yml"
    kubeconfig = str(cluster.kubeconfig_path)
    book.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": {"ansible_python_interpreter": python},
                    "module_defaults": {"group/centaurus.fornax.k8s": {"kubeconfig": kubeconfig}},
                    "tasks": [
                        {
                            "name": "Apply a Mission",
                            "centaurus.fornax.mission": {
                                "name": "fresh-venv",
                                "resource": {
                                    "apiVersion": "v1",
                                    "kind": "ConfigMap",
                                    "metadata": {"name": "x", "namespace": "default"},
                                },
                            },
                        },
                        {
                            "name": "Read it with a JMESPath condition",
                            "centaurus.fornax.mission_info": {
                                "name": "fresh-venv",
                                "condition": "summary == null",
                            },
                            "register": "info",
                        },
                        {
                            "name": "Check",
                            "ansible.builtin.assert": {
                                "that": ["info.condition_met", "info.missions | length == 1"]
                            },
                        },
                        {
                            "name": "Remove it",
                            "centaurus.fornax.mission": {"name": "fresh-venv", "state": "absent"},
                        },
                    ],
                }
            ]
        )
    )
    out = run(
        str(fresh["venv"] / "bin" / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        str(book),
        env={**fresh["env"], "ANSIBLE_LOCALHOST_WARNING": "false"},
    )
    assert "failed=0" in out


def test_ansible_builder_creates_the_execution_environment_context(artifact, tmp_path):
    require(
        shutil.which("ansible-builder") is not None,
        "ansible-builder",
        "pip install -r requirements-dev.txt",
    )
    (tmp_path / "build").mkdir()
    shutil.copy(artifact, tmp_path / "build" / "centaurus-fornax.tar.gz")
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    run(
        "ansible-builder",
        "create",
        "-f",
        "execution-environment.yml",
        "--context",
        "context",
        cwd=tmp_path,
    )
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy" in containerfile and "introspect" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = [c["name"] for c in requirements["collections"]]
    assert names[:2] == list(DEPENDENCIES) and names[2].endswith("centaurus-fornax.tar.gz")
    assert (context / "_build" / "collections" / "centaurus-fornax.tar.gz").exists()
    # What the image would get from the collection: runtime requirements and bindep only.
    collections = tmp_path / "introspect"
    run(
        "ansible-galaxy",
        "collection",
        "install",
        "--offline",
        "--no-deps",
        "--force",
        "-p",
        str(collections),
        str(artifact),
    )
    found = yaml.safe_load(run("ansible-builder", "introspect", str(collections)))
    python = " ".join(found["python"]).lower()
    # (ansible-builder itself provides ansible-core and PyYAML, and leaves them out here)
    assert "jmespath" in python
    assert not any(
        tool in python.split() or f"{tool}==" in python for tool in ("ruff", "pytest", "molecule")
    )
    assert any("openssh" in line for line in found["system"])


def test_changelog_is_generated_from_the_fragments(tmp_path):
    require(
        shutil.which("antsibull-changelog") is not None,
        "antsibull-changelog",
        "pip install -r requirements-dev.txt",
    )
    run("antsibull-changelog", "lint")
    copy = tmp_path / "collection"
    copy.mkdir()
    for name in ("galaxy.yml", "CHANGELOG.md"):
        shutil.copy(ROOT / name, copy)
    shutil.copytree(ROOT / "changelogs", copy / "changelogs")
    run("antsibull-changelog", "generate", cwd=copy)
    assert (copy / "CHANGELOG.md").read_text() == (ROOT / "CHANGELOG.md").read_text(), (
        "CHANGELOG.md is not what antsibull-changelog generates: never edit it by hand"
    )
