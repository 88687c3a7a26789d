"""Visitors: registration by token, custom fields, page visits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Forbidden, InvalidInput, NotFound
from omnihook.domain.ids import new_id
from omnihook.domain.rooms import NAVIGATION_MESSAGE, InquiryStatus, Message, RoomStatus, Visitor
from omnihook.domain.users import User
from omnihook.livechat.accounts import EMAIL_RE
from omnihook.livechat.departments import department_exists
from omnihook.livechat.limits import check_field_count, check_json
from omnihook.livechat.messages import ensure_agent_sees, insert_message
from omnihook.livechat.queries import (
    next_counter,
    require_token,
    room_from_row,
    room_query,
    visitor_by_token,
    visitor_from_row,
    visitor_room,
)
from omnihook.storage.database import Database
from omnihook.storage.settings_store import read_settings
from omnihook.storage.tables import inquiries, rooms, visitors

KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@dataclass(frozen=True, kw_only=True)
class VisitorInput:
    token: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    department: str | None = None
    username: str | None = None
    custom_fields: list[tuple[str, str, bool]] | None = None
    ip: str | None = None
    user_agent: str | None = None
    host: str | None = None


def _merge_fields(current: dict[str, Any], fields: list[tuple[str, str, bool]]) -> dict[str, Any]:
    check_field_count("customFields", len(fields))
    merged = dict(current)
    for key, value, overwrite in fields:
        if not KEY_RE.match(key):
            raise InvalidInput("error-invalid-custom-field", f"key: {key!r} is not a valid field name")
        if overwrite or key not in merged:
            merged[key] = value
    check_field_count("customFields", len(merged))
    check_json("customFields", merged)
    return merged


async def register_visitor(db: Database, data: VisitorInput) -> Visitor:
    """Create the visitor of this token, or update it (Rocket.Chat's POST livechat/visitor)."""
    require_token(data.token)
    if data.email is not None and not EMAIL_RE.match(data.email):
        raise InvalidInput("error-invalid-email", f"visitor.email: {data.email!r} is not an email address")
    try:
        return await _register(db, data)
    except IntegrityError:
        # Two first registrations of one token raced: the other one created it, so update it.
        return await _register(db, data)


async def _register(db: Database, data: VisitorInput) -> Visitor:
    token = data.token
    async with db.transaction() as uow:
        if data.department and not await department_exists(uow.conn, data.department):
            raise InvalidInput(
                "error-invalid-department", f"visitor.department: no department {data.department!r}"
            )
        row = (await uow.conn.execute(select(visitors).where(visitors.c.token == token))).first()
        now = utcnow()
        if row is None:
            username = data.username
            if username:
                taken = await uow.conn.execute(select(visitors.c.id).where(visitors.c.username == username))
                if taken.first() is not None:
                    raise InvalidInput("error-username-taken", f"visitor.username: {username!r} is taken")
            else:
                username = f"guest-{await next_counter(uow.conn, 'guest')}"
            visitor_id = new_id()
            await uow.conn.execute(
                insert(visitors).values(
                    id=visitor_id,
                    token=token,
                    username=username,
                    name=data.name or username,
                    emails=[{"address": data.email}] if data.email else [],
                    phones=[{"phoneNumber": data.phone}] if data.phone else [],
                    department_id=data.department,
                    custom_fields=_merge_fields({}, data.custom_fields or []),
                    ip=data.ip,
                    user_agent=data.user_agent,
                    host=data.host,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            visitor_id = row.id
            changes: dict[str, Any] = {"updated_at": now}
            if data.name:
                changes["name"] = data.name
            if data.email:
                changes["emails"] = [{"address": data.email}]
            if data.phone:
                changes["phones"] = [{"phoneNumber": data.phone}]
            if data.department:
                changes["department_id"] = data.department
            if data.custom_fields:
                changes["custom_fields"] = _merge_fields(dict(row.custom_fields or {}), data.custom_fields)
            for key in ("ip", "user_agent", "host"):
                if getattr(data, key):
                    changes[key] = getattr(data, key)
            await uow.conn.execute(update(visitors).where(visitors.c.id == visitor_id).values(**changes))
            if data.name:
                # The open chat's label follows the visitor's name.
                await uow.conn.execute(
                    update(rooms)
                    .where(rooms.c.visitor_id == visitor_id, rooms.c.status != RoomStatus.CLOSED)
                    .values(fname=data.name)
                )
                await uow.conn.execute(
                    update(inquiries)
                    .where(inquiries.c.visitor_token == token, inquiries.c.status == InquiryStatus.QUEUED)
                    .values(visitor_name=data.name)
                )
        fresh = (await uow.conn.execute(select(visitors).where(visitors.c.id == visitor_id))).one()
        return visitor_from_row(fresh)


async def get_visitor(db: Database, token: str) -> Visitor:
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(visitors).where(visitors.c.token == token))).first()
    if row is None:
        raise NotFound("invalid-token", "no visitor has this token")
    return visitor_from_row(row)


async def set_custom_fields(
    db: Database, *, token: str | None, fields: list[tuple[str, str, bool]]
) -> list[tuple[str, str, bool]]:
    """Store the visitor's custom fields; without `overwrite`, an existing value is kept."""
    if not fields:
        raise InvalidInput("error-invalid-custom-field", "customFields: at least one field")
    async with db.transaction() as uow:
        visitor = await visitor_by_token(uow.conn, token)
        merged = _merge_fields(visitor.custom_fields, fields)
        await uow.conn.execute(
            update(visitors)
            .where(visitors.c.id == visitor.id)
            .values(custom_fields=merged, updated_at=utcnow())
        )
    return fields


async def page_visited(
    db: Database, *, token: str | None, rid: str | None, title: str, href: str, change: str | None = None
) -> Message | None:
    """Record a page the visitor opened, as a navigation message in their open room (if any).

    The message is hidden unless Livechat_Visitor_navigation_as_a_message is on, as in Rocket.Chat.
    """
    if not href:
        raise InvalidInput("error-invalid-page", "pageInfo.location.href: required")
    if not rid:
        return None  # the widget reports pages before the visitor registers: nothing to record
    async with db.transaction() as uow:
        visitor = await visitor_by_token(uow.conn, token)
        room = await visitor_room(uow.conn, token, rid)
        if not room.is_open:
            return None
        setting = "Livechat_Visitor_navigation_as_a_message"
        visible = bool((await read_settings(uow.conn, [setting])).get(setting, False))
        return await insert_message(
            uow.conn,
            room_id=room.id,
            msg=f"{title} - {href}",
            u_id=visitor.id,
            u_username=visitor.username,
            u_name=visitor.name,
            t=NAVIGATION_MESSAGE,
            hidden=not visible,
            navigation={
                "page": {"title": title, "change": change, "location": {"href": href}, "token": token}
            },
        )


async def visitor_for_staff(db: Database, user: User, visitor_id: str) -> Visitor:
    """The visitor, for a manager or an agent who may see one of their rooms (the rooms.info rule)."""
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(visitors).where(visitors.c.id == visitor_id))).first()
        if row is None:
            raise NotFound("visitor-not-found", f"no visitor {visitor_id!r}")
        if user.is_manager:
            return visitor_from_row(row)
        # Only a room the agent serves or one that waits can pass the rule; the rest need not be read.
        candidates = await conn.execute(
            room_query().where(
                rooms.c.visitor_id == visitor_id,
                (rooms.c.served_by_id == user.id) | (rooms.c.status == RoomStatus.QUEUED),
            )
        )
        for room_row in candidates.all():
            try:
                await ensure_agent_sees(conn, user, room_from_row(room_row))
            except Forbidden:
                continue
            return visitor_from_row(row)
    raise Forbidden("error-not-allowed", "this visitor's chats are not yours")


async def check_visitor(db: Database, token: str | None) -> Visitor:
    """The visitor of this token (401 when there is none)."""
    async with db.engine.connect() as conn:
        return await visitor_by_token(conn, token)


async def forget_visitor(db: Database, token: str) -> Visitor:
    """Erase the visitor's personal data and invalidate the token (their closed chats stay, anonymous).

    Refused while a chat is open, as in Rocket.Chat.
    """
    async with db.transaction() as uow:
        row = (await uow.conn.execute(select(visitors).where(visitors.c.token == token))).first()
        if row is None:
            raise NotFound("invalid-token", "no visitor has this token")
        visitor = visitor_from_row(row)
        open_rooms = await uow.conn.execute(
            select(rooms.c.id).where(rooms.c.visitor_id == visitor.id, rooms.c.status != RoomStatus.CLOSED)
        )
        if open_rooms.first() is not None:
            raise InvalidInput("visitor-has-open-rooms", "close the visitor's open chat first")
        dead_token = f"deleted-{new_id()}"
        await uow.conn.execute(
            update(visitors)
            .where(visitors.c.id == visitor.id)
            .values(
                token=dead_token,
                name=None,
                emails=[],
                phones=[],
                custom_fields={},
                ip=None,
                user_agent=None,
                host=None,
                updated_at=utcnow(),
            )
        )
        # The old token must not open the old transcripts either.
        await uow.conn.execute(
            update(rooms).where(rooms.c.visitor_id == visitor.id).values(visitor_token=dead_token)
        )
        await uow.conn.execute(
            update(inquiries).where(inquiries.c.visitor_token == token).values(visitor_token=dead_token)
        )
        return visitor
