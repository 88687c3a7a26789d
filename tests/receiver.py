"""A real HTTP receiver on loopback, in a thread of its own, recording what arrives.

It answers with scripted statuses (a list consumed in order, then `default_status`), an optional
delay, and a body; `wait_for(n)` blocks until n requests arrived.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrived_at: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self.delay_s = 0.0
        self.response_body: str | Callable[[Received], str] = "ok"
        self.response_headers: dict[str, str] = {}
        self.port = 0
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        received = Received(request.method, request.path, dict(request.headers), body, time.monotonic())
        with self._cond:
            self.requests.append(received)
            status = self.statuses.pop(0) if self.statuses else self.default_status
            self._cond.notify_all()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        text = self.response_body(received) if callable(self.response_body) else self.response_body
        return web.Response(status=status, text=text, headers=self.response_headers)

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self._runner = runner
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="receiver", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Blocks until `count` requests arrived (fails the test after `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self._cond.wait(left)
            return list(self.requests)

    async def arrived(self, count: int, within: float = 30.0) -> list[Received]:
        """`wait_for` from async code, without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for, count, within)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
