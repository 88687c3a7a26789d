"""What the streams carry, in Rocket.Chat's shapes with EJSON dates: messages, agent and queue data.

Loaded once per note per server (never per subscriber); a visitor's token is in the visitor's copy of
its own messages only, never in staff's.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.rooms import InquiryStatus, Message
from omnihook.livechat.accounts import find_user
from omnihook.livechat.queries import message_from_row
from omnihook.livechat.settings import SETTINGS
from omnihook.realtime.ddp import ejson_date
from omnihook.storage.settings_store import read_settings
from omnihook.storage.tables import inquiries, messages, rooms, visitors

AGENT_DISPLAY = ("Livechat_show_agent_info", "Livechat_show_agent_email")
QUEUE_MESSAGE = "Livechat_waiting_queue_message"


def _default(setting_id: str) -> object:
    spec = SETTINGS.get(setting_id)
    return spec.default if spec is not None else True


def message_doc(m: Message, *, for_visitor: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": m.id,
        "rid": m.room_id,
        "msg": m.msg,
        "ts": ejson_date(m.ts),
        "u": {"_id": m.u_id, "username": m.u_username, "name": m.u_name},
        "_updatedAt": ejson_date(m.updated_at),
    }
    if m.t is not None:
        doc["t"] = m.t
    if m.token is not None and for_visitor:
        doc["token"] = m.token
    if m.agent_id is not None:
        doc["agentId"] = m.agent_id
    if m.closing_message:
        doc["closingMessage"] = True
    if m.transfer_data is not None:
        doc["transferData"] = m.transfer_data
    if m.edited_at is not None:
        doc["editedAt"] = ejson_date(m.edited_at)
        doc["editedBy"] = {"_id": m.u_id, "username": m.u_username}
    return doc


async def load_message(conn: AsyncConnection, message_id: str) -> Message | None:
    row = (await conn.execute(select(messages).where(messages.c.id == message_id))).first()
    if row is None or row.hidden:
        return None
    return message_from_row(row)


async def last_message_of_type(conn: AsyncConnection, room_id: str, t: str) -> Message | None:
    """The room's latest system message of type `t` (the close and transfer notes record no MessageSent)."""
    row = (
        await conn.execute(
            select(messages)
            .where(messages.c.room_id == room_id, messages.c.t == t)
            .order_by(messages.c.seq.desc())
            .limit(1)
        )
    ).first()
    return message_from_row(row) if row is not None else None


async def agent_data(conn: AsyncConnection, agent_id: str) -> dict[str, Any]:
    """The agent as the widget shows it (Livechat_show_agent_info / _email, as livechat/agent.info)."""
    stored = await read_settings(conn, list(AGENT_DISPLAY))
    show_info, show_email = (bool(stored.get(k, _default(k))) for k in AGENT_DISPLAY)
    if not show_info:
        return {"hiddenInfo": True}
    agent = await find_user(conn, user_id=agent_id)
    data: dict[str, Any] = {"_id": agent.id, "username": agent.username, "name": agent.name}
    if show_email and agent.email:
        data["emails"] = [{"address": agent.email, "verified": False}]
    return data


async def queue_spots(conn: AsyncConnection, room_ids: set[str]) -> dict[str, int]:
    """Each queued room's place in its queue (1 is next), for the rooms asked about."""
    place = func.row_number().over(
        partition_by=inquiries.c.department_id, order_by=(inquiries.c.created_at, inquiries.c.id)
    )
    ranked = (
        select(inquiries.c.room_id, place.label("spot"))
        .where(inquiries.c.status == InquiryStatus.QUEUED)
        .subquery()
    )
    rows = await conn.execute(select(ranked.c.room_id, ranked.c.spot).where(ranked.c.room_id.in_(room_ids)))
    return {row.room_id: int(row.spot) for row in rows}


async def queue_message(conn: AsyncConnection) -> dict[str, Any]:
    """The waiting-queue message the widget shows beside the place (Livechat_waiting_queue_message)."""
    text = (await read_settings(conn, [QUEUE_MESSAGE])).get(QUEUE_MESSAGE) or ""
    return {"text": text, "user": {"_id": "rocket.cat", "username": "rocket.cat"}}


def queue_data(spot: int, message: dict[str, Any]) -> dict[str, Any]:
    return {"spot": spot, "message": message, "estimatedWaitTimeSeconds": 0}


async def visitor_data(conn: AsyncConnection, room_id: str) -> dict[str, Any] | None:
    """The room's visitor after an edit (name, emails, phone, custom fields), without the token."""
    row = (
        await conn.execute(
            select(visitors).join(rooms, rooms.c.visitor_id == visitors.c.id).where(rooms.c.id == room_id)
        )
    ).first()
    if row is None:
        return None
    data: dict[str, Any] = {"_id": row.id, "username": row.username, "name": row.name}
    if row.emails:
        data["visitorEmails"] = row.emails
    if row.phones:
        data["phone"] = row.phones
    if row.custom_fields:
        data["livechatData"] = row.custom_fields
    return data
