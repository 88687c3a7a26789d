"""Writing events through omnihook's use-case layer, in this process (the webhook outbox included)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from omnihook.livechat.messages import send_visitor_message
from omnihook.livechat.rooms import get_or_create_room
from omnihook.livechat.visitors import VisitorInput, register_visitor
from omnihook.storage.database import Database
from omnihook.webhooks.endpoints import EndpointCache
from omnihook.webhooks.outbox import Outbox
from omnihook.webhooks.settings import save_integration_settings


@dataclass
class Populated:
    expected: dict[str, list[str]] = field(default_factory=dict)  # room id → message ids, in order
    events: int = 0  # messages written so far
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def open_database(url: str) -> Database:
    """A Database wired like the server's: the webhook outbox runs in every unit of work."""
    db = Database(url)
    db.before_commit.append(Outbox(EndpointCache()))
    return db


async def open_rooms(db: Database, count: int) -> list[tuple[str, str]]:
    """`count` visitors with an open room each: [(token, room_id)]."""
    sem = asyncio.Semaphore(8)

    async def one(i: int) -> tuple[str, str]:
        token = f"bench-{uuid.uuid4().hex}"
        async with sem:
            await register_visitor(db, VisitorInput(token=token, name=f"Visitor {i}"))
            room, _ = await get_or_create_room(db, token=token)
        return token, room.id

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def write_messages(
    db: Database,
    rooms: list[tuple[str, str]],
    events: int,
    *,
    writers: int = 4,
    into: Populated | None = None,
) -> Populated:
    """`events` visitor messages round-robin over `rooms`; each room's messages are written in order."""
    result = into or Populated()
    for _, room_id in rooms:
        result.expected.setdefault(room_id, [])
    writers = max(1, min(writers, len(rooms)))
    started = time.perf_counter()

    async def writer(w: int) -> None:
        # a writer owns every room whose index ≡ w (mod writers): one room is never written concurrently
        for i in range(events):
            if (i % len(rooms)) % writers != w:
                continue
            token, room_id = rooms[i % len(rooms)]
            message = await send_visitor_message(db, token=token, rid=room_id, msg=f"bench message {i}")
            result.expected[room_id].append(message.id)
            result.events += 1
            # SQLite runs inline and an uncontended lock does not suspend: let other tasks (samplers) run.
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(w) for w in range(writers)))
    result.seconds = time.perf_counter() - started
    return result


async def populate(url: str, webhook_url: str, *, rooms: int, events: int) -> Populated:
    """The Rocket.Chat CRM webhook on visitor messages to `webhook_url`, then `events` messages over `rooms`."""
    db = open_database(url)
    try:
        await save_integration_settings(
            db,
            {"LivechatWebhookUrl": webhook_url, "LivechatWebhookOnVisitorMessage": True},
            allow_private_targets=True,
        )
        # SQLite has one writer at a time; PostgreSQL commits concurrent transactions side by side.
        writers = 4 if db.is_sqlite else 16
        return await write_messages(db, await open_rooms(db, rooms), events, writers=writers)
    finally:
        await db.dispose()
