"""Reads shared by the livechat use cases: rows to entities, look-ups that refuse what is not there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.errors import InvalidInput, NotFound, Unauthorized
from omnihook.domain.rooms import (
    Inquiry,
    InquiryStatus,
    Message,
    Room,
    RoomStatus,
    RoutingMethod,
    ServedBy,
    Visitor,
)
from omnihook.storage.settings_store import read_settings
from omnihook.storage.tables import counters, inquiries, rooms, visitors

ROUTING_SETTING = "Livechat_Routing_Method"
DEFAULT_ROUTING = RoutingMethod.AUTO  # Rocket.Chat's default


def visitor_from_row(row: Any) -> Visitor:
    return Visitor(
        id=row.id,
        token=row.token,
        username=row.username,
        name=row.name,
        emails=list(row.emails or []),
        phones=list(row.phones or []),
        department_id=row.department_id,
        custom_fields=dict(row.custom_fields or {}),
        ip=row.ip,
        user_agent=row.user_agent,
        host=row.host,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=row.status,
    )


def room_query() -> Select[Any]:
    return select(rooms, visitors.c.username.label("visitor_username")).join(
        visitors, visitors.c.id == rooms.c.visitor_id
    )


# Built once: building and cache-keying a select of every room column cost more than running it.
_ROOM_BY_ID = room_query().where(rooms.c.id == bindparam("rid"))
_ROOM_BY_ID_FOR_UPDATE = _ROOM_BY_ID.with_for_update(of=rooms)
_VISITOR_BY_TOKEN = select(visitors).where(visitors.c.token == bindparam("token"))


def room_from_row(row: Any) -> Room:
    served_by = None
    if row.served_by_id is not None:
        served_by = ServedBy(id=row.served_by_id, username=row.served_by_username, ts=row.served_by_ts)
    return Room(
        id=row.id,
        visitor_id=row.visitor_id,
        visitor_token=row.visitor_token,
        visitor_username=row.visitor_username,
        status=RoomStatus(row.status),
        department_id=row.department_id,
        served_by=served_by,
        fname=row.fname,
        topic=row.topic,
        tags=list(row.tags or []),
        custom_fields=dict(row.custom_fields or {}),
        crm_data=row.crm_data,
        source=row.source,
        message_count=row.message_count,
        created_at=row.created_at,
        last_message_at=row.last_message_at,
        closed_at=row.closed_at,
        closed_by_id=row.closed_by_id,
        closed_by_username=row.closed_by_username,
        closer=row.closer,
        closing_comment=row.closing_comment,
        updated_at=row.updated_at,
        survey_feedback=row.survey_feedback,
    )


def message_from_row(row: Any) -> Message:
    return Message(
        id=row.id,
        room_id=row.room_id,
        msg=row.msg,
        ts=row.ts,
        updated_at=row.updated_at,
        u_id=row.u_id,
        u_username=row.u_username,
        u_name=row.u_name,
        token=row.token,
        agent_id=row.agent_id,
        t=row._mapping["t"],  # Row.t is SQLAlchemy's own attribute
        closing_message=row.closing_message,
        hidden=row.hidden,
        navigation=row.navigation,
        edited_at=row.edited_at,
        transfer_data=row.transfer_data,
    )


def inquiry_query() -> Select[Any]:
    return select(
        inquiries, visitors.c.id.label("visitor_id"), visitors.c.username.label("visitor_username")
    ).join(visitors, visitors.c.token == inquiries.c.visitor_token)


def inquiry_from_row(row: Any) -> Inquiry:
    return Inquiry(
        id=row.id,
        room_id=row.room_id,
        status=InquiryStatus(row.status),
        department_id=row.department_id,
        visitor_name=row.visitor_name,
        visitor_token=row.visitor_token,
        visitor_id=row.visitor_id,
        visitor_username=row.visitor_username,
        created_at=row.created_at,
        taken_at=row.taken_at,
    )


def require_token(token: str | None) -> str:
    if not token or not token.strip():
        raise InvalidInput("invalid-token", "token: the visitor token is required")
    return token


async def visitor_by_token(conn: AsyncConnection, token: str | None) -> Visitor:
    """The visitor this token authorizes; an unknown token is unauthenticated (401)."""
    row = (await conn.execute(_VISITOR_BY_TOKEN, {"token": require_token(token)})).first()
    if row is None:
        raise Unauthorized("invalid-token", "no visitor has this token: register with POST livechat/visitor")
    return visitor_from_row(row)


async def find_room(conn: AsyncConnection, rid: str, *, for_update: bool = False) -> Room:
    query = _ROOM_BY_ID_FOR_UPDATE if for_update and conn.dialect.name == "postgresql" else _ROOM_BY_ID
    row = (await conn.execute(query, {"rid": rid})).first()
    if row is None:
        raise NotFound("invalid-room", f"no room {rid!r}")
    return room_from_row(row)


async def visitor_room(conn: AsyncConnection, token: str | None, rid: str | None) -> Room:
    """The visitor's own room. Another visitor's room is answered exactly like a missing one."""
    require_token(token)
    if not rid:
        raise InvalidInput("invalid-room", "rid: the room id is required")
    row = (await conn.execute(_ROOM_BY_ID, {"rid": rid})).first()
    if row is None or row.visitor_token != token:
        # An unknown token is a 401 whether or not the room exists (and whose it is).
        await visitor_by_token(conn, token)
        raise NotFound("invalid-room", f"no room {rid!r} for this visitor")
    return room_from_row(row)


async def routing_method(conn: AsyncConnection) -> RoutingMethod:
    value = (await read_settings(conn, [ROUTING_SETTING])).get(ROUTING_SETTING)
    try:
        return RoutingMethod(value) if value else DEFAULT_ROUTING
    except ValueError:
        return DEFAULT_ROUTING


async def next_counter(conn: AsyncConnection, name: str) -> int:
    """Increment a named counter and return its new value, in one statement (row-locked on PostgreSQL)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(counters).values(name=name, value=1)
    upsert = stmt.on_conflict_do_update(
        index_elements=[counters.c.name], set_={"value": counters.c.value + 1}
    ).returning(counters.c.value)
    return int((await conn.execute(upsert)).scalar_one())


async def livechat_enabled(conn: AsyncConnection) -> bool:
    return (await read_settings(conn, ["Livechat_enabled"])).get("Livechat_enabled", True) is not False
