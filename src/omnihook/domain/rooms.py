"""Livechat entities and their rules: visitors, rooms, inquiries, messages, departments.

A room belongs to one visitor and moves open → queued → served → closed. "Open" is not stored:
a room is created and routed in the same unit of work, so it is stored as queued or served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from omnihook.domain.errors import Conflict, InvalidInput


class RoomStatus(StrEnum):
    QUEUED = "queued"
    SERVED = "served"
    CLOSED = "closed"


class InquiryStatus(StrEnum):
    QUEUED = "queued"
    TAKEN = "taken"
    CLOSED = "closed"


class RoutingMethod(StrEnum):
    MANUAL = "Manual_Selection"
    AUTO = "Auto_Selection"


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    NOT_AVAILABLE = "not-available"


class Closer(StrEnum):
    USER = "user"
    VISITOR = "visitor"


# Rocket.Chat system message types we write.
CLOSE_MESSAGE = "livechat-close"
TRANSFER_MESSAGE = "livechat_transfer_history"
NAVIGATION_MESSAGE = "livechat_navigation_history"
CLOSED_BY_VISITOR = "Closed by visitor"

MAX_MESSAGE_LENGTH = 5000  # Rocket.Chat's Message_MaxAllowedSize default

_TRANSITIONS: dict[RoomStatus, frozenset[RoomStatus]] = {
    RoomStatus.QUEUED: frozenset({RoomStatus.SERVED, RoomStatus.QUEUED, RoomStatus.CLOSED}),
    RoomStatus.SERVED: frozenset({RoomStatus.SERVED, RoomStatus.QUEUED, RoomStatus.CLOSED}),
    RoomStatus.CLOSED: frozenset(),
}


def ensure_transition(current: RoomStatus, target: RoomStatus) -> None:
    """Refuse any change that the room's life cycle does not allow (nothing leaves `closed`)."""
    if target not in _TRANSITIONS[current]:
        if current is RoomStatus.CLOSED:
            raise Conflict("room-closed", "this conversation is already closed")
        raise Conflict("error-invalid-room-state", f"a {current} room cannot become {target}")


def validate_text(msg: str) -> str:
    if not msg or not msg.strip():
        raise InvalidInput("error-invalid-msg", "msg: the message is empty")
    if len(msg) > MAX_MESSAGE_LENGTH:
        raise InvalidInput(
            "message-length-exceeds-character-limit",
            f"msg: {len(msg)} characters, at most {MAX_MESSAGE_LENGTH}",
        )
    return msg


@dataclass(frozen=True, kw_only=True)
class Visitor:
    id: str
    token: str
    username: str
    name: str | None
    emails: list[dict[str, str]]
    phones: list[dict[str, str]]
    department_id: str | None
    custom_fields: dict[str, Any]
    ip: str | None
    user_agent: str | None
    host: str | None
    created_at: datetime
    updated_at: datetime
    # 'online' or 'offline' once a realtime connection set it; None: never connected
    status: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServedBy:
    id: str
    username: str
    ts: datetime


@dataclass(frozen=True, kw_only=True)
class Room:
    id: str
    visitor_id: str
    visitor_token: str
    visitor_username: str
    status: RoomStatus
    department_id: str | None
    served_by: ServedBy | None
    fname: str | None
    topic: str | None
    tags: list[str]
    custom_fields: dict[str, Any]
    crm_data: str | None
    source: str
    message_count: int
    created_at: datetime
    last_message_at: datetime | None
    closed_at: datetime | None
    closed_by_id: str | None
    closed_by_username: str | None
    closer: str | None
    closing_comment: str | None
    updated_at: datetime
    survey_feedback: dict[str, str] | None = None

    @property
    def is_open(self) -> bool:
        return self.status is not RoomStatus.CLOSED

    def ensure_open(self) -> None:
        if not self.is_open:
            raise Conflict("room-closed", "this conversation is already closed")


@dataclass(frozen=True, kw_only=True)
class Inquiry:
    id: str
    room_id: str
    status: InquiryStatus
    department_id: str | None
    visitor_name: str | None
    visitor_token: str
    visitor_id: str
    visitor_username: str
    created_at: datetime
    taken_at: datetime | None
    last_message: str | None = None


@dataclass(frozen=True, kw_only=True)
class Message:
    id: str
    room_id: str
    msg: str
    ts: datetime
    updated_at: datetime
    u_id: str
    u_username: str
    u_name: str | None
    token: str | None = None
    agent_id: str | None = None
    t: str | None = None
    closing_message: bool = False
    hidden: bool = False
    navigation: dict[str, Any] | None = None
    edited_at: datetime | None = None
    transfer_data: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class DepartmentAgent:
    agent_id: str
    username: str
    name: str | None
    department_id: str
    livechat_status: str


@dataclass(frozen=True, kw_only=True)
class Department:
    id: str
    name: str
    description: str | None
    email: str | None
    enabled: bool
    show_on_registration: bool
    show_on_offline_form: bool
    created_at: datetime
    updated_at: datetime
    agents: list[DepartmentAgent] = field(default_factory=list)
