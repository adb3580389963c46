"""The package's shape, as DESIGN.md draws it: no import cycle, imports point down the layers,
config modules import only the standard library, and no branch on a kind's name outside
`knowgen/knowledge/`. Read from the source with `ast`, so nothing is imported or run."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "knowgen"

# lower number = lower layer; a module may import its own layer or lower ones only
LAYERS = {
    "knowgen.sections": 0,
    "knowgen.files": 0,
    "knowgen.write_failures": 0,
    "knowgen.cache": 0,
    "knowgen.images": 0,
    "knowgen.augment": 0,
    "knowgen.losses": 0,
    "knowgen.data": 0,
    "knowgen.knowledge": 1,
    "knowgen.models": 2,
    "knowgen.checkpoint": 3,
    "knowgen.generator_files": 3,
    "knowgen.sampling": 3,
    "knowgen.metrics": 4,
    "knowgen.represent": 4,
    "knowgen.transfer": 4,
    "knowgen.train": 4,
    "knowgen.config": 4,  # the run's config groups every component's section
    "knowgen.cli": 5,
    "knowgen.serve": 5,  # over sampling only
    "knowgen": 6,  # the package's __init__ re-exports the API
    "knowgen.__main__": 6,
}
# the config mechanics (typed sections from TOML and --set values): the standard library only
CONFIG_MODULES = ("knowgen.sections",)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """The package modules `path` imports (at any depth of the file, lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name.startswith("knowgen"):
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    edges = {}
    for name, path in found.items():
        targets = imports(path, known) - {name}
        edges[name] = {t for t in targets if not name.startswith(t + ".")}  # a parent package
    return edges


def layer(name: str) -> int:
    while name not in LAYERS:
        name = name.rpartition(".")[0]
    return LAYERS[name]


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_point_down_the_layers():
    upward = [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, targets in graph().items()
        for target in sorted(targets)
        if layer(target) > layer(name)
    ]
    assert not upward, "\n".join(upward)


def test_config_modules_import_only_the_standard_library():
    for name in CONFIG_MODULES:
        tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                for imported in names:
                    top = imported.split(".")[0]
                    assert top in sys.stdlib_module_names, f"{name} imports {imported}"


KIND_BRANCH = re.compile(r'condition ==|condition_kind\(|== "(text|fusion)"')


def test_no_branch_on_a_kind_outside_the_knowledge_layer():
    hits = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        if "knowledge" not in path.relative_to(PACKAGE).parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if KIND_BRANCH.search(line)
    ]
    assert not hits, "\n".join(hits)
