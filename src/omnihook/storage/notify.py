"""PostgreSQL NOTIFY/LISTEN: tell other processes about a commit, and hear what they tell.

`notify` runs inside the writer's transaction, so PostgreSQL delivers it at commit and drops it on
rollback. `Listener` keeps one asyncpg connection LISTENing to a few channels and reconnects when it
is lost; notifications sent while it was away are gone, which `on_connect(True)` lets the owner
make up for (reload, poll). On SQLite there is one process, nobody to tell: both do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.storage.database import Database

log = logging.getLogger("omnihook.storage.notify")

RECONNECT_SECONDS = 1.0
CLOSE_SECONDS = 2.0

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


async def notify(conn: AsyncConnection, channel: str, payload: str = "") -> None:
    """Inside a transaction: delivered at commit, dropped on rollback; a no-op on SQLite."""
    if conn.dialect.name == "postgresql":
        await conn.execute(_NOTIFY, {"channel": channel, "payload": payload})


class Listener:
    """One LISTEN connection for `handlers` (channel -> called with each payload), kept up until closed.

    `on_connect(reconnected)` runs after each (re)connection, once every channel is listened to:
    False the first time, True after a loss. `ready` is set while listening.
    """

    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, Callable[[str], None]],
        *,
        name: str,
        on_connect: Callable[[bool], None] | None = None,
    ) -> None:
        self.db = db
        self.handlers = dict(handlers)
        self.name = name
        self.on_connect = on_connect
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start listening in the background (again, if it was closed); a no-op on SQLite."""
        if self.db.is_sqlite or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self._run(), name=f"omnihook-listen-{self.name}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.ready.clear()

    async def _run(self) -> None:
        import asyncpg

        dsn = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connected_before = False
        # True from the first failure until the next connection: one warning per outage, not per try.
        failing = False
        while True:
            conn: Any = None
            try:
                # The application name lets an operator (or a test) find this backend in pg_stat_activity.
                conn = await asyncpg.connect(
                    dsn, server_settings={"application_name": f"omnihook {self.name}"}
                )
                lost = asyncio.Event()
                conn.add_termination_listener(lambda *_, lost=lost: lost.set())
                for channel in self.handlers:
                    await conn.add_listener(channel, self._dispatch)
                if failing:
                    log.info("%s: LISTEN connection is back", self.name)
                    failing = False
                self._connected(connected_before)
                connected_before = True
                self.ready.set()
                await lost.wait()
                raise ConnectionError("the server closed the connection")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not failing:
                    what = "lost" if connected_before else "failed"
                    log.warning(
                        "%s: LISTEN connection %s (%s); retrying every %.0f s",
                        self.name,
                        what,
                        exc,
                        RECONNECT_SECONDS,
                    )
                    failing = True
                else:
                    log.debug("%s: LISTEN connection still failing (%s)", self.name, exc)
            finally:
                self.ready.clear()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=CLOSE_SECONDS)
            await asyncio.sleep(RECONNECT_SECONDS)

    def _connected(self, reconnected: bool) -> None:
        if self.on_connect is None:
            return
        try:
            self.on_connect(reconnected)
        except Exception:
            log.exception("%s: on_connect failed", self.name)

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        # asyncpg calls this from the event loop: a raising handler must not reach it.
        handler = self.handlers.get(channel)
        if handler is None:
            return
        try:
            handler(payload)
        except Exception:
            log.exception("%s: handler for channel %r failed", self.name, channel)
