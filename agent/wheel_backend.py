# Copyright: contributors to centaurus.fornax
# Apache License 2.0 (see LICENSE)
"""Build the host side of Fornax, the agent, as a wheel (a PEP 517 backend and a command).

The agent runs on the hosts; it imports part of the collection's ``plugins/module_utils``
under its collection name (``ansible_collections.centaurus.fornax.plugins.module_utils``).
The wheel carries ``fornax_agent`` and exactly the module_utils files it imports, directly
or through other module_utils (found by reading the imports, so the list is written nowhere).
A module_utils file the agent reaches that imports Ansible fails the build: the hosts have
no Ansible, and this is where that boundary is checked.

The build uses the standard library only (no network, no build requirements) and is
reproducible: the same sources give the same bytes, so copying the wheel to a host changes
nothing while the code is unchanged.

    python agent/wheel_backend.py --wheel-dir build      # prints {"wheel": ..., ...} as JSON
    pip wheel ./agent                                    # the same, as a PEP 517 backend
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import io
import json
import re
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = "fornax_agent"
COLLECTION_PREFIX = "ansible_collections.centaurus.fornax.plugins"
UTILS = COLLECTION_PREFIX + ".module_utils"
# Where the collection's files are: the checkout or installed collection (agent/..), or the
# copy an sdist carries.
SDIST_COLLECTION = "_collection"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FORBIDDEN_ROOTS = ("ansible",)


class BuildError(Exception):
    """The agent cannot be packaged (the message says why)."""


# What says the collection's version: a checkout's galaxy.yml, an installed collection's
# MANIFEST.json (ansible-galaxy turns the one into the other).
VERSION_FILES = ("galaxy.yml", "MANIFEST.json")


def collection_root() -> Path:
    for root in (HERE / SDIST_COLLECTION, HERE.parent):
        has_version = any((root / name).is_file() for name in VERSION_FILES)
        if has_version and (root / "plugins" / "module_utils").is_dir():
            return root
    raise BuildError(f"no collection (galaxy.yml or MANIFEST.json, plugins/module_utils) at {HERE}")


def project() -> dict:
    """``[project]`` of agent/pyproject.toml (name, requires-python, dependencies, ...)."""
    with open(HERE / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


def version() -> str:
    """The collection's version: agent and collection are released together."""
    root = collection_root()
    if not (root / "galaxy.yml").is_file():
        manifest = json.loads((root / "MANIFEST.json").read_text(encoding="utf-8"))
        return str(manifest["collection_info"]["version"])
    text = (root / "galaxy.yml").read_text(encoding="utf-8")
    found = re.search(r"(?m)^version:\s*['\"]?([0-9A-Za-z.+-]+)", text)
    if found is None:
        raise BuildError("galaxy.yml has no version")
    return found.group(1)


def python_minimum(requires: str) -> str:
    """``3.11`` of ``>=3.11``: the host check compares the host's Python with it."""
    found = re.fullmatch(r"\s*>=\s*(\d+\.\d+)\s*", requires)
    if found is None:
        raise BuildError(f"requires-python {requires!r}: only '>=X.Y' is supported")
    return found.group(1)


def module_of(path: Path, root: Path) -> str:
    """The name Python imports ``path`` under, on the host."""
    if (root / "plugins") in path.parents:
        parts = ["ansible_collections", "centaurus", "fornax"]
        parts.extend(path.relative_to(root).with_suffix("").parts)
    else:
        parts = [PACKAGE, path.stem]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(path: Path, module: str) -> Iterable[str]:
    """Absolute names of what ``path`` (module ``module``) imports, anywhere in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            yield base
            # `from package import module` imports a module too
            yield from (f"{base}.{alias.name}" for alias in node.names)


def utils_file(name: str, root: Path) -> Path | None:
    """The file of module_utils module ``name`` (None when it names no file, e.g. a class)."""
    if not name.startswith(UTILS + ".") and name != UTILS:
        return None
    relative = Path(*name.split(".")[3:])
    for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(start: list[Path], root: Path) -> list[Path]:
    """The module_utils files ``start`` needs, with every ``__init__.py`` on their way."""
    needed: set[Path] = set()
    todo = [(path, module_of(path, root)) for path in start]
    while todo:
        path, module = todo.pop()
        for name in imported_names(path, module):
            if name.split(".")[0] in FORBIDDEN_ROOTS:
                raise BuildError(f"{path.relative_to(root)} imports {name}: hosts have no Ansible")
            found = utils_file(name, root)
            if found is not None and found not in needed:
                needed.add(found)
                todo.append((found, module_of(found, root)))
    for path in list(needed):
        for parent in path.relative_to(root).parents:
            init = root / parent / "__init__.py"
            if parent.parts[:2] == ("plugins", "module_utils") and init.is_file():
                needed.add(init)
    return sorted(needed)


def payload() -> dict[str, bytes]:
    """Archive name -> content of every Python file the wheel carries."""
    root = collection_root()
    agent_files = sorted((HERE / PACKAGE).glob("*.py"))
    if not agent_files:
        raise BuildError(f"no {PACKAGE} package in {HERE}")
    files = {f"{PACKAGE}/{path.name}": path.read_bytes() for path in agent_files}
    prefix = "ansible_collections/centaurus/fornax/"
    for path in closure(agent_files, root):
        files[prefix + path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def metadata(meta: dict, release: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {meta['name']}",
        f"Version: {release}",
        f"Summary: {meta['description']}",
        f"License: {meta['license']}",
        f"Requires-Python: {meta['requires-python']}",
    ]
    lines.extend(f"Requires-Dist: {item}" for item in meta.get("dependencies", []))
    return "\n".join(lines) + "\n"


def dist_info(meta: dict, release: str) -> tuple[str, dict[str, bytes]]:
    name = meta["name"].replace("-", "_")
    folder = f"{name}-{release}.dist-info"
    scripts = "".join(f"{key} = {value}\n" for key, value in meta.get("scripts", {}).items())
    files = {
        "METADATA": metadata(meta, release),
        "WHEEL": "Wheel-Version: 1.0\nGenerator: fornax wheel_backend\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
        "top_level.txt": f"{PACKAGE}\nansible_collections\n",
    }
    if scripts:
        files["entry_points.txt"] = f"[console_scripts]\n{scripts}"
    return folder, {f"{folder}/{key}": value.encode() for key, value in files.items()}


def record_line(name: str, content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(content)}"


def write_zip(target: Path, files: dict[str, bytes]) -> None:
    """A zip whose bytes depend on the names and contents only (fixed time and mode)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])


def wheel_name() -> str:
    return f"{project()['name'].replace('-', '_')}-{version()}-py3-none-any.whl"


def build(wheel_directory: str) -> Path:
    """Write the wheel into ``wheel_directory``; return its path."""
    meta, release = project(), version()
    files = payload()
    folder, info = dist_info(meta, release)
    files.update(info)
    record = f"{folder}/RECORD"
    lines = [record_line(name, files[name]) for name in sorted(files)]
    files[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    target = Path(wheel_directory) / wheel_name()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    write_zip(partial, files)
    partial.replace(target)  # a reader never sees half a wheel
    return target


# PEP 517 hooks


def build_wheel(
    wheel_directory: str, config_settings: dict | None = None, metadata_directory: str | None = None
) -> str:
    return build(wheel_directory).name


def build_sdist(sdist_directory: str, config_settings: dict | None = None) -> str:
    """The agent's sources with the module_utils it needs (and galaxy.yml, for the version)."""
    meta, release = project(), version()
    base = f"{meta['name'].replace('-', '_')}-{release}"
    files = {name: (HERE / name).read_bytes() for name in ("pyproject.toml", "wheel_backend.py")}
    files[f"{SDIST_COLLECTION}/galaxy.yml"] = f"version: {release}\n".encode()
    prefix = "ansible_collections/centaurus/fornax/"
    for name, content in payload().items():
        inside = name.startswith(prefix)
        files[f"{SDIST_COLLECTION}/{name.removeprefix(prefix)}" if inside else name] = content
    files["PKG-INFO"] = metadata(meta, release).encode()
    target = Path(sdist_directory) / f"{base}.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size, info.mode = len(files[name]), 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    return target.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="build the Fornax agent's wheel")
    parser.add_argument("--wheel-dir", required=True, help="directory to write the wheel to")
    args = parser.parse_args(argv)
    try:
        path = build(args.wheel_dir)
        requires = project()["requires-python"]
        minimum = python_minimum(requires)
    except (BuildError, OSError, KeyError, SyntaxError) as exc:
        print(f"cannot build the Fornax agent's wheel: {exc}", file=sys.stderr)
        return 1
    summary = {
        "wheel": str(path),
        "dist_info": dist_info(project(), version())[0],
        "requires_python": requires,
        "python_minimum": minimum,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
