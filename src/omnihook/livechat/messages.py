"""Messages: the visitor's and the agent's, and reading a room's history."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from omnihook.domain.events import LeadCaptured, MessageDeleted, MessageSent
from omnihook.domain.ids import new_id
from omnihook.domain.rooms import TRANSFER_MESSAGE, Message, Room, RoomStatus, validate_text
from omnihook.domain.users import User
from omnihook.livechat.leads import capture_leads
from omnihook.livechat.queries import find_room, message_from_row, visitor_room
from omnihook.storage.database import Database
from omnihook.storage.storable import storable_text
from omnihook.storage.tables import department_agents, messages, rooms


async def insert_message(
    conn: AsyncConnection,
    *,
    room_id: str,
    msg: str,
    u_id: str,
    u_username: str,
    u_name: str | None,
    message_id: str | None = None,
    token: str | None = None,
    agent_id: str | None = None,
    t: str | None = None,
    closing_message: bool = False,
    hidden: bool = False,
    navigation: dict[str, Any] | None = None,
    transfer_data: dict[str, Any] | None = None,
    ts: datetime | None = None,
) -> Message:
    ts = ts or utcnow()
    message = Message(
        id=message_id or new_id(),
        room_id=room_id,
        msg=msg,
        ts=ts,
        updated_at=ts,
        u_id=u_id,
        u_username=u_username,
        u_name=u_name,
        token=token,
        agent_id=agent_id,
        t=t,
        closing_message=closing_message,
        hidden=hidden,
        navigation=navigation,
        transfer_data=transfer_data,
    )
    # Values as parameters, not `.values()`: the compiled statement is then cached (40 µs less a message).
    await conn.execute(
        _INSERT_MESSAGE,
        {
            "id": message.id,
            "room_id": room_id,
            "msg": msg,
            "ts": ts,
            "updated_at": ts,
            "u_id": u_id,
            "u_username": u_username,
            "u_name": u_name,
            "token": token,
            "agent_id": agent_id,
            "t": t,
            "closing_message": closing_message,
            "hidden": hidden,
            "navigation": navigation,
            "transfer_data": transfer_data,
        },
    )
    return message


_COUNT_ON_OPEN_ROOM = (
    update(rooms)
    .where(rooms.c.id == bindparam("room_id"), rooms.c.status != RoomStatus.CLOSED.value)
    .values(
        message_count=rooms.c.message_count + 1, last_message_at=bindparam("ts"), updated_at=bindparam("ts")
    )
)
_INSERT_MESSAGE = insert(messages)


async def _count_on_open_room(conn: AsyncConnection, room_id: str, ts: datetime) -> None:
    """Bump the room's counters; matching only an open room makes a racing close win cleanly."""
    result = await conn.execute(_COUNT_ON_OPEN_ROOM, {"room_id": room_id, "ts": ts})
    if result.rowcount != 1:
        raise Conflict("room-closed", "this conversation is already closed")


async def _existing(conn: AsyncConnection, message_id: str, room_id: str, u_id: str) -> Message | None:
    row = (await conn.execute(select(messages).where(messages.c.id == message_id))).first()
    if row is None:
        return None
    if row.room_id != room_id or row.u_id != u_id:
        raise Conflict("error-duplicated-message-id", "_id: a different message already has this id")
    return message_from_row(row)


async def send_visitor_message(
    db: Database, *, token: str | None, rid: str | None, msg: str, message_id: str | None = None
) -> Message:
    """The visitor writes in their room. A repeated `_id` returns the stored message (safe retries)."""
    msg = validate_text(storable_text(msg, len(msg)))
    async with db.transaction() as uow:
        room = await visitor_room(uow.conn, token, rid)
        if message_id:
            existing = await _existing(uow.conn, message_id, room.id, room.visitor_id)
            if existing is not None:
                return existing
        room.ensure_open()
        message = await insert_message(
            uow.conn,
            room_id=room.id,
            msg=msg,
            u_id=room.visitor_id,
            u_username=room.visitor_username,
            u_name=room.fname,
            message_id=message_id,
            token=room.visitor_token,
        )
        await _count_on_open_room(uow.conn, room.id, message.ts)
        uow.record(MessageSent(room_id=room.id, message_id=message.id, by_visitor=True))
        if await capture_leads(uow.conn, room.visitor_id, msg):
            uow.record(LeadCaptured(room_id=room.id))
        return message


async def send_agent_message(
    db: Database, user: User, *, rid: str, msg: str, message_id: str | None = None
) -> Message:
    """The room's agent (or a manager) answers. A queued chat must be taken first."""
    msg = validate_text(storable_text(msg, len(msg)))
    async with db.transaction() as uow:
        room = await find_room(uow.conn, rid)
        if message_id:
            existing = await _existing(uow.conn, message_id, room.id, user.id)
            if existing is not None:
                return existing
        room.ensure_open()
        serving = room.served_by is not None and room.served_by.id == user.id
        if not (serving or user.is_manager):
            raise Forbidden("error-not-allowed", "only the agent serving this chat writes in it")
        message = await insert_message(
            uow.conn,
            room_id=room.id,
            msg=msg,
            u_id=user.id,
            u_username=user.username,
            u_name=user.name,
            message_id=message_id,
            agent_id=user.id,
        )
        await _count_on_open_room(uow.conn, room.id, message.ts)
        uow.record(MessageSent(room_id=room.id, message_id=message.id, by_visitor=False))
        return message


async def ensure_agent_sees(conn: AsyncConnection, user: User, room: Room) -> None:
    """Managers see every room; an agent the rooms they serve or served, and the queue they may take."""
    if user.is_manager:
        return
    if room.served_by is not None and room.served_by.id == user.id:
        return
    if room.status is RoomStatus.QUEUED and user.is_agent:
        if room.department_id is None:
            return
        member = await conn.execute(
            select(department_agents.c.agent_id).where(
                department_agents.c.department_id == room.department_id,
                department_agents.c.agent_id == user.id,
            )
        )
        if member.first() is not None:
            return
    raise Forbidden("error-not-allowed", "this chat is not yours")


async def history(
    db: Database,
    *,
    rid: str,
    token: str | None = None,
    user: User | None = None,
    before: datetime | None = None,
    after: datetime | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[Message]:
    """Visible messages, newest first (as Rocket.Chat's livechat/messages.history answers)."""
    async with db.engine.connect() as conn:
        if user is not None:
            room = await find_room(conn, rid)
            await ensure_agent_sees(conn, user, room)
        else:
            room = await visitor_room(conn, token, rid)
        query = select(messages).where(messages.c.room_id == room.id, messages.c.hidden.is_(False))
        if before is not None:
            query = query.where(messages.c.ts < before)
        if after is not None:
            query = query.where(messages.c.ts > after)
        query = query.order_by(messages.c.seq.desc()).offset(offset).limit(limit)
        return [message_from_row(r) for r in await conn.execute(query)]


async def sync(
    db: Database, user: User, *, rid: str, since: datetime | None
) -> tuple[list[Message], list[Message]]:
    """(changed, withdrawn) messages since `since`, oldest first (chat.syncMessages)."""
    async with db.engine.connect() as conn:
        room = await find_room(conn, rid)
        await ensure_agent_sees(conn, user, room)
        query = select(messages).where(messages.c.room_id == room.id)
        if since is not None:
            query = query.where(messages.c.updated_at > since)
        found = [message_from_row(r) for r in await conn.execute(query.order_by(messages.c.seq))]
    changed = [m for m in found if not m.hidden]
    # Hidden text messages were withdrawn; hidden system ones (navigation) were never shown.
    withdrawn = [m for m in found if m.hidden and m.t is None and since is not None]
    return changed, withdrawn


async def visitor_message(db: Database, *, token: str | None, rid: str | None, message_id: str) -> Message:
    """One visible message of the visitor's own room."""
    async with db.engine.connect() as conn:
        room = await visitor_room(conn, token, rid)
        row = (
            await conn.execute(
                select(messages).where(
                    messages.c.id == message_id, messages.c.room_id == room.id, messages.c.hidden.is_(False)
                )
            )
        ).first()
    if row is None:
        raise NotFound("invalid-message", f"no message {message_id!r} in this room")
    return message_from_row(row)


async def _own_text_message(conn: AsyncConnection, room: Room, message_id: str) -> Message:
    row = (
        await conn.execute(select(messages).where(messages.c.id == message_id, messages.c.room_id == room.id))
    ).first()
    if row is None or row.hidden:
        raise NotFound("invalid-message", f"no message {message_id!r} in this room")
    message = message_from_row(row)
    if message.t is not None or message.u_id != room.visitor_id:
        raise Forbidden("error-action-not-allowed", "visitors change only their own text messages")
    return message


async def edit_visitor_message(
    db: Database, *, token: str | None, rid: str | None, message_id: str, msg: str
) -> Message:
    """The visitor corrects a message of theirs in an open chat; sent again as a message (with editedAt)."""
    msg = validate_text(storable_text(msg, len(msg)))
    async with db.transaction() as uow:
        room = await visitor_room(uow.conn, token, rid)
        room.ensure_open()
        message = await _own_text_message(uow.conn, room, message_id)
        now = utcnow()
        await uow.conn.execute(
            update(messages).where(messages.c.id == message.id).values(msg=msg, edited_at=now, updated_at=now)
        )
        uow.record(MessageSent(room_id=room.id, message_id=message.id, by_visitor=True))
        return replace(message, msg=msg, edited_at=now, updated_at=now)


async def delete_visitor_message(
    db: Database, *, token: str | None, rid: str | None, message_id: str
) -> Message:
    """The visitor withdraws a message of theirs in an open chat (kept, hidden from every reader)."""
    async with db.transaction() as uow:
        room = await visitor_room(uow.conn, token, rid)
        room.ensure_open()
        message = await _own_text_message(uow.conn, room, message_id)
        await uow.conn.execute(
            update(messages).where(messages.c.id == message.id).values(hidden=True, updated_at=utcnow())
        )
        uow.record(MessageDeleted(room_id=room.id, message_id=message.id))
        return message


async def transfer_history(db: Database, user: User, *, rid: str) -> list[Message]:
    """The chat's forwards and transfers, oldest first."""
    async with db.engine.connect() as conn:
        room = await find_room(conn, rid)
        await ensure_agent_sees(conn, user, room)
        query = (
            select(messages)
            .where(messages.c.room_id == room.id, messages.c.t == TRANSFER_MESSAGE)
            .order_by(messages.c.seq)
        )
        return [message_from_row(r) for r in await conn.execute(query)]


async def _staff_editable(
    conn: AsyncConnection, user: User, rid: str, message_id: str, permission: str
) -> Message:
    """A text message of a chat the user sees: their own, or anyone's with `permission` (Rocket.Chat's
    edit-message / delete-message)."""
    row = (await conn.execute(select(messages).where(messages.c.id == message_id))).first()
    if row is None or row.hidden:
        raise NotFound(
            f'No message found with the id of "{message_id}". [error-message-not-found]',
            "no such message",
            error_type="error-message-not-found",
        )
    if row.room_id != rid:
        raise InvalidInput(
            "The room id provided does not match where the message is from.",
            "roomId: not the message's room",
            error_type="error-invalid-room",
        )
    room = await find_room(conn, rid)
    await ensure_agent_sees(conn, user, room)
    room.ensure_open()
    message = message_from_row(row)
    if message.t is not None or (message.u_id != user.id and not user.can(permission)):
        raise Forbidden(
            "Message editing not allowed [error-action-not-allowed]",
            "only your own text messages",
            error_type="error-action-not-allowed",
        )
    return message


async def edit_agent_message(db: Database, user: User, *, rid: str, message_id: str, msg: str) -> Message:
    """chat.update by staff: the new text, with editedAt, goes out again as a message (Message webhook)."""
    msg = validate_text(storable_text(msg, len(msg)))
    async with db.transaction() as uow:
        message = await _staff_editable(uow.conn, user, rid, message_id, "edit-message")
        now = utcnow()
        await uow.conn.execute(
            update(messages).where(messages.c.id == message.id).values(msg=msg, edited_at=now, updated_at=now)
        )
        uow.record(MessageSent(room_id=rid, message_id=message.id, by_visitor=message.token is not None))
        return replace(message, msg=msg, edited_at=now, updated_at=now)


async def delete_agent_message(
    db: Database, user: User, *, rid: str, message_id: str
) -> tuple[Message, datetime]:
    """chat.delete by staff: the message is withdrawn (kept, hidden from every reader); returns it and when."""
    async with db.transaction() as uow:
        message = await _staff_editable(uow.conn, user, rid, message_id, "delete-message")
        now = utcnow()
        await uow.conn.execute(
            update(messages).where(messages.c.id == message.id).values(hidden=True, updated_at=now)
        )
        uow.record(MessageDeleted(room_id=rid, message_id=message.id))
        return message, now
