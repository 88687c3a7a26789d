"""`omnihook serve` as a process: what its HTTP server itself holds back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ddp_client import DDPClient
from tests.processes import free_port, omnihook_env, start_server


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_realtime_frame_far_over_the_limit_closes_the_socket_before_it_is_held(
    database_url: str, tmp_path: Path
) -> None:
    env = omnihook_env(database_url, OMNIHOOK_REALTIME_MAX_FRAME_BYTES="1000")
    port = free_port()
    server = await start_server(env, port, tmp_path / "serve.log")
    try:
        url = f"ws://127.0.0.1:{port}/websocket"
        async with DDPClient.open(url) as client:
            over = {"msg": "method", "id": "a", "method": "stream-notify-room", "params": ["x" * 2000]}
            await client.send(json.dumps(over))
            assert (await client.other())["msg"] == "error"  # a little over: a DDP error, socket kept
            assert (await client.ping("still-here"))["msg"] == "pong"
            await client.send("x" * 10_000)  # far over: uvicorn closes with "message too big"
            assert await client.closed() == 1009
    finally:
        server.stop()
