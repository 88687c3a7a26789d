"""postgres: flood on PostgreSQL, drained by one and by two `omnihook worker` processes."""

from __future__ import annotations

import aiohttp

from bench.delivery import drain_with_baseline, drain_with_workers
from bench.harness import Context, duplicates, order_violations, start_receiver
from bench.populate import populate
from bench.proc import children
from bench.results import Figure, ScenarioResult
from bench.scenarios.flood import endpoint_concurrency
from bench.server import copy_of, fresh_database
from bench.store import rendered_payloads

TITLE = "flood on PostgreSQL, one and two workers"


async def run(ctx: Context) -> ScenarioResult:
    s = ctx.scale
    result = ScenarioResult("postgres", TITLE)
    async with (
        aiohttp.ClientSession() as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "postgres", "flood") as url,
    ):
        receiver = await start_receiver(group, http)
        pop = await populate(url, receiver.url("omnihook"), rooms=s.pg_rooms, events=s.pg_events)
        payloads = await rendered_payloads(url)
        drains = {}
        checks = {}
        for workers in (1, 2):
            async with copy_of(ctx, url, f"w{workers}") as copy:
                await receiver.reset()
                drains[workers] = await drain_with_workers(
                    group, receiver, copy, name="omnihook", total=len(payloads), workers=workers
                )
                arrivals = [a for a in await receiver.arrivals() if a[1] == "omnihook"]
                checks[workers] = (order_violations(arrivals, pop.expected), duplicates(arrivals))
        await receiver.reset()
        bare = await drain_with_baseline(
            group, receiver, ctx.workdir, mode="bare", payloads=payloads, concurrency=endpoint_concurrency()
        )

    one, two = drains[1], drains[2]
    result.checks = {
        "1 worker: deliveries arrived": (len(payloads), one.delivered),
        "2 workers: deliveries arrived": (len(payloads), two.delivered),
        "1 worker: rooms out of order": (0, checks[1][0]),
        "2 workers: rooms out of order": (0, checks[2][0]),
        "bare sender deliveries": (len(payloads), bare.delivered),
    }
    result.add(
        Figure("postgres", "deliveries/s, 1 worker", one.rate, "/s", "bare aiohttp (the limit)", bare.rate)
    )
    result.add(Figure("postgres", "deliveries/s, 2 workers", two.rate, "/s", "1 worker", one.rate))
    result.details += [
        f"{pop.events:,} Message events over {s.pg_rooms:,} rooms written through the use-case layer on "
        f"PostgreSQL at {pop.rate:,.0f}/s; each run drains its own copy of that database",
        f"1 worker: {one.seconds:.1f} s, {one.cpu_seconds:.1f} s CPU; 2 workers: {two.seconds:.1f} s, "
        f"{two.cpu_seconds:.1f} s CPU (both workers)",
        f"order violations / duplicates: 1 worker {checks[1][0]} / {checks[1][1]}, "
        f"2 workers {checks[2][0]} / {checks[2][1]}",
        "PostgreSQL, the workers, the receiver and the bench share the machine's cores",
    ]
    return result
