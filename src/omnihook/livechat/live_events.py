"""Live events: committed changes told to whoever holds a live connection (pages, realtime API).

A connection hears about a change only once it is committed. On SQLite (one process) the broker is an
`after_commit` listener. On PostgreSQL several server processes may share the database, so each
transaction sends its notes with NOTIFY (delivered at commit, dropped on rollback) and every process
LISTENs and fans them out to its own subscribers: a visitor and an agent may sit behind different servers.

Notes carry ids, not content ({kind, roomId, messageId, ...}): each front loads what it shows with the
usual permissions. Transient notes (typing) are not a change of state: `publish_now` sends them at once,
across processes too, and nothing stores them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.errors import DomainError
from omnihook.domain.events import DomainEvent, MessageDeleted, MessageSent, RoomTaken, TokensRevoked
from omnihook.storage.database import Database
from omnihook.storage.notify import Listener, notify

QUEUE_SIZE = 256
LIVE_CHANNEL = "omnihook_live"
# Notes per NOTIFY: keeps each payload far below PostgreSQL's 8000-byte limit.
NOTES_PER_NOTIFY = 40
LISTEN_READY_SECONDS = 10.0
RESYNC: dict[str, Any] = {"kind": "resync", "roomId": None}
TYPING = "typing"
TOKENS_REVOKED = "tokens.revoked"


class LiveUnavailable(DomainError):
    status = 503
    error_type = "live-unavailable"


def note_for(event: DomainEvent) -> dict[str, Any]:
    """What a live connection is told about an event: its kind and ids, never text or visitor details."""
    note: dict[str, Any] = {"kind": event.kind, "roomId": event.room_id}
    if isinstance(event, MessageSent):
        note.update(messageId=event.message_id, byVisitor=event.by_visitor)
    elif isinstance(event, MessageDeleted):
        note["messageId"] = event.message_id
    elif isinstance(event, RoomTaken):
        note["agentId"] = event.agent_id
    elif isinstance(event, TokensRevoked):
        note["userId"] = event.user_id
    return note


def typing_note(room_id: str, username: str, typing: bool, origin: str) -> dict[str, Any]:
    """Someone types in a room; `origin` (a connection id) is not told of its own typing."""
    return {"kind": TYPING, "roomId": room_id, "username": username, "typing": typing, "origin": origin}


class Subscription:
    def __init__(self, room_id: str | None, user_id: str | None = None) -> None:
        # None: every room (staff, the realtime hub); a room id: that room only (a visitor).
        self.room_id = room_id
        # Set for a connection opened with a user's login token: it hears when that user's tokens go.
        self.user_id = user_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        # Set when notes were dropped for a slow reader: it must reload everything.
        self.overflowed = False
        self.closed = asyncio.Event()

    def offer(self, note: dict[str, Any]) -> None:
        kind = note["kind"]
        if kind == TOKENS_REVOKED:
            # For the user's own connections, and for a hub that serves every user.
            if self.room_id is not None or self.user_id not in (None, note.get("userId")):
                return
        # A resync (notes may have been missed) concerns every subscriber, whatever its room.
        elif kind != "resync" and self.room_id is not None and note["roomId"] != self.room_id:
            return
        try:
            self.queue.put_nowait(note)
        except asyncio.QueueFull:
            self.overflowed = True


class Broker:
    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self.closing = False
        # Set on PostgreSQL: notes then come from LISTEN, for every process alike.
        self.relay: PostgresRelay | None = None

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def publish(self, events: list[DomainEvent]) -> None:
        """An after-commit listener: never blocks, never raises into the committing request."""
        self.fanout([note_for(event) for event in events])

    async def publish_now(self, notes: list[dict[str, Any]]) -> None:
        """Transient notes (typing), outside any transaction: to this process, and to the others."""
        if self.relay is None:
            self.fanout(notes)
        else:
            await self.relay.send_now(notes)  # heard back through LISTEN, like every other note

    def fanout(self, notes: list[dict[str, Any]]) -> None:
        for note in notes:
            for subscription in list(self._subscriptions):
                subscription.offer(note)

    async def ready(self) -> None:
        """Returns once committed changes will reach new subscribers (LISTEN is up, on PostgreSQL)."""
        if self.relay is not None:
            await self.relay.ensure_listening()

    async def aclose(self) -> None:
        self.close()
        if self.relay is not None:
            await self.relay.close()

    def close(self) -> None:
        """End every live connection (the server is stopping); clients reconnect to whichever server is up."""
        self.closing = True
        for subscription in self._subscriptions:
            subscription.closed.set()

    @contextlib.contextmanager
    def subscribe(self, room_id: str | None = None, *, user_id: str | None = None) -> Iterator[Subscription]:
        subscription = Subscription(room_id, user_id)
        if self.closing:
            subscription.closed.set()
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)


class PostgresRelay:
    """Carries notes between the server processes that share one PostgreSQL database."""

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db = db
        self.broker = broker
        self.listener = Listener(
            db, {LIVE_CHANNEL: self._on_notify}, name="live", on_connect=self._on_connect
        )

    async def before_commit(self, conn: AsyncConnection, events: list[DomainEvent]) -> None:
        """A before-commit hook: NOTIFY is delivered at commit, and not at all on rollback."""
        await self._notify(conn, [note_for(event) for event in events])

    async def send_now(self, notes: list[dict[str, Any]]) -> None:
        async with self.db.engine.connect() as conn:
            await self._notify(conn, notes)
            await conn.commit()

    @staticmethod
    async def _notify(conn: AsyncConnection, notes: list[dict[str, Any]]) -> None:
        for start in range(0, len(notes), NOTES_PER_NOTIFY):
            await notify(conn, LIVE_CHANNEL, orjson.dumps(notes[start : start + NOTES_PER_NOTIFY]).decode())

    async def ensure_listening(self) -> None:
        # Started on the first live connection: a server nobody watches keeps no extra connection.
        self.listener.start()
        try:
            await asyncio.wait_for(self.listener.ready.wait(), LISTEN_READY_SECONDS)
        except TimeoutError as exc:
            raise LiveUnavailable("live-unavailable", "live updates are unavailable: no database") from exc

    def _on_connect(self, reconnected: bool) -> None:
        if reconnected:
            self.broker.fanout([RESYNC])  # notes sent while away are lost: clients reload

    def _on_notify(self, payload: str) -> None:
        try:
            notes = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        self.broker.fanout(notes)

    async def close(self) -> None:
        await self.listener.close()


def install_live_events(db: Database) -> Broker:
    """A broker fed by the database's committed domain events (its owner must `aclose()` it)."""
    broker = Broker()
    if db.is_sqlite:
        db.after_commit.append(broker.publish)
    else:
        broker.relay = PostgresRelay(db, broker)
        db.before_commit.append(broker.relay.before_commit)
    return broker
