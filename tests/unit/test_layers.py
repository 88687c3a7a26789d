"""The layering rule, read from the source: api/, web/ and realtime/ are siblings that never import each
other, and none imports the composition root (omnihook.app) above them; nor does http/, below api/ and
web/, nor livechat/ (the use cases and the live events), below all three."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "omnihook"

FORBIDDEN = {
    "api": ("omnihook.web", "omnihook.realtime", "omnihook.app"),
    "web": ("omnihook.api", "omnihook.realtime", "omnihook.app"),
    "realtime": ("omnihook.api", "omnihook.web", "omnihook.http", "omnihook.app"),
    "http": ("omnihook.api", "omnihook.web", "omnihook.realtime", "omnihook.app"),
    # The live events feed web/ and realtime/ alike, so they live below both.
    "livechat": ("omnihook.api", "omnihook.web", "omnihook.realtime", "omnihook.http", "omnihook.app"),
}


def package_of(path: Path) -> str:
    """The package a module's relative imports start from."""
    return ".".join(path.relative_to(PACKAGE.parent).parent.parts)


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a source imports, anywhere in it (in functions too), relative imports resolved."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # `from omnihook import web` imports omnihook.web.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offends(module: str, forbidden: tuple[str, ...]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


def offences(layer: str) -> list[str]:
    paths = sorted((PACKAGE / layer).rglob("*.py"))
    assert paths, f"no modules under {layer}/"
    return [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in paths
        for module in sorted(imported_modules(path.read_text(), package_of(path)))
        if offends(module, FORBIDDEN[layer])
    ]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_from_its_sibling_or_the_app(layer: str) -> None:
    assert offences(layer) == []


def test_the_check_finds_late_relative_and_package_imports() -> None:
    source = """
import omnihook.http.deps
def late():
    from omnihook.api.deps import DB
from .. import app
from ..api import errors
from omnihook import api
"""
    found = {m for m in imported_modules(source, "omnihook.web") if offends(m, FORBIDDEN["web"])}
    assert found == {
        "omnihook.api.deps",
        "omnihook.api.deps.DB",
        "omnihook.app",
        "omnihook.api",
        "omnihook.api.errors",
    }
    assert not offends("omnihook.apidocs", FORBIDDEN["web"])
