"""The dispatcher on the in-memory transport and a real database: a busy room's deliveries go out one
after another without waiting for each to be recorded, and a failure stops the room's run in order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, webhook_endpoints
from omnihook.webhooks.dispatcher import Dispatcher
from omnihook.webhooks.endpoints import EndpointCache
from omnihook.webhooks.fake_transport import FakeTransport, Raise, Reply
from omnihook.webhooks.queue_store import QueueStore
from tests.engine_db import db, leased

__all__ = ["db"]  # the fixture

URL = "https://e1.example/hook"


async def settled(database: Database, *, within: float = 20.0) -> list[tuple[str, str, int]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        async with database.engine.connect() as conn:
            rows = (await conn.execute(select(deliveries).order_by(deliveries.c.seq))).all()
        if all(r.status != "pending" for r in rows):
            return [(r.id, r.status, r.attempts) for r in rows]
        assert loop.time() < deadline, [(r.id, r.status, r.attempts) for r in rows]
        await asyncio.sleep(0.02)


async def run_dispatcher(database: Database, transport: FakeTransport) -> list[tuple[str, str, int]]:
    async with database.engine.begin() as conn:
        await conn.execute(update(webhook_endpoints).values(retry_delay_ms=200, max_retries=2, url=URL))
    dispatcher = Dispatcher(
        database, transport, EndpointCache(), poll_interval=0.05, lease=timedelta(seconds=10)
    )
    await dispatcher.start()
    try:
        return await settled(database)
    finally:
        await dispatcher.stop()


def sent_ids(transport: FakeTransport) -> list[str]:
    return [r.headers["webhook-id"] for r in transport.requests]


async def test_a_room_leased_by_a_dispatcher_that_died_is_sent_once_its_lease_ran_out(db: Database) -> None:
    await leased(db, 10, owner="gone", room="r1")
    async with db.engine.begin() as conn:  # the dispatcher died; its leases ran out a moment ago
        ran_out = utcnow() - timedelta(seconds=1)
        await conn.execute(update(deliveries).values(lease_until=ran_out, next_attempt_at=ran_out))
    transport = FakeTransport()
    rows = await run_dispatcher(db, transport)
    assert sent_ids(transport) == [f"msg_{n}" for n in range(10)]
    assert all(status == "delivered" and attempts == 1 for _, status, attempts in rows)


async def test_a_busy_room_is_sent_in_order_once_each(db: Database) -> None:
    await leased(db, 40, owner=None, room="r1")
    transport = FakeTransport()
    rows = await run_dispatcher(db, transport)
    assert sent_ids(transport) == [f"msg_{n}" for n in range(40)]
    assert all(status == "delivered" and attempts == 1 for _, status, attempts in rows)


async def test_a_failure_in_a_run_holds_the_rest_of_the_room_until_its_retry_succeeds(db: Database) -> None:
    await leased(db, 8, owner=None, room="r1")
    transport = FakeTransport()
    transport.script(URL, Reply(200), Reply(200), Reply(500), Reply(200))
    rows = await run_dispatcher(db, transport)
    assert sent_ids(transport) == ["msg_0", "msg_1", "msg_2", "msg_2", *(f"msg_{n}" for n in range(3, 8))]
    assert [a for _, _, a in rows] == [1, 1, 2, 1, 1, 1, 1, 1]


async def test_a_dead_delivery_does_not_stop_its_room(db: Database) -> None:
    await leased(db, 4, owner=None, room="r1")
    transport = FakeTransport()
    transport.script(URL, Reply(200), Reply(500), Reply(500), Reply(500))
    rows = await run_dispatcher(db, transport)
    assert [s for _, s, _ in rows] == ["delivered", "dead", "delivered", "delivered"]
    assert sent_ids(transport) == ["msg_0", "msg_1", "msg_1", "msg_1", "msg_2", "msg_3"]


async def test_a_transport_that_raises_is_retried_with_backoff_not_reclaimed_at_once(db: Database) -> None:
    await leased(db, 1, owner=None)
    transport = FakeTransport(default=Raise(RuntimeError("a bug in the transport")))
    rows = await run_dispatcher(db, transport)
    assert rows == [("msg_0", "dead", 3)]
    assert len(transport.requests) == 3  # max_retries 2: three attempts 200 ms apart, not a storm


# Several dispatchers share one database on PostgreSQL only.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_dispatchers_sharing_busy_rooms_keep_each_rooms_order(db: Database) -> None:
    for room in range(30):
        await leased(db, 12, owner=None, room=f"r{room}", key_prefix=f"r{room}m")
    async with db.engine.begin() as conn:
        await conn.execute(update(webhook_endpoints).values(url=URL, max_in_flight=8))
    # One transport for both: its list is the order in which requests went out.
    transport = FakeTransport(default=Reply(200, delay_s=0.001))
    dispatchers = [
        Dispatcher(db, transport, EndpointCache(), poll_interval=0.05, run_length=4) for _ in range(2)
    ]
    for dispatcher in dispatchers:
        await dispatcher.start()
    try:
        rows = await settled(db, within=60)
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
    assert all(status == "delivered" for _, status, _ in rows)
    ids = sent_ids(transport)
    assert len(ids) == len(set(ids)) == 30 * 12  # each once
    for room in range(30):
        mine = [i for i in ids if i.startswith(f"r{room}m_")]
        assert mine == [f"r{room}m_{n}" for n in range(12)], mine


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_run_whose_head_another_dispatcher_holds_is_left_whole(db: Database) -> None:
    items = await leased(db, 4, owner=None, room="r1")
    store = QueueStore(db, "dispatcher-a")
    async with db.engine.connect() as other:
        # Another dispatcher's claim has locked the room's head, not yet the rows behind it.
        await other.begin()
        await other.execute(
            select(deliveries.c.seq).where(deliveries.c.seq == items[0].seq).with_for_update()
        )
        now = utcnow()
        async with store.transaction() as conn:
            ends = {"e1": now + timedelta(seconds=30)}
            claimed = await store.claim(conn, {"e1": 8}, ends, now, run_length=4)
        await other.rollback()
    # The rows behind a head held elsewhere are neither sent on their own nor leased for nobody.
    assert claimed == []
    async with db.engine.connect() as conn:
        owners = [r.lease_owner for r in await conn.execute(select(deliveries.c.lease_owner))]
    assert owners == [None] * 4
