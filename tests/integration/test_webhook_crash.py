"""Nothing is lost when omnihook is killed: SIGKILL mid-delivery, restart, every event arrives.

The server (and, on PostgreSQL, two `omnihook worker` processes) run as real subprocesses; events are
created through the REST API while a slow receiver on loopback records every request. A repeat is
allowed only with the same `webhook-id` (at-least-once); while all processes stay healthy there is none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import databases
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.processes import OmnihookProcess, free_port, omnihook_env, start_server, start_worker
from tests.receiver import Receiver

pytestmark = pytest.mark.slow

ROOMS = 20
LEASE = {"OMNIHOOK_DISPATCHER_LEASE_SECONDS": "2"}


class Chat:
    """Visitors writing through the REST API of a server that may die under them."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.rooms: list[tuple[str, str]] = []
        self.acknowledged: list[str] = []  # ids of messages the server answered 200 for

    def moved_to(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"

    @contextlib.asynccontextmanager
    async def http(self) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as client:
            yield client

    async def configure(self, receiver: Receiver) -> None:
        async with self.http() as client:
            login = await client.post(
                "/api/v1/login", json={"user": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
            )
            data = login.json()["data"]
            admin = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
            settings = {
                "LivechatWebhookUrl": receiver.url,
                "LivechatWebhookOnVisitorMessage": True,
                "LivechatHttpTimeout": 2000,
                "LivechatWebhookRetryDelay": 200,
            }
            response = await client.post("/api/v1/omnichannel/integrations", json=settings, headers=admin)
            assert response.status_code == 200, response.text
            for n in range(ROOMS):
                token = f"crash-visitor-{n}"
                visitor = {"visitor": {"token": token, "name": f"Visitor {n}"}}
                assert (await client.post("/api/v1/livechat/visitor", json=visitor)).status_code == 200
                room = await client.get("/api/v1/livechat/room", params={"token": token})
                self.rooms.append((token, room.json()["room"]["_id"]))

    async def write(self, total: int) -> None:
        """Write messages round-robin until `total` are acknowledged; stops at the first lost connection."""
        remaining = total - len(self.acknowledged)
        per_room = [remaining // ROOMS + (1 if i < remaining % ROOMS else 0) for i in range(ROOMS)]

        async def visitor(i: int, count: int) -> None:
            token, rid = self.rooms[i]
            async with self.http() as client:
                for n in range(count):
                    body = {"token": token, "rid": rid, "msg": f"message {n} of room {i}"}
                    response = await client.post("/api/v1/livechat/message", json=body)
                    assert response.status_code == 200, response.text
                    self.acknowledged.append(response.json()["message"]["_id"])

        await asyncio.gather(*(visitor(i, c) for i, c in enumerate(per_room)))


def by_message(receiver: Receiver) -> dict[str, set[str]]:
    """message id → the webhook-ids it arrived with."""
    seen: dict[str, set[str]] = defaultdict(set)
    for request in list(receiver.requests):
        payload: dict[str, Any] = request.json()
        seen[payload["messages"][0]["_id"]].add(request.header("webhook-id") or "")
    return seen


async def wait_until_all_arrived(receiver: Receiver, ids: list[str], within: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        missing = set(ids) - set(by_message(receiver))
        if not missing:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{len(missing)} of {len(ids)} events never arrived")
        await asyncio.sleep(0.2)


async def kill_mid_delivery(chat: Chat, receiver: Receiver, victim: OmnihookProcess, total: int) -> None:
    """Write `total` messages; once a few hundred arrived, SIGKILL `victim` with requests in flight."""
    writing = asyncio.create_task(chat.write(total))
    await receiver.arrived(300, within=120)
    victim.kill()
    with contextlib.suppress(httpx.TransportError, AssertionError):
        await writing


async def test_sqlite_server_killed_mid_delivery_loses_nothing_after_restart(
    sqlite_template: Path, tmp_path: Path, receiver: Receiver
) -> None:
    url = databases.copy_sqlite(sqlite_template, tmp_path)
    env = omnihook_env(url, **LEASE)
    receiver.delay_s = 0.1  # a slow CRM: deliveries lag behind the chat
    port = free_port()
    server = await start_server(env, port, tmp_path / "server-1.log")
    chat = Chat(port)
    try:
        await chat.configure(receiver)
        await kill_mid_delivery(chat, receiver, server, 2000)
        assert len(by_message(receiver)) < len(chat.acknowledged) or len(chat.acknowledged) < 2000

        port = free_port()
        server = await start_server(env, port, tmp_path / "server-2.log")
        chat.moved_to(port)
        await chat.write(2000)  # the rest of the 2,000, through the restarted server
        assert len(chat.acknowledged) == 2000
        await wait_until_all_arrived(receiver, chat.acknowledged)
    finally:
        server.stop()
    repeats = {m: ids for m, ids in by_message(receiver).items() if len(ids) > 1}
    assert repeats == {}, "a repeated event must carry the same webhook-id"


@pytest.mark.postgres
async def test_postgres_two_workers_deliver_once_while_healthy_and_lose_nothing_when_one_is_killed(
    postgres_session_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    await databases.truncate_all(postgres_session_url)
    env = omnihook_env(postgres_session_url, OMNIHOOK_DISPATCHER_IN_SERVER="0", **LEASE)
    receiver.delay_s = 0.05
    port = free_port()
    server = await start_server(env, port, tmp_path / "server.log")
    workers = [
        await start_worker(env, tmp_path / "worker-1.log"),
        await start_worker(env, tmp_path / "worker-2.log"),
    ]
    chat = Chat(port)
    try:
        await chat.configure(receiver)
        # Both healthy: every event arrives exactly once.
        await chat.write(1000)
        await wait_until_all_arrived(receiver, chat.acknowledged)
        await asyncio.sleep(1)  # a duplicate would have arrived by now
        assert len(receiver.requests) == 1000
        assert all(len(ids) == 1 for ids in by_message(receiver).values())

        # One worker killed mid-delivery: the other takes its claims over, nothing is lost.
        receiver.delay_s = 0.1
        writing = asyncio.create_task(chat.write(2000))
        await receiver.arrived(1300, within=120)
        workers[0].kill()
        await writing
        assert len(chat.acknowledged) == 2000
        await wait_until_all_arrived(receiver, chat.acknowledged)
    finally:
        for worker in workers:
            with contextlib.suppress(Exception):
                worker.stop()
        server.stop()
    repeats = {m: ids for m, ids in by_message(receiver).items() if len(ids) > 1}
    assert repeats == {}, "a repeated event must carry the same webhook-id"
