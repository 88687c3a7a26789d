"""What every scenario shares: the receiver process, waiting for arrivals, percentiles, the run context."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.proc import Children, python_argv
from bench.scale import Scale


@dataclass
class Context:
    scale: Scale
    workdir: Path  # databases, payload files and the children's logs, deleted after the run
    postgres_url: str  # an existing database used to create and drop the bench's own


class Receiver:
    """Client of the receiver process (bench/receiver.py)."""

    def __init__(self, port: int, http: aiohttp.ClientSession) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.http = http

    def url(self, name: str = "crm", *, hang: bool = False, hostile: str | None = None) -> str:
        if hostile is not None:
            return f"{self.base}/hostile/{hostile}/{name}"
        return f"{self.base}/{'hang' if hang else 'hook'}/{name}"

    async def count(self) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/_count") as response:
            result: dict[str, Any] = await response.json(loads=orjson.loads)
            return result

    async def arrivals(self) -> list[tuple[float, str, str | None, str | None, str | None]]:
        async with self.http.get(f"{self.base}/_arrivals") as response:
            rows = orjson.loads(await response.read())
        return [tuple(row) for row in rows]

    async def reset(self) -> None:
        async with self.http.post(f"{self.base}/_reset") as response:
            await response.read()

    async def wait_for(
        self, total: int, *, within: float, name: str | None = None, prefix: bool = False
    ) -> int:
        """Poll until `total` arrivals (for `name`, every name it starts with if `prefix`, or all) or the
        timeout; returns the count reached."""
        deadline = time.monotonic() + within
        while True:
            counts = await self.count()
            by_name: dict[str, int] = counts["by_name"]
            if name and prefix:
                got = sum(n for key, n in by_name.items() if key.startswith(name))
            else:
                got = int(by_name.get(name, 0) if name else counts["total"])
            if got >= total or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.05)


async def start_receiver(children: Children, http: aiohttp.ClientSession) -> Receiver:
    _, line = await children.start("receiver", python_argv("bench.receiver"), ready_line="READY")
    return Receiver(int(line.split()[1]), http)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(times: Sequence[float]) -> float:
    """Arrivals per second between the first and the last arrival."""
    if len(times) < 2:
        return math.nan
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else math.inf


def order_violations(
    arrivals: Sequence[tuple[float, str, str | None, str | None, str | None]], expected: dict[str, list[str]]
) -> int:
    """Rooms whose messages arrived out of the order they were written (first arrival of each counts)."""
    seen: dict[str, list[str]] = {}
    firsts: set[str] = set()
    for _, _, room_id, message_id, _ in sorted(arrivals, key=lambda a: a[0]):
        if room_id is None or message_id is None or message_id in firsts:
            continue
        firsts.add(message_id)
        seen.setdefault(room_id, []).append(message_id)
    return sum(1 for room_id, ids in expected.items() if seen.get(room_id, []) != ids)


def duplicates(arrivals: Sequence[tuple[float, str, str | None, str | None, str | None]]) -> int:
    keys = [(a[1], a[3] or a[4]) for a in arrivals]
    return len(keys) - len(set(keys))
