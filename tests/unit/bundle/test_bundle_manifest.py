"""The offline bundle's manifest, plan and repository index (plugins/module_utils/bundle).

Real files on disk and a real .deb built with dpkg-deb; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import (
    collect,
    debs,
    layout,
    manifest,
    plan,
)

ROOT = Path(__file__).resolve().parents[3]


def make_bundle(root: Path) -> str:
    (root / layout.K8S_BIN).mkdir(parents=True)
    (root / layout.K8S_BIN / "etcd").write_bytes(b"etcd binary")
    (root / layout.DEBS).mkdir()
    (root / layout.DEBS / "runc_1_amd64.deb").write_bytes(b"a deb")
    meta = {
        "kubernetes_version": "v1.34.4",
        "contents": {"binaries": ["etcd"], "packages": ["runc"], "images": []},
    }
    return manifest.write(str(root), manifest.build(str(root), meta))


def refused(root: Path, **kwargs: object) -> str:
    with pytest.raises(manifest.BundleError) as err:
        manifest.verify(str(root), **kwargs)
    return str(err.value)


def test_a_bundle_verifies_and_lists_every_file(tmp_path: Path) -> None:
    digest = make_bundle(tmp_path)
    made = manifest.verify(str(tmp_path), expected_sha256=digest)
    assert sorted(made["files"]) == ["debs/runc_1_amd64.deb", "k8s/bin/etcd"]
    sums = (tmp_path / layout.SUMS).read_text()
    assert hashlib.sha256(b"etcd binary").hexdigest() + "  k8s/bin/etcd" in sums


def test_a_changed_byte_names_the_file(tmp_path: Path) -> None:
    make_bundle(tmp_path)
    (tmp_path / "k8s/bin/etcd").write_bytes(b"etcd binarY")
    msg = refused(tmp_path)
    assert "file k8s/bin/etcd has sha256" in msg and "the manifest says" in msg
    assert "runc" not in msg


def test_a_missing_and_an_added_file_are_both_named(tmp_path: Path) -> None:
    make_bundle(tmp_path)
    (tmp_path / "debs/runc_1_amd64.deb").unlink()
    (tmp_path / "debs/evil_1_amd64.deb").write_bytes(b"x")
    msg = refused(tmp_path)
    assert "file debs/runc_1_amd64.deb is missing" in msg
    assert "file debs/evil_1_amd64.deb is not in the manifest" in msg


def test_the_manifest_can_be_pinned(tmp_path: Path) -> None:
    make_bundle(tmp_path)
    assert "MANIFEST.json has sha256" in refused(tmp_path, expected_sha256="0" * 64)


def test_no_manifest_or_a_broken_one_is_refused(tmp_path: Path) -> None:
    assert "no manifest MANIFEST.json" in refused(tmp_path)
    (tmp_path / layout.MANIFEST).write_text("{not json")
    assert "is not JSON" in refused(tmp_path)
    (tmp_path / layout.MANIFEST).write_text(json.dumps({"format": 99}))
    assert "not a manifest of format 1" in refused(tmp_path)


def test_a_bundle_for_another_version_or_lacking_a_part_is_refused(tmp_path: Path) -> None:
    make_bundle(tmp_path)
    needs = {
        "kubernetes_version": "v1.35.0",
        "binaries": ["etcd", "kubelet"],
        "packages": ["runc"],
        "images": ["fornax-pause.oci.tar"],
    }
    msg = refused(tmp_path, needs=needs)
    assert "built for Kubernetes v1.34.4, the inventory wants v1.35.0" in msg
    assert "binary kubelet is not in the bundle" in msg
    assert "image fornax-pause.oci.tar is not in the bundle" in msg
    assert "package runc" not in msg


def host(name: str, roles: list[str], **values: object) -> dict[str, object]:
    return {"name": name, "roles": roles, "vars": values}


def test_the_plan_takes_what_each_host_role_needs() -> None:
    defaults = plan.role_defaults(str(ROOT / "roles"))
    assert "python3" in defaults["prerequisites_packages"]
    hosts = [
        host("cp", ["control_plane"], control_plane_kwok=True),
        host(
            "node",
            ["edge_node"],
            containerd_packages=["containerd", "runc"],
            containerd_images=[{"name": "localhost/fornax/pause:1", "archive": "pause.tar"}],
        ),
        host("gw", ["gateway"], prerequisites_extra_packages=["jq"]),
    ]
    needs = plan.fleet_needs(hosts, defaults)
    assert needs["kubernetes_version"] == defaults["control_plane_version"]
    assert "kwok" in needs["binaries"] and "kubelet" in needs["binaries"]
    assert {"containerd", "runc", "jq", "bpftool", "python3"} <= set(needs["packages"])
    assert needs["images"] == ["pause.tar"] and needs["gateways"] is True


def test_a_control_plane_only_fleet_gets_no_node_parts() -> None:
    needs = plan.fleet_needs([host("cp", ["control_plane"])], {"control_plane_version": "v1"})
    assert needs["binaries"] == sorted(plan.CONTROL_PLANE_BINARIES)
    assert needs["images"] == [] and needs["gateways"] is False


def test_two_kubernetes_versions_make_no_bundle() -> None:
    hosts = [
        host("a", ["control_plane"], control_plane_version="v1.34.4"),
        host("b", ["control_plane"], control_plane_version="v1.35.0"),
    ]
    with pytest.raises(manifest.BundleError, match=r"v1.34.4 \(a\), v1.35.0 \(b\)"):
        plan.fleet_needs(hosts, {})


def test_binaries_are_copied_only_when_they_match_their_sums(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "etcd").write_bytes(b"etcd")
    (src / "SHA256SUMS").write_text(hashlib.sha256(b"etcd").hexdigest() + "  etcd\n")
    collect.copy_checked(str(src), ["etcd"], str(tmp_path / "out"))
    assert (tmp_path / "out/etcd").read_bytes() == b"etcd"
    (src / "etcd").write_bytes(b"etcD")
    with pytest.raises(manifest.BundleError, match=r"etcd: sha256 .* does not match"):
        collect.copy_checked(str(src), ["etcd"], str(tmp_path / "out2"))
    with pytest.raises(manifest.BundleError, match="kubelet: no sha256"):
        collect.copy_checked(str(src), ["kubelet"], str(tmp_path / "out3"))


def test_the_agent_is_its_reproducible_wheel(tmp_path: Path) -> None:
    (first,) = collect.collect_agent(str(ROOT), str(tmp_path / "a"))
    (second,) = collect.collect_agent(str(ROOT), str(tmp_path / "b"))
    assert first == second and first.endswith("-py3-none-any.whl")
    data = (tmp_path / "a" / first).read_bytes()
    assert data == (tmp_path / "b" / second).read_bytes()
    with zipfile.ZipFile(tmp_path / "a" / first) as wheel:
        names = wheel.namelist()
    assert "fornax_agent/__main__.py" in names
    assert any(
        n.startswith("ansible_collections/centaurus/fornax/plugins/module_utils/") for n in names
    )
    assert not any("__pycache__" in n for n in names)


@pytest.mark.skipif(
    shutil.which("dpkg-deb") is None, reason="dpkg-deb is part of every Debian host"
)
def test_the_repository_index_lists_each_deb_with_its_hash(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "DEBIAN").mkdir(parents=True)
    (pkg / "DEBIAN/control").write_text(
        "Package: fornax-test\nVersion: 1.0\nArchitecture: all\n"
        "Maintainer: nobody <nobody@example.org>\nDescription: test\n"
    )
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(
        ["dpkg-deb", "--build", str(pkg), str(repo / "fornax-test_1.0_all.deb")],
        check=True,
        capture_output=True,
    )
    assert debs.write_index(str(repo)) == 1
    index = (repo / layout.DEBS_INDEX).read_text()
    data = (repo / "fornax-test_1.0_all.deb").read_bytes()
    assert "Package: fornax-test\n" in index
    assert f"Filename: ./fornax-test_1.0_all.deb\nSize: {len(data)}\n" in index
    assert f"SHA256: {hashlib.sha256(data).hexdigest()}" in index
    release = (repo / layout.DEBS_RELEASE).read_text()
    assert hashlib.sha256(index.encode()).hexdigest() in release
