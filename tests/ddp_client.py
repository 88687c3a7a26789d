"""A small DDP client for the tests, on a real WebSocket (the `websockets` package), and a real
uvicorn server on loopback running the app in the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
import websockets
from fastapi import FastAPI

from tests.processes import free_port

WAIT = 30.0  # a generous bound for what must come: a test never waits on what must not


class DDPClient:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.others: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.session: str | None = None
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, *, connect: bool = True) -> AsyncIterator[DDPClient]:
        async with websockets.connect(url, max_size=None) as ws:
            client = cls(ws)
            try:
                if connect:
                    await client.connect()
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(BaseException):
                    await client._reader

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            msg = frame.get("msg")
            if msg == "ping":
                await self.ws.send(json.dumps({"msg": "pong"}))
            elif msg == "changed":
                await self.events.put(frame)
            elif msg == "result" and frame.get("id") in self._replies:
                self._replies.pop(frame["id"]).set_result(frame)
            elif msg in ("ready", "nosub") and self._wanted(frame):
                sub_id = frame["subs"][0] if msg == "ready" else frame["id"]
                self._replies.pop(sub_id).set_result(frame)
            else:
                await self.others.put(frame)

    def _wanted(self, frame: dict[str, Any]) -> bool:
        sub_id = frame["subs"][0] if frame["msg"] == "ready" else frame.get("id")
        return sub_id in self._replies

    async def send(self, frame: dict[str, Any] | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def other(self) -> dict[str, Any]:
        """The next frame that is no event, result or subscription answer (connected, pong, error)."""
        return await asyncio.wait_for(self.others.get(), WAIT)

    async def connect(self) -> None:
        await self.send({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]})
        while (frame := await self.other()).get("msg") != "connected":
            pass
        self.session = frame["session"]

    async def ping(self, ping_id: str) -> dict[str, Any]:
        """The server's pong to a ping (other frames, such as `updated`, are skipped)."""
        await self.send({"msg": "ping", "id": ping_id})
        while (frame := await self.other()).get("msg") != "pong":
            pass
        return frame

    async def _ask(self, frame: dict[str, Any]) -> dict[str, Any]:
        request_id = str(next(self._ids))
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request_id] = reply
        await self.send({**frame, "id": request_id})
        return await asyncio.wait_for(reply, WAIT)

    async def call(self, method: str, *params: Any) -> dict[str, Any]:
        return await self._ask({"msg": "method", "method": method, "params": list(params)})

    async def sub(self, name: str, key: str, *args: Any) -> dict[str, Any]:
        """The server's answer: {"msg": "ready", ...} or {"msg": "nosub", ...}."""
        return await self._ask(
            {"msg": "sub", "name": name, "params": [key, {"useCollection": False, "args": list(args)}]}
        )

    async def event(self, stream: str, event_name: str | None = None) -> list[Any]:
        """The args of the next event of `stream` (and key), skipping others."""
        while True:
            frame = await asyncio.wait_for(self.events.get(), WAIT)
            fields = frame["fields"]
            if frame["collection"] == stream and event_name in (None, fields["eventName"]):
                args: list[Any] = fields["args"]
                return args

    async def closed(self) -> int:
        """Waits for the server to close the socket; its close code."""
        await asyncio.wait_for(self.ws.wait_closed(), WAIT)
        code: int = self.ws.close_code or 0
        return code


def visitor_args(token: str) -> dict[str, str]:
    return {"token": token, "visitorToken": token}


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """`app` (its lifespan already running) behind a real uvicorn on loopback; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        app.state.live.close()  # end the live connections, as `omnihook serve` does on stop
        server.should_exit = True
        await task
