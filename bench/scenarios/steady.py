"""steady: 300 visitor messages a second through the REST API with visitor-message webhooks on."""

from __future__ import annotations

import aiohttp
import orjson

from bench.baselines import write_payloads
from bench.harness import Context, Receiver, percentile, start_receiver
from bench.load import open_loop
from bench.proc import Children, children, python_argv
from bench.results import Figure, ScenarioResult
from bench.scenarios.flood import endpoint_concurrency
from bench.server import fresh_database, start_server
from bench.store import rendered_payloads

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
        payloads = (await rendered_payloads(url))[len(warm) :]  # the measured messages only
        naive_ms, naive_delivered = await _naive_latencies(ctx, group, receiver, payloads)

    result.checks = {
        "messages accepted": (len(sent), len(accepted)),
        "webhooks arrived": (len(accepted), arrived),
        "naive sender deliveries": (len(payloads), naive_delivered),
    }
    p99 = percentile(webhook_ms, 99)
    result.add(
        Figure(
            "steady",
            "webhook latency p50",
            percentile(webhook_ms, 50),
            "ms",
            "naive sender",
            percentile(naive_ms, 50),
            higher_is_better=False,
        )
    )
    result.add(
        Figure(
            "steady",
            "webhook latency p99",
            p99,
            "ms",
            "naive sender",
            percentile(naive_ms, 99),
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
        "naive sender: the same payloads, submitted from memory at the same rate; latency = arrival - submit",
    ]
    return result


async def _naive_latencies(
    ctx: Context, group: Children, receiver: Receiver, payloads: list[bytes]
) -> tuple[list[float], int]:
    """The naive sender's latencies (ms) and how many deliveries it made."""
    payload_file = ctx.workdir / "steady-payloads.jsonl"
    submitted_file = ctx.workdir / "steady-submitted.json"
    write_payloads(payload_file, payloads)
    naive, _ = await group.start(
        "naive",
        python_argv(
            "bench.baselines",
            "naive",
            "--url",
            receiver.url("naive"),
            "--payloads",
            str(payload_file),
            "--rate",
            str(ctx.scale.steady_rate),
            "--concurrency",
            str(endpoint_concurrency()),
            "--submitted",
            str(submitted_file),
        ),
        ready_line="READY",
    )
    await naive.wait(within=ctx.scale.steady_seconds + 60)
    submitted: dict[str, float] = orjson.loads(submitted_file.read_bytes())
    arrivals = {a[3]: a[0] for a in await receiver.arrivals() if a[1] == "naive" and a[3]}
    done = orjson.loads(naive.line("DONE") or "{}")
    return [(arrivals[k] - t) * 1000 for k, t in submitted.items() if k in arrivals], int(
        done.get("delivered", 0)
    )
