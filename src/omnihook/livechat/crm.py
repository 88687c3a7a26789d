"""The CRM's answer kept on the room: Rocket.Chat saves a webhook's 200 body as the room's crmData."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.storage.tables import rooms

CRM_DATA_CAP = 64 * 1024

_save = (
    update(rooms)
    # An unchanged answer leaves the row (and its page) untouched.
    .where(
        rooms.c.id == bindparam("b_room"),
        rooms.c.crm_data.is_(None) | (rooms.c.crm_data != bindparam("b_crm")),
    )
    .values(crm_data=bindparam("b_crm"))
)


async def save_crm_answers(conn: AsyncConnection, answers: Mapping[str, str]) -> None:
    """Inside the caller's transaction: each room's crmData becomes the CRM's last answer (storable text)."""
    if answers:
        await conn.execute(_save, [{"b_room": room, "b_crm": body} for room, body in answers.items()])
