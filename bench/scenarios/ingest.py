"""ingest: the most messages a second the REST API takes with webhooks on, and their CPU cost.

Three runs of the same closed loop: omnihook with the visitor-message webhook off, then on, then the
in-memory server of the Rocket.Chat kind (bench/memory_server.py) with its webhook on. End to end counts
a message once its webhook has arrived: accepted messages / (first request -> last arrival). Then the
webhooks-on run on PostgreSQL with one and with two server processes (`omnihook serve --workers 2`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import aiohttp

from bench.harness import Context, Receiver, start_receiver
from bench.load import closed_loop
from bench.proc import Children, children
from bench.results import Figure, ScenarioResult
from bench.scenarios.flood import endpoint_concurrency
from bench.server import Api, Sent, fresh_database, start_memory_server, start_server

TITLE = "REST API intake with webhooks on, against webhooks off and an in-memory server"
END_TO_END_TARGET = 0.5  # x the in-memory server
ON_OFF_TARGET = 0.9  # webhooks on x webhooks off
SCALE_OUT_TARGET = 1.5  # 2 server processes x 1, on PostgreSQL


@dataclass(frozen=True)
class Intake:
    accepted: int
    rate: float  # accepted messages a second, by the API's answers
    end_to_end: float  # accepted messages a second, until the last webhook arrived (= rate when off)
    cpu_per_message_ms: float
    failed: int
    arrived: int


async def _run(
    api: Api, rooms: list[tuple[str, str]], clients: int, seconds: float, receiver: Receiver | None, name: str
) -> Intake:
    """One closed-loop run; with `receiver`, waits for the webhooks named `name` and counts their CPU."""
    if receiver is not None:
        await receiver.reset()
    cpu_before = api.child.usage().cpu_seconds
    sent = await closed_loop(api, rooms, clients=clients, seconds=seconds)
    ok = [m for m in sent if m.status == 200]
    first = min(m.sent_at for m in sent)
    span = max(m.answered_at for m in sent) - first
    arrived, end_span = 0, span
    if receiver is not None:
        arrived = await receiver.wait_for(len(ok), within=120, name=name)
        arrivals = [a[0] for a in await receiver.arrivals() if a[1] == name]
        end_span = max([*arrivals, first + span]) - first
    cpu_after = api.child.usage().cpu_seconds  # the CPU of sending the webhooks counts
    return Intake(
        accepted=len(ok),
        rate=len(ok) / span if span > 0 else 0.0,
        end_to_end=len(ok) / end_span if end_span > 0 else 0.0,
        cpu_per_message_ms=(cpu_after - cpu_before) / max(1, len(ok)) * 1000,
        failed=len(sent) - len(ok),
        arrived=arrived,
    )


async def _on_postgres(
    ctx: Context, group: Children, http: aiohttp.ClientSession, receiver: Receiver, workers: int
) -> Intake:
    """The webhooks-on run against `omnihook serve --workers N` on a fresh PostgreSQL database."""
    s = ctx.scale
    name = f"pg-{workers}"
    async with fresh_database(ctx, "postgres", f"ingest{workers}") as url:
        api = await start_server(group, http, url, workers=workers)
        rooms = await api.open_rooms(s.ingest_clients, prefix=name)
        await api.rocketchat_webhook(receiver.url(name), LivechatWebhookOnVisitorMessage=True)
        warm = await closed_loop(api, rooms, clients=s.ingest_clients, seconds=min(1.0, s.ingest_seconds))
        await receiver.wait_for(_warm(warm), within=60, name=name)
        result = await _run(api, rooms, s.ingest_clients, s.ingest_seconds, receiver, name)
        await api.child.stop()
        return result


def _warm(sent: list[Sent]) -> int:
    return sum(1 for m in sent if m.status == 200)


async def run(ctx: Context) -> ScenarioResult:
    s = ctx.scale
    clients, seconds = s.ingest_clients, s.ingest_seconds
    result = ScenarioResult("ingest", TITLE)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients * 2)) as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "sqlite", "ingest") as url,
    ):
        receiver = await start_receiver(group, http)
        api = await start_server(group, http, url)
        rooms = await api.open_rooms(clients)
        await api.rocketchat_webhook(receiver.url("ingest"), LivechatWebhookOnVisitorMessage=False)
        await closed_loop(api, rooms, clients=clients, seconds=min(1.0, seconds))  # warm-up
        off = await _run(api, rooms, clients, seconds, None, "ingest")
        await api.rocketchat_webhook(receiver.url("ingest"), LivechatWebhookOnVisitorMessage=True)
        on = await _run(api, rooms, clients, seconds, receiver, "ingest")
        await api.child.stop()

        memory = await start_memory_server(group, http, endpoint_concurrency())
        memory_rooms = await memory.open_rooms(clients)
        await memory.rocketchat_webhook(receiver.url("memory"), LivechatWebhookOnVisitorMessage=True)
        warm = await closed_loop(memory, memory_rooms, clients=clients, seconds=min(1.0, seconds))
        await receiver.wait_for(_warm(warm), within=60, name="memory")
        mem = await _run(memory, memory_rooms, clients, seconds, receiver, "memory")
        await memory.child.stop()

        scale_out = {n: await _on_postgres(ctx, group, http, receiver, n) for n in (1, 2)}

    result.checks = {
        "failed requests": (0, off.failed + on.failed + mem.failed),
        "webhooks arrived": (on.accepted, on.arrived),
        "in-memory server's webhooks arrived": (mem.accepted, mem.arrived),
    }
    ratio = on.end_to_end / mem.end_to_end if mem.end_to_end else 0.0
    result.add(
        Figure(
            "ingest",
            "REST -> webhook end to end, messages/s",
            on.end_to_end,
            "/s",
            "in-memory server",
            mem.end_to_end,
            target=f">= {END_TO_END_TARGET}x",
            met=ratio >= END_TO_END_TARGET,
        )
    )
    on_off = on.rate / off.rate if off.rate else 0.0
    result.add(
        Figure(
            "ingest",
            "messages/s accepted, webhooks on",
            on.rate,
            "/s",
            "webhooks off",
            off.rate,
            target=f">= {ON_OFF_TARGET}x",
            met=on_off >= ON_OFF_TARGET,
        )
    )
    result.add(
        Figure(
            "ingest",
            "server CPU per message",
            on.cpu_per_message_ms,
            "ms",
            "webhooks off",
            off.cpu_per_message_ms,
            higher_is_better=False,
        )
    )
    result.add(
        Figure(
            "ingest",
            "server CPU per message, webhooks on",
            on.cpu_per_message_ms,
            "ms",
            "in-memory server",
            mem.cpu_per_message_ms,
            higher_is_better=False,
        )
    )
    one, two = scale_out[1], scale_out[2]
    result.add(
        Figure(
            "ingest",
            "PostgreSQL, 2 server processes: end to end, messages/s",
            two.end_to_end,
            "/s",
            "1 process",
            one.end_to_end,
            target=f">= {SCALE_OUT_TARGET}x where the cores allow",
            met=two.end_to_end >= SCALE_OUT_TARGET * one.end_to_end,
        )
    )
    result.checks |= {
        f"PostgreSQL, {n} process(es): webhooks arrived": (r.accepted, r.arrived)
        for n, r in scale_out.items()
    }
    result.details += [
        f"PostgreSQL, `omnihook serve --workers N` (each process with its dispatcher), webhooks on: 1 process "
        f"{one.accepted:,} accepted at {one.rate:,.0f}/s; 2 processes {two.accepted:,} at "
        f"{two.rate:,.0f}/s, on {os.cpu_count()} cores shared with the load generator, the receiver and PostgreSQL",
        f"{clients} clients in a closed loop (each sends its next message when the last is answered), "
        f"{seconds:.0f} s per run, one `omnihook serve` process on SQLite with its dispatcher",
        f"webhooks off: {off.accepted:,} accepted, {off.failed} failed; webhooks on: {on.accepted:,} accepted, "
        f"{on.failed} failed, {on.arrived:,} webhooks arrived",
        f"in-memory server (bench/memory_server.py: aiohttp, nothing persisted, webhooks by tasks retried on "
        f"timers): {mem.accepted:,} accepted at {mem.rate:,.0f}/s, {mem.failed} failed, {mem.arrived:,} "
        "webhooks arrived",
        "end to end = accepted messages / (first request -> last webhook arrival); accepted/s counts the "
        "API's answers only",
        "CPU per message = the server process's user+system time over the run (with webhooks on, until the last "
        "webhook arrived) / messages accepted; the load generator and the receiver run in other processes "
        "on the same 2 cores",
    ]
    return result
