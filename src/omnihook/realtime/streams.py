"""The streams a client may subscribe to, and who may: the REST API's own rules, applied per room.

A visitor proves itself with its token in the subscription's args (`[{"token": T, "visitorToken": T}]`),
checked as livechat/room checks it; a logged-in agent or manager may follow a room they may read
through the REST API (livechat/rooms.info's rule). Anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnihook.domain.errors import DomainError, Forbidden, InvalidInput
from omnihook.domain.rooms import Room
from omnihook.domain.users import User
from omnihook.livechat.messages import ensure_agent_sees
from omnihook.livechat.queries import find_room, visitor_room
from omnihook.storage.database import Database

ROOM_MESSAGES = "stream-room-messages"
LIVECHAT_ROOM = "stream-livechat-room"
NOTIFY_ROOM = "stream-notify-room"
STREAMS = (ROOM_MESSAGES, LIVECHAT_ROOM, NOTIFY_ROOM)
# stream-notify-room keys are `<rid>/<event>`; these are the events omnihook sends.
ROOM_EVENTS = ("typing", "deleteMessage")


@dataclass(frozen=True)
class Reader:
    """Who asks: a visitor (by token) or a logged-in user."""

    token: str | None = None
    user: User | None = None

    @property
    def is_visitor(self) -> bool:
        return self.user is None


def visitor_token(args: list[Any]) -> str | None:
    """The visitor token of a subscription's or method's args (Rocket.Chat's SDK sends both keys)."""
    for arg in args:
        if isinstance(arg, dict):
            for key in ("visitorToken", "token"):
                value = arg.get(key)
                if isinstance(value, str) and value:
                    return value
    return None


def room_of_key(stream: str, key: str) -> str:
    """The room a stream key is about; a key this server never sends on is refused."""
    if stream == NOTIFY_ROOM:
        rid, _, event = key.partition("/")
        if not rid or event not in ROOM_EVENTS:
            raise InvalidInput(
                "error-invalid-event", f"{stream}: keys are <rid>/typing or <rid>/deleteMessage"
            )
        return rid
    if not key or "/" in key:
        raise InvalidInput("error-invalid-room", f"{stream}: the key is a room id")
    return key


async def authorize(db: Database, reader: Reader, rid: str) -> Room:
    """The room, if this reader may follow it; raises the REST API's refusal otherwise."""
    async with db.engine.connect() as conn:
        if reader.user is not None:
            room = await find_room(conn, rid)
            await ensure_agent_sees(conn, reader.user, room)
            return room
        if reader.token is None:
            raise Forbidden("error-not-allowed", "log in, or give the visitor token in the args")
        return await visitor_room(conn, reader.token, rid)


def refusal(exc: DomainError) -> tuple[str, str]:
    """(error, reason) of a refused subscription or method, from the REST API's error."""
    return exc.error, exc.details or exc.error
