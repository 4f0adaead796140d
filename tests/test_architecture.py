"""The structure docs/architecture.md promises, checked against the code's own imports.

- The one-way layer contracts in pyproject.toml (`[tool.importlinter]`) hold.
- No import cycle among the product's modules (grimp's import graph).
- Importing the pure core loads neither aiohttp nor aiortc (nor SQLAlchemy).
- SQL is built and run only in `service/storage`, and no code touches a private attribute of
  the database libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("service", "signalling", "scheduler", "web")
STORAGE = ROOT / "service" / "storage"
QUERY_BUILDERS = frozenset({"select", "insert", "update", "delete", "text", "union", "exists"})
SESSION_CALLS = frozenset({"execute", "scalars", "scalar", "stream", "exec_driver_sql"})
DATABASE_LIBRARIES = ("sqlalchemy", "aiosqlite", "asyncpg")
# SQLAlchemy's Row API names these with an underscore so they cannot clash with a column:
# they are public and documented.
PUBLIC_ROW_API = frozenset({"_mapping", "_asdict", "_fields", "_t", "_tuple"})


def product_files() -> Iterator[Path]:
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_layer_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "broken" not in done.stdout.split("Contracts:")[-1].split("\n")[0].replace(
        "0 broken", ""
    )


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_among_the_products_modules() -> None:
    graph = grimp.build_graph(*PRODUCT, cache_dir=None)
    # A package's __init__ that re-exports its modules is not a cycle of behaviour: leave out
    # the imports of a package by its own modules, and of modules by their own package.
    for module in list(graph.modules):
        for imported in list(graph.find_modules_directly_imported_by(module)):
            if imported.startswith(module + ".") or module.startswith(imported + "."):
                graph.remove_import(importer=module, imported=imported)
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    assert _cycles(graph) == [["a", "b", "c"]]


def test_importing_the_domain_loads_no_framework() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "service" / "domain").rglob("*.py")
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in ('aiohttp', 'aiortc', 'sqlalchemy') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def _sql_outside_storage(path: Path) -> list[str]:
    source = path.read_text()
    tree = ast.parse(source, str(path))
    # `.execute()` means SQL only where a database library is at hand (Redis pipelines have one).
    speaks_sql = any(lib in source for lib in DATABASE_LIBRARIES)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            found += [
                f"{path.name}:{node.lineno} imports {a.name}"
                for a in node.names
                if a.name in QUERY_BUILDERS
            ]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SESSION_CALLS
            and speaks_sql
            and not isinstance(node.func.value, ast.Constant)
        ):
            found.append(f"{path.name}:{node.lineno} calls .{node.func.attr}()")
    return found


def test_sql_is_built_and_run_only_in_storage() -> None:
    offending = [
        hit
        for path in product_files()
        if STORAGE not in path.parents
        for hit in _sql_outside_storage(path)
    ]
    assert offending == []


def test_the_sql_check_sees_a_query_outside_storage(tmp_path: Path) -> None:
    sample = tmp_path / "handler.py"
    sample.write_text(
        "from sqlalchemy import select\nasync def f(db):\n    await db.execute(select(1))\n"
    )
    redis = tmp_path / "backplane.py"
    redis.write_text("async def f(pipe):\n    await pipe.execute()\n")
    assert _sql_outside_storage(redis) == []
    assert _sql_outside_storage(sample) == [
        "handler.py:1 imports select",
        "handler.py:3 calls .execute()",
    ]


def _private_attributes_of_libraries(path: Path) -> list[str]:
    """`x._name` in a module that imports a database library, unless `x` is self or cls."""
    source = path.read_text()
    if not any(lib in source for lib in DATABASE_LIBRARIES):
        return []
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and node.attr not in PUBLIC_ROW_API
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append(f"{path.name}:{node.lineno} ._{node.attr.lstrip('_')}")
    return found


@pytest.mark.parametrize("path", list(product_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_attribute_of_a_database_library(path: Path) -> None:
    assert _private_attributes_of_libraries(path) == []
