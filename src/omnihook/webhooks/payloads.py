"""Payloads in Rocket.Chat's shape, rendered from the tables in the transaction of the event.

Keys follow `sendToCRM` + `getLivechatRoomGuestInfo` (the seed's samples and the reference): the room,
its visitor, its agent, `type`, `messages`, then the extra fields of each type. Session events carry the
transcript (system messages dropped, the closing message kept); `Message` carries the one message.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
import ua_parser
from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import iso, utcnow
from omnihook.domain.events import (
    DomainEvent,
    MessageSent,
    OfflineMessageReceived,
    RoomForwarded,
    RoomInfoEdited,
)
from omnihook.storage.settings_store import read_settings
from omnihook.storage.tables import messages, rooms, users, visitors
from omnihook.webhooks.catalog import EventType

# System messages that Rocket.Chat keeps in webhook transcripts (`sendMessageType`); navigation messages
# too when both settings below are on.
KEPT_SYSTEM_MESSAGES = ("livechat-close",)
NAVIGATION_MESSAGE = "livechat_navigation_history"
NAVIGATION_SETTINGS = (
    "Livechat_Visitor_navigation_as_a_message",
    "Send_visitor_navigation_history_livechat_webhook_request",
)


def dumps(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload).decode()


def _ts(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


async def render(conn: AsyncConnection, event: DomainEvent, kind: EventType) -> dict[str, Any] | None:
    """The payload of `event` sent as `kind`, or None when Rocket.Chat would send nothing."""
    if isinstance(event, OfflineMessageReceived):
        return {
            "type": kind.value,
            "sentAt": iso(event.occurred_at),
            "visitor": {"name": event.name, "email": event.email},
            "message": event.message,
        }
    if event.room_id is None:
        return None
    if isinstance(event, MessageSent):
        params = {"room_id": event.room_id, "message_id": event.message_id}
        room = (await conn.execute(_ROOM_AND_MESSAGE_QUERY, params)).first()
    else:
        room = (await conn.execute(_ROOM_QUERY, {"room_id": event.room_id})).first()
    if room is None or room.v_id is None:
        return None
    if isinstance(event, RoomInfoEdited) and room.status != "closed":
        return None  # Rocket.Chat sends LivechatEdit for closed rooms only
    payload = _room_info(room)
    if kind == EventType.SESSION_START:
        # Rocket.Chat announces a new room before routing it: an agent assigned in the same
        # transaction appears in the LivechatSessionTaken that follows, not here.
        payload.pop("agent", None)
    payload["type"] = kind.value
    if kind == EventType.LEAD_CAPTURE:
        payload["messages"] = []  # Rocket.Chat sends a lead without the transcript
    elif isinstance(event, MessageSent):
        fields = room._mapping
        row = {c.name: fields[f"m_{c.name}"] for c in messages.columns}
        if row["id"] is None or row["hidden"] or row["t"] not in (None, *KEPT_SYSTEM_MESSAGES):
            return None
        payload["messages"] = [_message(row, payload["visitor"]["username"])]
    else:
        payload["messages"] = await _transcript(conn, room.id, payload["visitor"]["username"])
    payload.update(_extra_fields(kind, room, event))
    return payload


# The room with its visitor and its agent, in one query (the outbox runs it in every chat transaction).
_ROOM_QUERY = (
    select(
        rooms,
        visitors.c.id.label("v_id"),
        visitors.c.token.label("v_token"),
        visitors.c.name.label("v_name"),
        visitors.c.username.label("v_username"),
        visitors.c.department_id.label("v_department_id"),
        visitors.c.ip.label("v_ip"),
        visitors.c.user_agent.label("v_user_agent"),
        visitors.c.custom_fields.label("v_custom_fields"),
        visitors.c.emails.label("v_emails"),
        visitors.c.phones.label("v_phones"),
        users.c.id.label("a_id"),
        users.c.username.label("a_username"),
        users.c.name.label("a_name"),
        users.c.email.label("a_email"),
    )
    .select_from(
        rooms.outerjoin(visitors, visitors.c.id == rooms.c.visitor_id).outerjoin(
            users, users.c.id == rooms.c.served_by_id
        )
    )
    .where(rooms.c.id == bindparam("room_id"))
)


# The same with the message of a MessageSent event: one query for the commonest event.
_ROOM_AND_MESSAGE_QUERY = _ROOM_QUERY.add_columns(
    *(c.label(f"m_{c.name}") for c in messages.columns)
).outerjoin(messages, (messages.c.id == bindparam("message_id")) & (messages.c.room_id == rooms.c.id))


def _room_info(room: Any) -> dict[str, Any]:
    """`getLivechatRoomGuestInfo`: Rocket.Chat serialises with JSON.stringify, so a field it holds no
    value for is left out rather than sent as null (the seed's `"phone": null` is the one exception)."""
    visitor: dict[str, Any] = {
        "_id": room.v_id,
        "token": room.v_token,
        "name": room.v_name,
        "username": room.v_username,
    }
    _put(visitor, "department", room.v_department_id)
    _put(visitor, "ip", room.v_ip)
    visitor.update(_client_of(room.v_user_agent))
    _put(visitor, "customFields", room.v_custom_fields or None)
    emails = [{"address": e["address"]} for e in (room.v_emails or []) if e.get("address")]
    _put(visitor, "email", emails or None)
    phones = [{"phoneNumber": p["phoneNumber"]} for p in (room.v_phones or []) if p.get("phoneNumber")]
    visitor["phone"] = phones or None
    info: dict[str, Any] = {"_id": room.id, "label": room.fname}
    _put(info, "topic", room.topic or None)
    info["createdAt"] = iso(room.created_at)
    _put(info, "lastMessageAt", _ts(room.last_message_at))
    _put(info, "tags", list(room.tags or []) or None)
    _put(info, "customFields", dict(room.custom_fields or {}) or None)
    info["visitor"] = visitor
    if room.a_id is not None:
        agent = {"_id": room.a_id, "username": room.a_username, "name": room.a_name}
        _put(agent, "email", room.a_email)
        info["agent"] = agent
    if room.crm_data is not None:
        info["crmData"] = room.crm_data
    return info


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` only when there is a value, as JSON.stringify drops undefined."""
    if value is not None:
        target[key] = value


def warm_user_agent_parser() -> None:
    """Build the user-agent parser (its first parse compiles its patterns: 0.2 s) before a visitor waits
    for it; the server runs this in a thread at start."""
    ua_parser.parse("Mozilla/5.0")


@functools.lru_cache(maxsize=4096)
def _client_of(user_agent: str | None) -> dict[str, str]:
    """`visitor.os` and `visitor.browser` from the visitor's user agent ("<name> <version>"), as
    Rocket.Chat derives them; cached because a room's events render the same visitor again and again."""
    if not user_agent:
        return {}
    parsed = ua_parser.parse(user_agent)
    client: dict[str, str] = {}
    if parsed.os is not None and parsed.os.family != "Other":
        client["os"] = _named_version(parsed.os.family, parsed.os.major, parsed.os.minor, parsed.os.patch)
    agent = parsed.user_agent
    if agent is not None and agent.family != "Other":
        client["browser"] = _named_version(
            agent.family, agent.major, agent.minor, agent.patch, agent.patch_minor
        )
    return client


def _named_version(name: str, *parts: str | None) -> str:
    version = ".".join(p for p in parts if p)
    return f"{name} {version}" if version else name


def _message(row: Mapping[Any, Any], visitor_username: str) -> dict[str, Any]:
    """One message as `sendToCRM` shapes it (`row` maps the columns of `messages`)."""
    message: dict[str, Any] = {
        "u": {"_id": row["u_id"], "username": row["u_username"], "name": row["u_name"]},
        "_id": row["id"],
        "username": row["u_username"],
        "msg": row["msg"],
        "ts": iso(row["ts"]),
        "rid": row["room_id"],
    }
    if row["edited_at"] is not None:
        message["editedAt"] = iso(row["edited_at"])  # an edit is sent again, as Rocket.Chat does
    if row["u_username"] != visitor_username:  # Rocket.Chat's rule: anyone but the visitor
        message["agentId"] = row["u_id"]
    if row["t"] == NAVIGATION_MESSAGE and row["navigation"] is not None:
        message["navigation"] = row["navigation"]
    if row["t"] == "livechat-close" or row["closing_message"]:
        message["closingMessage"] = True
    message["_updatedAt"] = iso(row["updated_at"])
    return message


async def _transcript(conn: AsyncConnection, room_id: str, visitor_username: str) -> list[dict[str, Any]]:
    kept: tuple[str, ...] = KEPT_SYSTEM_MESSAGES
    navigation = await read_settings(conn, NAVIGATION_SETTINGS)
    if all(navigation.get(setting_id) for setting_id in NAVIGATION_SETTINGS):
        kept = (*kept, NAVIGATION_MESSAGE)
    query = (
        select(messages)
        .where(
            and_(
                messages.c.room_id == room_id,
                messages.c.hidden.is_(False),
                or_(messages.c.t.is_(None), messages.c.t.in_(kept)),
            )
        )
        .order_by(messages.c.seq)
    )
    return [_message(row._mapping, visitor_username) for row in await conn.execute(query)]


def _served_by(room: Any) -> dict[str, Any] | None:
    if not room.served_by_id:
        return None
    return {"_id": room.served_by_id, "username": room.served_by_username, "ts": _ts(room.served_by_ts)}


def _extra_fields(kind: EventType, room: Any, event: DomainEvent) -> dict[str, Any]:
    """`getAdditionalFieldsByType`: what each session type adds to the room's information (fields
    without a value left out, as Rocket.Chat's JSON.stringify drops undefined)."""
    extra: dict[str, Any] = {}
    if kind not in _TYPES_WITH_EXTRAS:
        return extra
    _put(extra, "departmentId", room.department_id)
    if kind in (EventType.SESSION_START, EventType.SESSION_QUEUED):
        return extra
    _put(extra, "servedBy", _served_by(room))
    if kind == EventType.SESSION_FORWARDED and isinstance(event, RoomForwarded):
        # A forward to a department names the old department, a forward to an agent the old agent.
        if event.to_department:
            _put(extra, "oldDepartmentId", event.old_department_id)
        elif event.old_served_by is not None:
            extra["oldServedBy"] = {
                "_id": event.old_served_by.agent_id,
                "username": event.old_served_by.username,
                "ts": iso(event.old_served_by.ts),
            }
    elif kind == EventType.SESSION:
        _put(extra, "closedAt", _ts(room.closed_at))
        if room.closed_by_id:
            extra["closedBy"] = {"_id": room.closed_by_id, "username": room.closed_by_username}
        _put(extra, "closer", room.closer)
    return extra


_TYPES_WITH_EXTRAS = frozenset(
    {
        EventType.SESSION_START,
        EventType.SESSION_QUEUED,
        EventType.SESSION_TAKEN,
        EventType.SESSION_FORWARDED,
        EventType.SESSION,
    }
)


def sample_payload() -> dict[str, Any]:
    """The fixed LivechatSession sample that Send Test posts (Rocket.Chat's, with arrays for contacts)."""
    now = iso(utcnow())
    return {
        "type": EventType.SESSION.value,
        "_id": "fasd6f5a4sd6f8a4sdf",
        "label": "title",
        "topic": "asiodojf",
        "createdAt": now,
        "lastMessageAt": now,
        "tags": ["tag1", "tag2", "tag3"],
        "customFields": {"productId": "123456"},
        "visitor": {
            "_id": "",
            "token": "",
            "name": "visitor name",
            "username": "visitor-username",
            "department": "department",
            "email": [{"address": "email@address.com"}],
            "phone": [{"phoneNumber": "192873192873"}],
            "ip": "123.456.7.89",
            "browser": "Chrome",
            "os": "Linux",
            "customFields": {"customerId": "123456"},
        },
        "agent": {
            "_id": "asdf89as6df8",
            "username": "agent.username",
            "name": "Agent Name",
            "email": "agent@email.com",
        },
        "messages": [
            {
                "u": {"_id": "", "username": "visitor-username", "name": "visitor name"},
                "_id": "sample-message-1",
                "username": "visitor-username",
                "msg": "message content",
                "ts": now,
            },
            {
                "u": {"_id": "asdf89as6df8", "username": "agent.username", "name": "Agent Name"},
                "_id": "sample-message-2",
                "username": "agent.username",
                "agentId": "asdf89as6df8",
                "msg": "message content from agent",
                "ts": now,
            },
        ],
    }


def standard_body(kind: str, created_at: datetime, payload_json: str) -> bytes:
    """Standard Webhooks' envelope `{type, timestamp, data}` around an already rendered payload."""
    head = orjson.dumps({"type": kind, "timestamp": iso(created_at)})
    return head[:-1] + b',"data":' + payload_json.encode() + b"}"
