"""DDP, the protocol of Rocket.Chat's realtime API: parsing client frames, building server frames.

Only what Rocket.Chat's clients use: connect, ping/pong, sub/unsub, method, and `changed` events of
streams. Dates inside documents are EJSON (`{"$date": ms}`). Errors have Meteor's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

SUPPORTED_VERSIONS = ("1", "pre2", "pre1")


class BadFrame(Exception):
    """A frame the server cannot act on: answered with a DDP `error`, the socket stays open."""

    def __init__(self, reason: str, offending: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offending = offending


@dataclass(frozen=True)
class Frame:
    msg: str
    body: dict[str, Any]

    @property
    def id(self) -> str | None:
        value = self.body.get("id")
        return value if isinstance(value, str) else None


def parse(raw: str | bytes) -> Frame:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadFrame("Bad request: not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("msg"), str):
        raise BadFrame("Bad request: a DDP message is an object with a `msg`", body)
    return Frame(body["msg"], body)


def ejson_date(ts: datetime) -> dict[str, int]:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return {"$date": int(ts.timestamp() * 1000)}


def meteor_error(error: str | int, reason: str) -> dict[str, Any]:
    return {
        "isClientSafe": True,
        "error": error,
        "reason": reason,
        "message": f"{reason} [{error}]",
        "errorType": "Meteor.Error",
    }


def encode(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def connected(session: str) -> dict[str, Any]:
    return {"msg": "connected", "session": session}


def failed() -> dict[str, Any]:
    return {"msg": "failed", "version": SUPPORTED_VERSIONS[0]}


def pong(ping_id: str | None) -> dict[str, Any]:
    return {"msg": "pong", "id": ping_id} if ping_id is not None else {"msg": "pong"}


def error(reason: str, offending: Any = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"msg": "error", "reason": reason}
    if offending is not None:
        frame["offendingMessage"] = offending
    return frame


def ready(sub_id: str) -> dict[str, Any]:
    return {"msg": "ready", "subs": [sub_id]}


def nosub(sub_id: str, err: dict[str, Any] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"msg": "nosub", "id": sub_id}
    if err is not None:
        frame["error"] = err
    return frame


def result(method_id: str, value: Any = None, err: dict[str, Any] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"msg": "result", "id": method_id}
    if err is not None:
        frame["error"] = err
    elif value is not None:
        frame["result"] = value
    return frame


def updated(method_id: str) -> dict[str, Any]:
    return {"msg": "updated", "methods": [method_id]}


def changed(stream: str, event_name: str, args: list[Any]) -> dict[str, Any]:
    """A stream event, as Rocket.Chat's streamer sends it."""
    return {
        "msg": "changed",
        "collection": stream,
        "id": "id",
        "fields": {"eventName": event_name, "args": args},
    }
