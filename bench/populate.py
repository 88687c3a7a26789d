"""Writing events through omnihook's use-case layer, in this process, with nobody delivering yet."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

from omnihook.livechat.messages import send_visitor_message
from omnihook.livechat.rooms import get_or_create_room
from omnihook.livechat.visitors import VisitorInput, register_visitor
from omnihook.storage.database import Database
from omnihook.webhooks.settings import save_integration_settings


@dataclass
class Populated:
    expected: dict[str, list[str]] = field(default_factory=dict)  # room id → message ids, in order
    events: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def open_database(url: str) -> Database:
    """A Database wired like the server's: the webhook outbox runs in every unit of work."""
    from omnihook.webhooks.endpoints import EndpointCache
    from omnihook.webhooks.outbox import Outbox

    db = Database(url)
    db.before_commit.append(Outbox(EndpointCache()))
    return db


async def populate(url: str, webhook_url: str, *, rooms: int, events: int, writers: int = 4) -> Populated:
    """`events` visitor messages spread round-robin over `rooms` open rooms, webhooks to `webhook_url`."""
    db = open_database(url)
    result = Populated()
    try:
        await save_integration_settings(
            db,
            {"LivechatWebhookUrl": webhook_url, "LivechatWebhookOnVisitorMessage": True},
            allow_private_targets=True,
        )
        opened: list[tuple[str, str]] = []
        for i in range(rooms):
            token = f"flood-{uuid.uuid4().hex}"
            await register_visitor(db, VisitorInput(token=token, name=f"Visitor {i}"))
            room, _ = await get_or_create_room(db, token=token)
            opened.append((token, room.id))
            result.expected[room.id] = []
        started = time.perf_counter()
        writers = max(1, min(writers, rooms))

        # Each writer owns a share of the rooms, so that every room's messages are written in order.
        async def writer(w: int) -> None:
            for i in range(events):
                if (i % rooms) % writers != w:
                    continue
                token, room_id = opened[i % rooms]
                message = await send_visitor_message(db, token=token, rid=room_id, msg=f"flood message {i}")
                result.expected[room_id].append(message.id)

        await asyncio.gather(*(writer(w) for w in range(writers)))
        result.seconds = time.perf_counter() - started
        result.events = events
    finally:
        await db.dispose()
    return result
