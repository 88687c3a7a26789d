"""Running omnihook and looking after its database and users: serve, worker, migrate, create-admin,
reset-password."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from omnihook.cli.base import app, with_database
from omnihook.config import get_settings
from omnihook.storage.database import Database

if TYPE_CHECKING:
    import uvicorn

WS_FRAME_HARD_LIMIT_FACTOR = 4


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, help="server processes sharing the port, each with its dispatcher (PostgreSQL)"),
    ] = 1,
) -> None:
    """Start the HTTP server (and the webhook dispatcher)."""
    settings = get_settings()
    if workers == 1:
        _serve_process(host, port)
        return
    if Database(settings.database_url).is_sqlite:
        typer.echo(
            "error: --workers needs PostgreSQL: SQLite has one writer, so one server process serves it",
            err=True,
        )
        raise typer.Exit(2)
    from uvicorn.supervisors import Multiprocess

    from omnihook.app import announce_first_admin
    from omnihook.storage.migrate import migrate

    async def prepare(db: Database) -> None:
        # Once, before the processes start: they would otherwise race to migrate and to create the admin.
        await migrate(db)
        await announce_first_admin(db, settings)

    with_database(prepare)
    # Each process builds its own app (and dispatcher) from the factory on the shared socket; uvicorn's
    # supervisor forwards signals and restarts a process that dies.
    config = _uvicorn_config("omnihook.app:create_server_app", host, port, factory=True, workers=workers)
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def _uvicorn_config(application: Any, host: str | None, port: int | None, **options: Any) -> uvicorn.Config:
    import uvicorn

    settings = get_settings()
    return uvicorn.Config(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
        # A frame a little over the realtime API's limit gets its DDP error; far over it, the socket is
        # closed before the frame is buffered (uvicorn's default would hold 16 MiB).
        ws_max_size=WS_FRAME_HARD_LIMIT_FACTOR * settings.realtime_max_frame_bytes,
        **options,
    )


def _serve_process(host: str | None, port: int | None) -> None:
    """One server process: the app, its dispatcher, uvicorn."""
    import uvicorn

    from omnihook.app import create_server_app
    from omnihook.web.live import end_streams_on_exit

    application = create_server_app()
    server = uvicorn.Server(_uvicorn_config(application, host, port))
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
    from omnihook.storage.migrate import migrate

    with_database(migrate)
    typer.echo("database is up to date")


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="the admin's username")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="at least 8 characters")],
    email: Annotated[str | None, typer.Option(help="the admin's email")] = None,
) -> None:
    """Create an admin user (roles admin, livechat-manager, livechat-agent)."""
    from omnihook.domain.users import Role
    from omnihook.livechat.accounts import create_user
    from omnihook.storage.migrate import migrate

    async def create(db: Database) -> None:
        await migrate(db)
        await create_user(
            db,
            username=username,
            password=password,
            email=email,
            name=username,
            roles=[Role.ADMIN, Role.MANAGER, Role.AGENT],
        )

    with_database(create)
    typer.echo(f"admin {username!r} created")


@app.command("reset-password")
def reset_password(
    username: Annotated[str, typer.Argument(help="whose password (username)")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="the new password"),
    ],
) -> None:
    """Set a user's password (the password rules apply); every session of that user ends."""
    from omnihook.livechat.accounts import find_user, set_password

    async def reset(db: Database) -> None:
        async with db.engine.connect() as conn:
            user = await find_user(conn, username=username)
        await set_password(db, user_id=user.id, password=password)

    with_database(reset)
    typer.echo(f"password of {username!r} set; their sessions have ended")
