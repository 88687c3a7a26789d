"""postgres: flood on PostgreSQL, drained by one and by two `omnihook worker` processes; then the isolation
scenario's endpoints (healthy beside misbehaving ones), drained the same way."""

from __future__ import annotations

import aiohttp
from sqlalchemy import text

from bench.delivery import Drain, drain_with_baseline, drain_with_workers
from bench.endpoints import EndpointSpec, add_endpoints
from bench.harness import Context, Receiver, duplicates, order_violations, start_receiver
from bench.populate import open_database, open_rooms, populate, write_messages
from bench.proc import Children, children
from bench.results import Figure, ScenarioResult
from bench.scenarios.flood import endpoint_concurrency
from bench.scenarios.isolation import MISBEHAVIOURS, ROOMS, misbehaving_url
from bench.server import copy_of, fresh_database
from bench.store import rendered_payloads
from omnihook.storage.database import Database

TITLE = "flood and the hostile mix on PostgreSQL, one and two workers"


async def _hostile_attempts(url: str) -> int:
    """Attempts recorded for the misbehaving endpoints (their receiver records no arrivals)."""
    db = Database(url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            query = text(
                "SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id "
                "JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.name LIKE 'hostile%'"
            )
            return int((await conn.execute(query)).scalar_one())
    finally:
        await db.dispose()


async def _hostile_mix(
    ctx: Context, group: Children, receiver: Receiver
) -> tuple[int, dict[int, Drain], dict[int, tuple[int, int]], dict[int, int]]:
    """Messages already in the outbox for the isolation scenario's endpoints, drained by 1 and 2 workers:
    the messages, each drain (of the healthy deliveries), order violations and duplicates among the
    healthy ones, and the requests the misbehaving endpoints received."""
    s = ctx.scale
    healthy = s.isolation_endpoints - s.isolation_hanging
    async with fresh_database(ctx, "postgres", "hostile") as url:
        specs = [EndpointSpec(f"healthy{i}", receiver.url(f"healthy{i}")) for i in range(healthy)]
        specs += [
            EndpointSpec(f"hostile{i}", misbehaving_url(receiver, i), timeout_ms=s.isolation_timeout_ms)
            for i in range(s.isolation_hanging)
        ]
        await add_endpoints(url, specs)
        db = open_database(url)
        try:
            pop = await write_messages(db, await open_rooms(db, ROOMS), s.pg_hostile_messages, writers=16)
        finally:
            await db.dispose()
        drains, checks, hostile = {}, {}, {}
        for workers in (1, 2):
            async with copy_of(ctx, url, f"h{workers}") as copy:
                await receiver.reset()
                drains[workers] = await drain_with_workers(
                    group,
                    receiver,
                    copy,
                    name="healthy",
                    prefix=True,
                    total=pop.events * healthy,
                    workers=workers,
                )
                arrivals = await receiver.arrivals()
                by_endpoint = [[a for a in arrivals if a[1] == f"healthy{i}"] for i in range(healthy)]
                checks[workers] = (
                    sum(order_violations(mine, pop.expected) for mine in by_endpoint),
                    sum(duplicates(mine) for mine in by_endpoint),
                )
                hostile[workers] = await _hostile_attempts(copy)
    return pop.events, drains, checks, hostile


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
        messages, mixed, mixed_checks, hostile = await _hostile_mix(ctx, group, receiver)

    one, two = drains[1], drains[2]
    result.checks = {
        "1 worker: deliveries arrived": (len(payloads), one.delivered),
        "2 workers: deliveries arrived": (len(payloads), two.delivered),
        "1 worker: rooms out of order": (0, checks[1][0]),
        "2 workers: rooms out of order": (0, checks[2][0]),
        "bare sender deliveries": (len(payloads), bare.delivered),
        "hostile mix, 1 worker: healthy rooms out of order": (0, mixed_checks[1][0]),
        "hostile mix, 2 workers: healthy rooms out of order": (0, mixed_checks[2][0]),
        "hostile mix, 1 worker: healthy duplicates": (0, mixed_checks[1][1]),
        "hostile mix, 2 workers: healthy duplicates": (0, mixed_checks[2][1]),
    }
    result.add(
        Figure("postgres", "deliveries/s, 1 worker", one.rate, "/s", "bare aiohttp (the limit)", bare.rate)
    )
    result.add(Figure("postgres", "deliveries/s, 2 workers", two.rate, "/s", "1 worker", one.rate))
    healthy = s.isolation_endpoints - s.isolation_hanging
    label = f"{healthy} healthy beside {s.isolation_hanging} misbehaving"
    result.add(
        Figure(
            "postgres",
            f"hostile mix: deliveries/s, {label}, 1 worker",
            mixed[1].rate,
            "/s",
            "flood, 1 worker",
            one.rate,
        )
    )
    result.add(
        Figure(
            "postgres",
            f"hostile mix: deliveries/s, {label}, 2 workers",
            mixed[2].rate,
            "/s",
            "1 worker",
            mixed[1].rate,
        )
    )
    result.details += [
        f"{pop.events:,} Message events over {s.pg_rooms:,} rooms written through the use-case layer on "
        f"PostgreSQL at {pop.rate:,.0f}/s; each run drains its own copy of that database",
        f"1 worker: {one.seconds:.1f} s, {one.cpu_seconds:.1f} s CPU; 2 workers: {two.seconds:.1f} s, "
        f"{two.cpu_seconds:.1f} s CPU (both workers)",
        f"order violations / duplicates: 1 worker {checks[1][0]} / {checks[1][1]}, "
        f"2 workers {checks[2][0]} / {checks[2][1]}",
        "PostgreSQL, the workers, the receiver and the bench share the machine's cores",
        f"hostile mix: {messages:,} visitor messages over {ROOMS} rooms already in the outbox, each to the "
        f"isolation scenario's {s.isolation_endpoints} Standard Webhooks endpoints, {s.isolation_hanging} of which "
        f"misbehave ({', '.join(MISBEHAVIOURS)}); deliveries/s counts the {messages * healthy:,} healthy deliveries "
        f"from the worker being ready to the last arrival; 1 worker: {mixed[1].seconds:.1f} s, "
        f"{mixed[1].cpu_seconds:.1f} s CPU; 2 workers: {mixed[2].seconds:.1f} s, {mixed[2].cpu_seconds:.1f} s CPU",
        f"hostile mix, order violations / duplicates among the healthy: 1 worker {mixed_checks[1][0]} / "
        f"{mixed_checks[1][1]}, 2 workers {mixed_checks[2][0]} / {mixed_checks[2][1]}; attempts recorded for the "
        f"misbehaving endpoints by then: {hostile[1]:,} and {hostile[2]:,} (their first retries are 5 s away or more)",
    ]
    return result
