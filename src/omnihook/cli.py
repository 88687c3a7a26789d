"""The `omnihook` command: serve, worker, migrate, create-admin."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from omnihook.config import get_settings

app = typer.Typer(help="omnihook: omnichannel livechat with durable CRM webhooks", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
) -> None:
    """Start the HTTP server (and the webhook dispatcher)."""
    import uvicorn

    from omnihook.app import create_app
    from omnihook.web.live import end_streams_on_exit

    settings = get_settings()
    application = create_app(settings)
    config = uvicorn.Config(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    # Live pages hold event streams open: end them on stop instead of waiting for them.
    end_streams_on_exit(server, application.state.live)
    server.run()


@app.command()
def worker() -> None:
    """Deliver webhooks without serving HTTP; run any number of workers on PostgreSQL."""
    from omnihook.webhooks.worker import run_worker

    asyncio.run(run_worker(get_settings()))


@app.command("migrate")
def migrate_command() -> None:
    """Apply the database migrations."""
    from omnihook.storage.database import Database
    from omnihook.storage.migrate import migrate

    async def run() -> None:
        db = Database(get_settings().database_url)
        try:
            await migrate(db)
        finally:
            await db.dispose()

    asyncio.run(run())
    typer.echo("database is up to date")


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="the admin's username")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="at least 8 characters")],
    email: Annotated[str | None, typer.Option(help="the admin's email")] = None,
) -> None:
    """Create an admin user (roles admin, livechat-manager, livechat-agent)."""
    from omnihook.domain.errors import DomainError
    from omnihook.domain.users import Role
    from omnihook.livechat.accounts import create_user
    from omnihook.storage.database import Database
    from omnihook.storage.migrate import migrate

    async def run() -> None:
        db = Database(get_settings().database_url)
        try:
            await migrate(db)
            await create_user(
                db,
                username=username,
                password=password,
                email=email,
                name=username,
                roles=[Role.ADMIN, Role.MANAGER, Role.AGENT],
            )
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"error: {exc.error}: {exc.details}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"admin {username!r} created")


if __name__ == "__main__":
    app()
