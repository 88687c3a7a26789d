"""flood: 20,000 Message events over 1,000 rooms already in the outbox, delivered to one Rocket.Chat endpoint."""

from __future__ import annotations

import aiohttp

from bench.delivery import drain_with_baseline, drain_with_workers
from bench.harness import Context, duplicates, order_violations, start_receiver
from bench.populate import populate
from bench.proc import children
from bench.results import Figure, ScenarioResult
from bench.server import fresh_database
from bench.store import rendered_payloads

TITLE = "delivery throughput from a full outbox (SQLite)"
LIMIT_RATIO_TARGET = 0.6
# One busy room, in order, against the bare sender posting one request at a time.
SINGLE_ROOM_RATIO_TARGET = 0.5


def endpoint_concurrency() -> int:
    """omnihook's in-flight cap for the Rocket.Chat endpoint: the baselines get the same."""
    from omnihook.webhooks.settings import ROCKETCHAT_MAX_IN_FLIGHT

    return ROCKETCHAT_MAX_IN_FLIGHT


async def run(ctx: Context) -> ScenarioResult:
    s = ctx.scale
    result = ScenarioResult("flood", TITLE)
    concurrency = endpoint_concurrency()
    async with aiohttp.ClientSession() as http, children(ctx.workdir / "logs") as group:
        receiver = await start_receiver(group, http)

        async with fresh_database(ctx, "sqlite", "flood") as url:
            pop = await populate(url, receiver.url("omnihook"), rooms=s.flood_rooms, events=s.flood_events)
            payloads = await rendered_payloads(url)
            ours = await drain_with_workers(group, receiver, url, name="omnihook", total=len(payloads))
            arrivals = [a for a in await receiver.arrivals() if a[1] == "omnihook"]
            violations = order_violations(arrivals, pop.expected)
            dups = duplicates(arrivals)
            bare = await drain_with_baseline(
                group, receiver, ctx.workdir, mode="bare", payloads=payloads, concurrency=concurrency
            )
            naive = await drain_with_baseline(
                group, receiver, ctx.workdir, mode="naive", payloads=payloads, concurrency=concurrency
            )

        await receiver.reset()
        async with fresh_database(ctx, "sqlite", "flood1") as url:
            pop1 = await populate(url, receiver.url("omnihook"), rooms=1, events=s.flood_single_room_events)
            payloads1 = await rendered_payloads(url)
            ours1 = await drain_with_workers(group, receiver, url, name="omnihook", total=len(payloads1))
            violations1 = order_violations(
                [a for a in await receiver.arrivals() if a[1] == "omnihook"], pop1.expected
            )
            bare1 = await drain_with_baseline(
                group, receiver, ctx.workdir, mode="bare", payloads=payloads1, concurrency=1
            )

    result.checks = {
        "omnihook deliveries arrived": (len(payloads), ours.delivered),
        "rooms out of order": (0, violations),
        "duplicate arrivals": (0, dups),
        "bare sender deliveries": (len(payloads), bare.delivered),
        "naive sender deliveries": (len(payloads), naive.delivered),
        "single room deliveries arrived": (len(payloads1), ours1.delivered),
        "single room out of order": (0, violations1),
    }
    ratio = ours.rate / bare.rate if bare.rate else 0.0
    rooms = f"{s.flood_rooms:,} rooms"
    result.add(
        Figure(
            "flood",
            f"deliveries/s, {rooms}",
            ours.rate,
            "/s",
            "bare aiohttp (the limit)",
            bare.rate,
            target=f">= {LIMIT_RATIO_TARGET}x the limit",
            met=ratio >= LIMIT_RATIO_TARGET,
        )
    )
    result.add(
        Figure("flood", f"deliveries/s, {rooms}", ours.rate, "/s", "naive in-memory sender", naive.rate)
    )
    result.add(
        Figure(
            "flood",
            "deliveries/s, 1 room (in order)",
            ours1.rate,
            "/s",
            "bare aiohttp, one at a time",
            bare1.rate,
            target=f">= {SINGLE_ROOM_RATIO_TARGET}x",
            met=bool(bare1.rate) and ours1.rate / bare1.rate >= SINGLE_ROOM_RATIO_TARGET,
        )
    )
    result.add(
        Figure(
            "flood",
            "CPU per delivery",
            ours.cpu_seconds / ours.delivered * 1e6,
            "us",
            "bare aiohttp",
            bare.cpu_seconds / bare.delivered * 1e6,
            higher_is_better=False,
        )
    )
    result.details += [
        f"{pop.events:,} Message events written through the use-case layer (send_visitor_message, webhook outbox "
        f"in the same transaction) at {pop.rate:,.0f}/s before any worker ran",
        f"one `omnihook worker` process drained them in {ours.seconds:.1f} s (from the moment it said it was "
        f"delivering to the last arrival) using {ours.cpu_seconds:.1f} s of CPU; the baselines' clocks start "
        "likewise once they are up",
        f"baselines from the same payloads (read back from the outbox), {concurrency} in flight like omnihook's "
        f"Rocket.Chat endpoint: bare {bare.seconds:.1f} s, naive {naive.seconds:.1f} s",
        f"order: {violations} of {len(pop.expected):,} rooms received their messages out of order; "
        f"{dups} duplicate arrivals",
        f"single room: {pop1.events:,} events in {ours1.seconds:.1f} s, {violations1} out-of-order; the bare "
        f"sender posting one at a time (the same ordering constraint) took {bare1.seconds:.1f} s",
    ]
    return result
