"""Imports point inwards: bot → handlers → storage, never the other way (DESIGN.md, Shape)."""

from __future__ import annotations

import ast

import pytest

from testkit.support import ROOT

RUNTIME = ("bot", "telegram", "nio", "apscheduler")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "handlers": RUNTIME,
    "storage": (*RUNTIME, "handlers"),
}


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
    ],
)
def test_the_scanner_allows_inward_imports(source: str, module: str) -> None:
    package = module.split(".")[0]
    assert violations(source, module, FORBIDDEN[package]) == []
