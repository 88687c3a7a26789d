"""Rocket.Chat's own JavaScript SDK (`@rocket.chat/sdk`, the client inside the official widget) runs a
visitor's chat against omnihook from Node: it connects, sets up the connection, follows the room and
hears the agent's answer and the end of the chat."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.ddp_client import WAIT, serving
from tests.livechat_helpers import agent_says, create_agent

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
SCRIPT = Path(__file__).with_name("realtime_sdk_chat.js")


@pytest.fixture
async def address(app: FastAPI) -> AsyncIterator[str]:
    # `make test` installs both; a run without them fails here rather than skipping unnoticed.
    assert shutil.which("node") is not None, "these tests need Node.js: see the README"
    sdk = NODE_MODULES / "@rocket.chat" / "sdk"
    assert sdk.is_dir(), "run `make install` (it runs npm install) for node_modules/@rocket.chat/sdk"
    async with serving(app) as running:
        yield running


class SdkVisitor:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def next(self, key: str) -> Any:
        """The next line the script prints with `key` (others skipped)."""
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), WAIT)
            if not line:
                assert self.proc.stderr is not None
                raise AssertionError(f"the SDK script ended: {(await self.proc.stderr.read()).decode()}")
            found = json.loads(line)
            if key in found:
                return found[key]


@pytest.fixture
async def sdk_visitor(address: str) -> AsyncIterator[SdkVisitor]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        f"http://{address}",
        "sdk-visitor-token",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )
    try:
        yield SdkVisitor(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_the_javascript_sdks_livechat_client_chats_live_with_an_agent(
    client: httpx.AsyncClient, admin: dict[str, str], sdk_visitor: SdkVisitor
) -> None:
    agent = await create_agent(client, admin, "agent.smith")
    rid = await sdk_visitor.next("ready")
    sent = await agent_says(client, agent, rid, "Hello from omnihook")
    message = await sdk_visitor.next("message")
    assert (message["_id"], message["msg"], message["u"]["username"]) == (
        sent["_id"],
        "Hello from omnihook",
        "agent.smith",
    )
    closed = await client.post("/api/v1/livechat/room.closeByUser", json={"rid": rid}, headers=agent)
    assert closed.status_code == 200, closed.text
    assert (await sdk_visitor.next("message"))["t"] == "livechat-close"
