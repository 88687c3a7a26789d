"""The delivery log stays fast with a million rows: the query plans of every filter combination.

A page is read newest first down the primary key, stopping after its rows, or through an index whose
matches are few by nature (one room's deliveries, the pending backlog, one id); never a scan of the
table, never a sort of every match. Checked with SQLite's EXPLAIN QUERY PLAN on a table with statistics
(its planner's choice does not depend on the table's size). PostgreSQL's does: on a few thousand rows
it rightly prefers scans and sorts that it would not choose on a million, so its page plans are not
asserted here; the heads query (heldBehind), one index probe a queue, is checked on both.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.storage.database import Database
from omnihook.storage.migrate import migrate
from omnihook.storage.tables import deliveries, webhook_endpoints, webhook_events
from omnihook.webhooks.deliveries import DeliveryFilter, heads_query, page_query

ROWS = 5_000
START = datetime(2026, 1, 1, tzinfo=UTC)
# Indexes whose matches are few whatever the size of the log: a sort after them is cheap.
BOUNDED = {
    "ix_deliveries_room",  # one room's deliveries
    "ix_deliveries_pending_due",  # the pending backlog
    "ix_deliveries_queue",
    "ix_deliveries_event_id",  # one event's deliveries, one per endpoint
    "sqlite_autoindex_deliveries_1",  # the unique delivery id
    "uq_deliveries_id",
    "deliveries_id_key",
}
CHOICES: dict[str, list[Any]] = {
    "status": [None, "pending", "dead", "delivered"],
    "event_type": [None, "LivechatSession"],
    "room_id": [None, "room00042"],
    "endpoint_id": [None, "ep-2"],
    "since": [None, START + timedelta(hours=1)],
    "until": [None, START + timedelta(hours=2)],
    "search": [None, "needle"],
}


def every_filter() -> Iterator[tuple[DeliveryFilter, int | None]]:
    names = list(CHOICES)
    for values in itertools.product(*CHOICES.values()):
        fields = dict(zip(names, values, strict=True))
        if fields["since"] and fields["until"] and fields["since"] >= fields["until"]:
            continue
        for before in (None, ROWS // 2):
            yield DeliveryFilter(**fields), before


async def fill(db: Database) -> None:
    """A log big enough for the planners to prefer indexes: three endpoints, many rooms, 1 % pending."""
    now = datetime.now(UTC)
    endpoints = [
        {
            "id": f"ep-{n}",
            "name": f"Endpoint {n}",
            "url": f"http://127.0.0.1:9/{n}",
            "format": "standard",
            "enabled": True,
            "event_types": ["Message"],
            "timeout_ms": 15000,
            "max_retries": 7,
            "retry_delay_ms": 10000,
            "max_in_flight": 16,
            "ordered": True,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(3)
    ]
    events, rows = [], []
    for i in range(ROWS):
        created = START + timedelta(seconds=i)
        room = f"room{i // 10:05d}"
        kind = "Message" if i % 10 else "LivechatSession"
        events.append(
            {"id": f"ev{i:06d}", "type": kind, "room_id": room, "payload": "{}", "created_at": created}
        )
        status = "pending" if i % 100 == 0 else "dead" if i % 100 == 1 else "delivered"
        rows.append(
            {
                "id": f"msg_{i:08d}",
                "event_id": f"ev{i:06d}",
                "endpoint_id": f"ep-{i % 3}",
                "event_type": kind,
                "room_id": room,
                "ordering_key": room,
                "status": status,
                "attempts": 1,
                "budget_start": 0,
                "next_attempt_at": created,
                "created_at": created,
                "updated_at": created,
            }
        )
    async with db.engine.begin() as conn:
        await conn.execute(insert(webhook_endpoints), endpoints)
        await conn.execute(insert(webhook_events), events)
        await conn.execute(insert(deliveries), rows)
        await conn.execute(text("ANALYZE"))


async def plan(conn: AsyncConnection, query: Any) -> list[str]:
    sql = str(query.compile(conn.engine, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return [row.detail for row in await conn.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]
    return [row[0] for row in await conn.execute(text(f"EXPLAIN {sql}"))]


def sqlite_problems(lines: list[str], where: DeliveryFilter) -> list[str]:
    # The index of due rows narrows to the pending backlog when the filter asks for pending rows.
    bounded = BOUNDED | ({"ix_deliveries_due"} if where.status == "pending" else set())
    reads = [line for line in lines if re.match(r"(SCAN|SEARCH) deliveries\b", line)]
    sorted_after = any("USE TEMP B-TREE FOR ORDER BY" in line for line in lines)
    problems = []
    for read in reads:
        index = re.search(r"USING (?:COVERING )?INDEX (\w+)", read)
        if read == "SCAN deliveries":  # the primary key (the rowid), newest first
            if sorted_after:
                problems.append("the whole table is sorted")
        elif read.startswith("SCAN"):
            problems.append(f"a full index scan: {read}")
        elif (
            sorted_after and "INTEGER PRIMARY KEY" not in read and (index is None or index[1] not in bounded)
        ):
            problems.append(f"every match of {read} is sorted")
    return problems


async def filled_database(url: str) -> Database:
    db = Database(url)
    await migrate(db)
    await fill(db)
    return db


@pytest.fixture
async def filled(database_url: str) -> AsyncIterator[Database]:
    db = await filled_database(database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def filled_sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    db = await filled_database(f"sqlite:///{tmp_path / 'plans.db'}")
    yield db
    await db.dispose()


async def test_every_filter_combination_reads_a_page_through_an_index_without_sorting_every_match(
    filled_sqlite: Database,
) -> None:
    found: dict[str, list[str]] = {}
    async with filled_sqlite.engine.connect() as conn:
        for where, before in every_filter():
            lines = await plan(conn, page_query(where, before=before))
            problems = sqlite_problems(lines, where)
            if problems:
                found[f"{where} before={before}"] = problems + lines
    assert found == {}, "\n\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in list(found.items())[:5])


async def test_the_heads_of_a_pages_queues_come_from_the_index_of_pending_rows(filled: Database) -> None:
    queues = [(f"ep-{n % 3}", f"room{n:05d}") for n in range(50)]
    async with filled.engine.connect() as conn:
        lines = await plan(conn, heads_query(queues))
    joined = "\n".join(lines)
    if filled.is_sqlite:
        searches = re.findall(r"SEARCH deliveries USING INDEX ix_deliveries_queue", joined)
        assert len(searches) == len(queues), joined
    else:
        assert "Seq Scan on deliveries" not in joined, joined
        assert joined.count("ix_deliveries_queue") == len(queues), joined
