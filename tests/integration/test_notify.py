"""NOTIFY/LISTEN (storage.notify) on a real PostgreSQL server: what commits is heard, what rolls back
is not, a raising handler changes nothing, and a listener whose backend the server kills comes back."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.storage import notify as notify_module
from omnihook.storage.database import Database
from omnihook.storage.notify import Listener, notify
from tests import databases

TIMEOUT = 15.0


class Heard:
    """A handler that queues the payloads it is called with, and the on_connect calls."""

    def __init__(self) -> None:
        self.payloads: asyncio.Queue[str] = asyncio.Queue()
        self.connects: list[bool] = []
        self.reconnected = asyncio.Event()

    def __call__(self, payload: str) -> None:
        self.payloads.put_nowait(payload)

    def on_connect(self, reconnected: bool) -> None:
        self.connects.append(reconnected)
        if reconnected:
            self.reconnected.set()

    async def next(self) -> str:
        return await asyncio.wait_for(self.payloads.get(), TIMEOUT)


@pytest.fixture
async def db(postgres_session_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_session_url, pool_size=2)
    yield database
    await database.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def send(db: Database, channel: str, payload: str) -> None:
    async with db.engine.begin() as conn:
        await notify(conn, channel, payload)


@pytest.mark.postgres
async def test_a_committed_notify_is_heard_and_a_rolled_back_one_is_not(db: Database) -> None:
    channel, heard = unique("test_notify"), Heard()
    listener = Listener(db, {channel: heard}, name=unique("test"), on_connect=heard.on_connect)
    listener.start()
    listener.start()  # idempotent: still one connection
    try:
        await asyncio.wait_for(listener.ready.wait(), TIMEOUT)
        assert heard.connects == [False]
        conn: AsyncConnection
        async with db.engine.connect() as conn:
            await conn.begin()
            await notify(conn, channel, "rolled back")
            await conn.rollback()
        await send(db, channel, "committed")
        # Notifications come in commit order: had the rolled-back one been sent, it would come first.
        assert await heard.next() == "committed"
        await send(db, channel, "")
        assert await heard.next() == ""
    finally:
        await listener.close()
    assert not listener.ready.is_set()


@pytest.mark.postgres
async def test_a_handler_that_raises_does_not_stop_the_listener(db: Database) -> None:
    channel, heard = unique("test_notify"), Heard()

    def handler(payload: str) -> None:
        if payload == "boom":
            raise RuntimeError("a handler bug")
        heard(payload)

    listener = Listener(db, {channel: handler}, name=unique("test"))
    listener.start()
    try:
        await asyncio.wait_for(listener.ready.wait(), TIMEOUT)
        await send(db, channel, "boom")
        await send(db, channel, "after")
        assert await heard.next() == "after"
        assert listener.ready.is_set()
    finally:
        await listener.close()


@pytest.mark.postgres
async def test_a_listener_whose_backend_is_terminated_reconnects_and_hears_again(
    db: Database, postgres_session_url: str
) -> None:
    channel, name, heard = unique("test_notify"), unique("test"), Heard()
    listener = Listener(db, {channel: heard}, name=name, on_connect=heard.on_connect)
    listener.start()
    try:
        await asyncio.wait_for(listener.ready.wait(), TIMEOUT)
        # The server drops the LISTEN connection (a restart, a failover, an admin).
        killer = await asyncpg.connect(postgres_session_url)
        try:
            pids = await killer.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1", f"omnihook {name}"
            )
            assert len(pids) == 1
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pids[0]["pid"])
        finally:
            await killer.close()
        await asyncio.wait_for(heard.reconnected.wait(), TIMEOUT)
        assert heard.connects == [False, True]
        assert listener.ready.is_set()
        await send(db, channel, "back")
        assert await heard.next() == "back"
    finally:
        await listener.close()


async def test_on_sqlite_notify_and_listener_do_nothing(tmp_path: Path, sqlite_template: Path) -> None:
    db = Database(databases.copy_sqlite(sqlite_template, tmp_path))
    try:
        async with db.engine.begin() as conn:
            await notify(conn, "anything", "payload")
        listener = Listener(db, {"anything": lambda _payload: None}, name="test")
        listener.start()
        assert not listener.ready.is_set()
        await listener.close()
    finally:
        await db.dispose()


async def test_a_listener_that_cannot_connect_warns_once_and_keeps_trying(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(notify_module, "RECONNECT_SECONDS", 0.02)
    with socket.socket() as unused:  # a port where nothing listens
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    db = Database(f"postgresql://nobody@127.0.0.1:{port}/none")
    tries, tried_five_times = 0, asyncio.Event()
    real_connect = asyncpg.connect

    async def counting_connect(*args: Any, **kwargs: Any) -> Any:
        nonlocal tries
        tries += 1
        if tries == 5:
            tried_five_times.set()
        return await real_connect(*args, **kwargs)

    monkeypatch.setattr(asyncpg, "connect", counting_connect)
    listener = Listener(db, {"anything": lambda _payload: None}, name="unreachable")
    with caplog.at_level(logging.DEBUG, logger="omnihook.storage.notify"):
        listener.start()
        try:
            await asyncio.wait_for(tried_five_times.wait(), TIMEOUT)
            assert not listener.ready.is_set()
        finally:
            await listener.close()
            await db.dispose()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "LISTEN connection failed" in warnings[0].getMessage()
