"""The package's layers: no import cycle, no lower layer importing a higher one, and
docs/design.md maps every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "biopair"
#: Layer of each top-level part of the package, lowest first (docs/design.md).
LAYERS: dict[str, int] = {
    "tls": 0, "outcome": 0,
    "endpoints": 1,
    "transport": 2,
    "engine": 3,
    "scenario": 4,
    "search": 5, "views": 5, "fuzz": 5, "strategies": 6,
    "cli": 6, "plugin": 6, "__init__": 6, "__main__": 6,
}


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): p
            for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    # Every biopair module this one imports, type-checking imports included.
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module is not None or node.level):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in modules and m != name}


def _layer(module: str) -> int:
    part = module.split(".")[1] if module.count(".") else "__init__"
    return LAYERS[part]


def test_every_module_has_a_layer() -> None:
    unknown = sorted(m for m in _modules() if (m.split(".")[1] if "." in m else "__init__")
                     not in LAYERS)
    assert not unknown, f"add these to LAYERS and docs/design.md: {unknown}"


def test_no_module_imports_a_higher_layer() -> None:
    modules = _modules()
    upward = [f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
              for m, p in modules.items() for t in sorted(_imports(m, p, modules))
              if _layer(t) > _layer(m) and not m.endswith("__init__")
              and m != "biopair.__init__"]
    assert not upward, "\n".join(upward)


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()
             if p.name != "__init__.py"}
    for m in graph:
        graph[m] = {t for t in graph[m] if t in graph}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    cycles = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if reaches(b, a)})
    assert not cycles, cycles


#: Modules whose docs/design.md row the lead adds on merge (branches may not edit
#: design.md); strict, so the mark must go once the row is there.
@pytest.mark.parametrize("module", [
    m for m in sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                    if p.name != "__init__.py" or p.parent == PACKAGE)])
def test_design_doc_maps_the_module(module: str) -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    assert f"`{module}`" in design or f"`{module.replace('/', '.')}`" in design, (
        f"docs/design.md does not map biopair/{module}")
