"""The DDP methods Rocket.Chat's livechat clients call: login by resume token, logout,
livechat:setUpConnection (the visitor's presence) and stream-notify-room (typing)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from sqlalchemy import select

from omnihook.domain.errors import Forbidden, InvalidInput, Unauthorized
from omnihook.livechat.accounts import authenticate, hash_token
from omnihook.livechat.live_events import typing_note
from omnihook.livechat.presence import Presence
from omnihook.realtime.session import Login, MethodHandler, Session
from omnihook.realtime.streams import Reader, authorize
from omnihook.storage.tables import auth_tokens

# A repeated "still typing" within this long is not broadcast again.
TYPING_REPEAT_SECONDS = 2.0


def methods(presence: Presence) -> dict[str, MethodHandler]:
    async def login(session: Session, params: list[Any]) -> dict[str, Any]:
        """`{"resume": authToken}`, as Rocket.Chat's SDK logs in with a REST login's token."""
        resume = params[0].get("resume") if params and isinstance(params[0], dict) else None
        if not isinstance(resume, str) or not resume:
            raise InvalidInput("error-invalid-login", "log in with {resume: <authToken from POST login>}")
        async with session.hub.db.engine.connect() as conn:
            owner = (
                await conn.execute(
                    select(auth_tokens.c.user_id).where(auth_tokens.c.token_hash == hash_token(resume))
                )
            ).scalar()
        if owner is None:
            raise Unauthorized("403", "You've been logged out by the server. Please log in again.")
        # The REST API's own check of a token (active user, token valid).
        user = await authenticate(session.hub.db, user_id=owner, token=resume)
        await logout(session, [])
        session.state.login = Login(user=user, token=resume)
        if user.is_agent:
            # An agent's socket is a live connection: it keeps the agent taking chats.
            stack = contextlib.AsyncExitStack()
            await stack.enter_async_context(presence.agent_connection(user.id))
            session.state.login.release = stack.aclose
        return {"id": user.id, "token": resume, "type": "resume"}

    async def logout(session: Session, _params: list[Any]) -> None:
        login, session.state.login = session.state.login, None
        if login is not None and login.release is not None:
            await login.release()

    async def set_up_connection(session: Session, params: list[Any]) -> None:
        """The visitor's widget is connected: it is online until its socket closes."""
        token = params[0].get("token") if params and isinstance(params[0], dict) else None
        if not isinstance(token, str) or not token:
            raise InvalidInput("error-invalid-token", "params: [{token: <visitor token>}]")
        if session.state.livechat_token is not None:
            return  # once per connection, as in Rocket.Chat
        # Not checked against the visitors, as in Rocket.Chat: the widget connects before it registers
        # the visitor, who is then online (never connected counts as online) until the socket closes.
        session.state.livechat_token = token
        connection_id = await presence.visitor_online(token)

        async def gone() -> None:
            await presence.visitor_gone(connection_id, token)

        session.on_close.append(gone)

    async def notify_room(session: Session, params: list[Any]) -> bool:
        """`["<rid>/typing", username, isTyping, {token}?]`: told to the room's other subscribers."""
        if len(params) < 3 or not isinstance(params[0], str) or not isinstance(params[1], str):
            raise InvalidInput(
                "error-invalid-params", 'params: ["<rid>/typing", username, isTyping, {token}]'
            )
        rid, _, event = params[0].partition("/")
        if event != "typing":
            raise Forbidden("not-allowed", "only <rid>/typing is written to this stream")
        username, typing = params[1], bool(params[2])
        extra = params[3] if len(params) > 3 and isinstance(params[3], dict) else {}
        token = extra.get("token") if isinstance(extra.get("token"), str) else None
        login = session.state.login
        if token is not None:
            room = await authorize(session.hub.db, Reader(token=token), rid)
            if username != room.visitor_username and username != (room.fname or ""):
                raise Forbidden("not-allowed", "a visitor types under their own name")
        elif login is not None:
            await authorize(session.hub.db, Reader(user=login.user), rid)
            if username not in (login.user.username, login.user.name):
                raise Forbidden("not-allowed", "an agent types under their own name")
        else:
            raise Forbidden("not-allowed", "log in, or give the visitor token")
        # The same news again within a moment is not sent again (a client may send it per keystroke).
        now = time.monotonic()
        last = session.state.typing.get(rid)
        if last is not None and last[0] == typing and now - last[1] < TYPING_REPEAT_SECONDS:
            return True
        session.state.typing[rid] = (typing, now)
        await session.hub.broker.publish_now([typing_note(rid, username, typing, session.id)])
        return True

    async def nothing(_session: Session, _params: list[Any]) -> None:
        """Presence methods the SDK calls on its own; omnihook's presence comes from the connection."""

    return {
        "login": login,
        "logout": logout,
        "livechat:setUpConnection": set_up_connection,
        "stream-notify-room": notify_room,
        "UserPresence:online": nothing,
        "UserPresence:away": nothing,
        "UserPresence:setDefaultStatus": nothing,
    }
