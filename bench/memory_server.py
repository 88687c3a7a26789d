"""The in-memory baseline: a livechat server of the kind Rocket.Chat runs, as a process of its own.

aiohttp, the REST calls the load generator makes (`login`, `livechat/visitor`, `livechat/room`,
`livechat/message`, `omnichannel/integrations`), everything held in dicts, nothing persisted, and the
visitor-message webhook fired after the answer by a task retried on a timer (the naive sender's
`sendRequest`, bench/baselines.py). It checks what Rocket.Chat checks on these calls (the visitor's token,
the room's owner, an open room) and renders a payload of the same shape, so what is left between it and
omnihook is durability: the transaction, the outbox, the delivery log, the framework.

`python -m bench.memory_server --port N` prints `READY <port>` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bench.baselines import NaiveSender
from bench.receiver import run_fast

JSON = "application/json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id() -> str:
    return secrets.token_urlsafe(12)


@dataclass
class Room:
    id: str
    visitor: dict[str, Any]
    created_at: str
    open: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)


class MemoryServer:
    def __init__(self, concurrency: int) -> None:
        self.visitors: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, Room] = {}
        self.room_of_token: dict[str, str] = {}
        self.webhook_url: str | None = None
        self.on_visitor_message = False
        self.concurrency = concurrency
        self.sender: NaiveSender | None = None

    async def start_sender(self, _app: web.Application) -> None:
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self.concurrency))
        self.sender = NaiveSender(http, "", attempts=10, retry_delay=10.0, timeout=5.0)

    async def stop_sender(self, _app: web.Application) -> None:
        if self.sender is not None:
            await self.sender.http.close()

    async def body(self, request: web.Request) -> dict[str, Any]:
        try:
            value = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise _error("invalid JSON") from None
        if not isinstance(value, dict):
            raise _error("a JSON object is expected")
        return value

    async def login(self, request: web.Request) -> web.Response:
        await self.body(request)
        return _ok({"status": "success", "data": {"userId": "admin", "authToken": _id()}})

    async def integrations(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        self.webhook_url = body.get("LivechatWebhookUrl") or None
        self.on_visitor_message = bool(body.get("LivechatWebhookOnVisitorMessage"))
        return _ok({"success": True})

    async def visitor(self, request: web.Request) -> web.Response:
        data = (await self.body(request)).get("visitor")
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise _error("visitor.token is required")
        token = data["token"]
        visitor = self.visitors.setdefault(
            token, {"_id": _id(), "token": token, "username": f"guest-{len(self.visitors) + 1}"}
        )
        visitor["name"] = data.get("name")
        return _ok({"visitor": visitor, "success": True})

    async def room(self, request: web.Request) -> web.Response:
        token = request.query.get("token", "")
        visitor = self.visitors.get(token)
        if visitor is None:
            raise _error("invalid-token")
        room_id = self.room_of_token.get(token)
        if room_id is None:
            room_id = _id()
            self.rooms[room_id] = Room(room_id, visitor, _now())
            self.room_of_token[token] = room_id
        return _ok({"room": {"_id": room_id, "open": True, "v": {"token": token}}, "success": True})

    async def message(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        token, rid, msg = body.get("token"), body.get("rid"), body.get("msg")
        if not isinstance(token, str) or not isinstance(rid, str) or not isinstance(msg, str) or not msg:
            raise _error("token, rid and msg are required")
        room = self.rooms.get(rid)
        if room is None or room.visitor["token"] != token:
            raise _error("invalid-room")
        if not room.open:
            raise _error("room-closed")
        visitor = room.visitor
        message = {
            "_id": body.get("_id") or _id(),
            "rid": rid,
            "msg": msg,
            "token": token,
            "ts": _now(),
            "u": {"_id": visitor["_id"], "username": visitor["username"], "name": visitor["name"]},
        }
        room.messages.append(message)
        if self.on_visitor_message and self.webhook_url and self.sender is not None:
            # Rocket.Chat's afterSaveMessage callback: the request goes out after the answer, by a task.
            payload = orjson.dumps(self._payload(room, message))
            asyncio.get_running_loop().call_soon(self._send, payload)
        return _ok({"message": message, "success": True})

    def _send(self, payload: bytes) -> None:
        assert self.sender is not None and self.webhook_url is not None
        self.sender.url = self.webhook_url
        self.sender.send(payload)

    @staticmethod
    def _payload(room: Room, message: dict[str, Any]) -> dict[str, Any]:
        visitor = room.visitor
        return {
            "_id": room.id,
            "label": visitor["name"],
            "createdAt": room.created_at,
            "lastMessageAt": message["ts"],
            "visitor": {
                "_id": visitor["_id"],
                "token": visitor["token"],
                "name": visitor["name"],
                "username": visitor["username"],
                "phone": None,
            },
            "type": "Message",
            "messages": [
                {
                    "u": message["u"],
                    "_id": message["_id"],
                    "username": visitor["username"],
                    "msg": message["msg"],
                    "ts": message["ts"],
                    "rid": room.id,
                }
            ],
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.on_startup.append(self.start_sender)
        app.on_cleanup.append(self.stop_sender)
        app.router.add_post("/api/v1/login", self.login)
        app.router.add_post("/api/v1/omnichannel/integrations", self.integrations)
        app.router.add_post("/api/v1/livechat/visitor", self.visitor)
        app.router.add_get("/api/v1/livechat/room", self.room)
        app.router.add_post("/api/v1/livechat/message", self.message)
        return app


def _ok(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type=JSON)


def _error(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(body=orjson.dumps({"success": False, "error": message}), content_type=JSON)


async def serve(port: int, concurrency: int) -> None:
    runner = web.AppRunner(MemoryServer(concurrency).app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"READY {port}", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64, help="webhook requests in flight at most")
    args = parser.parse_args(argv)
    run_fast(serve(args.port, args.concurrency))


if __name__ == "__main__":
    main(sys.argv[1:])
