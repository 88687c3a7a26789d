"""The webhook receiver: a separate process, a fast aiohttp server on loopback that records arrivals.

`python -m bench.receiver` prints `READY <port>` once it listens. Routes:
  POST /hook/{name}   answers 200 at once and records the arrival time (a healthy CRM)
  POST /hang/{name}   never answers (an endpoint that hangs until the sender's timeout)
  POST /hostile/{kind}/{name}  misbehaves at byte level (see HOSTILE): resets the connection, answers
                      500 with undecodable header bytes, 200 with a NUL in the body, 429 with an
                      overflowing or a non-ASCII Retry-After, a redirect, an invalid status line
  GET  /_count        {"total": n, "by_name": {...}}
  GET  /_arrivals     [[time, name, room_id, message_id, webhook_id], ...] since ?start=i
  POST /_reset        forgets every arrival
The "down" mode is no receiver at all: nothing listens on the port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import sys
import time
from collections import Counter
from typing import Any

import orjson
from aiohttp import web

# What a CRM answers; Rocket.Chat-format senders keep it as the room's crmData.
ANSWER = b'{"ok":true}'

Arrival = tuple[float, str, str | None, str | None, str | None]

# Raw answers of the hostile receivers (None: reset the connection without answering).
HOSTILE: dict[str, bytes | None] = {
    "reset": None,
    "bad-header": b"HTTP/1.1 500 Internal Server Error\r\nX-Bad: \xff\xfe\r\nContent-Length: 5\r\n\r\nerror",
    "nul-body": b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nok\x00then",
    "huge-retry-after": b"HTTP/1.1 429 Too Many\r\nRetry-After: 99999999999999999999\r\nContent-Length: 0\r\n\r\n",
    "odd-retry-after": "HTTP/1.1 429 Too Many\r\nRetry-After: ²\r\nContent-Length: 0\r\n\r\n".encode(),
    "redirect": b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n",
    "bad-status-line": b"HTTP/1.1 abc nope\r\nContent-Length: 0\r\n\r\n",
}


class Recorder:
    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.by_name: Counter[str] = Counter()

    def record(self, name: str, body: bytes, webhook_id: str | None) -> None:
        now = time.time()
        room_id, message_id = message_ids(body)
        self.arrivals.append((now, name, room_id, message_id, webhook_id))
        self.by_name[name] += 1


def message_ids(body: bytes) -> tuple[str | None, str | None]:
    """The room and first message ids of a Rocket.Chat payload, or of a standard `{type, data}` one."""
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(payload, dict):
        return None, None
    if isinstance(payload.get("data"), dict) and "type" in payload and "_id" not in payload:
        payload = payload["data"]
    room_id = payload.get("_id")
    messages = payload.get("messages")
    message_id = None
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        message_id = messages[0].get("_id")
    return (
        room_id if isinstance(room_id, str) else None,
        message_id if isinstance(message_id, str) else None,
    )


def make_app(recorder: Recorder) -> web.Application:
    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        recorder.record(request.match_info["name"], body, request.headers.get("webhook-id"))
        return web.Response(body=ANSWER, content_type="application/json")

    async def hang(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.Event().wait()  # until the sender gives up and closes the connection
        raise AssertionError("unreachable")

    async def hostile(request: web.Request) -> web.StreamResponse:
        await request.read()
        answer = HOSTILE[request.match_info["kind"]]
        transport = request.transport
        if transport is not None:
            if answer is None:
                sock = transport.get_extra_info("socket")
                if sock is not None:  # RST instead of FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                transport.write(answer)
            transport.close()
        await asyncio.Event().wait()  # aiohttp must not answer on a closed connection
        raise AssertionError("unreachable")

    async def count(_: web.Request) -> web.Response:
        body = {"total": len(recorder.arrivals), "by_name": dict(recorder.by_name)}
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def arrivals(request: web.Request) -> web.Response:
        start = int(request.query.get("start", "0"))
        return web.Response(body=orjson.dumps(recorder.arrivals[start:]), content_type="application/json")

    async def reset(_: web.Request) -> web.Response:
        recorder.arrivals.clear()
        recorder.by_name.clear()
        return web.Response(body=b"{}", content_type="application/json")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/hook/{name}", hook)
    app.router.add_post("/hang/{name}", hang)
    app.router.add_post("/hostile/{kind}/{name}", hostile)
    app.router.add_get("/_count", count)
    app.router.add_get("/_arrivals", arrivals)
    app.router.add_post("/_reset", reset)
    return app


async def serve(port: int) -> None:
    runner = web.AppRunner(make_app(Recorder()), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    actual = runner.addresses[0][1]
    print(f"READY {actual}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    run_fast(serve(args.port))


def run_fast(coro: Any) -> Any:
    """asyncio.run on uvloop when it is installed (it comes with uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1:])
