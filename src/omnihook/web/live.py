"""Live updates for the pages: domain events fanned out over Server-Sent Events.

A page hears about a change only once it is committed. On SQLite (one process) the broker is an
`after_commit` listener. On PostgreSQL several server processes may share the database, so each
transaction sends its notes with NOTIFY (delivered at commit, dropped on rollback) and every process
LISTENs and fans them out to its own streams: a visitor and an agent may sit behind different servers.

Streams carry notes, not content ({kind, roomId, messageId, ...}): the page reloads what it shows
through the REST API, which applies the usual permissions. A visitor stream carries its own room only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator
from types import FrameType
from typing import Annotated, Any

import orjson
import uvicorn
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.errors import DomainError, Forbidden, NotFound
from omnihook.domain.events import DomainEvent, MessageSent, RoomTaken
from omnihook.http.deps import DB
from omnihook.livechat.accounts import authenticate
from omnihook.storage.database import Database
from omnihook.storage.notify import Listener, notify
from omnihook.storage.tables import rooms

HEARTBEAT_SECONDS = 15.0
QUEUE_SIZE = 256
LIVE_CHANNEL = "omnihook_live"
# Notes per NOTIFY: keeps each payload far below PostgreSQL's 8000-byte limit.
NOTES_PER_NOTIFY = 40
LISTEN_READY_SECONDS = 10.0
RESYNC: dict[str, Any] = {"kind": "resync", "roomId": None}


class LiveUnavailable(DomainError):
    status = 503
    error_type = "live-unavailable"


def note_for(event: DomainEvent) -> dict[str, Any]:
    """What a page is told about an event: its kind and ids, never message text or visitor details."""
    note: dict[str, Any] = {"kind": event.kind, "roomId": event.room_id}
    if isinstance(event, MessageSent):
        note.update(messageId=event.message_id, byVisitor=event.by_visitor)
    elif isinstance(event, RoomTaken):
        note["agentId"] = event.agent_id
    return note


class Subscription:
    def __init__(self, room_id: str | None) -> None:
        # None: every room (staff); a room id: that room only (a visitor).
        self.room_id = room_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        # Set when notes were dropped for a slow reader: the page must reload everything.
        self.overflowed = False
        self.closed = asyncio.Event()

    def offer(self, note: dict[str, Any]) -> None:
        # A resync (notes may have been missed) concerns every stream, whatever its room.
        if note["kind"] != "resync" and self.room_id is not None and note["roomId"] != self.room_id:
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
        """End every stream (the server is stopping); browsers reconnect to whichever server is up."""
        self.closing = True
        for subscription in self._subscriptions:
            subscription.closed.set()

    @contextlib.contextmanager
    def subscribe(self, room_id: str | None = None) -> Iterator[Subscription]:
        subscription = Subscription(room_id)
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
        self.broker = broker
        self.listener = Listener(
            db, {LIVE_CHANNEL: self._on_notify}, name="live", on_connect=self._on_connect
        )

    async def before_commit(self, conn: AsyncConnection, events: list[DomainEvent]) -> None:
        """A before-commit hook: NOTIFY is delivered at commit, and not at all on rollback."""
        notes = [note_for(event) for event in events]
        for start in range(0, len(notes), NOTES_PER_NOTIFY):
            await notify(conn, LIVE_CHANNEL, orjson.dumps(notes[start : start + NOTES_PER_NOTIFY]).decode())

    async def ensure_listening(self) -> None:
        # Started on the first stream: a server nobody watches keeps no extra connection.
        self.listener.start()
        try:
            await asyncio.wait_for(self.listener.ready.wait(), LISTEN_READY_SECONDS)
        except TimeoutError as exc:
            raise LiveUnavailable("live-unavailable", "live updates are unavailable: no database") from exc

    def _on_connect(self, reconnected: bool) -> None:
        if reconnected:
            self.broker.fanout([RESYNC])  # notes sent while away are lost: pages reload

    def _on_notify(self, payload: str) -> None:
        try:
            notes = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        self.broker.fanout(notes)

    async def close(self) -> None:
        await self.listener.close()


def _frame(note: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(note) + b"\n\n"


async def event_stream(
    broker: Broker, room_id: str | None, heartbeat: float = HEARTBEAT_SECONDS
) -> AsyncGenerator[bytes, None]:
    with broker.subscribe(room_id) as subscription:
        # The page reloads its state on `hello`, so nothing committed after this point is missed.
        yield b"retry: 2000\n" + _frame({"kind": "hello", "roomId": room_id})
        while not subscription.closed.is_set():
            try:
                note = await asyncio.wait_for(_next_note(subscription), timeout=heartbeat)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if note is None:
                return
            if subscription.overflowed:
                subscription.overflowed = False
                yield _frame({"kind": "resync", "roomId": room_id})
            yield _frame(note)


async def _next_note(subscription: Subscription) -> dict[str, Any] | None:
    """The next note, or None once the stream is closed."""
    if not subscription.queue.empty():
        return subscription.queue.get_nowait()
    getter = asyncio.ensure_future(subscription.queue.get())
    closer = asyncio.ensure_future(subscription.closed.wait())
    try:
        await asyncio.wait({getter, closer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closer.cancel()
        if not getter.done():
            getter.cancel()
    return getter.result() if getter.done() and not getter.cancelled() else None


def end_streams_on_exit(server: uvicorn.Server, broker: Broker) -> None:
    """Close the live streams as soon as uvicorn is told to stop, so it need not wait for them."""
    handle_exit = server.handle_exit

    def handle_exit_and_close(sig: int, frame: FrameType | None) -> None:
        handle_exit(sig, frame)
        with contextlib.suppress(RuntimeError):  # no loop running: nothing to close
            asyncio.get_running_loop().call_soon_threadsafe(broker.close)

    server.handle_exit = handle_exit_and_close  # type: ignore[method-assign]


async def _sse(request: Request, room_id: str | None) -> StreamingResponse:
    broker: Broker = request.app.state.live
    await broker.ready()
    return StreamingResponse(
        event_stream(broker, room_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


router = APIRouter(prefix="/api/v1/omnihook/stream", tags=["live"])


@router.get("/agent")
async def agent_stream(
    request: Request,
    db: DB,
    user_id: Annotated[str, Query(alias="userId", min_length=1)],
    auth_token: Annotated[str, Query(alias="authToken", min_length=1)],
) -> StreamingResponse:
    """Every room's changes, for agents and managers (EventSource cannot send headers)."""
    user = await authenticate(db, user_id=user_id, token=auth_token)
    if not (user.is_agent or user.is_manager):
        raise Forbidden("error-not-allowed", "the live stream is for agents and managers")
    return await _sse(request, None)


@router.get("/visitor")
async def visitor_stream(
    request: Request,
    db: DB,
    token: Annotated[str, Query(min_length=1)],
    rid: Annotated[str, Query(min_length=1)],
) -> StreamingResponse:
    """The changes of one room, for the visitor whose token opened it."""
    async with db.engine.connect() as conn:
        found = (
            await conn.execute(select(rooms.c.id).where(rooms.c.id == rid, rooms.c.visitor_token == token))
        ).first()
    if found is None:
        raise NotFound("invalid-room", "no room with this id for this visitor token")
    return await _sse(request, rid)
