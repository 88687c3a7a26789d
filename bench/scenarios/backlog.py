"""backlog: the receiver is down and 100,000 deliveries pile up; the server's memory and CPU meanwhile."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench.baselines import write_payloads
from bench.endpoints import EndpointSpec, add_endpoints
from bench.harness import Context
from bench.populate import Populated, open_database, open_rooms, write_messages
from bench.proc import Child, children, free_port, python_argv, reset_peak_rss
from bench.results import Figure, ScenarioResult
from bench.server import fresh_database, start_server
from bench.store import delivery_counts, rendered_payloads

TITLE = "memory and CPU with 100,000 deliveries pending"
RSS_TARGET_MB = 200.0
FLAT_TARGET_MB = 20.0
IDLE_CPU_TARGET = 10.0  # % of one core while waiting: more would be a busy loop
MB = 1024 * 1024


async def _cpu_percent(child: Child, seconds: float) -> float:
    """CPU use of `child` over `seconds`, in % of one core."""
    before, start = child.usage().cpu_seconds, time.monotonic()
    await asyncio.sleep(seconds)
    return (child.usage().cpu_seconds - before) / (time.monotonic() - start) * 100


async def run(ctx: Context) -> ScenarioResult:
    s = ctx.scale
    result = ScenarioResult("backlog", TITLE)
    # Standard endpoints retry 5 s after a failure, then 5 min later: measure once that first wave is over.
    settle = min(7.0, s.backlog_idle_seconds)
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    messages = s.backlog_deliveries // s.backlog_endpoints
    samples: list[tuple[int, float]] = []  # (deliveries written, server RSS in MB)
    async with (
        aiohttp.ClientSession() as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "sqlite", "backlog") as url,
    ):
        await add_endpoints(
            url, [EndpointSpec(f"down{i}", f"{down}/hook/down{i}") for i in range(s.backlog_endpoints)]
        )
        api = await start_server(group, http, url)
        db = open_database(url)
        try:
            rooms = await open_rooms(db, s.backlog_rooms)
            # Logging in hashed a password (argon2, 64 MiB): the peak that matters starts here.
            peak_reset = reset_peak_rss(api.child.pid)
            written = Populated()
            writing = asyncio.create_task(write_messages(db, rooms, messages, into=written))
            while not writing.done():
                samples.append((written.events * s.backlog_endpoints, api.child.usage().rss_bytes / MB))
                await asyncio.wait({writing}, timeout=0.25)
            await writing
        finally:
            await db.dispose()
        samples.append((written.events * s.backlog_endpoints, api.child.usage().rss_bytes / MB))
        await asyncio.sleep(settle)
        idle_cpu = await _cpu_percent(api.child, s.backlog_idle_seconds)
        usage = api.child.usage()
        counts = await delivery_counts(url)
        payloads = await rendered_payloads(url)

        # The naive sender holding the same deliveries in memory, retrying every 10 s like Rocket.Chat.
        path = ctx.workdir / "backlog-payloads.jsonl"
        write_payloads(path, payloads)
        total = len(payloads)
        del payloads
        naive, _ = await group.start(
            "naive",
            python_argv(
                "bench.baselines",
                "naive",
                "--url",
                f"{down}/hook/naive",
                "--payloads",
                str(path),
                "--concurrency",
                "64",
                "--retry-delay",
                "10",
                "--hold",
                "3600",
            ),
            ready_line="SUBMITTED",
            ready_timeout=300,
        )
        await asyncio.sleep(settle)
        naive_cpu = await _cpu_percent(naive, s.backlog_idle_seconds)
        naive_usage = naive.usage()

    waiting = counts.get("pending", 0) + counts.get("dead", 0)
    peak = usage.peak_rss_bytes / MB
    result.checks = {
        "deliveries written": (s.backlog_deliveries, messages * s.backlog_endpoints),
        "deliveries in the database, none delivered": (written.events * s.backlog_endpoints, waiting),
        "naive sender holds them all": (written.events * s.backlog_endpoints, total),
    }
    tenth = next((rss for n, rss in samples if n >= s.backlog_deliveries // 10), samples[0][1])
    growth = samples[-1][1] - tenth
    result.add(
        Figure(
            "backlog",
            "server peak RSS",
            peak,
            "MB",
            "naive sender",
            naive_usage.peak_rss_bytes / MB,
            target=f"<= {RSS_TARGET_MB:.0f} MB",
            met=peak <= RSS_TARGET_MB,
            higher_is_better=False,
        )
    )
    result.add(
        Figure(
            "backlog",
            "RSS growth, 10% -> 100% of the backlog",
            growth,
            "MB",
            target=f"flat (<= {FLAT_TARGET_MB:.0f} MB)",
            met=growth <= FLAT_TARGET_MB,
            higher_is_better=False,
        )
    )
    result.add(
        Figure(
            "backlog",
            "CPU while waiting",
            idle_cpu,
            "% core",
            "naive sender",
            naive_cpu,
            target=f"< {IDLE_CPU_TARGET:.0f}% (no busy loop)",
            met=idle_cpu < IDLE_CPU_TARGET,
            higher_is_better=False,
        )
    )
    result.details += [
        f"{written.events:,} visitor messages over {s.backlog_rooms} rooms written through the use-case layer "
        f"(at {written.rate:,.0f}/s) while `omnihook serve` ran, each to {s.backlog_endpoints} Standard Webhooks "
        "endpoints that point at a port where nothing listens",
        "peak RSS: VmHWM from the moment the rooms were open "
        + (
            "(reset then; before it, logging in hashed a password with argon2, 64 MiB)"
            if peak_reset
            else "(could not be reset: it includes the start-up and the admin's login)"
        ),
        f"deliveries in the database afterwards: {counts}",
        "server RSS (MB) as the backlog grew: "
        + ", ".join(f"{n:,}: {rss:.0f}" for n, rss in _spread(samples, 6)),
        f"CPU measured over {s.backlog_idle_seconds:.0f} s, starting {settle:.0f} s after the last message (after "
        "the 5 s retry of the last failures; the next retries are 5 min away); the naive "
        "sender (every pending delivery an asyncio task or timer, retried every 10 s) over the same length of time "
        "once it holds the same payloads",
    ]
    return result


def _spread(samples: list[tuple[int, float]], count: int) -> list[tuple[int, float]]:
    if len(samples) <= count:
        return samples
    step = (len(samples) - 1) / (count - 1)
    return [samples[round(i * step)] for i in range(count)]
