"""Telling the live pages which deliveries a recorded batch changed: one note per batch, ids only.

On PostgreSQL the note is a NOTIFY on the live channel inside the recording transaction (delivered at
commit, dropped on rollback), so every server process's relay fans it out to its pages, whichever
process recorded the batch (a server's dispatcher or an `omnihook worker`). On SQLite the dispatcher
runs in the server process: the note goes to this process's live broker after the commit, and only
while someone is subscribed. A server on SQLite whose deliveries a separate `omnihook worker` records
hears no NOTIFY: while a page listens, it looks for new attempts once a second instead (`watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.livechat.live_events import LIVE_CHANNEL
from omnihook.storage.database import Database
from omnihook.storage.notify import notify
from omnihook.storage.tables import delivery_attempts

log = logging.getLogger("omnihook.webhooks.delivery_news")

DELIVERIES_CHANGED = "deliveries.changed"
# Ids a note names at most (far below NOTIFY's 8000 bytes); a larger batch names none: reload all.
IDS_PER_NOTE = 100
WATCH_SECONDS = 1.0


def changed_note(delivery_ids: list[str]) -> dict[str, Any]:
    """No room: visitors' streams and the realtime API ignore it; `deliveryIds` None means "many"."""
    named = delivery_ids if len(delivery_ids) <= IDS_PER_NOTE else None
    return {"kind": DELIVERIES_CHANGED, "roomId": None, "deliveryIds": named}


class LocalPages(Protocol):
    """This process's live broker (livechat.live_events.Broker)."""

    @property
    def subscriber_count(self) -> int: ...

    def fanout(self, notes: list[dict[str, Any]]) -> None: ...


class DeliveryNews:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Set by the app that serves the pages; None in a worker process.
        self.pages: LocalPages | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def before_commit(self, conn: AsyncConnection, delivery_ids: list[str]) -> None:
        if delivery_ids and not self.db.is_sqlite:
            await notify(conn, LIVE_CHANNEL, orjson.dumps([changed_note(delivery_ids)]).decode())

    def after_commit(self, delivery_ids: list[str]) -> None:
        pages = self.pages
        if delivery_ids and self.db.is_sqlite and pages is not None and pages.subscriber_count:
            pages.fanout([changed_note(delivery_ids)])

    def watch(self) -> None:
        """SQLite, another process recording (no dispatcher here): tell the pages of the attempts it
        records, looked for once a second while a page listens (a range of the attempts' primary key)."""
        if self.db.is_sqlite and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="omnihook-delivery-news")

    async def close(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self) -> None:
        seen: int | None = None  # the last attempt told of; None: nobody listened
        while True:
            try:
                if self.pages is not None and self.pages.subscriber_count:
                    seen = await self._tell_since(self.pages, seen)
                else:
                    seen = None  # a page that subscribes reloads anyway: start from then
            except Exception as exc:  # the database away: next time
                log.debug("new attempts not looked for (%s)", exc)
            await asyncio.sleep(WATCH_SECONDS)

    async def _tell_since(self, pages: LocalPages, seen: int | None) -> int:
        async with self.db.engine.connect() as conn:
            if seen is None:
                return int((await conn.execute(select(func.max(delivery_attempts.c.id)))).scalar() or 0)
            rows = (
                await conn.execute(
                    select(delivery_attempts.c.id, delivery_attempts.c.delivery_id)
                    .where(delivery_attempts.c.id > seen)
                    .order_by(delivery_attempts.c.id)
                    .limit(IDS_PER_NOTE * 10)
                )
            ).all()
        if not rows:
            return seen
        pages.fanout([changed_note(sorted({r.delivery_id for r in rows}))])
        return int(rows[-1].id)
