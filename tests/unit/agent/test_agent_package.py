"""The agent as the hosts get it: a wheel built by agent/wheel_backend.py.

The wheel is built for real (the same command the cascade role runs), unpacked the way the
role unpacks it (``python -m zipfile -e``) and imported by an isolated interpreter that sees
nothing but the unpacked directory and the standard library plus PyYAML: what it lacks, a host
lacks too.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BACKEND = ROOT / "agent" / "wheel_backend.py"
UTILS = "ansible_collections/centaurus/fornax/plugins/module_utils/"


def build(directory: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(BACKEND), "--wheel-dir", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    return build(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_is_reproducible(built, tmp_path):
    again = build(tmp_path)
    first, second = Path(built["wheel"]).read_bytes(), Path(again["wheel"]).read_bytes()
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()


def test_metadata_states_the_python_baseline(built):
    assert built["requires_python"] == ">=3.11"
    assert built["python_minimum"] == "3.11"
    version = next(
        line.split(":", 1)[1].strip()
        for line in (ROOT / "galaxy.yml").read_text().splitlines()
        if line.startswith("version:")
    )
    assert Path(built["wheel"]).name == f"fornax_agent-{version}-py3-none-any.whl"
    with zipfile.ZipFile(built["wheel"]) as wheel:
        meta = wheel.read(f"{built['dist_info']}/METADATA").decode()
        record = wheel.read(f"{built['dist_info']}/RECORD").decode()
        names = wheel.namelist()
    assert "Requires-Python: >=3.11\n" in meta
    assert "Requires-Dist: PyYAML" in meta
    assert set(names) == {line.split(",")[0] for line in record.splitlines()}


def test_the_wheel_carries_what_the_agent_imports_and_no_more(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
    assert "fornax_agent/__main__.py" in names
    assert UTILS + "k8s/client.py" in names
    assert UTILS + "fornax/states.py" in names
    assert UTILS + "fornax/__init__.py" in names
    # the controller's parts stay home; of the hierarchy only its name rules travel (the agent
    # checks names with the one DNS-1123 rule, hierarchy/name_rules.py: no other import)
    shared = {UTILS + "hierarchy/__init__.py", UTILS + "hierarchy/name_rules.py"}
    home = ("hierarchy/", "validate/", "bpf/")
    assert not [name for name in names - shared if name.startswith(tuple(UTILS + h for h in home))]
    collection = [name for name in names if name.startswith("ansible_collections/")]
    assert all(name.startswith(UTILS) for name in collection), collection


def test_the_unpacked_wheel_runs_without_ansible(built, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "zipfile", "-e", built["wheel"], str(site)], check=True, timeout=60
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import fornax_agent.agent, fornax_agent.__main__, importlib.metadata as m;"
        "assert 'ansible' not in sys.modules, 'the agent imported Ansible';"
        "print(m.version('fornax-agent'), fornax_agent.agent.__file__)"
    )
    # -I: no PYTHONPATH, no user site: only the unpacked wheel and the interpreter's own
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(site)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert str(site) in done.stdout


def small_collection(tmp_path: Path, version_file: str = "galaxy.yml") -> Path:
    """A collection with the real backend and pyproject, an empty agent and module_utils."""
    collection = tmp_path / "collection"
    agent = collection / "agent"
    (agent / "fornax_agent").mkdir(parents=True)
    (agent / "fornax_agent" / "__init__.py").write_text("")
    (agent / "wheel_backend.py").write_text(BACKEND.read_text())
    (agent / "pyproject.toml").write_text((ROOT / "agent" / "pyproject.toml").read_text())
    if version_file == "galaxy.yml":
        (collection / "galaxy.yml").write_text("version: 1.2.3\n")
    else:  # an installed collection: ansible-galaxy turned galaxy.yml into MANIFEST.json
        (collection / "MANIFEST.json").write_text('{"collection_info": {"version": "1.2.3"}}')
    utils = collection / "plugins" / "module_utils" / "fornax"
    utils.mkdir(parents=True)
    (utils.parent / "__init__.py").write_text("")
    (utils / "__init__.py").write_text("")
    return collection


def test_an_installed_collection_builds_the_wheel_too(tmp_path):
    agent = small_collection(tmp_path, "MANIFEST.json") / "agent"
    summary = build_with(agent, tmp_path / "out")
    assert Path(summary["wheel"]).name == "fornax_agent-1.2.3-py3-none-any.whl"


def build_with(agent: Path, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(agent / "wheel_backend.py"), "--wheel-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_module_util_importing_ansible_fails_the_build(tmp_path):
    """The host boundary: copy the backend beside a collection whose module_utils reach
    Ansible, and the build names the file."""
    collection = small_collection(tmp_path)
    agent = collection / "agent"
    utils = collection / "plugins" / "module_utils" / "fornax"
    (utils / "leaky.py").write_text("from ansible.module_utils.basic import AnsibleModule\n")
    (agent / "fornax_agent" / "__init__.py").write_text(
        "from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import leaky\n"
    )
    done = subprocess.run(
        [sys.executable, str(agent / "wheel_backend.py"), "--wheel-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "plugins/module_utils/fornax/leaky.py imports ansible.module_utils.basic" in done.stderr
