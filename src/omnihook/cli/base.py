"""The Typer application and what every command shares: a database opened for one command, clear errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import orjson
import typer

from omnihook import __version__
from omnihook.config import get_settings
from omnihook.domain.errors import DomainError
from omnihook.storage.database import Database

T = TypeVar("T")

app = typer.Typer(help="omnihook: omnichannel livechat with durable CRM webhooks", no_args_is_help=True)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"omnihook {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """omnihook: omnichannel livechat with durable CRM webhooks."""


def with_database(work: Callable[[Database], Awaitable[T]]) -> T:
    """Run `work` against the configured database (OMNIHOOK_DATABASE_URL: any machine that reaches it);
    a refusal is printed as `error: <code>: <details>` with exit status 2."""

    async def run() -> T:
        db = Database(get_settings().database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"error: {exc.error}: {exc.details or exc.error}", err=True)
        raise typer.Exit(2) from exc


def print_json(value: object) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def print_table(rows: list[list[str]], headings: list[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headings)]
    for line in (headings, *rows):
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
