"""Live updates for the pages: the live events (livechat/live_events.py) over Server-Sent Events.

Streams carry notes, not content ({kind, roomId, messageId, ...}): the page reloads what it shows
through the REST API, which applies the usual permissions. A visitor stream carries its own room only;
an agent stream ends when the login token it was opened with is revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from types import FrameType
from typing import Annotated, Any

import orjson
import uvicorn
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from omnihook.domain.errors import DomainError, Forbidden, NotFound
from omnihook.http.deps import DB
from omnihook.livechat.accounts import authenticate
from omnihook.livechat.live_events import (
    QUEUE_SIZE,
    RESYNC,
    TOKENS_REVOKED,
    TYPING,
    Broker,
    LiveUnavailable,
    PostgresRelay,
    Subscription,
    note_for,
)
from omnihook.livechat.presence import Presence
from omnihook.storage.database import Database
from omnihook.storage.tables import rooms

__all__ = [
    "QUEUE_SIZE",
    "RESYNC",
    "Broker",
    "LiveUnavailable",
    "PostgresRelay",
    "Subscription",
    "end_streams_on_exit",
    "event_stream",
    "note_for",
    "router",
]

HEARTBEAT_SECONDS = 15.0
# Pages reload on notes; what is not a change of state they show is not sent to them.
NOT_FOR_PAGES = frozenset({TYPING, TOKENS_REVOKED})


def _frame(note: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(note) + b"\n\n"


async def event_stream(
    broker: Broker,
    room_id: str | None,
    heartbeat: float = HEARTBEAT_SECONDS,
    *,
    user_id: str | None = None,
    still_valid: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The stream of one page; with `user_id`, it ends once `still_valid()` says its token is gone."""
    with broker.subscribe(room_id, user_id=user_id) as subscription:
        # The page reloads its state on `hello`, so nothing committed after this point is missed.
        yield b"retry: 2000\n" + _frame({"kind": "hello", "roomId": room_id})
        while not subscription.closed.is_set():
            try:
                note = await asyncio.wait_for(_next_note(subscription), timeout=heartbeat)
            except TimeoutError:
                # An expiry is announced by nobody: the token is checked again while idle.
                if still_valid is not None and not await still_valid():
                    return
                yield b": heartbeat\n\n"
                continue
            if note is None:
                return
            if note["kind"] == TOKENS_REVOKED:
                if still_valid is not None and not await still_valid():
                    return
                continue
            if note["kind"] in NOT_FOR_PAGES:
                continue
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


async def _sse(request: Request, stream: AsyncGenerator[bytes, None], broker: Broker) -> StreamingResponse:
    await broker.ready()
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def agent_event_stream(
    broker: Broker, presence: Presence, db: Database, user_id: str, token: str
) -> AsyncGenerator[bytes, None]:
    """An agent's stream: a live connection of the agent while open, ended when its token is revoked."""

    async def still_valid() -> bool:
        try:
            await authenticate(db, user_id=user_id, token=token)
        except DomainError:
            return False
        except Exception:  # the database away: not a reason to end the stream
            return True
        return True

    async with presence.agent_connection(user_id):
        async for chunk in event_stream(broker, None, user_id=user_id, still_valid=still_valid):
            yield chunk


router = APIRouter(prefix="/api/v1/omnihook/stream", tags=["live"])

# For the OpenAPI document: the answer is a stream of Server-Sent Events, each `data:` a JSON note.
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: each `data:` line a JSON note, `{kind: hello}` first",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("/agent", responses=EVENT_STREAM)
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
    broker: Broker = request.app.state.live
    presence: Presence = request.app.state.presence
    return await _sse(request, agent_event_stream(broker, presence, db, user.id, auth_token), broker)


@router.get("/visitor", responses=EVENT_STREAM)
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
    broker: Broker = request.app.state.live
    return await _sse(request, event_stream(broker, rid), broker)
