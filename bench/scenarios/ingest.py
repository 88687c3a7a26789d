"""ingest: the most messages a second the REST API takes with webhooks on, and their CPU cost."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from bench.harness import Context, start_receiver
from bench.load import closed_loop
from bench.proc import children
from bench.results import Figure, ScenarioResult
from bench.server import Api, Sent, fresh_database, start_server

TITLE = "REST API intake with webhooks on, against webhooks off"


@dataclass(frozen=True)
class Intake:
    accepted: int
    rate: float
    cpu_per_message_ms: float
    failed: int


async def _measure(
    api: Api, rooms: list[tuple[str, str]], clients: int, seconds: float
) -> tuple[list[Sent], float]:
    before = api.child.usage().cpu_seconds
    sent = await closed_loop(api, rooms, clients=clients, seconds=seconds)
    return sent, before


def _intake(sent: list[Sent], cpu_before: float, cpu_after: float) -> Intake:
    ok = [m for m in sent if m.status == 200]
    span = max(m.answered_at for m in sent) - min(m.sent_at for m in sent)
    return Intake(
        accepted=len(ok),
        rate=len(ok) / span if span > 0 else 0.0,
        cpu_per_message_ms=(cpu_after - cpu_before) / max(1, len(ok)) * 1000,
        failed=len(sent) - len(ok),
    )


async def run(ctx: Context) -> ScenarioResult:
    s = ctx.scale
    result = ScenarioResult("ingest", TITLE)
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=s.ingest_clients * 2)) as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "sqlite", "ingest") as url,
    ):
        receiver = await start_receiver(group, http)
        api = await start_server(group, http, url)
        rooms = await api.open_rooms(s.ingest_clients)
        await api.rocketchat_webhook(receiver.url("ingest"), LivechatWebhookOnVisitorMessage=False)
        await closed_loop(api, rooms, clients=s.ingest_clients, seconds=min(1.0, s.ingest_seconds))  # warm-up

        sent, before = await _measure(api, rooms, s.ingest_clients, s.ingest_seconds)
        off = _intake(sent, before, api.child.usage().cpu_seconds)

        await api.rocketchat_webhook(receiver.url("ingest"), LivechatWebhookOnVisitorMessage=True)
        sent, before = await _measure(api, rooms, s.ingest_clients, s.ingest_seconds)
        accepted_on = sum(1 for m in sent if m.status == 200)
        arrived = await receiver.wait_for(accepted_on, within=120, name="ingest")
        # the CPU of sending the webhooks counts: read it once they have all arrived
        on = _intake(sent, before, api.child.usage().cpu_seconds)

    result.checks = {
        "failed requests": (0, off.failed + on.failed),
        "webhooks arrived": (on.accepted, arrived),
    }
    result.add(Figure("ingest", "messages/s accepted, webhooks on", on.rate, "/s", "webhooks off", off.rate))
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
    result.details += [
        f"{s.ingest_clients} clients in a closed loop (each sends its next message when the last is answered), "
        f"{s.ingest_seconds:.0f} s per run, one `omnihook serve` process on SQLite with its dispatcher",
        f"webhooks off: {off.accepted:,} accepted, {off.failed} failed; webhooks on: {on.accepted:,} accepted, "
        f"{on.failed} failed, {arrived:,} webhooks arrived",
        "CPU per message = the server process's user+system time over the run (with webhooks on, until the last "
        "webhook arrived) / messages accepted; the load generator and the receiver run in other processes "
        "on the same 2 cores",
    ]
    return result
