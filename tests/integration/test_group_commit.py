"""SQLite group commit: units of work that end together share a commit, and each still returns only
once its own change is durable, with its failures its own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from omnihook.storage.database import Database
from omnihook.storage.tables import counters
from tests import databases

UNITS = 20


@pytest.fixture
async def db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(databases.copy_sqlite(sqlite_template, tmp_path))
    yield database
    await database.dispose()


def count_commits(db: Database) -> list[int]:
    commits: list[int] = []

    @event.listens_for(db.engine.sync_engine, "commit")
    def _commit(_conn: Any) -> None:
        commits.append(1)

    return commits


async def committed_names(db: Database) -> set[str]:
    """What another connection (another reader, or the database after a crash) sees."""
    reader = Database(db.url.replace("+aiosqlite", ""), pool_size=1)
    try:
        async with reader.engine.connect() as conn:
            return set((await conn.execute(select(counters.c.name))).scalars())
    finally:
        await reader.dispose()


async def test_units_of_work_that_end_together_share_a_commit_and_each_returns_once_it_is_durable(
    db: Database,
) -> None:
    commits = count_commits(db)
    seen_on_return: dict[str, bool] = {}

    async def unit(i: int) -> None:
        async with db.transaction() as uow:
            await uow.conn.execute(insert(counters), {"name": f"unit-{i}", "value": i})
        seen_on_return[f"unit-{i}"] = f"unit-{i}" in await committed_names(db)

    await asyncio.gather(*(unit(i) for i in range(UNITS)))
    assert seen_on_return == {f"unit-{i}": True for i in range(UNITS)}
    assert len(commits) < UNITS / 2


async def test_a_unit_of_work_that_fails_undoes_its_own_change_and_no_other(db: Database) -> None:
    async def unit(i: int) -> None:
        async with db.transaction() as uow:
            await uow.conn.execute(insert(counters), {"name": f"unit-{i}", "value": i})
            if i == 5:
                raise RuntimeError("this use case fails after writing")

    results = await asyncio.gather(*(unit(i) for i in range(10)), return_exceptions=True)
    assert [i for i, r in enumerate(results) if isinstance(r, RuntimeError)] == [5]
    assert await committed_names(db) == {f"unit-{i}" for i in range(10) if i != 5}


async def test_a_writer_outside_units_of_work_commits_the_waiting_ones_first_instead_of_waiting_on_them(
    db: Database,
) -> None:
    async def unit() -> None:
        async with db.transaction() as uow:
            await uow.conn.execute(insert(counters), {"name": "unit", "value": 1})

    async def other_writer() -> None:  # as the dispatcher records results: its own connection
        async with db.write_lock(), db.engine.begin() as conn:
            await conn.execute(insert(counters), {"name": "writer", "value": 2})

    # SQLite would make the writer wait on the shared transaction's lock (30 s, blocking the loop).
    await asyncio.wait_for(asyncio.gather(unit(), other_writer()), timeout=10)
    assert await committed_names(db) == {"unit", "writer"}


async def test_a_unit_of_work_that_reads_before_it_writes_is_not_spoiled_by_another_process_writing_between(
    db: Database,
) -> None:
    path = db.url.removeprefix("sqlite+aiosqlite:///")
    other_wrote = threading.Event()

    def other_process() -> None:  # a CLI command, or a second server, writing the same file
        conn = sqlite3.connect(path, timeout=10)
        try:
            conn.execute("INSERT INTO counters (name, value) VALUES ('other', 1)")
            conn.commit()
        finally:
            conn.close()
        other_wrote.set()

    async with db.transaction() as uow:
        await uow.conn.execute(select(counters.c.name))  # reads first
        other = threading.Thread(target=other_process)
        other.start()
        await asyncio.sleep(0.3)  # the other process tries to write meanwhile
        await uow.conn.execute(insert(counters), {"name": "unit", "value": 1})
    other.join(10)
    assert other_wrote.is_set()
    assert await committed_names(db) == {"unit", "other"}


async def test_two_handles_on_one_file_in_one_process_take_turns_instead_of_waiting_on_each_other(
    db: Database,
) -> None:
    second = Database(db.url.replace("+aiosqlite", ""), pool_size=1)  # a server and a worker in one process
    try:

        async def unit(handle: Database, name: str) -> None:
            async with handle.transaction() as uow:
                await uow.conn.execute(insert(counters), {"name": name, "value": 1})

        async def recorder(handle: Database) -> None:
            async with handle.write_lock(), handle.engine.begin() as conn:
                await conn.execute(insert(counters), {"name": "recorded", "value": 1})

        await asyncio.wait_for(
            asyncio.gather(unit(db, "first"), unit(second, "second"), recorder(second)), 10
        )
    finally:
        await second.dispose()
    assert await committed_names(db) == {"first", "second", "recorded"}


async def test_a_unit_of_work_that_fails_alone_frees_the_file_for_other_writers_at_once(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as uow:
            await uow.conn.execute(insert(counters), {"name": "undone", "value": 1})
            raise RuntimeError("this use case fails")
    # No turn of the loop in between: another process writes straight away.
    other = sqlite3.connect(db.url.removeprefix("sqlite+aiosqlite:///"), timeout=0.1)
    try:
        other.execute("INSERT INTO counters (name, value) VALUES ('other', 1)")
        other.commit()
    finally:
        other.close()
    assert await committed_names(db) == {"other"}
