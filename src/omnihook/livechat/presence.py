"""Presence: who holds a live connection now, across every server process sharing the database.

An agent whose last live connection (realtime socket or agent stream) has been gone for a grace period
becomes not available, so auto-assignment stops giving it chats; an agent that never opened one (a bot
on the REST API) is left alone. A visitor is online from `livechat:setUpConnection` until its last
realtime socket closes.

Each connection is a row. Its server refreshes `seen_at` on a timer, so the rows of a server that died
go stale and count as closed when they were last seen; any server's sweep then settles them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from sqlalchemy import ColumnElement, Exists, and_, case, delete, exists, func, insert, select, update

from omnihook.domain.clock import utcnow
from omnihook.domain.ids import new_id
from omnihook.domain.rooms import AgentStatus
from omnihook.storage.database import Database
from omnihook.storage.tables import live_connections, users, visitors

log = logging.getLogger("omnihook.presence")

ONLINE = "online"
OFFLINE = "offline"
# A row not refreshed for this long belongs to a server that is gone.
MIN_STALE_SECONDS = 5.0


class Presence:
    def __init__(self, db: Database, *, grace_seconds: float) -> None:
        self.db = db
        self.grace = timedelta(seconds=grace_seconds)
        self.interval = max(0.1, min(grace_seconds / 4, 15.0))
        self.stale = timedelta(seconds=max(3 * self.interval, MIN_STALE_SECONDS))
        self.server_id = new_id()
        self._open = 0
        self._task: asyncio.Task[None] | None = None

    # --- connections ------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def agent_connection(self, user_id: str) -> AsyncIterator[None]:
        """While open, the agent counts as present; once closed, its grace period starts."""
        connection_id = await self._open_row(user_id=user_id)
        try:
            yield
        finally:
            self._open -= 1
            with contextlib.suppress(Exception):  # the database may be gone: the row goes stale
                async with self.db.transaction() as uow:
                    await uow.conn.execute(
                        update(live_connections)
                        .where(live_connections.c.id == connection_id)
                        .values(closed_at=utcnow())
                    )

    async def visitor_online(self, token: str) -> str:
        """The visitor's socket is set up: online until `visitor_gone(connection id)`."""
        connection_id = await self._open_row(visitor_token=token)
        async with self.db.transaction() as uow:
            await uow.conn.execute(update(visitors).where(visitors.c.token == token).values(status=ONLINE))
        return connection_id

    async def visitor_gone(self, connection_id: str, token: str) -> None:
        """The visitor's socket closed: offline, unless another of theirs is still up (another tab)."""
        self._open -= 1
        async with self.db.transaction() as uow:
            await uow.conn.execute(delete(live_connections).where(live_connections.c.id == connection_id))
            await uow.conn.execute(
                update(visitors)
                .where(
                    visitors.c.token == token,
                    ~self._fresh_open_row(live_connections.c.visitor_token == token),
                )
                .values(status=OFFLINE)
            )

    async def _open_row(self, *, user_id: str | None = None, visitor_token: str | None = None) -> str:
        connection_id = new_id()
        async with self.db.transaction() as uow:
            await uow.conn.execute(
                insert(live_connections).values(
                    id=connection_id,
                    server_id=self.server_id,
                    user_id=user_id,
                    visitor_token=visitor_token,
                    seen_at=utcnow(),
                )
            )
        self._open += 1
        self.start()
        return connection_id

    def _fresh_open_row(self, which: ColumnElement[bool]) -> Exists:
        """There is a connection matching `which` that is open and whose server is alive."""
        cutoff = utcnow() - self.stale
        return exists().where(
            which,
            live_connections.c.closed_at.is_(None),
            live_connections.c.seen_at > cutoff,
        )

    # --- the timer: refresh this server's rows, settle those that are gone -------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="omnihook-presence")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away for a while: try again next time
                log.warning("presence: %s", exc)

    async def tick(self) -> None:
        """Refresh this server's open rows, then make agents gone for the grace period not available."""
        now = utcnow()
        async with self.db.transaction() as uow:
            if self._open > 0:
                await uow.conn.execute(
                    update(live_connections)
                    .where(
                        live_connections.c.server_id == self.server_id, live_connections.c.closed_at.is_(None)
                    )
                    .values(seen_at=now)
                )
            stale = now - self.stale
            fresh = case(
                (and_(live_connections.c.closed_at.is_(None), live_connections.c.seen_at > stale), 1), else_=0
            )
            last_seen = func.max(func.coalesce(live_connections.c.closed_at, live_connections.c.seen_at))
            gone_agents = (
                select(live_connections.c.user_id)
                .where(live_connections.c.user_id.is_not(None))
                .group_by(live_connections.c.user_id)
                .having(func.sum(fresh) == 0, last_seen <= now - self.grace)
            )
            agent_ids = [row[0] for row in await uow.conn.execute(gone_agents)]
            if agent_ids:
                await uow.conn.execute(
                    update(users)
                    .where(
                        users.c.id.in_(agent_ids),
                        users.c.livechat_status == AgentStatus.AVAILABLE,
                        # A connection opened since the select keeps the agent available.
                        ~self._fresh_open_row(live_connections.c.user_id == users.c.id),
                    )
                    .values(livechat_status=AgentStatus.NOT_AVAILABLE)
                )
                await uow.conn.execute(
                    delete(live_connections).where(
                        live_connections.c.user_id.in_(agent_ids),
                        live_connections.c.closed_at.is_not(None) | (live_connections.c.seen_at <= stale),
                    )
                )
            # Visitors behind a server that died: offline, their rows dropped.
            dead_visitors = select(live_connections.c.visitor_token).where(
                live_connections.c.visitor_token.is_not(None), live_connections.c.seen_at <= stale
            )
            tokens = [row[0] for row in await uow.conn.execute(dead_visitors)]
            if tokens:
                await uow.conn.execute(
                    delete(live_connections).where(
                        live_connections.c.visitor_token.in_(tokens), live_connections.c.seen_at <= stale
                    )
                )
                await uow.conn.execute(
                    update(visitors)
                    .where(
                        visitors.c.token.in_(tokens),
                        ~self._fresh_open_row(live_connections.c.visitor_token == visitors.c.token),
                    )
                    .values(status=OFFLINE)
                )
