"""The recorder on a real database: one bad row never spoils a batch, and no result is lost while the
database is away. The deliveries are set up as the queue store leaves them: pending, leased."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, delivery_attempts
from omnihook.webhooks.fake_transport import FakeTransport, Reply
from omnihook.webhooks.queue_store import Claimed, QueueStore
from omnihook.webhooks.recorder import Recorder
from omnihook.webhooks.retry import RetryAt
from omnihook.webhooks.scheduler import ChainPlan, Extension
from omnihook.webhooks.sender import Result, Sender
from tests.engine_db import LEASE, OWNER, db, leased
from tests.unit.engine_parts import endpoint

__all__ = ["db"]  # the fixture
_examples = itertools.count()


class NoChain:
    def chain(self, finished: list[Claimed]) -> ChainPlan:
        return ChainPlan({}, {})

    def lease_ends(self, endpoint_ids: Iterable[str], now: datetime) -> dict[str, datetime]:
        return {}

    def take_extensions(self) -> list[Extension]:
        return []

    def extension_room(self, extension: Extension) -> int:
        return 0

    def extended(self, extension: Extension, rows: list[Claimed]) -> None:
        pass


async def sent(items: list[Claimed], *replies: Reply) -> list[Result]:
    transport = FakeTransport()
    target = endpoint("e1", max_retries=3)
    transport.script(target.url, *replies)
    sender = Sender(transport)
    return [await sender.send(target, item) for item in items]


async def state(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(deliveries).order_by(deliveries.c.seq))).all()
        attempts = (await conn.execute(select(delivery_attempts))).all()
    return {
        "deliveries": {r.id: (r.status, r.attempts, r.lease_owner) for r in rows},
        "errors": {a.delivery_id: a.error for a in attempts},
    }


async def test_a_row_that_cannot_be_stored_is_a_failed_attempt_and_the_rest_of_the_batch_is_recorded(
    db: Database,
) -> None:
    items = await leased(db, 4)
    results = await sent(items, Reply(200), Reply(200), Reply(200), Reply(200))
    # A status no integer column holds: a fault no real receiver can cause, standing for any row the
    # database refuses.
    bad = results[1]
    assert bad.outcome is not None
    results[1] = Result(
        item=bad.item,
        endpoint=bad.endpoint,
        outcome=type(bad.outcome)(started_at=bad.outcome.started_at, duration_ms=1, status_code=2**64),
        decision=bad.decision,
        request_headers=bad.request_headers,
    )
    recorder = Recorder(QueueStore(db, OWNER), lease=LEASE)
    assert await recorder.record(results, NoChain()) == []
    assert not recorder.holding
    after = await state(db)
    assert after["deliveries"] == {
        "msg_0": ("delivered", 1, None),
        "msg_1": ("pending", 1, None),  # retried on schedule, not sent again at once
        "msg_2": ("delivered", 1, None),
        "msg_3": ("delivered", 1, None),
    }
    assert "could not be recorded" in after["errors"]["msg_1"]


async def test_a_row_of_a_vanished_delivery_is_left_to_its_lease_and_the_rest_is_recorded(
    db: Database,
) -> None:
    items = await leased(db, 2)
    results = await sent(items)
    ghost = Claimed(**{**vars(items[0]), "seq": 10**6, "id": "msg_ghost"})
    ghost_result = (await sent([ghost]))[0]
    recorder = Recorder(QueueStore(db, OWNER), lease=LEASE)
    await recorder.record([results[0], ghost_result, results[1]], NoChain())
    assert not recorder.holding  # the database works: nothing is held for ever
    assert (await state(db))["deliveries"] == {
        "msg_0": ("delivered", 1, None),
        "msg_1": ("delivered", 1, None),
    }


class FlakyStore(QueueStore):
    """The database is away for the first `outages` transactions (a restart, as the driver reports it)."""

    def __init__(self, db: Database, owner: str, outages: int) -> None:
        super().__init__(db, owner)
        self.outages = outages

    def transaction(self) -> Any:
        if self.outages > 0:
            self.outages -= 1
            raise OperationalError("BEGIN", {}, ConnectionRefusedError("the database is restarting"))
        return super().transaction()


async def test_while_the_database_is_away_results_are_held_and_recorded_once_it_is_back(db: Database) -> None:
    items = await leased(db, 3)
    results = await sent(items, Reply(200), Reply(500), Reply(200))
    recorder = Recorder(FlakyStore(db, OWNER, outages=2), lease=LEASE)
    assert await recorder.record(results, NoChain()) == []
    assert recorder.holding and len(recorder.held) == 3
    assert (await state(db))["deliveries"]["msg_0"] == ("pending", 0, OWNER)  # still leased: nobody resends
    await recorder.record([], NoChain())  # the second outage: still held
    assert recorder.holding
    await recorder.record([], NoChain())
    assert not recorder.holding
    after = await state(db)
    assert after["deliveries"] == {
        "msg_0": ("delivered", 1, None),
        "msg_1": ("pending", 1, None),
        "msg_2": ("delivered", 1, None),
    }
    assert isinstance(results[1].decision, RetryAt)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=st.dictionaries(st.binary(min_size=1, max_size=30), st.binary(max_size=120), max_size=6),
    body=st.binary(max_size=300),
    status=st.sampled_from([200, 500, 429]),
)
async def test_any_bytes_a_receiver_sends_are_recorded_on_either_database(
    db: Database, headers: dict[bytes, bytes], body: bytes, status: int
) -> None:
    [item] = await leased(db, 1, key_prefix=f"p{next(_examples)}")
    # As aiohttp hands them over: undecodable header bytes as lone surrogates, the body decoded leniently.
    answer = Reply(
        status,
        body=body.decode("utf-8", "replace"),
        headers={
            k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
            for k, v in headers.items()
        },
    )
    [result] = await sent([item], answer)
    recorder = Recorder(QueueStore(db, OWNER), lease=LEASE)
    await recorder.record([result], NoChain())
    assert not recorder.holding
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(deliveries).where(deliveries.c.id == item.id))).one()
    assert (row.attempts, row.lease_owner) == (1, None)
