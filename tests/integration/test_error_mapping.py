"""Failures a client can rely on (issue 10, finding 5), against a real server on loopback.

A database that is unreachable, full or locked answers 503 with `Retry-After`; the server logs one
record when such an episode begins and one when it ends, not one per request; any other unexpected
failure is a 500 `internal-error` envelope with its traceback logged once. After each of these the
HTTP/1.1 connection stays open: the next request on it is answered.

The faults are real: a SQLite file that cannot grow (`PRAGMA max_page_count` on the server's
connections, and another process filling the file), a lock another process keeps, a TCP proxy in
front of PostgreSQL that is cut; a PostgreSQL trigger raises the errors of a full disk (SQLSTATE 53100)
and of a read-only standby (25006) as the server itself does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import make_url

from omnihook.app import create_app
from omnihook.config import Settings
from tests import databases
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, SKIP_POSTGRES
from tests.processes import free_port

API = "/api/v1/livechat"
LONG = "x" * 5000  # a message that needs pages of its own: a full file refuses it
REQUESTS_IN_AN_EPISODE = 25


class ConnectionClosed(AssertionError):
    pass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class KeepAlive:
    """One HTTP/1.1 connection to the server, kept open from one request to the next."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, method: str, path: str, body: Any = None) -> Answer:
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(payload)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        try:
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            await self.writer.drain()
            status_line = await self.reader.readline()
        except ConnectionError as exc:
            raise ConnectionClosed(f"{method} {path}: the server closed the connection ({exc!r})") from exc
        if not status_line:
            raise ConnectionClosed(f"{method} {path}: the server closed the connection")
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await self.reader.readexactly(int(headers.get("content-length", "0")))
        assert headers.get("connection", "").lower() != "close", (path, headers)
        return Answer(int(status_line.split()[1]), headers, json.loads(raw) if raw else None)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[KeepAlive]:
    """`app` served by uvicorn on loopback (lifespan included); yields one kept-alive connection."""
    port = free_port()
    # An idle connection is closed after `timeout_keep_alive`: long enough here for a slow machine
    # between two requests, so that only a failure can close it.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_keep_alive=300
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise AssertionError("the server stopped before it started")
        await asyncio.sleep(0.02)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = KeepAlive(reader, writer)
    try:
        yield connection
    finally:
        await connection.close()
        server.should_exit = True
        await task


def settings_for(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        allow_private_targets=True,
        dispatcher_in_server=False,  # only requests touch the database: each log record is theirs
    )


async def open_chat(http: KeepAlive, token: str) -> str:
    registered = await http.request("POST", f"{API}/visitor", {"visitor": {"token": token, "name": "Ann"}})
    assert registered.status == 200, registered.body
    room = await http.request("GET", f"{API}/room?token={token}")
    assert room.status == 200, room.body
    rid: str = room.body["room"]["_id"]
    return rid


async def say(http: KeepAlive, token: str, rid: str, msg: str = LONG) -> Answer:
    return await http.request("POST", f"{API}/message", {"token": token, "rid": rid, "msg": msg})


def assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, answer.body
    assert answer.headers["retry-after"].isdigit() and int(answer.headers["retry-after"]) > 0
    assert answer.body["success"] is False
    assert answer.body["errorType"] == "service-unavailable"


def api_records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "omnihook.api"]


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What uvicorn logged itself: it logs an exception the app let escape, then closes the connection."""
    return [
        r.getMessage() for r in caplog.records if r.name.startswith("uvicorn") and r.levelno >= logging.ERROR
    ]


# --- an unexpected failure --------------------------------------------------------------------------


async def test_an_unexpected_failure_is_a_500_envelope_logged_once_on_a_connection_that_stays_open(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings_for(databases.copy_sqlite(sqlite_template, tmp_path)))

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/v1/test.broken", broken)
    caplog.set_level(logging.INFO)
    async with serving(app) as http:
        answer = await http.request("GET", "/api/v1/test.broken")
        assert answer.status == 500
        assert answer.body["success"] is False
        assert answer.body["errorType"] == "internal-error"
        assert "a bug" not in json.dumps(answer.body)  # the details are in the log, not the answer
        after = await http.request("GET", f"{API}/config")
        assert after.status == 200
    logged = [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    assert [(r.name, repr(r.exc_info[1])) for r in logged if r.exc_info] == [
        ("omnihook.api", "RuntimeError('a bug')")
    ]
    assert server_errors(caplog) == []


# --- SQLite: a file that cannot grow ----------------------------------------------------------------


class FullDisk:
    """The server's connections may not grow the file beyond its size now plus `headroom` pages;
    another process fills that room (a ballast table) and frees it again."""

    def __init__(self, path: Path, headroom: int = 64) -> None:
        self.path = path
        with contextlib.closing(sqlite3.connect(path)) as conn:
            self.limit = conn.execute("PRAGMA page_count").fetchone()[0] + headroom

    def limit_connections_of(self, app: FastAPI) -> None:
        def limited(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA max_page_count = {self.limit}")
            cursor.close()

        event.listen(app.state.db.engine.sync_engine, "connect", limited)

    def _run(self, *statements: str) -> None:
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None, timeout=30)) as conn:
            for statement in statements:
                conn.execute(statement)

    def fill(self) -> None:
        self._run(
            "CREATE TABLE IF NOT EXISTS ballast (b BLOB)",
            f"INSERT INTO ballast VALUES (zeroblob({self.limit * 4096}))",
        )

    def free(self) -> None:
        self._run("DELETE FROM ballast")


async def test_a_full_sqlite_file_answers_503_with_retry_after_logs_once_an_episode_and_keeps_the_connection(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = databases.copy_sqlite(sqlite_template, tmp_path)
    disk = FullDisk(Path(make_url(url).database or ""))
    app = create_app(settings_for(url))
    disk.limit_connections_of(app)
    caplog.set_level(logging.INFO)
    async with serving(app) as http:
        rid = await open_chat(http, "full-1")
        assert (await say(http, "full-1", rid)).status == 200

        for episode in (1, 2):
            disk.fill()
            for _ in range(REQUESTS_IN_AN_EPISODE):
                assert_unavailable(await say(http, "full-1", rid))
                # Reads still work on a full disk, and do not end the episode.
                history = await http.request("GET", f"{API}/messages.history/{rid}?token=full-1")
                assert history.status == 200, history.body
            disk.free()
            back = await say(http, "full-1", rid, f"after episode {episode}")
            assert back.status == 200, back.body

    records = api_records(caplog)
    assert [level for level, _ in records] == [logging.ERROR, logging.WARNING] * 2, records
    assert all("full" in message for level, message in records if level == logging.ERROR), records
    assert not [r for r in caplog.records if r.name == "omnihook.api" and r.exc_info]
    assert server_errors(caplog) == []


async def test_a_sqlite_file_another_process_keeps_locked_answers_503_with_retry_after_logs_once_and_keeps_the_connection(
    tmp_path: Path, sqlite_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = databases.copy_sqlite(sqlite_template, tmp_path)
    app = create_app(settings_for(url))

    def impatient(dbapi_connection: Any, _record: Any) -> None:
        # Wait 50 ms for the lock instead of 30 s: the same refusal, sooner.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 50")
        cursor.close()

    event.listen(app.state.db.engine.sync_engine, "connect", impatient)
    caplog.set_level(logging.INFO)
    async with serving(app) as http:
        rid = await open_chat(http, "locked-1")
        assert (await say(http, "locked-1", rid, "before")).status == 200
        # Another process (a backup, a maintenance script) takes the write lock and keeps it.
        other = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            for _ in range(REQUESTS_IN_AN_EPISODE):
                assert_unavailable(await say(http, "locked-1", rid, "while locked"))
                history = await http.request("GET", f"{API}/messages.history/{rid}?token=locked-1")
                assert history.status == 200, history.body
            other.execute("COMMIT")
        finally:
            other.close()
        back = await say(http, "locked-1", rid, "after")
        assert back.status == 200, back.body

    records = api_records(caplog)
    assert [level for level, _ in records] == [logging.ERROR, logging.WARNING], records
    assert "locked" in records[0][1]
    assert server_errors(caplog) == []


# --- PostgreSQL: a server that goes away, a disk that is full --------------------------------------


class CuttableProxy:
    """A TCP proxy on loopback in front of PostgreSQL: `cut()` drops every connection and refuses new
    ones, as a server or network that goes away does; `restore()` listens again on the same port."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def _pipe(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, upstream_writer}

        async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(copy(client_reader, upstream_writer), copy(upstream_reader, client_writer))
        self._writers -= {client_writer, upstream_writer}


@pytest.fixture
def postgres_url(postgres_session_url: str) -> Iterator[str]:
    if SKIP_POSTGRES:
        pytest.skip("OMNIHOOK_SKIP_POSTGRES=1")
    asyncio.run(databases.truncate_all(postgres_session_url))
    yield postgres_session_url


@pytest.mark.postgres
async def test_an_unreachable_postgresql_answers_503_with_retry_after_logs_once_an_episode_and_keeps_the_connection(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    direct = make_url(postgres_url)
    proxy = CuttableProxy(direct.host or "127.0.0.1", direct.port or 5432)
    await proxy.restore()
    via_proxy = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(settings_for(via_proxy))
    caplog.set_level(logging.INFO)
    token = f"away-{uuid.uuid4().hex[:8]}"
    try:
        async with serving(app) as http:
            rid = await open_chat(http, token)
            assert (await say(http, token, rid, "before")).status == 200
            for episode in (1, 2):
                await proxy.cut()
                for _ in range(REQUESTS_IN_AN_EPISODE):
                    assert_unavailable(await say(http, token, rid, "while away"))
                    assert_unavailable(
                        await http.request("GET", f"{API}/messages.history/{rid}?token={token}")
                    )
                    # A request answered without the database says nothing of it: the episode goes on.
                    assert (await http.request("POST", f"{API}/message", {"rid": rid})).status == 400
                health = await http.request("GET", "/health")
                assert health.status == 503 and int(health.headers["retry-after"]) > 0, health
                await proxy.restore()
                back = await say(http, token, rid, f"after episode {episode}")
                assert back.status == 200, back.body
    finally:
        with contextlib.suppress(AssertionError):
            await proxy.cut()

    records = api_records(caplog)
    assert [level for level, _ in records] == [logging.ERROR, logging.WARNING] * 2, records
    assert all("unreachable" in message for level, message in records if level == logging.ERROR), records
    assert not [r for r in caplog.records if r.name == "omnihook.api" and r.exc_info]
    assert server_errors(caplog) == []


# What PostgreSQL raises when it cannot extend a table's file (ENOSPC), and when it has become a
# read-only standby (a failover to a replica).
CANNOT_WRITE = {
    "full": ("disk_full", "could not extend file: No space left on device"),
    "read-only": ("read_only_sql_transaction", "cannot execute INSERT in a read-only transaction"),
}


@pytest.mark.postgres
@pytest.mark.parametrize("kind", list(CANNOT_WRITE))
async def test_a_postgresql_that_cannot_write_answers_503_with_retry_after_logs_once_and_keeps_the_connection(
    postgres_url: str, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    errcode, message = CANNOT_WRITE[kind]
    app = create_app(settings_for(postgres_url))
    caplog.set_level(logging.INFO)
    admin = await asyncpg.connect(postgres_url)
    token = f"nowrite-{uuid.uuid4().hex[:8]}"
    try:
        async with serving(app) as http:
            rid = await open_chat(http, token)
            assert (await say(http, token, rid, "before")).status == 200
            await admin.execute(
                f"""
                CREATE FUNCTION cannot_write() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '{message}' USING ERRCODE = '{errcode}';
                END $$;
                CREATE TRIGGER cannot_write BEFORE INSERT ON messages
                    FOR EACH ROW EXECUTE FUNCTION cannot_write();
                """
            )
            for _ in range(REQUESTS_IN_AN_EPISODE):
                assert_unavailable(await say(http, token, rid, "no room"))
                history = await http.request("GET", f"{API}/messages.history/{rid}?token={token}")
                assert history.status == 200, history.body
            await admin.execute("DROP TRIGGER cannot_write ON messages; DROP FUNCTION cannot_write()")
            back = await say(http, token, rid, "after")
            assert back.status == 200, back.body
    finally:
        await admin.execute(
            "DROP TRIGGER IF EXISTS cannot_write ON messages; DROP FUNCTION IF EXISTS cannot_write()"
        )
        await admin.close()

    records = api_records(caplog)
    assert [level for level, _ in records] == [logging.ERROR, logging.WARNING], records
    assert f"database {kind}:" in records[0][1]
    assert server_errors(caplog) == []
