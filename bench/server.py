"""omnihook under test: fresh databases, `omnihook serve` as a child process, and a REST client for it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench.harness import Context
from bench.proc import Child, Children, free_port, omnihook_argv, python_argv

ADMIN = "bench"
ADMIN_PASSWORD = "bench-password-1"


@contextlib.asynccontextmanager
async def fresh_database(ctx: Context, kind: str, name: str) -> AsyncIterator[str]:
    """A new, migrated database (a SQLite file, or a PostgreSQL database dropped afterwards)."""
    from omnihook.storage.database import Database
    from omnihook.storage.migrate import migrate

    if kind == "sqlite":
        url = f"sqlite:///{ctx.workdir / f'{name}-{uuid.uuid4().hex[:6]}.db'}"
        created = None
    else:
        created = f"omnihook_bench_{name}_{uuid.uuid4().hex[:8]}"
        await _admin_sql(ctx, f'CREATE DATABASE "{created}"')
        url = postgres_url(ctx, created)
    try:
        db = Database(url, pool_size=1)
        try:
            await migrate(db)
        finally:
            await db.dispose()
        yield url
    finally:
        if created:
            await _admin_sql(ctx, f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def copy_of(ctx: Context, url: str, name: str) -> AsyncIterator[str]:
    """A copy of a database: the same SQLite file copied, or a PostgreSQL database made from it as template."""
    if url.startswith("sqlite"):
        import shutil

        source = url.removeprefix("sqlite:///")
        target = ctx.workdir / f"{name}-{uuid.uuid4().hex[:6]}.db"
        shutil.copyfile(source, target)
        yield f"sqlite:///{target}"
        return
    created = f"omnihook_bench_{name}_{uuid.uuid4().hex[:8]}"
    source_name = url.rpartition("/")[2]
    await _admin_sql(ctx, f'CREATE DATABASE "{created}" TEMPLATE "{source_name}"')
    try:
        yield postgres_url(ctx, created)
    finally:
        await _admin_sql(ctx, f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


def postgres_url(ctx: Context, database: str) -> str:
    return f"{ctx.postgres_url.rpartition('/')[0]}/{database}"


async def _admin_sql(ctx: Context, sql: str) -> None:
    conn = await asyncpg.connect(ctx.postgres_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def omnihook_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "OMNIHOOK_DATABASE_URL": database_url,
        "OMNIHOOK_ADMIN_USERNAME": ADMIN,
        "OMNIHOOK_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OMNIHOOK_ALLOW_PRIVATE_TARGETS": "1",
        "OMNIHOOK_LOG_LEVEL": "warning",
        **extra,
    }


@dataclass
class Sent:
    """One message posted through the REST API: when it left, when the 200 came back, its id."""

    message_id: str | None
    sent_at: float
    answered_at: float
    status: int


class Api:
    """The REST API of a running `omnihook serve`, as a Rocket.Chat client (and an admin) uses it."""

    def __init__(self, base: str, http: aiohttp.ClientSession, child: Child) -> None:
        self.base = base
        self.http = http
        self.child = child
        self.auth: dict[str, str] = {}

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        async with self.http.request(
            method,
            f"{self.base}{path}",
            data=orjson.dumps(body) if body is not None else None,
            params=params or None,
            headers={"Content-Type": "application/json", **self.auth},
        ) as response:
            raw = await response.read()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {raw[:300]!r}")
            return orjson.loads(raw) if raw else None

    async def login(self) -> None:
        data = (await self.call("POST", "/api/v1/login", {"user": ADMIN, "password": ADMIN_PASSWORD}))["data"]
        self.auth = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}

    async def rocketchat_webhook(self, url: str, *, timeout_ms: int = 5000, **toggles: bool) -> None:
        """The CRM integration settings, as Rocket.Chat's Webhooks page saves them."""
        body: dict[str, Any] = {"LivechatWebhookUrl": url, "LivechatHttpTimeout": timeout_ms}
        body.update(toggles)
        await self.call("POST", "/api/v1/omnichannel/integrations", body)

    async def open_room(self, token: str, name: str) -> str:
        await self.call("POST", "/api/v1/livechat/visitor", {"visitor": {"token": token, "name": name}})
        room = await self.call("GET", "/api/v1/livechat/room", token=token)
        room_id: str = room["room"]["_id"]
        return room_id

    async def open_rooms(self, count: int, prefix: str = "v") -> list[tuple[str, str]]:
        """`count` visitors with a room each: [(token, room_id)]."""
        tokens = [f"{prefix}-{uuid.uuid4().hex}" for _ in range(count)]
        sem = asyncio.Semaphore(8)

        async def one(i: int, token: str) -> tuple[str, str]:
            async with sem:
                return token, await self.open_room(token, f"Visitor {i}")

        return list(await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens))))

    async def send(self, token: str, room_id: str, msg: str) -> Sent:
        started = time.time()
        async with self.http.post(
            f"{self.base}/api/v1/livechat/message",
            data=orjson.dumps({"token": token, "rid": room_id, "msg": msg}),
            headers={"Content-Type": "application/json"},
        ) as response:
            raw = await response.read()
            answered = time.time()
        message_id = orjson.loads(raw)["message"]["_id"] if response.status == 200 else None
        return Sent(message_id, started, answered, response.status)


async def start_server(
    children: Children, http: aiohttp.ClientSession, database_url: str, *, workers: int = 1, **env: str
) -> Api:
    """`omnihook serve` (with `workers` processes on one port), once its admin can log in."""
    port = free_port()
    argv = omnihook_argv("serve", "--port", str(port), "--workers", str(workers))
    child, _ = await children.start("serve", argv, env=omnihook_env(database_url, **env))
    api = Api(f"http://127.0.0.1:{port}", http, child)
    deadline = time.monotonic() + 60
    while True:
        if not child.alive():
            raise RuntimeError(f"omnihook serve exited:\n{child.tail()}")
        try:
            await api.login()
            return api
        except (aiohttp.ClientError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def start_memory_server(children: Children, http: aiohttp.ClientSession, concurrency: int) -> Api:
    """The in-memory baseline (bench/memory_server.py), answering the same REST calls as omnihook, with
    `concurrency` webhook requests in flight at most (omnihook's cap for the endpoint)."""
    port = free_port()
    child, _ = await children.start(
        "memory-server",
        python_argv("bench.memory_server", "--port", str(port), "--concurrency", str(concurrency)),
        ready_line="READY",
    )
    api = Api(f"http://127.0.0.1:{port}", http, child)
    await api.login()
    return api


async def start_worker(children: Children, database_url: str, name: str = "worker") -> tuple[Child, float]:
    """An `omnihook worker` process; returns it with the time it said it was delivering.

    The clock starts there, after its start-up (imports, migrations), as it starts after the
    baselines' imports: throughput is what a running worker delivers.
    """
    child, _ = await children.start(
        name, omnihook_argv("worker"), env=omnihook_env(database_url), ready_line=WORKER_READY
    )
    return child, time.time()


# What `omnihook worker` prints once its dispatcher runs.
WORKER_READY = "omnihook worker"
