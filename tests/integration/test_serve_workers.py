"""`omnihook serve --workers N`: several server processes on one port and one PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, login_headers
from tests.livechat_helpers import open_chat, visitor_says
from tests.processes import free_port, omnihook_env, start_server
from tests.receiver import Receiver
from tests.webhook_helpers import configure, settled

ROOMS = 8
MESSAGES_PER_ROOM = 5


def test_more_than_one_server_process_is_refused_on_sqlite_with_the_reason(tmp_path: Path) -> None:
    env = omnihook_env(f"sqlite:///{tmp_path / 'one.db'}")
    done = subprocess.run(
        [sys.executable, "-m", "omnihook.cli", "serve", "--workers", "2", "--port", str(free_port())],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--workers needs PostgreSQL" in done.stderr
    assert not (tmp_path / "one.db").exists()  # refused before anything was set up


@pytest.mark.postgres
async def test_two_server_processes_share_one_port_and_send_each_webhook_once(
    postgres_session_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    await databases.truncate_all(postgres_session_url)
    port = free_port()
    log = tmp_path / "serve.log"
    env = omnihook_env(postgres_session_url, OMNIHOOK_LOG_LEVEL="info")
    server = await start_server(env, port, log, "--workers", "2")
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            admin = await login_headers(client, ADMIN_USERNAME, ADMIN_PASSWORD)
            await configure(
                client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True
            )
            rooms = [(f"visitor-{i}", await open_chat(client, f"visitor-{i}")) for i in range(ROOMS)]

        async def visitor(token: str, rid: str) -> list[str]:
            sent = []
            for n in range(MESSAGES_PER_ROOM):
                # a new connection each time, so that both processes take their share
                async with httpx.AsyncClient(base_url=base) as fresh:
                    sent.append((await visitor_says(fresh, token, rid, f"message {n}"))["_id"])
            return sent

        sent = [m for ids in await asyncio.gather(*(visitor(t, r) for t, r in rooms)) for m in ids]
        rows = await settled(postgres_session_url, len(sent))
        assert {r.status for r in rows} == {"delivered"}
        arrived = Counter(r.json()["messages"][0]["_id"] for r in receiver.requests)
        assert set(arrived) == set(sent)
        assert set(arrived.values()) == {1}
    finally:
        server.stop()
    assert log.read_text().count("Started server process") == 2
