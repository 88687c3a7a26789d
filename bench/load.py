"""Traffic through the REST API: open loop (a fixed rate, as real visitors arrive) and closed loop (as fast as it goes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from bench.server import Api, Sent


async def open_loop(api: Api, rooms: Sequence[tuple[str, str]], *, rate: float, seconds: float) -> list[Sent]:
    """Send `rate` messages a second for `seconds`, round-robin over `rooms`, whatever the answers take."""
    total = int(rate * seconds)
    tasks: list[asyncio.Task[Sent]] = []
    start = time.monotonic()
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        token, room_id = rooms[i % len(rooms)]
        tasks.append(asyncio.create_task(api.send(token, room_id, f"steady message {i}")))
    return list(await asyncio.gather(*tasks))


async def closed_loop(
    api: Api, rooms: Sequence[tuple[str, str]], *, clients: int, seconds: float
) -> list[Sent]:
    """`clients` visitors each send their next message as soon as the last one is answered."""
    deadline = time.monotonic() + seconds
    sent: list[Sent] = []

    async def client(i: int) -> None:
        token, room_id = rooms[i % len(rooms)]
        n = 0
        while time.monotonic() < deadline:
            sent.append(await api.send(token, room_id, f"client {i} message {n}"))
            n += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    return sent


async def send_count(
    api: Api, rooms: Sequence[tuple[str, str]], *, count: int, clients: int, sent: list[Sent] | None = None
) -> list[Sent]:
    """Send exactly `count` messages over `rooms`, `clients` at a time (appending to `sent` as they go)."""
    sent = [] if sent is None else sent
    queue = iter(range(count))

    async def client() -> None:
        for i in queue:
            token, room_id = rooms[i % len(rooms)]
            sent.append(await api.send(token, room_id, f"backlog message {i}"))

    await asyncio.gather(*(client() for _ in range(clients)))
    return sent
