"""Domain events: what happened, recorded in the same transaction as the change.

The webhook outbox renders each into payloads before the transaction commits, from the state
at that moment; after the commit, listeners (the dispatcher's wake-up, live pages) are told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from omnihook.domain.clock import utcnow


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    kind: ClassVar[str]
    room_id: str | None = None
    occurred_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, kw_only=True)
class ServedBySnapshot:
    agent_id: str
    username: str
    ts: datetime


@dataclass(frozen=True, kw_only=True)
class RoomStarted(DomainEvent):
    kind = "room.started"


@dataclass(frozen=True, kw_only=True)
class RoomQueued(DomainEvent):
    kind = "room.queued"


@dataclass(frozen=True, kw_only=True)
class RoomTaken(DomainEvent):
    kind = "room.taken"
    agent_id: str


@dataclass(frozen=True, kw_only=True)
class RoomForwarded(DomainEvent):
    kind = "room.forwarded"
    old_served_by: ServedBySnapshot | None = None
    old_department_id: str | None = None
    to_department: bool = False


@dataclass(frozen=True, kw_only=True)
class RoomClosed(DomainEvent):
    kind = "room.closed"


@dataclass(frozen=True, kw_only=True)
class RoomInfoEdited(DomainEvent):
    kind = "room.info_edited"


@dataclass(frozen=True, kw_only=True)
class MessageSent(DomainEvent):
    kind = "message.sent"
    message_id: str
    by_visitor: bool


@dataclass(frozen=True, kw_only=True)
class MessageDeleted(DomainEvent):
    """A message was withdrawn: kept, hidden from every reader (not a webhook event)."""

    kind = "message.deleted"
    message_id: str


@dataclass(frozen=True, kw_only=True)
class TokensRevoked(DomainEvent):
    """Some login tokens of a user stopped being valid (logout, expiry, password change): live
    connections opened with them check theirs again. Not a webhook event."""

    kind = "tokens.revoked"
    user_id: str


@dataclass(frozen=True, kw_only=True)
class LeadCaptured(DomainEvent):
    """A visitor's message held contacts that are now kept on the visitor (Rocket.Chat's LeadCapture)."""

    kind = "lead.captured"


@dataclass(frozen=True, kw_only=True)
class OfflineMessageReceived(DomainEvent):
    kind = "offline_message.received"
    offline_message_id: str
    name: str
    email: str
    message: str
    department_id: str | None = None
