"""One DDP session: a WebSocket, its bounded outgoing queue, its subscriptions and who it speaks for.

Reading and writing are separate tasks: a frame for a slow client waits in a bounded queue, and a
client that lets the queue fill up is disconnected (it never grows the server's memory). Every frame a
client sends is answered with a DDP message, an error for what the server cannot act on; nothing a
client sends ends the session but closing the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from omnihook.domain.errors import DomainError
from omnihook.domain.ids import new_id
from omnihook.domain.users import User
from omnihook.realtime import ddp
from omnihook.realtime.streams import STREAMS, Reader, authorize, refusal, room_of_key, visitor_token

if TYPE_CHECKING:
    from omnihook.realtime.hub import Hub

log = logging.getLogger("omnihook.realtime")

# Close codes: 1008 policy (queue overflow, revoked login), 1001 going away (server stopping).
CLOSE_SLOW = 1008
CLOSE_REVOKED = 1008
CLOSE_GOING_AWAY = 1001
# 1012 service restart: events were missed; the client reconnects, reloads and subscribes again.
CLOSE_RESYNC = 1012


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int = 64 * 1024
    max_subscriptions: int = 100
    send_queue: int = 512
    ping_seconds: float = 25.0
    login_recheck_seconds: float = 60.0


@dataclass
class Sub:
    id: str
    stream: str
    key: str
    room_id: str
    for_visitor: bool
    # A logged-in reader who may no longer read the room (it changed hands): kept, but told nothing
    # until it may again (Hub._recheck_readers).
    muted: bool = False


@dataclass
class Login:
    user: User
    token: str
    # Closes the agent's presence (its grace period starts) when the login ends.
    release: Callable[[], Awaitable[None]] | None = None


@dataclass
class SessionState:
    connected: bool = False
    login: Login | None = None
    livechat_token: str | None = None
    subs: dict[str, Sub] = field(default_factory=dict)
    # Per room: the last typing state this session broadcast, and when (monotonic seconds).
    typing: dict[str, tuple[bool, float]] = field(default_factory=dict)


MethodHandler = Callable[["Session", list[Any]], Awaitable[Any]]


class Session:
    def __init__(self, ws: WebSocket, hub: Hub, limits: Limits) -> None:
        self.id = new_id()
        self.ws = ws
        self.hub = hub
        self.limits = limits
        self.state = SessionState()
        self._out: asyncio.Queue[str | None] = asyncio.Queue(limits.send_queue)
        self._heard = asyncio.Event()
        self.closing = asyncio.Event()
        self.close_code = 1000
        self.on_close: list[Callable[[], Awaitable[None]]] = []

    # --- sending ---------------------------------------------------------------------------------

    def send(self, frame: dict[str, Any]) -> None:
        self.send_text(ddp.encode(frame))

    def send_text(self, text: str) -> None:
        """Queue a frame; a client too slow to take it is dropped instead of queued for without end."""
        if self.closing.is_set():
            return
        try:
            self._out.put_nowait(text)
        except asyncio.QueueFull:
            log.info("realtime: session %s is not reading; disconnected", self.id)
            self.close(CLOSE_SLOW)

    def close(self, code: int = 1000) -> None:
        if not self.closing.is_set():
            self.close_code = code
            self.closing.set()

    async def _writer(self) -> None:
        while True:
            text = await self._out.get()
            if text is None:
                return
            await self.ws.send_text(text)

    # --- the session's life ------------------------------------------------------------------------

    async def run(self) -> None:
        self.send({"server_id": "0"})  # Meteor's greeting; clients ignore it
        tasks = [
            asyncio.create_task(self._reader()),
            asyncio.create_task(self._writer()),
            asyncio.create_task(self._keepalive()),
            asyncio.create_task(self.closing.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            self.hub.forget(self)
            login, self.state.login = self.state.login, None
            if login is not None and login.release is not None:
                self.on_close.append(login.release)
            for callback in reversed(self.on_close):
                try:
                    await callback()
                except Exception:
                    log.exception("realtime: closing session %s", self.id)
            with contextlib.suppress(Exception):
                await self.ws.close(self.close_code)

    async def _reader(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except WebSocketDisconnect:
                return
            if message["type"] == "websocket.disconnect":
                return
            self._heard.set()
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            if len(raw) > self.limits.max_frame_bytes:
                self.send(ddp.error(f"Bad request: frame over {self.limits.max_frame_bytes} bytes"))
                continue
            try:
                await self.handle(ddp.parse(raw))
            except ddp.BadFrame as exc:
                self.send(ddp.error(exc.reason, exc.offending))
            except Exception:  # the database away, say: this frame fails, the session goes on
                log.exception("realtime: session %s could not handle a frame", self.id)
                self.send(ddp.error("Internal server error"))

    async def _keepalive(self) -> None:
        """Ping an idle client; one that answers nothing for a whole further interval is gone."""
        while True:
            self._heard.clear()
            try:
                await asyncio.wait_for(self._heard.wait(), self.limits.ping_seconds)
                continue
            except TimeoutError:
                self.send({"msg": "ping"})
            try:
                await asyncio.wait_for(self._heard.wait(), self.limits.ping_seconds)
            except TimeoutError:
                self.close(CLOSE_GOING_AWAY)
                return

    # --- messages --------------------------------------------------------------------------------

    async def handle(self, frame: ddp.Frame) -> None:
        if frame.msg == "connect":
            if frame.body.get("version") not in ddp.SUPPORTED_VERSIONS:
                self.send(ddp.failed())
                return
            self.state.connected = True
            self.send(ddp.connected(self.id))
            return
        if frame.msg == "ping":
            self.send(ddp.pong(frame.id))
            return
        if frame.msg == "pong":
            return
        if not self.state.connected:
            raise ddp.BadFrame("Must connect first", frame.body)
        if frame.msg == "sub":
            await self._sub(frame)
        elif frame.msg == "unsub":
            self._unsub(frame)
        elif frame.msg == "method":
            await self._method(frame)
        else:
            raise ddp.BadFrame(f"Bad request: unknown message {frame.msg!r}", frame.body)

    async def _sub(self, frame: ddp.Frame) -> None:
        sub_id, name, params = frame.id, frame.body.get("name"), frame.body.get("params", [])
        if sub_id is None or not isinstance(name, str) or not isinstance(params, list):
            raise ddp.BadFrame("Bad request: sub needs an id, a name and params", frame.body)
        if name not in STREAMS:
            self.send(ddp.nosub(sub_id, ddp.meteor_error(404, f"Subscription '{name}' not found")))
            return
        if sub_id in self.state.subs:
            self.send(
                ddp.nosub(sub_id, ddp.meteor_error("error-duplicate-sub", "this id is already subscribed"))
            )
            return
        if len(self.state.subs) >= self.limits.max_subscriptions:
            reason = f"at most {self.limits.max_subscriptions} subscriptions per connection"
            self.send(ddp.nosub(sub_id, ddp.meteor_error("error-too-many-subscriptions", reason)))
            return
        key = params[0] if params else None
        options = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        args = options.get("args", [])
        if not isinstance(key, str) or not isinstance(args, list):
            self.send(ddp.nosub(sub_id, ddp.meteor_error("error-invalid-params", "params: [key, {args}]")))
            return
        token = visitor_token(args)
        login = self.state.login
        reader = Reader(token=token) if token is not None or login is None else Reader(user=login.user)
        try:
            rid = room_of_key(name, key)
            await authorize(self.hub.db, reader, rid)
        except DomainError as exc:
            # Refused exactly as Rocket.Chat refuses a stream: nosub, nothing learnt about the room.
            error, reason = refusal(exc)
            self.send(ddp.nosub(sub_id, ddp.meteor_error("not-allowed", f"{error}: {reason}")))
            return
        sub = Sub(sub_id, name, key, rid, for_visitor=reader.is_visitor)
        self.state.subs[sub_id] = sub
        await self.hub.watch(self, sub)
        self.send(ddp.ready(sub_id))
        await self.hub.welcome(self, sub)

    def _unsub(self, frame: ddp.Frame) -> None:
        sub_id = frame.id
        if sub_id is None:
            raise ddp.BadFrame("Bad request: unsub needs an id", frame.body)
        sub = self.state.subs.pop(sub_id, None)
        if sub is not None:
            self.hub.unwatch(self, sub)
        self.send(ddp.nosub(sub_id))

    async def _method(self, frame: ddp.Frame) -> None:
        method_id, name, params = frame.id, frame.body.get("method"), frame.body.get("params", [])
        if method_id is None or not isinstance(name, str) or not isinstance(params, list):
            raise ddp.BadFrame("Bad request: method needs an id, a method name and params", frame.body)
        handler = self.hub.methods.get(name)
        if handler is None:
            self.send(ddp.result(method_id, err=ddp.meteor_error(404, f"Method '{name}' not found")))
        else:
            try:
                value = await handler(self, params)
            except DomainError as exc:
                error, reason = refusal(exc)
                self.send(ddp.result(method_id, err=ddp.meteor_error(error, reason)))
            except Exception:
                log.exception("realtime: method %s failed", name)
                self.send(ddp.result(method_id, err=ddp.meteor_error(500, "Internal server error")))
            else:
                self.send(ddp.result(method_id, value))
        self.send(ddp.updated(method_id))
