"""Rooms: opening a chat (and routing it), closing it, listing and editing rooms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from omnihook.domain.events import RoomClosed, RoomInfoEdited, RoomQueued, RoomStarted, RoomTaken
from omnihook.domain.ids import new_id
from omnihook.domain.rooms import (
    CLOSE_MESSAGE,
    CLOSED_BY_VISITOR,
    Closer,
    InquiryStatus,
    Room,
    RoomStatus,
    ensure_transition,
)
from omnihook.domain.users import User
from omnihook.livechat.accounts import EMAIL_RE, find_user
from omnihook.livechat.departments import department_exists
from omnihook.livechat.limits import check_json
from omnihook.livechat.messages import ensure_agent_sees, insert_message
from omnihook.livechat.queries import (
    find_room,
    livechat_enabled,
    require_token,
    room_from_row,
    room_query,
    visitor_by_token,
    visitor_from_row,
    visitor_room,
)
from omnihook.livechat.routing import any_agent_available, choose_agent
from omnihook.livechat.settings import read_with_defaults
from omnihook.storage.database import Database, UnitOfWork
from omnihook.storage.settings_store import read_settings
from omnihook.storage.tables import inquiries, rooms, visitors

MAX_TAGS = 50


async def get_or_create_room(
    db: Database,
    *,
    token: str | None,
    rid: str | None = None,
    department_id: str | None = None,
    source: str = "api",
) -> tuple[Room, bool]:
    """The visitor's open room, or a new one routed at once. Returns (room, created)."""
    async with db.transaction() as uow:
        if rid:
            room = await visitor_room(uow.conn, token, rid)
            room.ensure_open()
            return room, False
        query = select(visitors).where(visitors.c.token == require_token(token))
        if uow.conn.dialect.name == "postgresql":
            # One open room per visitor: serialise concurrent first calls of the same visitor.
            query = query.with_for_update()
        visitor_row = (await uow.conn.execute(query)).first()
        if visitor_row is None:
            await visitor_by_token(uow.conn, token)  # raises the 401
        visitor = visitor_from_row(visitor_row)
        open_row = (
            await uow.conn.execute(
                room_query()
                .where(rooms.c.visitor_id == visitor.id, rooms.c.status != RoomStatus.CLOSED)
                .order_by(rooms.c.created_at.desc())
                .limit(1)
            )
        ).first()
        if open_row is not None:
            return room_from_row(open_row), False
        if not await livechat_enabled(uow.conn):
            raise Forbidden(
                "error-omnichannel-is-disabled", "the livechat is switched off (Livechat_enabled)"
            )
        department = department_id or visitor.department_id
        if department and not await department_exists(uow.conn, department):
            if department_id:
                raise InvalidInput("error-invalid-department", f"department: no department {department_id!r}")
            department = None  # the visitor's department was deleted or disabled since: general queue
        await _ensure_someone_may_answer(uow.conn, department)
        room_id = await _open_room(uow, visitor.id, visitor.token, visitor.name, department, source)
        return await find_room(uow.conn, room_id), True


ACCEPT_WITH_NO_AGENTS = "Livechat_accept_chats_with_no_agents"


async def chat_offered(conn: AsyncConnection, department_id: str | None) -> bool:
    """Rocket.Chat's Livechat.online, livechat/config's `online`: true while
    Livechat_accept_chats_with_no_agents is on (a chat then waits in the queue), else whether an agent (of
    the department, when there is one) is available. The widget shows its offline form when it is false."""
    accept = (await read_with_defaults(conn, [ACCEPT_WITH_NO_AGENTS]))[ACCEPT_WITH_NO_AGENTS]
    return accept is not False or await any_agent_available(conn, department_id)


async def _ensure_someone_may_answer(conn: AsyncConnection, department_id: str | None) -> None:
    """Rocket.Chat's rule: a chat opens only while one is offered (chat_offered)."""
    if not await chat_offered(conn, department_id):
        raise InvalidInput(
            "Sorry, no online agents [no-agent-online]", "no agent is available", error_type="no-agent-online"
        )


async def _open_room(
    uow: UnitOfWork,
    visitor_id: str,
    token: str,
    name: str | None,
    department_id: str | None,
    source: str,
) -> str:
    """Insert the room and its inquiry already routed (one write each), then record the events in order."""
    agent = await choose_agent(uow.conn, department_id)
    now = utcnow()
    room_id = new_id()
    await uow.conn.execute(
        insert(rooms).values(
            id=room_id,
            visitor_id=visitor_id,
            visitor_token=token,
            status=RoomStatus.SERVED if agent else RoomStatus.QUEUED,
            department_id=department_id,
            served_by_id=agent.id if agent else None,
            served_by_username=agent.username if agent else None,
            served_by_ts=now if agent else None,
            fname=name,
            tags=[],
            custom_fields={},
            source=source,
            message_count=0,
            created_at=now,
            updated_at=now,
        )
    )
    await uow.conn.execute(
        insert(inquiries).values(
            id=new_id(),
            room_id=room_id,
            status=InquiryStatus.TAKEN if agent else InquiryStatus.QUEUED,
            department_id=department_id,
            visitor_name=name,
            visitor_token=token,
            created_at=now,
            taken_at=now if agent else None,
        )
    )
    uow.record(RoomStarted(room_id=room_id))
    uow.record(RoomTaken(room_id=room_id, agent_id=agent.id) if agent else RoomQueued(room_id=room_id))
    return room_id


@dataclass(frozen=True, kw_only=True)
class CloseBy:
    closer: Closer
    id: str
    username: str
    name: str | None
    is_agent_message: bool


async def _close(uow: UnitOfWork, room: Room, by: CloseBy, comment: str, tags: Sequence[str] | None) -> None:
    ensure_transition(room.status, RoomStatus.CLOSED)
    now = utcnow()
    changes: dict[str, Any] = {
        "status": RoomStatus.CLOSED,
        "closed_at": now,
        "closed_by_id": by.id,
        "closed_by_username": by.username,
        "closer": by.closer.value,
        "closing_comment": comment,
        "updated_at": now,
    }
    if tags is not None:
        changes["tags"] = list(dict.fromkeys(tags))
    # The status guard: of two racing closes, one wins and the other is refused.
    result = await uow.conn.execute(
        update(rooms).where(rooms.c.id == room.id, rooms.c.status != RoomStatus.CLOSED).values(**changes)
    )
    if result.rowcount != 1:
        raise Conflict("room-closed", "this conversation is already closed")
    await uow.conn.execute(
        update(inquiries).where(inquiries.c.room_id == room.id).values(status=InquiryStatus.CLOSED)
    )
    await insert_message(
        uow.conn,
        room_id=room.id,
        msg=comment,
        u_id=by.id,
        u_username=by.username,
        u_name=by.name,
        agent_id=by.id if by.is_agent_message else None,
        t=CLOSE_MESSAGE,
        closing_message=True,
        ts=now,
    )
    uow.record(RoomClosed(room_id=room.id))


def _check_tags(tags: Sequence[str] | None) -> None:
    if tags is None:
        return
    if len(tags) > MAX_TAGS:
        raise InvalidInput("error-invalid-tags", f"tags: at most {MAX_TAGS}")
    if any(not isinstance(t, str) or not t.strip() or len(t) > 100 for t in tags):
        raise InvalidInput("error-invalid-tags", "tags: non-empty strings of at most 100 characters")


async def close_by_visitor(db: Database, *, token: str | None, rid: str | None) -> Room:
    async with db.transaction() as uow:
        room = await visitor_room(uow.conn, token, rid)
        setting = "Omnichannel_allow_visitors_to_close_conversation"
        if (await read_settings(uow.conn, [setting])).get(setting, True) is False:
            raise Forbidden("error-not-allowed", "visitors may not close conversations here")
        room.ensure_open()
        by = CloseBy(
            closer=Closer.VISITOR,
            id=room.visitor_id,
            username=room.visitor_username,
            name=room.fname,
            is_agent_message=False,
        )
        await _close(uow, room, by, CLOSED_BY_VISITOR, None)
        return await find_room(uow.conn, room.id)


async def close_by_user(
    db: Database, user: User, *, rid: str, comment: str | None = None, tags: Sequence[str] | None = None
) -> Room:
    """The room's agent, or a manager, closes the chat with an optional comment and tags."""
    _check_tags(tags)
    async with db.transaction() as uow:
        room = await find_room(uow.conn, rid, for_update=True)
        serving = room.served_by is not None and room.served_by.id == user.id
        if not (serving or user.is_manager):
            raise Forbidden("error-not-allowed", "only the chat's agent or a manager closes it")
        room.ensure_open()
        by = CloseBy(
            closer=Closer.USER, id=user.id, username=user.username, name=user.name, is_agent_message=True
        )
        await _close(uow, room, by, comment or "", tags)
        return await find_room(uow.conn, room.id)


@dataclass(frozen=True, kw_only=True)
class RoomFilter:
    open: bool | None = None
    agent_ids: Sequence[str] = ()
    department_id: str | None = None
    room_name: str | None = None
    offset: int = 0
    count: int = 50


async def list_rooms(db: Database, user: User, f: RoomFilter) -> tuple[list[Room], int]:
    """Managers see every room; agents the rooms they serve (or served)."""
    query = room_query()
    if f.open is True:
        query = query.where(rooms.c.status != RoomStatus.CLOSED)
    elif f.open is False:
        query = query.where(rooms.c.status == RoomStatus.CLOSED)
    if f.department_id:
        query = query.where(rooms.c.department_id == f.department_id)
    if f.room_name:
        query = query.where(func.lower(rooms.c.fname).contains(f.room_name.lower(), autoescape=True))
    if not user.is_manager:
        if f.agent_ids and set(f.agent_ids) != {user.id}:
            raise Forbidden("error-not-allowed", "agents list only their own rooms")
        query = query.where(rooms.c.served_by_id == user.id)
    elif f.agent_ids:
        query = query.where(rooms.c.served_by_id.in_(list(f.agent_ids)))
    async with db.engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = await conn.execute(
            query.order_by(rooms.c.created_at.desc(), rooms.c.id).offset(f.offset).limit(f.count)
        )
        return [room_from_row(r) for r in rows], int(total)


async def room_info(db: Database, user: User, rid: str) -> Room:
    async with db.engine.connect() as conn:
        room = await find_room(conn, rid)
        await ensure_agent_sees(conn, user, room)
        return room


async def open_room_of(conn: AsyncConnection, visitor_id: str) -> Room | None:
    row = (
        await conn.execute(
            room_query()
            .where(rooms.c.visitor_id == visitor_id, rooms.c.status != RoomStatus.CLOSED)
            .order_by(rooms.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return room_from_row(row) if row else None


@dataclass(frozen=True, kw_only=True)
class GuestData:
    id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    custom_fields: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class RoomData:
    id: str
    topic: str | None = None
    tags: Sequence[str] | None = None
    custom_fields: dict[str, Any] | None = None


async def save_info(db: Database, user: User, guest: GuestData, room_data: RoomData) -> Room:
    """Edit a room's topic, tags and custom fields and its visitor's contact data (room.saveInfo)."""
    _check_tags(room_data.tags)
    check_json("roomData.livechatData", room_data.custom_fields)
    check_json("guestData.livechatData", guest.custom_fields)
    if guest.email is not None and guest.email and not EMAIL_RE.match(guest.email):
        raise InvalidInput("error-invalid-email", f"guestData.email: {guest.email!r} is not an email address")
    async with db.transaction() as uow:
        room = await find_room(uow.conn, room_data.id, for_update=True)
        if guest.id != room.visitor_id:
            raise InvalidInput("error-invalid-visitor", "guestData._id: not the visitor of this room")
        serving = room.served_by is not None and room.served_by.id == user.id
        if not (serving or user.is_manager):
            raise Forbidden("error-not-allowed", "only the chat's agent or a manager edits it")
        now = utcnow()
        room_changes: dict[str, Any] = {"updated_at": now}
        if room_data.topic is not None:
            room_changes["topic"] = room_data.topic
        if room_data.tags is not None:
            room_changes["tags"] = list(dict.fromkeys(room_data.tags))
        if room_data.custom_fields is not None:
            room_changes["custom_fields"] = {**room.custom_fields, **room_data.custom_fields}
            check_json("roomData.livechatData", room_changes["custom_fields"])
        visitor_changes: dict[str, Any] = {}
        if guest.name:
            visitor_changes["name"] = guest.name
            room_changes["fname"] = guest.name
        if guest.email is not None:
            visitor_changes["emails"] = [{"address": guest.email}] if guest.email else []
        if guest.phone is not None:
            visitor_changes["phones"] = [{"phoneNumber": guest.phone}] if guest.phone else []
        if guest.custom_fields is not None:
            current = (
                await uow.conn.execute(
                    select(visitors.c.custom_fields).where(visitors.c.id == room.visitor_id)
                )
            ).scalar_one()
            visitor_changes["custom_fields"] = {**(current or {}), **guest.custom_fields}
            check_json("guestData.livechatData", visitor_changes["custom_fields"])
        await uow.conn.execute(update(rooms).where(rooms.c.id == room.id).values(**room_changes))
        if guest.name:
            await uow.conn.execute(
                update(inquiries).where(inquiries.c.room_id == room.id).values(visitor_name=guest.name)
            )
        if visitor_changes:
            visitor_changes["updated_at"] = now
            await uow.conn.execute(
                update(visitors).where(visitors.c.id == room.visitor_id).values(**visitor_changes)
            )
        uow.record(RoomInfoEdited(room_id=room.id))
        return await find_room(uow.conn, room.id)


async def open_rooms_of_token(db: Database, token: str | None) -> list[Room]:
    async with db.engine.connect() as conn:
        visitor = await visitor_by_token(conn, token)
        rows = await conn.execute(
            room_query()
            .where(rooms.c.visitor_id == visitor.id, rooms.c.status != RoomStatus.CLOSED)
            .order_by(rooms.c.created_at)
        )
        return [room_from_row(r) for r in rows]


SURVEY_ITEMS = ("satisfaction", "agentKnowledge", "agentResposiveness", "agentFriendliness")
SURVEY_VALUES = ("1", "2", "3", "4", "5")


async def save_survey(
    db: Database, *, token: str | None, rid: str | None, answers: Sequence[tuple[str, str]]
) -> dict[str, str]:
    """The visitor rates the chat (Rocket.Chat's items and 1 to 5 values, plus free `additionalFeedback`)."""
    feedback: dict[str, str] = {}
    for name, value in answers:
        if name == "additionalFeedback" or (name in SURVEY_ITEMS and value in SURVEY_VALUES):
            feedback[name] = value
        else:
            raise InvalidInput(
                "invalid-survey",
                f"data: {name!r}={value!r}; names {[*SURVEY_ITEMS, 'additionalFeedback']}, values 1 to 5",
            )
    if not feedback:
        raise InvalidInput("invalid-survey", "data: at least one answer")
    async with db.transaction() as uow:
        room = await visitor_room(uow.conn, token, rid)
        merged = {**(room.survey_feedback or {}), **feedback}
        await uow.conn.execute(
            update(rooms).where(rooms.c.id == room.id).values(survey_feedback=merged, updated_at=utcnow())
        )
    return feedback


async def agent_of_room(db: Database, *, token: str | None, rid: str) -> User:
    """The agent serving the visitor's own chat."""
    async with db.engine.connect() as conn:
        room = await visitor_room(conn, token, rid)
        if room.served_by is None or not room.is_open:
            raise NotFound("error-agent-not-found", "no agent serves this chat")
        return await find_user(conn, user_id=room.served_by.id)
