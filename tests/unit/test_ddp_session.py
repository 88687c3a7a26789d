"""A DDP session on a fake socket: whatever a client sends is answered, never crashes the session,
and a client that stops reading is dropped instead of queued for."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from starlette.websockets import WebSocket

from omnihook.livechat.live_events import Broker
from omnihook.realtime.hub import Hub
from omnihook.realtime.session import CLOSE_SLOW, Limits, Session
from omnihook.storage.database import Database


class FakeSocket:
    def __init__(self, *, stuck: bool = False) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed_with: int | None = None
        self.stuck = stuck  # a client that never reads: sends never complete

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send_text(self, text: str) -> None:
        if self.stuck:
            await asyncio.Event().wait()
        await self.sent.put(json.loads(text))

    async def close(self, code: int = 1000) -> None:
        self.closed_with = code

    def says(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    async def answer(self) -> dict[str, Any]:
        while True:
            frame = await asyncio.wait_for(self.sent.get(), 10)
            if "server_id" not in frame:
                return frame


def start(
    limits: Limits | None = None, *, stuck: bool = False
) -> tuple[FakeSocket, Session, asyncio.Task[None]]:
    socket = FakeSocket(stuck=stuck)
    hub = Hub(cast(Database, None), Broker())  # these frames never reach the database
    session = Session(cast(WebSocket, socket), hub, limits or Limits())
    return socket, session, asyncio.create_task(session.run())


CONNECT = {"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}


async def connected(limits: Limits | None = None) -> tuple[FakeSocket, Session, asyncio.Task[None]]:
    socket, session, task = start(limits)
    socket.says(CONNECT)
    assert (await socket.answer()) == {"msg": "connected", "session": session.id}
    return socket, session, task


async def test_the_handshake_answers_connected_with_the_session_after_the_server_id() -> None:
    socket, session, task = start()
    socket.says(CONNECT)
    assert await asyncio.wait_for(socket.sent.get(), 10) == {"server_id": "0"}
    assert await socket.answer() == {"msg": "connected", "session": session.id}
    task.cancel()


async def test_an_unsupported_version_is_told_the_version_to_use() -> None:
    socket, _, task = start()
    socket.says({"msg": "connect", "version": "2", "support": ["2"]})
    assert await socket.answer() == {"msg": "failed", "version": "1"}
    task.cancel()


async def test_a_ping_is_answered_with_its_id_and_without() -> None:
    socket, _, task = await connected()
    socket.says({"msg": "ping", "id": "p1"})
    assert await socket.answer() == {"msg": "pong", "id": "p1"}
    socket.says({"msg": "ping"})
    assert await socket.answer() == {"msg": "pong"}
    task.cancel()


async def test_bad_frames_get_ddp_errors_and_the_session_goes_on() -> None:
    socket, _, task = start(Limits(max_frame_bytes=1000))
    socket.says({"msg": "sub", "id": "1", "name": "stream-room-messages", "params": []})
    assert (await socket.answer())["reason"] == "Must connect first"
    socket.says(CONNECT)
    assert (await socket.answer())["msg"] == "connected"
    for bad in ("{not json", "[1, 2]", json.dumps({"no": "msg"}), json.dumps({"msg": "launch"}), "x" * 1001):
        socket.says(bad)
        answer = await socket.answer()
        assert answer["msg"] == "error", (bad[:20], answer)
        assert answer["reason"].startswith("Bad request")
    socket.says({"msg": "method", "method": "login"})  # no id
    assert (await socket.answer())["msg"] == "error"
    socket.says({"msg": "ping", "id": "still-here"})
    assert await socket.answer() == {"msg": "pong", "id": "still-here"}
    assert not task.done()
    task.cancel()


async def test_an_unknown_method_or_stream_is_refused_with_meteors_404() -> None:
    socket, _, task = await connected()
    socket.says({"msg": "method", "id": "7", "method": "deleteEverything", "params": []})
    result = await socket.answer()
    assert result["id"] == "7"
    assert result["error"]["error"] == 404
    assert result["error"]["reason"] == "Method 'deleteEverything' not found"
    assert await socket.answer() == {"msg": "updated", "methods": ["7"]}
    socket.says({"msg": "sub", "id": "s1", "name": "meteor_autoupdate_clientVersions", "params": []})
    refused = await socket.answer()
    assert (refused["msg"], refused["id"], refused["error"]["error"]) == ("nosub", "s1", 404)
    task.cancel()


async def test_a_socket_at_its_subscription_limit_is_refused_more() -> None:
    socket, _, task = await connected(Limits(max_subscriptions=0))
    socket.says({"msg": "sub", "id": "s1", "name": "stream-room-messages", "params": ["rid", {"args": []}]})
    refused = await socket.answer()
    assert refused["msg"] == "nosub"
    assert refused["error"]["error"] == "error-too-many-subscriptions"
    task.cancel()


async def test_unsub_of_an_unknown_id_is_answered_nosub() -> None:
    socket, _, task = await connected()
    socket.says({"msg": "unsub", "id": "never"})
    assert await socket.answer() == {"msg": "nosub", "id": "never"}
    task.cancel()


async def test_a_client_that_stops_reading_is_disconnected_and_its_queue_stays_bounded() -> None:
    _, session, task = start(Limits(send_queue=8), stuck=True)
    for n in range(100):
        session.send({"msg": "changed", "n": n})
        assert session._out.qsize() <= 8
    await asyncio.wait_for(task, 10)
    assert session.close_code == CLOSE_SLOW


async def test_an_idle_client_is_pinged_and_one_that_never_answers_is_closed() -> None:
    socket, session, task = await connected(Limits(ping_seconds=0.05))
    assert await socket.answer() == {"msg": "ping"}
    await asyncio.wait_for(task, 10)
    assert socket.closed_with == session.close_code != 1000


async def test_a_client_that_answers_pings_stays_connected() -> None:
    socket, _, task = await connected(Limits(ping_seconds=0.05))
    for _ in range(3):
        assert await socket.answer() == {"msg": "ping"}
        socket.says({"msg": "pong"})
    assert not task.done()
    task.cancel()
