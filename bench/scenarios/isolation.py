"""isolation: 50 endpoints, 10 of which misbehave (hang, reset, bad bytes, hostile Retry-After, ...);
what that does to the 40 healthy ones."""

from __future__ import annotations

import aiohttp

from bench.endpoints import EndpointSpec, add_endpoints
from bench.harness import Context, Receiver, percentile, start_receiver
from bench.load import open_loop
from bench.proc import children
from bench.receiver import HOSTILE
from bench.results import Figure, ScenarioResult
from bench.server import fresh_database, start_server

TITLE = "healthy endpoints' latency beside misbehaving ones"
RATIO_TARGET = 1.2
# What the misbehaving endpoints do, in turn: hang until the timeout, or one of the receiver's hostile answers.
MISBEHAVIOURS = ("hang", *HOSTILE)
ROOMS = 20


async def _healthy_latencies(ctx: Context, *, hanging: int) -> tuple[list[float], int, int]:
    """Returns the healthy endpoints' latencies (ms), deliveries expected and arrived."""
    s = ctx.scale
    healthy = s.isolation_endpoints - s.isolation_hanging
    async with (
        aiohttp.ClientSession() as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "sqlite", f"isolation{hanging}") as url,
    ):
        receiver = await start_receiver(group, http)
        specs = [EndpointSpec(f"healthy{i}", receiver.url(f"healthy{i}")) for i in range(healthy)]
        specs += [
            EndpointSpec(f"hostile{i}", misbehaving_url(receiver, i), timeout_ms=s.isolation_timeout_ms)
            for i in range(hanging)
        ]
        await add_endpoints(url, specs)
        api = await start_server(group, http, url)
        rooms = await api.open_rooms(ROOMS)
        sent = await open_loop(api, rooms, rate=s.isolation_rate, seconds=s.isolation_seconds)
        accepted = {m.message_id: m.answered_at for m in sent if m.status == 200 and m.message_id}
        expected = len(accepted) * healthy
        arrived = await receiver.wait_for(expected, within=60)
        latencies = [
            (t - accepted[message_id]) * 1000
            for t, name, _, message_id, _ in await receiver.arrivals()
            if name.startswith("healthy") and message_id in accepted
        ]
    return latencies, expected, arrived


def misbehaving_url(receiver: Receiver, n: int) -> str:
    kind = MISBEHAVIOURS[n % len(MISBEHAVIOURS)]
    name = f"hostile{n}"
    return receiver.url(name, hang=True) if kind == "hang" else receiver.url(name, hostile=kind)


async def run(ctx: Context) -> ScenarioResult:
    s = ctx.scale
    result = ScenarioResult("isolation", TITLE)
    with_hanging, expected, arrived = await _healthy_latencies(ctx, hanging=s.isolation_hanging)
    alone, expected_alone, arrived_alone = await _healthy_latencies(ctx, hanging=0)
    p99, p99_alone = percentile(with_hanging, 99), percentile(alone, 99)
    result.checks = {
        "healthy deliveries arrived, with hanging endpoints": (expected, arrived),
        "healthy deliveries arrived, alone": (expected_alone, arrived_alone),
    }
    healthy = s.isolation_endpoints - s.isolation_hanging
    result.add(
        Figure(
            "isolation",
            f"p99 latency of {healthy} healthy endpoints",
            p99,
            "ms",
            f"same without the {s.isolation_hanging} misbehaving",
            p99_alone,
            target=f"<= {RATIO_TARGET}x",
            met=p99 <= RATIO_TARGET * p99_alone and arrived >= expected,
            higher_is_better=False,
        )
    )
    result.details += [
        f"{s.isolation_endpoints} Standard Webhooks endpoints (signed, ordered per room) all subscribed to Message; "
        f"{s.isolation_hanging} of them misbehave, in turn: {', '.join(MISBEHAVIOURS)} "
        f"(timeout {s.isolation_timeout_ms / 1000:.0f} s)",
        f"{s.isolation_rate} visitor messages/s for {s.isolation_seconds:.0f} s through the REST API over {ROOMS} rooms",
        f"with the misbehaving endpoints: {arrived:,} of {expected:,} healthy deliveries arrived, "
        f"p50 {percentile(with_hanging, 50):.1f} ms; without: {arrived_alone:,} of {expected_alone:,}, "
        f"p50 {percentile(alone, 50):.1f} ms",
        "latency = arrival at the receiver - the API's 200 for the message reaching the client",
    ]
    return result
