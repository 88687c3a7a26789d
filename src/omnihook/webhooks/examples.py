"""Sample payloads, one for every event type, for "Send example": what a CRM endpoint would receive.

Each is the Rocket.Chat-format payload (the Standard Webhooks format wraps it at send time, as it does
every delivery) and is valid against the event catalog's schema of its type (`schemas.py`); the ids say
they are examples, so a receiver can tell them from a real chat's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from omnihook.domain.clock import iso
from omnihook.webhooks.catalog import EventType

EXAMPLE_ROOM_ID = "example-room"
_VISITOR_ID = "example-visitor"
_AGENT_ID = "example-agent"
_DEPARTMENT_ID = "example-department"

# The event types each endpoint format can be sent an example of: every format sends every type today.
EXAMPLE_TYPES: dict[str, frozenset[EventType]] = {
    "rocketchat": frozenset(EventType),
    "standard": frozenset(EventType),
}


def _visitor() -> dict[str, Any]:
    return {
        "_id": _VISITOR_ID,
        "token": "example-visitor-token",
        "name": "Ada Example",
        "username": "guest-example",
        "department": _DEPARTMENT_ID,
        "ip": "192.0.2.10",
        "os": "Linux",
        "browser": "Firefox 120.0",
        "email": [{"address": "ada@example.com"}],
        "phone": [{"phoneNumber": "+15555550100"}],
    }


def _agent() -> dict[str, Any]:
    return {"_id": _AGENT_ID, "username": "agent.example", "name": "Alan Agent", "email": "agent@example.com"}


def _message(n: int, *, by_agent: bool, text: str, at: datetime) -> dict[str, Any]:
    if by_agent:
        user = {"_id": _AGENT_ID, "username": "agent.example", "name": "Alan Agent"}
    else:
        user = {"_id": _VISITOR_ID, "username": "guest-example", "name": "Ada Example"}
    message: dict[str, Any] = {
        "u": user,
        "_id": f"example-message-{n}",
        "username": user["username"],
        "msg": text,
        "ts": iso(at),
        "rid": EXAMPLE_ROOM_ID,
        "_updatedAt": iso(at),
    }
    if by_agent:
        message["agentId"] = _AGENT_ID
    return message


def example_payload(kind: EventType, now: datetime, *, by_agent: bool = False) -> dict[str, Any]:
    """The sample payload of `kind`, its times just before `now` (a Message: the visitor's, or with
    `by_agent` the agent's)."""
    if kind == EventType.OFFLINE_MESSAGE:
        return {
            "type": kind.value,
            "sentAt": iso(now),
            "visitor": {"name": "Ada Example", "email": "ada@example.com"},
            "message": "This is an example offline message from omnihook.",
        }
    opened = now - timedelta(minutes=5)
    served = {"_id": _AGENT_ID, "username": "agent.example", "ts": iso(opened + timedelta(seconds=30))}
    transcript = [
        _message(1, by_agent=False, text="Hello, this is an example chat.", at=opened + timedelta(seconds=5)),
        _message(2, by_agent=True, text="How can I help you today?", at=opened + timedelta(seconds=40)),
    ]
    payload: dict[str, Any] = {
        "_id": EXAMPLE_ROOM_ID,
        "label": "Ada Example",
        "topic": "An example chat",
        "createdAt": iso(opened),
        "tags": ["example"],
        "customFields": {},
        "visitor": _visitor(),
        "type": kind.value,
        "messages": [],
    }
    if kind != EventType.SESSION_START and kind != EventType.SESSION_QUEUED:
        payload["agent"] = _agent()
    if kind in (EventType.SESSION_START, EventType.SESSION_QUEUED, EventType.SESSION_TAKEN):
        payload["departmentId"] = _DEPARTMENT_ID
    if kind == EventType.SESSION_TAKEN:
        payload["servedBy"] = served
    elif kind == EventType.SESSION_FORWARDED:
        payload["departmentId"] = _DEPARTMENT_ID
        payload["servedBy"] = {**served, "ts": iso(now - timedelta(seconds=10))}
        payload["oldServedBy"] = {"_id": "example-agent-0", "username": "first.agent", "ts": served["ts"]}
        payload["lastMessageAt"] = transcript[-1]["ts"]
        payload["messages"] = transcript
    elif kind in (EventType.SESSION, EventType.EDIT):
        closing = _message(3, by_agent=True, text="Thank you, goodbye.", at=now - timedelta(seconds=5))
        closing["closingMessage"] = True
        payload["departmentId"] = _DEPARTMENT_ID
        payload["servedBy"] = served
        payload["closedAt"] = iso(now - timedelta(seconds=5))
        payload["closedBy"] = {"_id": _AGENT_ID, "username": "agent.example"}
        payload["closer"] = "user"
        payload["lastMessageAt"] = closing["ts"]
        payload["messages"] = [*transcript, closing]
        if kind == EventType.EDIT:
            for extra in ("departmentId", "servedBy", "closedAt", "closedBy", "closer"):
                payload.pop(extra)
    elif kind == EventType.MESSAGE:
        message = transcript[1] if by_agent else transcript[0]
        payload["lastMessageAt"] = message["ts"]
        payload["messages"] = [message]
    elif kind == EventType.LEAD_CAPTURE:
        payload["lastMessageAt"] = transcript[0]["ts"]
    return payload
