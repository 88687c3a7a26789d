"""The realtime hub of one server: one subscription to the live events, fanned out to its sessions.

Notes carry ids; the hub loads what a note is about once (one query per note, whatever the number of
subscribers) and only when a session of this server follows the room, then pushes it to each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any

from omnihook.domain.errors import DomainError, NotFound, Unauthorized
from omnihook.domain.rooms import CLOSE_MESSAGE, TRANSFER_MESSAGE
from omnihook.livechat.accounts import authenticate
from omnihook.livechat.live_events import RESYNC, TOKENS_REVOKED, TYPING, Broker
from omnihook.livechat.messages import ensure_agent_sees
from omnihook.livechat.queries import find_room
from omnihook.realtime import ddp, documents
from omnihook.realtime.session import (
    CLOSE_GOING_AWAY,
    CLOSE_RESYNC,
    CLOSE_REVOKED,
    MethodHandler,
    Session,
    Sub,
)
from omnihook.realtime.streams import LIVECHAT_ROOM, NOTIFY_ROOM, ROOM_EVENTS, ROOM_MESSAGES
from omnihook.storage.database import Database

log = logging.getLogger("omnihook.realtime")

# The hub's own queue: deep, since every note of the server passes through it.
HUB_QUEUE_SIZE = 10_000
# Notes after which a queued room's place may have changed.
QUEUE_MOVES = frozenset({"room.queued", "room.taken", "room.closed", "room.forwarded"})

Key = tuple[str, str]  # (stream, key)


class Hub:
    def __init__(self, db: Database, broker: Broker, *, login_recheck_seconds: float = 60.0) -> None:
        self.db = db
        self.broker = broker
        self.login_recheck_seconds = login_recheck_seconds
        self._recheck: asyncio.Task[None] | None = None
        self.methods: dict[str, MethodHandler] = {}
        self.sessions: set[Session] = set()
        self._watchers: dict[Key, dict[tuple[Session, str], Sub]] = defaultdict(dict)
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    # --- sessions ----------------------------------------------------------------------------------

    async def ready(self) -> None:
        """Start hearing notes (at the first session): committed changes then reach every session."""
        if self._task is None or self._task.done():
            self._listening.clear()
            self._task = asyncio.create_task(self._run(), name="omnihook-realtime-hub")
        if self._recheck is None or self._recheck.done():
            self._recheck = asyncio.create_task(self._recheck_all(), name="omnihook-realtime-logins")
        await self.broker.ready()
        await self._listening.wait()

    def join(self, session: Session) -> None:
        self.sessions.add(session)
        if self.broker.closing:
            session.close(CLOSE_GOING_AWAY)

    async def watch(self, session: Session, sub: Sub) -> None:
        await self.ready()
        self._watchers[(sub.stream, sub.key)][(session, sub.id)] = sub

    def unwatch(self, session: Session, sub: Sub) -> None:
        key = (sub.stream, sub.key)
        watchers = self._watchers.get(key)
        if watchers is not None:
            watchers.pop((session, sub.id), None)
            if not watchers:
                del self._watchers[key]

    def forget(self, session: Session) -> None:
        self.sessions.discard(session)
        for sub in list(session.state.subs.values()):
            self.unwatch(session, sub)

    def _followers(self, stream: str, key: str) -> list[tuple[Session, Sub]]:
        """One (session, sub) per session: a client that follows a key twice (the widget follows its
        room's stream-livechat-room four times) hears each event once. A visitor's copy only when all
        of that session's subscriptions to the key are a visitor's."""
        found: dict[Session, Sub] = {}
        for (session, _), sub in self._watchers.get((stream, key), {}).items():
            if sub.muted:
                continue
            if session not in found or not sub.for_visitor:
                found[session] = sub
        return list(found.items())

    async def welcome(self, session: Session, sub: Sub) -> None:
        """What a new subscriber is told at once: its place in the queue, if it waits in one."""
        if sub.stream != LIVECHAT_ROOM:
            return
        async with self.db.engine.connect() as conn:
            spot = (await documents.queue_spots(conn, {sub.room_id})).get(sub.room_id)
            if spot is not None:
                data = documents.queue_data(spot, await documents.queue_message(conn))
                event = {"type": "queueData", "data": data}
                session.send(ddp.changed(LIVECHAT_ROOM, sub.key, [event]))

    async def aclose(self) -> None:
        tasks = [t for t in (self._task, self._recheck) if t is not None]
        self._task = self._recheck = None
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _recheck_all(self) -> None:
        """Revocations are announced (TokensRevoked); an expiry is not: check logins on a timer too."""
        while True:
            await asyncio.sleep(self.login_recheck_seconds)
            user_ids = {s.state.login.user.id for s in self.sessions if s.state.login is not None}
            for user_id in user_ids:
                try:
                    await self._recheck_logins(user_id)
                except Exception as exc:  # the database away: next time
                    log.warning("realtime: logins not checked (%s)", exc)

    # --- notes -------------------------------------------------------------------------------------

    async def _run(self) -> None:
        with self.broker.subscribe() as subscription:
            subscription.queue = asyncio.Queue(HUB_QUEUE_SIZE)
            self._listening.set()
            closed = asyncio.ensure_future(subscription.closed.wait())
            try:
                while True:
                    getter = asyncio.ensure_future(subscription.queue.get())
                    await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
                    if closed.done():
                        getter.cancel()
                        break
                    if subscription.overflowed:
                        subscription.overflowed = False
                        self.resync("notes were dropped (the hub fell behind)")
                    try:
                        await self.handle(getter.result())
                    except Exception:
                        log.exception("realtime: a note could not be pushed")
            finally:
                closed.cancel()
            # The server is stopping: clients reconnect to whichever server is up.
            for session in list(self.sessions):
                session.close(CLOSE_GOING_AWAY)

    def resync(self, why: str) -> None:
        """Events were missed (LISTEN reconnected, or the hub fell behind): what each session was told is
        no longer the truth. Every socket is closed; Rocket.Chat's widget and SDK reconnect, load the
        messages again over REST (the widget's handleConnected) and subscribe again."""
        if self.sessions:
            log.warning("realtime: %s; closing %d sockets so they resync", why, len(self.sessions))
        for session in list(self.sessions):
            session.close(CLOSE_RESYNC)

    async def handle(self, note: dict[str, Any]) -> None:
        kind, rid = note["kind"], note.get("roomId")
        if kind == RESYNC["kind"]:
            self.resync("live notes may have been missed (the LISTEN connection was lost)")
            return
        if kind == TOKENS_REVOKED:
            await self._recheck_logins(note["userId"])
            return
        if rid is None:
            return
        if kind == TYPING:
            args = [note["username"], note["typing"]]
            for session, sub in self._followers(NOTIFY_ROOM, f"{rid}/typing"):
                if session.id != note.get("origin"):
                    session.send(ddp.changed(NOTIFY_ROOM, sub.key, args))
            return
        if kind == "message.deleted":
            args = [{"_id": note["messageId"]}]
            for session, sub in self._followers(NOTIFY_ROOM, f"{rid}/deleteMessage"):
                session.send(ddp.changed(NOTIFY_ROOM, sub.key, args))
            return
        if kind in QUEUE_MOVES:
            await self._recheck_readers(rid)
        if kind == "message.sent":
            await self._push_message(rid, note["messageId"])
        elif kind == "room.closed":
            await self._push_message(rid, None, system=CLOSE_MESSAGE)
        elif kind == "room.forwarded":
            await self._push_message(rid, None, system=TRANSFER_MESSAGE)
        elif kind == "room.taken":
            await self._push_livechat(rid, "agentData", note["agentId"])
        elif kind == "room.info_edited":
            await self._push_livechat(rid, "visitorData", None)
        if kind in QUEUE_MOVES:
            await self._push_queue_spots()

    async def _recheck_readers(self, rid: str) -> None:
        """Rocket.Chat checks who may read a room's streams on each publish: once a room has changed
        hands (taken, forwarded, queued, closed), each logged-in follower is checked again as the REST
        API would, and one who may no longer read it hears nothing more of it until it may again. The
        visitor's token still matches its room, so its subscriptions are left alone."""
        keys = [(stream, rid) for stream in (ROOM_MESSAGES, LIVECHAT_ROOM)]
        keys += [(NOTIFY_ROOM, f"{rid}/{event}") for event in ROOM_EVENTS]
        followers = [
            (session, sub)
            for key in keys
            for (session, _), sub in self._watchers.get(key, {}).items()
            if not sub.for_visitor
        ]
        if not followers:
            return
        verdicts: dict[str, bool] = {}
        async with self.db.engine.connect() as conn:
            try:
                room = await find_room(conn, rid)
            except NotFound:
                room = None
            for session, sub in followers:
                login = session.state.login
                if login is None or room is None:
                    sub.muted = True
                    continue
                if login.user.id not in verdicts:
                    try:
                        await ensure_agent_sees(conn, login.user, room)
                        verdicts[login.user.id] = True
                    except DomainError:
                        verdicts[login.user.id] = False
                sub.muted = not verdicts[login.user.id]

    async def _push_message(self, rid: str, message_id: str | None, *, system: str | None = None) -> None:
        followers = self._followers(ROOM_MESSAGES, rid)
        if not followers:
            return
        async with self.db.engine.connect() as conn:
            if message_id is not None:
                message = await documents.load_message(conn, message_id)
            else:
                message = await documents.last_message_of_type(conn, rid, system or "")
        if message is None:
            return
        frames = {
            audience: ddp.encode(
                ddp.changed(ROOM_MESSAGES, rid, [documents.message_doc(message, for_visitor=audience)])
            )
            for audience in (True, False)
        }
        for session, sub in followers:
            session.send_text(frames[sub.for_visitor])

    async def _push_livechat(self, rid: str, kind: str, agent_id: str | None) -> None:
        followers = self._followers(LIVECHAT_ROOM, rid)
        if not followers:
            return
        async with self.db.engine.connect() as conn:
            if kind == "agentData" and agent_id is not None:
                event: dict[str, Any] = {"type": kind, "data": await documents.agent_data(conn, agent_id)}
            else:
                visitor = await documents.visitor_data(conn, rid)
                if visitor is None:
                    return
                event = {"type": kind, "visitor": visitor}
        frame = ddp.encode(ddp.changed(LIVECHAT_ROOM, rid, [event]))
        for session, _ in followers:
            session.send_text(frame)

    async def _push_queue_spots(self) -> None:
        followed = {key for stream, key in self._watchers if stream == LIVECHAT_ROOM}
        if not followed:
            return
        async with self.db.engine.connect() as conn:
            spots = await documents.queue_spots(conn, followed)
            message = await documents.queue_message(conn) if spots else {}
        for rid, spot in spots.items():
            event = {"type": "queueData", "data": documents.queue_data(spot, message)}
            frame = ddp.encode(ddp.changed(LIVECHAT_ROOM, rid, [event]))
            for session, _ in self._followers(LIVECHAT_ROOM, rid):
                session.send_text(frame)

    async def _recheck_logins(self, user_id: str) -> None:
        """A login token of this user went: its sessions whose token it was are closed."""
        for session in list(self.sessions):
            login = session.state.login
            if login is None or login.user.id != user_id:
                continue
            try:
                await authenticate(self.db, user_id=user_id, token=login.token)
            except Unauthorized:
                session.close(CLOSE_REVOKED)
