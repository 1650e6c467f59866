"""Imports point inwards: bot → handlers → storage, never the other way (DESIGN.md, Shape);
only storage/ speaks SQL; and no two modules import each other, not even from inside a
function (an import hidden in a function is still a cycle a newcomer trips over)."""

from __future__ import annotations

import ast

import pytest

from testkit.support import ROOT

RUNTIME = ("bot", "telegram", "nio", "apscheduler")
SQL = ("sqlalchemy", "sqlmodel")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot": SQL,
    "handlers": (*RUNTIME, *SQL),
    "storage": (*RUNTIME, "handlers"),
}
PACKAGES = ("bot", "handlers", "storage")


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """Every module `source` imports, absolute, with its line; `module` resolves relative ones."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, node.module] if node.module else package)
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            # `from . import bot` imports a module named by the alias
            found.extend(
                (node.lineno, f"{base}.{alias.name}" if base else alias.name)
                for alias in node.names
            )
    return found


def violations(source: str, module: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module}:{line} imports {name}"
        for line, name in imported_modules(source, module)
        if any(name == root or name.startswith(f"{root}.") for root in forbidden)
    ]


def package_sources(package: str) -> list[tuple[str, str]]:
    sources = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        sources.append((".".join(parts), path.read_text(encoding="utf-8")))
    return sources


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_inwards(package: str) -> None:
    sources = package_sources(package)
    assert len(sources) > 3, f"found no modules under {ROOT / package}"

    found = [
        v for module, source in sources for v in violations(source, module, FORBIDDEN[package])
    ]

    assert found == []


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("import telegram", "handlers.router"),
        ("from telegram.ext import Application", "handlers.router"),
        ("import nio.crypto as crypto", "handlers.router"),
        ("from apscheduler.schedulers.asyncio import AsyncIOScheduler", "handlers.flood"),
        ("from bot.config import Settings", "handlers.context"),
        ("import bot", "handlers.context"),
        ("from .. import bot", "handlers.context"),
        ("from ..bot.app import App", "handlers.context"),
        ("def f():\n    import telegram\n", "handlers.residents.intake"),  # hidden in a function
        ("if TYPE_CHECKING:\n    from bot.app import App\n", "handlers.residents.intake"),
        ("from handlers.messages import Reply", "storage.items.feedback"),
        ("from sqlmodel import Session", "bot.demo.year"),
        ("def f():\n    from sqlalchemy import select\n", "bot.cli.main"),
        ("from sqlalchemy import select", "handlers.router"),
    ],
)
def test_the_scanner_sees_forbidden_imports(source: str, module: str) -> None:
    package = module.split(".")[0]
    assert violations(source, module, FORBIDDEN[package]) != []


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("from storage.store import Store", "handlers.context"),
        ("from .messages import Reply", "handlers.router"),
        ("import botocore", "handlers.router"),  # a prefix of a name is not the name
        ("from handlers_extra import x", "storage.db"),
        ("from sqlmodel import select", "storage.db"),
        ("from storage.store import Store", "bot.app"),
    ],
)
def test_the_scanner_allows_inward_imports(source: str, module: str) -> None:
    package = module.split(".")[0]
    assert violations(source, module, FORBIDDEN[package]) == []


def import_graph(sources: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Which project modules each module imports, at any depth of its code."""
    modules = {module for module, _ in sources}
    graph: dict[str, set[str]] = {}
    for module, source in sources:
        targets = set()
        for _, name in imported_modules(source, module):
            # `from bot.cli import demo` names bot.cli.demo; `from x import name` names x
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(f"{name}."):
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_module_imports_itself_back() -> None:
    sources = [source for package in PACKAGES for source in package_sources(package)]
    assert cycles(import_graph(sources)) == []


def test_the_cycle_finder_sees_a_cycle_hidden_in_a_function() -> None:
    sources = [
        ("bot.app", "from bot.report.drafts import ReportDrafts\n"),
        ("bot.report.drafts", "def child():\n    from bot.app import bootstrap\n"),
        ("bot.report", ""),
        ("bot.cli.main", "from bot.app import App\nfrom bot.cli import demo\n"),
        ("bot.cli.demo", ""),
        ("bot.cli", ""),
    ]
    assert cycles(import_graph(sources)) == [["bot.app", "bot.report.drafts"]]
