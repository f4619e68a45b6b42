"""The shape rules of the code, checked: short functions, and every rule written in one place.

- No function in plugins/ and agent/ is longer than MAX_FUNCTION_LINES lines (decorators and
  docstring included), so each can be read in one sitting.
- The API group of the Fornax resources is spelled in one place (fornax/names.py); everything
  else imports it. Documentation strings (docstrings, a module's DOCUMENTATION, EXAMPLES and
  RETURN) may name it. The CRDs (YAML, read by the API server) state the same group and the
  same enums as names.py.

ALLOWED lists files owned by work in progress elsewhere, to be emptied when it lands; nothing
else may be added to it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from ansible_collections.centaurus.fornax.plugins.module_utils.fornax import names

ROOT = Path(__file__).resolve().parents[2]
MAX_FUNCTION_LINES = 60
GROUP = "edgeclusters." + "kubeedge.io"  # split: this file must not count as a definition
GROUP_HOME = "plugins/module_utils/fornax/names.py"
DOC_VARIABLES = {"DOCUMENTATION", "EXAMPLES", "RETURN"}

# file -> why it may break the rules for now (being rewritten on another branch).
ALLOWED: dict[str, str] = {}


def python_files() -> list[Path]:
    return sorted(
        path
        for folder in ("plugins", "agent")
        for path in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def long_functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """(name, first line, length) of every function longer than MAX_FUNCTION_LINES."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = node.end_lineno - first + 1
            if length > MAX_FUNCTION_LINES:
                found.append((node.name, node.lineno, length))
    return found


def documentation_strings(tree: ast.AST) -> set[int]:
    """ids of the string constants that document: docstrings and DOCUMENTATION & co."""
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            docs.add(id(body[0].value))
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in DOC_VARIABLES for t in node.targets
        ):
            docs.add(id(node.value))
    return docs


def group_spellings(tree: ast.AST) -> list[int]:
    """Lines of string constants (not documentation) that spell the API group."""
    docs = documentation_strings(tree)
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and GROUP in node.value
        and id(node) not in docs
    ]


def parsed() -> dict[str, ast.AST]:
    return {relative(p): ast.parse(p.read_text(), str(p)) for p in python_files()}


def test_no_function_is_longer_than_sixty_lines():
    offenders = [
        f"{path}:{line} {name} has {length} lines"
        for path, tree in parsed().items()
        if path not in ALLOWED
        for name, line, length in long_functions(tree)
    ]
    assert not offenders, "split these functions:\n" + "\n".join(offenders)


def test_the_api_group_is_spelled_in_one_place():
    spelled = {
        path: lines
        for path, tree in parsed().items()
        if path not in ALLOWED
        for lines in [group_spellings(tree)]
        if lines
    }
    assert list(spelled) == [GROUP_HOME], (
        f"the API group is spelled outside {GROUP_HOME}; import it from there: {spelled}"
    )
    assert len(spelled[GROUP_HOME]) == 1, spelled


def test_the_allow_list_names_only_files_that_exist():
    missing = [path for path in ALLOWED if not (ROOT / path).is_file()]
    assert not missing, missing


def test_the_crds_state_what_names_py_defines():
    crds = {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "crds").glob("*.yaml")}
    assert {crd["spec"]["group"] for crd in crds.values()} == {names.GROUP}
    for crd in crds.values():
        assert [v["name"] for v in crd["spec"]["versions"]] == [names.VERSION]
    schema = crds["edgecluster"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    distro = schema["spec"]["properties"]["kubeDistro"]
    assert tuple(distro["enum"]) == names.KUBE_DISTROS
    assert distro["default"] == names.KUBE_DISTROS[0]
    health = schema["status"]["properties"]["healthStatus"]
    assert tuple(health["enum"]) == names.HEALTH_STATES


def test_test_files_have_unique_basenames():
    """pytest imports test files by basename (rootdir-relative, no packages): two files of one
    name in different folders stop the whole collection of `make test`."""
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
