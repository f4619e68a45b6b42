"""site.yml with an offline bundle refuses a tampered, incomplete or foreign one before any host.

The bundle here is small and synthetic (files with the right names and a real manifest, written
by plugins/module_utils/bundle): what is tested is the verification play, which runs on the
controller. The hosts are TEST-NET addresses over ssh: reaching one would fail, so a run that
stops with the file named and without the hosts' play proves no host was contacted.
tests/integration/test_bundle_offline.py installs from a real bundle on a host with no network.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_site_validation import HOSTS_PLAY, site, tree, write_inventory

from ansible_collections.centaurus.fornax.plugins.module_utils.bundle import layout, manifest, plan

ROOT = Path(__file__).resolve().parents[2]


def fake_bundle(root: Path, version: str | None = None) -> Path:
    defaults = plan.role_defaults(str(ROOT / "roles"))
    binaries = sorted(plan.CONTROL_PLANE_BINARIES)
    (root / layout.K8S_BIN).mkdir(parents=True)
    for name in binaries:
        (root / layout.K8S_BIN / name).write_bytes(f"binary {name}\n".encode())
    sums = [f"{manifest.sha256_file(str(root / layout.K8S_BIN / n))}  {n}\n" for n in binaries]
    (root / layout.K8S_BIN / layout.SUMS).write_text("".join(sums))
    (root / layout.DEBS).mkdir()
    (root / layout.DEBS / "tar_1.34_amd64.deb").write_bytes(b"a deb")
    meta = {
        "kubernetes_version": version or defaults["control_plane_version"],
        "contents": {
            "binaries": binaries,
            "packages": sorted(defaults["prerequisites_packages"]),
            "images": [],
        },
    }
    manifest.write(str(root), manifest.build(str(root), meta))
    return root


def run_with(tmp_path: Path, bundle: Path) -> str:
    result = site(write_inventory(tmp_path, tree()), tmp_path, "-e", f"fornax_bundle={bundle}")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert HOSTS_PLAY not in output, output  # no host was touched
    return output


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("byte", "file k8s/bin/kube-apiserver has sha256"),
        ("remove", "file debs/tar_1.34_amd64.deb is missing"),
        ("add", "file debs/evil_1_amd64.deb is not in the manifest"),
    ],
)
def test_a_tampered_bundle_names_the_file(tmp_path: Path, change: str, expected: str) -> None:
    bundle = fake_bundle(tmp_path / "bundle")
    if change == "byte":
        path = bundle / layout.K8S_BIN / "kube-apiserver"
        path.write_bytes(path.read_bytes().replace(b"binary", b"binarY"))
    elif change == "remove":
        (bundle / layout.DEBS / "tar_1.34_amd64.deb").unlink()
    else:
        (bundle / layout.DEBS / "evil_1_amd64.deb").write_bytes(b"x")
    output = run_with(tmp_path, bundle)
    assert "refused" in output and expected in output, output


def test_a_bundle_for_another_version_is_refused(tmp_path: Path) -> None:
    output = run_with(tmp_path, fake_bundle(tmp_path / "bundle", version="v1.33.0"))
    assert "the bundle was built for Kubernetes v1.33.0, the inventory wants" in output, output


def test_a_pinned_manifest_must_match(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path / "bundle")
    result = site(
        write_inventory(tmp_path, tree()),
        tmp_path,
        "-e",
        f"fornax_bundle={bundle}",
        "-e",
        "fornax_bundle_manifest_sha256=" + "0" * 64,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "MANIFEST.json has sha256" in output, output
    assert HOSTS_PLAY not in output, output


def test_a_sound_bundle_passes_and_becomes_the_artifact_source(tmp_path: Path) -> None:
    """The bundle verifies, its binaries pass the artifact check, and the run goes on."""
    bundle = fake_bundle(tmp_path / "bundle")
    result = site(
        write_inventory(tmp_path, tree()),
        tmp_path,
        "-e",
        f"fornax_bundle={bundle}",
        "-e",
        "fornax_connect_timeout=3",
        "-v",
    )
    output = result.stdout + result.stderr
    # The hosts do not exist: the run fails there, after the bundle was verified and the
    # artifact check hashed the bundle's binaries (not the build cache's).
    assert "refused" not in output, output
    assert f'"path": "{bundle / layout.K8S_BIN}/kube-apiserver"' in output, output
    assert HOSTS_PLAY in output, output
