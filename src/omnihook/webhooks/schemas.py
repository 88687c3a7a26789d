"""The event catalog's JSON Schemas (2020-12): what each event type's payload holds, in both formats.

Built from the same rules as `payloads.py`: a key Rocket.Chat would leave out has no `required` entry,
objects omnihook builds admit no other keys, and free-form data (custom fields, crmData, navigation) is
any JSON. The Standard Webhooks format wraps the same payload as `data` in `{type, timestamp, data}`.
"""

from __future__ import annotations

from typing import Any

from omnihook.webhooks.catalog import EventType

DIALECT = "https://json-schema.org/draft/2020-12/schema"
FORMAT_NAMES = ("rocketchat", "standard")

_STRING: dict[str, Any] = {"type": "string"}
_OPTIONAL_STRING: dict[str, Any] = {"type": ["string", "null"]}
_TIMESTAMP: dict[str, Any] = {"type": "string", "format": "date-time"}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_USER_REF = _object({"_id": _STRING, "username": _STRING}, ["_id", "username"])
_SERVED_BY = _object({"_id": _STRING, "username": _STRING, "ts": _TIMESTAMP}, ["_id", "username", "ts"])

_VISITOR = _object(
    {
        "_id": _STRING,
        "token": _STRING,
        "name": _OPTIONAL_STRING,
        "username": _STRING,
        "department": _STRING,
        "ip": _STRING,
        "os": {"type": "string", "description": "from the visitor's user agent: name and version"},
        "browser": {"type": "string", "description": "from the visitor's user agent: name and version"},
        "customFields": _ANY_OBJECT,
        "email": {
            "type": "array",
            "items": _object({"address": _STRING}, ["address"]),
            "description": "left out when the visitor has no e-mail address",
        },
        "phone": {
            "type": ["array", "null"],
            "items": _object({"phoneNumber": _STRING}, ["phoneNumber"]),
            "description": "null when the visitor has no phone number (as in Rocket.Chat's sample)",
        },
    },
    ["_id", "token", "username", "phone"],
)

_AGENT = _object(
    {
        "_id": _STRING,
        "username": _STRING,
        "name": _OPTIONAL_STRING,
        "email": _STRING,
        "customFields": _ANY_OBJECT,
    },
    ["_id", "username"],
)

_MESSAGE = _object(
    {
        "u": _object({"_id": _STRING, "username": _STRING, "name": _OPTIONAL_STRING}, ["_id", "username"]),
        "_id": _STRING,
        "username": _STRING,
        "msg": _STRING,
        "ts": _TIMESTAMP,
        "rid": _STRING,
        "editedAt": _TIMESTAMP,
        "agentId": {"type": "string", "description": "the sender, for anyone but the visitor"},
        "navigation": {**_ANY_OBJECT, "description": "the page a navigation message records"},
        "closingMessage": {"const": True},
        "_updatedAt": _TIMESTAMP,
    },
    ["u", "_id", "username", "msg", "ts", "rid", "_updatedAt"],
)

_ROOM: dict[str, Any] = {
    "_id": _STRING,
    "label": _OPTIONAL_STRING,
    "topic": _STRING,
    "createdAt": _TIMESTAMP,
    "lastMessageAt": {**_TIMESTAMP, "description": "left out before the first message"},
    "tags": {"type": "array", "items": _STRING},
    "customFields": _ANY_OBJECT,
    "visitor": _VISITOR,
    "agent": {**_AGENT, "description": "the serving agent; left out while nobody serves the chat"},
    "crmData": {"description": "what the CRM answered to an earlier webhook of this chat"},
}

# `getAdditionalFieldsByType`: the fields each session type adds.
_EXTRAS: dict[EventType, dict[str, Any]] = {
    EventType.SESSION_START: {"departmentId": _STRING},
    EventType.SESSION_QUEUED: {"departmentId": _STRING},
    EventType.SESSION_TAKEN: {"departmentId": _STRING, "servedBy": _SERVED_BY},
    EventType.SESSION_FORWARDED: {
        "departmentId": _STRING,
        "servedBy": _SERVED_BY,
        "oldServedBy": {**_SERVED_BY, "description": "on a forward to an agent"},
        "oldDepartmentId": {"type": "string", "description": "on a forward to a department"},
    },
    EventType.SESSION: {
        "departmentId": _STRING,
        "servedBy": _SERVED_BY,
        "closedAt": _TIMESTAMP,
        "closedBy": _USER_REF,
        "closer": {"enum": ["user", "visitor"]},
    },
}

DESCRIPTIONS: dict[EventType, str] = {
    EventType.SESSION_START: "A chat was opened (before it is routed); the transcript is empty.",
    EventType.SESSION_QUEUED: "A chat waits in a queue for an agent to take it.",
    EventType.SESSION_TAKEN: "An agent took the chat, by hand or by auto-assignment.",
    EventType.SESSION_FORWARDED: "The chat was forwarded to another agent or department.",
    EventType.SESSION: "The chat was closed; the transcript ends with the closing message.",
    EventType.EDIT: "A closed chat's room or visitor information was edited.",
    EventType.MESSAGE: "A visitor or an agent wrote a message (sent again, with editedAt, after an edit).",
    EventType.LEAD_CAPTURE: "A visitor's message held an e-mail address or phone number, now on the visitor.",
    EventType.OFFLINE_MESSAGE: "A visitor left a message while no agent was online.",
}


def rocketchat_schema(kind: EventType) -> dict[str, Any]:
    """The payload of `kind` as a Rocket.Chat-format endpoint receives it."""
    if kind == EventType.OFFLINE_MESSAGE:
        properties: dict[str, Any] = {
            "type": {"const": kind.value},
            "sentAt": _TIMESTAMP,
            "visitor": _object({"name": _STRING, "email": _STRING}, ["name", "email"]),
            "message": _STRING,
        }
        return _titled(kind, _object(properties, list(properties)))
    messages: dict[str, Any] = {"type": "array", "items": _MESSAGE}
    if kind == EventType.MESSAGE:
        messages.update(minItems=1, maxItems=1, description="the one message")
    elif kind == EventType.LEAD_CAPTURE:
        messages.update(maxItems=0, description="a lead carries no transcript")
    else:
        messages["description"] = "the transcript: visible messages, system messages left out"
    properties = {**_ROOM, "type": {"const": kind.value}, "messages": messages, **_EXTRAS.get(kind, {})}
    return _titled(kind, _object(properties, ["_id", "createdAt", "visitor", "type", "messages"]))


def standard_schema(kind: EventType) -> dict[str, Any]:
    """The body a Standard Webhooks endpoint receives: the same payload inside Standard Webhooks' envelope."""
    data = rocketchat_schema(kind)
    data.pop("$schema")
    envelope = _object(
        {"type": {"const": kind.value}, "timestamp": _TIMESTAMP, "data": data}, ["type", "timestamp", "data"]
    )
    return _titled(kind, envelope, suffix=" (Standard Webhooks)")


def schema_for(kind: EventType, format_name: str) -> dict[str, Any]:
    return standard_schema(kind) if format_name == "standard" else rocketchat_schema(kind)


def _titled(kind: EventType, schema: dict[str, Any], suffix: str = "") -> dict[str, Any]:
    return {"$schema": DIALECT, "title": kind.value + suffix, "description": DESCRIPTIONS[kind], **schema}
