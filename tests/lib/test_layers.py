"""The layers of docs/architecture.md hold: no import circles in `instances/` (imports inside
functions included), pages are imported by no lower module, `lib` imports no domain and the
Cloud Elements client nothing of the product but `lib` and the parameter table."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "instances"
PAGE_NAMES = {"views", "urls", "admin", "receiver"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _is_page(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf in PAGE_NAMES or leaf.endswith("_views") or ".management.commands." in name


def test_there_is_no_import_circle():
    circles, done = [], set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            circles.append([*path[path.index(name) :], name])
            return
        if name in done:
            return
        for target in sorted(GRAPH[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])
    assert not circles, circles[:3]


def test_no_lower_module_imports_a_page():
    wrong = {
        (name, target)
        for name, targets in GRAPH.items()
        if not _is_page(name)
        for target in targets
        if _is_page(target)
    }
    assert not wrong


def test_lib_imports_no_domain_and_the_client_only_lib():
    # The parameter table is data (it imports nothing of the product), at the bottom with lib.
    assert not GRAPH["instances.parameters"]
    for name, targets in GRAPH.items():
        if name.startswith("instances.lib"):
            assert all(t.startswith("instances.lib") for t in targets), (name, targets)
        if name.startswith("instances.cloud_elements"):
            allowed = ("instances.lib", "instances.cloud_elements", "instances.parameters")
            assert all(t.startswith(allowed) for t in targets), (name, targets)


def test_the_check_sees_the_packages():
    # Guards the checks above against passing on an empty graph.
    assert {"instances.jobs.engine", "instances.events.receiver", "instances.views"} <= set(GRAPH)
    assert "instances.jobs.engine" in GRAPH["instances.jobs.tasks"]
