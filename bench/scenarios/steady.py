"""steady: 300 visitor messages a second through the REST API with visitor-message webhooks on."""

from __future__ import annotations

import aiohttp

from bench.harness import Context, Receiver, percentile, start_receiver
from bench.load import open_loop
from bench.proc import Children, children
from bench.results import Figure, ScenarioResult
from bench.scenarios.flood import endpoint_concurrency
from bench.server import fresh_database, start_memory_server, start_server

TITLE = "webhook latency under a steady 300 messages/s"
P99_TARGET_MS = 50.0
WARM_UP_S = 2.0


async def run(ctx: Context) -> ScenarioResult:
    s = ctx.scale
    result = ScenarioResult("steady", TITLE)
    async with (
        aiohttp.ClientSession() as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "sqlite", "steady") as url,
    ):
        receiver = await start_receiver(group, http)
        api = await start_server(group, http, url)
        await api.rocketchat_webhook(receiver.url("steady"), LivechatWebhookOnVisitorMessage=True)
        rooms = await api.open_rooms(s.steady_rooms)
        # A server that has been up a while: statements compiled, connections open, caches filled.
        warm = await open_loop(api, rooms, rate=s.steady_rate, seconds=WARM_UP_S)
        await receiver.wait_for(len(warm), within=30, name="steady")
        await receiver.reset()
        sent = await open_loop(api, rooms, rate=s.steady_rate, seconds=s.steady_seconds)
        accepted = [m for m in sent if m.status == 200 and m.message_id]
        backlog_at_end = len(accepted) - (await receiver.count())["by_name"].get("steady", 0)
        arrived = await receiver.wait_for(len(accepted), within=30, name="steady")
        arrivals = {a[3]: a[0] for a in await receiver.arrivals() if a[1] == "steady" and a[3]}
        webhook_ms = [
            (arrivals[m.message_id] - m.answered_at) * 1000 for m in accepted if m.message_id in arrivals
        ]
        api_ms = [(m.answered_at - m.sent_at) * 1000 for m in accepted]
        span = max(m.sent_at for m in sent) - min(m.sent_at for m in sent)
        achieved = (len(sent) - 1) / span if span > 0 else 0.0
        await api.child.stop()
        memory_ms, memory_accepted, memory_arrived = await _memory_latencies(ctx, group, http, receiver)

    result.checks = {
        "messages accepted": (len(sent), len(accepted)),
        "webhooks arrived": (len(accepted), arrived),
        "in-memory server's webhooks arrived": (memory_accepted, memory_arrived),
    }
    p99 = percentile(webhook_ms, 99)
    result.add(
        Figure(
            "steady",
            "webhook latency p50",
            percentile(webhook_ms, 50),
            "ms",
            "in-memory server",
            percentile(memory_ms, 50),
            higher_is_better=False,
        )
    )
    result.add(
        Figure(
            "steady",
            "webhook latency p99",
            p99,
            "ms",
            "in-memory server",
            percentile(memory_ms, 99),
            target=f"<= {P99_TARGET_MS:.0f} ms",
            met=p99 <= P99_TARGET_MS,
            higher_is_better=False,
        )
    )
    result.add(Figure("steady", "API latency p99", percentile(api_ms, 99), "ms", higher_is_better=False))
    result.add(
        Figure(
            "steady",
            "backlog when the load stops",
            backlog_at_end,
            "deliveries",
            target="none left",
            met=arrived >= len(accepted),
            higher_is_better=False,
        )
    )
    result.details += [
        f"{len(sent)} messages sent at {achieved:.0f}/s for {s.steady_seconds:.0f} s over {len(rooms)} rooms "
        f"(after {WARM_UP_S:.0f} s of warm-up at the same rate, not counted); "
        f"{len(accepted)} accepted (200), {arrived} webhooks arrived",
        "webhook latency = arrival at the receiver - the moment the API's 200 reached the client "
        f"(a webhook can arrive first: {sum(1 for v in webhook_ms if v < 0)} negative values, kept as they are)",
        f"API latency p50 {percentile(api_ms, 50):.1f} ms, p99 {percentile(api_ms, 99):.1f} ms",
        "backlog when the load stops = accepted messages whose webhook had not arrived yet; "
        f"all arrived afterwards: {'yes' if arrived >= len(accepted) else 'NO'}",
        "in-memory server (bench/memory_server.py: aiohttp, nothing persisted, webhooks by tasks retried on "
        f"timers), driven the same way: {memory_accepted} accepted, {memory_arrived} webhooks arrived",
    ]
    return result


async def _memory_latencies(
    ctx: Context, group: Children, http: aiohttp.ClientSession, receiver: Receiver
) -> tuple[list[float], int, int]:
    """The in-memory server under the same load: its webhook latencies (ms), accepted and arrived."""
    s = ctx.scale
    memory = await start_memory_server(group, http, endpoint_concurrency())
    await memory.rocketchat_webhook(receiver.url("memory"), LivechatWebhookOnVisitorMessage=True)
    rooms = await memory.open_rooms(s.steady_rooms)
    warm = await open_loop(memory, rooms, rate=s.steady_rate, seconds=WARM_UP_S)
    await receiver.wait_for(len(warm), within=30, name="memory")
    await receiver.reset()
    sent = await open_loop(memory, rooms, rate=s.steady_rate, seconds=s.steady_seconds)
    accepted = [m for m in sent if m.status == 200 and m.message_id]
    arrived = await receiver.wait_for(len(accepted), within=30, name="memory")
    arrivals = {a[3]: a[0] for a in await receiver.arrivals() if a[1] == "memory" and a[3]}
    latencies = [
        (arrivals[m.message_id] - m.answered_at) * 1000 for m in accepted if m.message_id in arrivals
    ]
    return latencies, len(accepted), arrived
