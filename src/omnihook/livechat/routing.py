"""Routing: the queue, auto-assignment, taking an inquiry, forwarding a chat."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from omnihook.domain.events import RoomForwarded, RoomQueued, RoomTaken, ServedBySnapshot
from omnihook.domain.rooms import (
    TRANSFER_MESSAGE,
    AgentStatus,
    Inquiry,
    InquiryStatus,
    Room,
    RoomStatus,
    RoutingMethod,
)
from omnihook.domain.users import Role, User
from omnihook.livechat.accounts import find_user
from omnihook.livechat.departments import enabled_department_name
from omnihook.livechat.messages import ensure_agent_sees, insert_message
from omnihook.livechat.queries import (
    find_room,
    inquiry_from_row,
    inquiry_query,
    routing_method,
    visitor_by_token,
    visitor_room,
)
from omnihook.storage.database import Database, UnitOfWork
from omnihook.storage.tables import department_agents, inquiries, messages, rooms, users


@dataclass(frozen=True)
class AgentRef:
    id: str
    username: str


def _is_agent_clause() -> Any:
    # Roles are a JSON list stored as text on both dialects.
    return cast(users.c.roles, String).contains(f'"{Role.AGENT.value}"')


# users.setStatus's status that hides a user: such an agent gets no chat, whatever its availability.
OFFLINE_STATUS = "offline"


def _takes_chats_clause() -> Any:
    """Rocket.Chat's queryStatusAgentOnline: an active agent, available for livechat, whose status is not
    offline. As in Rocket.Chat, away and busy agents still get chats; a status never set follows the
    connection, which presence already turns into availability."""
    return and_(
        users.c.livechat_status == AgentStatus.AVAILABLE,
        users.c.active.is_(True),
        _is_agent_clause(),
        or_(users.c.status.is_(None), users.c.status != OFFLINE_STATUS),
    )


def takes_chats(user: User) -> bool:
    """The same rule as _takes_chats_clause, for a user already loaded."""
    return (
        user.is_agent
        and user.active
        and user.livechat_status == AgentStatus.AVAILABLE
        and user.status != OFFLINE_STATUS
    )


async def pick_agent(conn: AsyncConnection, department_id: str | None) -> AgentRef | None:
    """The available agent (of the department, when there is one) with the fewest open chats."""
    open_chats = func.count(rooms.c.id)
    query = (
        select(users.c.id, users.c.username, open_chats.label("open_chats"))
        .select_from(
            users.outerjoin(
                rooms, and_(rooms.c.served_by_id == users.c.id, rooms.c.status == RoomStatus.SERVED)
            )
        )
        .where(_takes_chats_clause())
        .group_by(users.c.id, users.c.username)
        .order_by(open_chats, users.c.username)
        .limit(1)
    )
    if department_id is not None:
        members = select(department_agents.c.agent_id).where(
            department_agents.c.department_id == department_id
        )
        query = query.where(users.c.id.in_(members))
    row = (await conn.execute(query)).first()
    return AgentRef(row.id, row.username) if row else None


async def any_agent_available(conn: AsyncConnection, department_id: str | None = None) -> bool:
    query = select(users.c.id).where(_takes_chats_clause())
    if department_id is not None:
        members = select(department_agents.c.agent_id).where(
            department_agents.c.department_id == department_id
        )
        query = query.where(users.c.id.in_(members))
    return (await conn.execute(query.limit(1))).first() is not None


async def choose_agent(conn: AsyncConnection, department_id: str | None) -> AgentRef | None:
    """Who gets a chat that enters routing now: an agent under Auto_Selection, else nobody (queue)."""
    if await routing_method(conn) is RoutingMethod.AUTO:
        return await pick_agent(conn, department_id)
    return None


async def _serve(conn: AsyncConnection, room_id: str, agent_id: str, username: str, now: datetime) -> None:
    """The room becomes served by the agent (the caller settles the inquiry and records RoomTaken)."""
    await conn.execute(
        update(rooms)
        .where(rooms.c.id == room_id)
        .values(
            status=RoomStatus.SERVED,
            served_by_id=agent_id,
            served_by_username=username,
            served_by_ts=now,
            updated_at=now,
        )
    )


async def assign(uow: UnitOfWork, room_id: str, agent: AgentRef) -> None:
    now = utcnow()
    await _serve(uow.conn, room_id, agent.id, agent.username, now)
    await uow.conn.execute(
        update(inquiries)
        .where(inquiries.c.room_id == room_id)
        .values(status=InquiryStatus.TAKEN, taken_at=now)
    )
    uow.record(RoomTaken(room_id=room_id, agent_id=agent.id))


async def enqueue(uow: UnitOfWork, room_id: str, department_id: str | None) -> None:
    now = utcnow()
    await uow.conn.execute(
        update(rooms)
        .where(rooms.c.id == room_id)
        .values(
            status=RoomStatus.QUEUED,
            served_by_id=None,
            served_by_username=None,
            served_by_ts=None,
            updated_at=now,
        )
    )
    await uow.conn.execute(
        update(inquiries)
        .where(inquiries.c.room_id == room_id)
        .values(status=InquiryStatus.QUEUED, department_id=department_id, taken_at=None, created_at=now)
    )
    uow.record(RoomQueued(room_id=room_id))


async def agent_department_ids(conn: AsyncConnection, agent_id: str) -> set[str]:
    rows = await conn.execute(
        select(department_agents.c.department_id).where(department_agents.c.agent_id == agent_id)
    )
    return {r[0] for r in rows}


async def may_take_from(conn: AsyncConnection, user: User, department_id: str | None) -> bool:
    """Managers take from every queue; an agent from the general queue and their departments'."""
    if user.is_manager or department_id is None:
        return True
    return department_id in await agent_department_ids(conn, user.id)


def _last_visitor_message() -> Any:
    return (
        select(messages.c.msg)
        .where(messages.c.room_id == inquiries.c.room_id, messages.c.token.is_not(None))
        .order_by(messages.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


async def queued_inquiries(
    db: Database, user: User, *, department_id: str | None = None, offset: int = 0, count: int = 50
) -> tuple[list[Inquiry], int]:
    """The queue this user may take from, oldest first."""
    async with db.engine.connect() as conn:
        query = inquiry_query().add_columns(_last_visitor_message().label("last_message"))
        query = query.where(inquiries.c.status == InquiryStatus.QUEUED)
        if department_id:
            query = query.where(inquiries.c.department_id == department_id)
        if not user.is_manager:
            mine = await agent_department_ids(conn, user.id)
            query = query.where(inquiries.c.department_id.is_(None) | inquiries.c.department_id.in_(mine))
        rows = (await conn.execute(query.order_by(inquiries.c.created_at, inquiries.c.id))).all()
    found = [replace(inquiry_from_row(r), last_message=r.last_message) for r in rows]
    return found[offset : offset + count], len(found)


async def take_inquiry(
    db: Database, user: User, inquiry_id: str, *, for_user_id: str | None = None
) -> Inquiry:
    """An agent takes a queued chat: the room becomes served by them (a manager may name the agent)."""
    async with db.transaction() as uow:
        taker = user
        if for_user_id and for_user_id != user.id:
            if not user.is_manager:
                raise Forbidden("error-not-allowed", "only managers assign a chat to someone else")
            try:
                taker = await find_user(uow.conn, user_id=for_user_id)
            except NotFound:
                raise InvalidInput("error-invalid-user", "userId: The user is invalid") from None
        if not taker.is_agent:
            raise InvalidInput("error-not-an-agent", f"{taker.username} is not a livechat agent")
        row = (await uow.conn.execute(inquiry_query().where(inquiries.c.id == inquiry_id))).first()
        if row is None:
            # Rocket.Chat: Meteor.Error('error-not-found', 'Inquiry not found'), a 400.
            raise InvalidInput(
                "Inquiry not found [error-not-found]",
                f"no inquiry {inquiry_id!r}",
                error_type="error-not-found",
            )
        inquiry = inquiry_from_row(row)
        if not await may_take_from(uow.conn, taker, inquiry.department_id):
            raise Forbidden("error-not-allowed", "this chat waits in a department you do not serve")
        now = utcnow()
        # The status guard makes two agents racing for one chat safe: only one update matches.
        taken = await uow.conn.execute(
            update(inquiries)
            .where(inquiries.c.id == inquiry_id, inquiries.c.status == InquiryStatus.QUEUED)
            .values(status=InquiryStatus.TAKEN, taken_at=now)
        )
        if taken.rowcount != 1:
            raise Conflict(
                "error-inquiry-not-queued", f"this chat is {inquiry.status}, no longer in the queue"
            )
        await _serve(uow.conn, inquiry.room_id, taker.id, taker.username, now)
        uow.record(RoomTaken(room_id=inquiry.room_id, agent_id=taker.id))
        return replace(inquiry, status=InquiryStatus.TAKEN, taken_at=now)


def _snapshot(room: Room) -> ServedBySnapshot | None:
    if room.served_by is None:
        return None
    return ServedBySnapshot(
        agent_id=room.served_by.id, username=room.served_by.username, ts=room.served_by.ts
    )


@dataclass(frozen=True, kw_only=True)
class Transferrer:
    """Who moves the chat: an agent or manager, or the visitor themself."""

    id: str
    username: str
    name: str | None
    is_visitor: bool = False


async def _transfer_note(
    uow: UnitOfWork,
    room: Room,
    by: Transferrer,
    comment: str | None,
    *,
    to_agent: AgentRef | None,
    next_department: tuple[str, str] | None = None,
) -> None:
    """The livechat_transfer_history message, with Rocket.Chat's transferData (and what it came from)."""
    data: dict[str, Any] = {
        "comment": comment or "",
        "scope": "department" if next_department else "agent",
        "transferredBy": {
            "_id": by.id,
            "username": by.username,
            "name": by.name,
            "type": "visitor" if by.is_visitor else "user",
        },
        "previousDepartment": room.department_id,
    }
    if room.served_by is not None:
        data["previousAgent"] = {"_id": room.served_by.id, "username": room.served_by.username}
    if to_agent is not None:
        data["transferredTo"] = {"_id": to_agent.id, "username": to_agent.username}
    if next_department is not None:
        data["nextDepartment"] = {"_id": next_department[0], "name": next_department[1]}
    await insert_message(
        uow.conn,
        room_id=room.id,
        msg=comment or "",
        u_id=by.id,
        u_username=by.username,
        u_name=by.name,
        t=TRANSFER_MESSAGE,
        transfer_data=data,
    )


async def forward_to_agent(
    db: Database, actor: User, room_id: str, agent_id: str, comment: str | None
) -> Room:
    async with db.transaction() as uow:
        room = await find_room(uow.conn, room_id, for_update=True)
        _check_forward(actor, room)
        try:
            target = await find_user(uow.conn, user_id=agent_id)
        except NotFound:
            raise InvalidInput("error-invalid-user", "userId: no such user") from None
        if not target.is_agent or not target.active:
            raise InvalidInput("error-invalid-agent", f"{target.username} is not a livechat agent")
        if room.served_by is not None and room.served_by.id == target.id:
            raise InvalidInput("error-selected-agent-room-agent", "the chat is already served by this agent")
        if not takes_chats(target):
            raise InvalidInput("error-agent-not-available", f"{target.username} is not available now")
        by = Transferrer(id=actor.id, username=actor.username, name=actor.name)
        to_agent = AgentRef(target.id, target.username)
        await _transfer_note(uow, room, by, comment, to_agent=to_agent)
        # Rocket.Chat takes the chat for the new agent first, then announces the forward.
        await assign(uow, room.id, to_agent)
        uow.record(
            RoomForwarded(
                room_id=room.id,
                old_served_by=_snapshot(room),
                old_department_id=room.department_id,
                to_department=False,
            )
        )
        return await find_room(uow.conn, room.id)


async def forward_to_department(
    db: Database, actor: User, room_id: str, department_id: str, comment: str | None
) -> Room:
    async with db.transaction() as uow:
        room = await find_room(uow.conn, room_id, for_update=True)
        _check_forward(actor, room)
        by = Transferrer(id=actor.id, username=actor.username, name=actor.name)
        await _move_to_department(uow, room, department_id, by, comment)
        return await find_room(uow.conn, room.id)


async def transfer_by_visitor(db: Database, token: str | None, rid: str | None, department_id: str) -> Room:
    """The visitor moves their chat to another department (Rocket.Chat's livechat/room.transfer)."""
    async with db.transaction() as uow:
        room = await visitor_room(uow.conn, token, rid)
        room.ensure_open()
        by = Transferrer(id=room.visitor_id, username=room.visitor_username, name=room.fname, is_visitor=True)
        await _move_to_department(uow, room, department_id, by, None)
        return await find_room(uow.conn, room.id)


async def _move_to_department(
    uow: UnitOfWork, room: Room, department_id: str, by: Transferrer, comment: str | None
) -> None:
    if not department_id:
        raise InvalidInput("error-invalid-department", "departmentId: required")
    department_name = await enabled_department_name(uow.conn, department_id)
    if department_name is None:
        raise InvalidInput(
            "error-invalid-department", f"departmentId: no enabled department {department_id!r}"
        )
    if department_id == room.department_id:
        raise InvalidInput("error-same-department", "the chat is already in this department")
    await uow.conn.execute(
        update(rooms).where(rooms.c.id == room.id).values(department_id=department_id, updated_at=utcnow())
    )
    await uow.conn.execute(
        update(inquiries).where(inquiries.c.room_id == room.id).values(department_id=department_id)
    )
    agent = await choose_agent(uow.conn, department_id)
    await _transfer_note(
        uow, room, by, comment, to_agent=agent, next_department=(department_id, department_name)
    )
    if agent is not None:
        await assign(uow, room.id, agent)
    else:
        await enqueue(uow, room.id, department_id)
    uow.record(
        RoomForwarded(
            room_id=room.id,
            old_served_by=_snapshot(room),
            old_department_id=room.department_id,
            to_department=True,
        )
    )


def _check_forward(actor: User, room: Room) -> None:
    room.ensure_open()
    serving = room.served_by is not None and room.served_by.id == actor.id
    if not (serving or actor.is_manager):
        raise Forbidden("error-not-allowed", "only the chat's agent or a manager forwards it")


async def next_agent(db: Database, token: str | None, department_id: str | None) -> User | None:
    """The agent serving the visitor's open chat, else the one Auto_Selection would pick now."""
    async with db.engine.connect() as conn:
        visitor = await visitor_by_token(conn, token)
        row = (
            await conn.execute(
                select(rooms.c.served_by_id).where(
                    rooms.c.visitor_id == visitor.id,
                    rooms.c.status == RoomStatus.SERVED,
                )
            )
        ).first()
        if row is not None:
            return await find_user(conn, user_id=row.served_by_id)
        picked = await pick_agent(conn, department_id or visitor.department_id)
        return await find_user(conn, user_id=picked.id) if picked else None


async def inquiry_of_room(db: Database, user: User, room_id: str) -> Inquiry | None:
    """The room's inquiry, for whoever may see the room (its agent, a manager, or an agent of its queue)."""
    async with db.engine.connect() as conn:
        row = (await conn.execute(inquiry_query().where(inquiries.c.room_id == room_id))).first()
        if row is None:
            return None
        await ensure_agent_sees(conn, user, await find_room(conn, room_id))
        return inquiry_from_row(row)


QUEUE_DISPATCH_LIMIT = 100  # chats handed out per status change, to keep the transaction short


async def dispatch_queue(uow: UnitOfWork, agent: User) -> int:
    """Auto_Selection: chats that waited for want of an agent go out when this agent becomes available.

    Each goes to the available agent of its department with the fewest open chats (not
    necessarily this one). Returns how many were assigned.
    """
    if await routing_method(uow.conn) is not RoutingMethod.AUTO:
        return 0
    mine = await agent_department_ids(uow.conn, agent.id)
    waiting = await uow.conn.execute(
        select(inquiries.c.room_id, inquiries.c.department_id)
        .where(
            inquiries.c.status == InquiryStatus.QUEUED,
            inquiries.c.department_id.is_(None) | inquiries.c.department_id.in_(mine),
        )
        .order_by(inquiries.c.created_at, inquiries.c.id)
        .limit(QUEUE_DISPATCH_LIMIT)
    )
    assigned = 0
    for row in waiting.all():
        target = await pick_agent(uow.conn, row.department_id)
        if target is None:
            continue
        now = utcnow()
        # Guarded like a take: an agent taking it by hand at the same moment wins cleanly.
        claimed = await uow.conn.execute(
            update(inquiries)
            .where(inquiries.c.room_id == row.room_id, inquiries.c.status == InquiryStatus.QUEUED)
            .values(status=InquiryStatus.TAKEN, taken_at=now)
        )
        if claimed.rowcount != 1:
            continue
        await _serve(uow.conn, row.room_id, target.id, target.username, now)
        uow.record(RoomTaken(room_id=row.room_id, agent_id=target.id))
        assigned += 1
    return assigned
