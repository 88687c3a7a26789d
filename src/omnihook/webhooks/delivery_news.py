"""Telling the live pages which deliveries a recorded batch changed: one note per batch, ids only.

On PostgreSQL the note is a NOTIFY on the live channel inside the recording transaction (delivered at
commit, dropped on rollback), so every server process's relay fans it out to its pages, whichever
process recorded the batch (a server's dispatcher or an `omnihook worker`). On SQLite the dispatcher
runs in the server process: the note goes to this process's live broker after the commit, and only
while someone is subscribed. A separate worker on SQLite has no broker and no NOTIFY: its results
reach open pages at their next reload.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.livechat.live_events import LIVE_CHANNEL
from omnihook.storage.database import Database
from omnihook.storage.notify import notify

DELIVERIES_CHANGED = "deliveries.changed"
# Ids a note names at most (far below NOTIFY's 8000 bytes); a larger batch names none: reload all.
IDS_PER_NOTE = 100


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

    async def before_commit(self, conn: AsyncConnection, delivery_ids: list[str]) -> None:
        if delivery_ids and not self.db.is_sqlite:
            await notify(conn, LIVE_CHANNEL, orjson.dumps([changed_note(delivery_ids)]).decode())

    def after_commit(self, delivery_ids: list[str]) -> None:
        pages = self.pages
        if delivery_ids and self.db.is_sqlite and pages is not None and pages.subscriber_count:
            pages.fanout([changed_note(delivery_ids)])
