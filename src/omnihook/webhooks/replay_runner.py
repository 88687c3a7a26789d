"""Running replay jobs: each tick, every running job takes (or keeps) its lease and releases what its
throttle allows, in one transaction with its progress.

- Throttle: per endpoint, a job has at most `rate_per_second` deliveries released and not yet tried
  ("sent" items); each tick (a second) it releases up to that many less those still waiting for their
  first try. A slow or failing endpoint thus slows its job down instead of filling its queue, and live
  deliveries, due at the same time, are claimed beside the replayed ones.
- Exactly once: an item is released in the transaction that moves the job's cursor past it and renews
  the job's lease; a process that lost the lease (its lease expired and another took the job) or a job
  cancelled meanwhile changes nothing.
- Resume: a job whose runner died is taken by any runner once its lease has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.notify import notify
from omnihook.storage.tables import (
    deliveries,
    replay_job_items,
    replay_jobs,
    webhook_endpoints,
    webhook_events,
)
from omnihook.webhooks.catalog import AGENT_MESSAGE, VISITOR_MESSAGE, EventType
from omnihook.webhooks.deliveries import send_again
from omnihook.webhooks.outbox import DELIVERIES_CHANNEL, delivery_row

log = logging.getLogger("omnihook.webhooks.replays")

TICK_S = 1.0


@dataclass
class Step:
    """What one tick of one job did."""

    released: int = 0
    skipped: int = 0
    endpoints: set[str] = field(default_factory=set)  # that got deliveries
    finished: bool = False


def _claimable(job_id: str, owner: str, now: datetime) -> list[Any]:
    return [
        replay_jobs.c.id == job_id,
        replay_jobs.c.status == "running",
        or_(
            replay_jobs.c.lease_owner.is_(None),
            replay_jobs.c.lease_owner == owner,
            replay_jobs.c.lease_until < now,
        ),
    ]


async def runnable_jobs(db: Database, owner: str, now: datetime) -> list[str]:
    """Running jobs that `owner` holds or may take, oldest first."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(replay_jobs.c.id)
            .where(
                replay_jobs.c.status == "running",
                or_(
                    replay_jobs.c.lease_owner.is_(None),
                    replay_jobs.c.lease_owner == owner,
                    replay_jobs.c.lease_until < now,
                ),
            )
            .order_by(replay_jobs.c.created_at)
        )
        return [r.id for r in rows]


async def step(
    db: Database, job_id: str, *, owner: str, lease: timedelta, now: datetime | None = None
) -> Step | None:
    """One tick of a job; None when another runner holds it or it is no longer running."""
    now = now or utcnow()
    async with db.transaction() as uow:
        conn = uow.conn
        before = (
            await conn.execute(select(replay_jobs.c.lease_owner).where(replay_jobs.c.id == job_id))
        ).scalar()
        took = await conn.execute(
            update(replay_jobs)
            .where(*_claimable(job_id, owner, now))
            .values(lease_owner=owner, lease_until=now + lease, updated_at=now)
        )
        if took.rowcount != 1:
            return None
        if before is not None and before != owner:
            log.info("replay job %s taken over from %s, whose lease expired", job_id, before)
        job = (await conn.execute(select(replay_jobs).where(replay_jobs.c.id == job_id))).one()
        in_flight = await _settle(conn, job_id)
        done = Step()
        cursors: dict[str, int] = dict(job.cursors)
        alive = await _live_endpoints(conn, list(job.endpoints))
        for endpoint_id in sorted(job.endpoints):
            cursor = int(cursors.get(endpoint_id, 0))
            if endpoint_id not in alive:
                # Deleted meanwhile: nothing more goes to it.
                rest = (
                    replay_job_items.c.job_id == job_id,
                    replay_job_items.c.endpoint_id == endpoint_id,
                    replay_job_items.c.seq > cursor,
                )
                last = (await conn.execute(select(func.max(replay_job_items.c.seq)).where(*rest))).scalar()
                if last is not None:
                    skipped = await conn.execute(
                        update(replay_job_items).where(*rest).values(state="skipped")
                    )
                    done.skipped += skipped.rowcount
                    cursors[endpoint_id] = int(last)
                continue
            budget = job.rate_per_second - in_flight.get(endpoint_id, 0)
            if budget <= 0:
                continue
            items = list(
                await conn.execute(
                    select(replay_job_items)
                    .where(
                        replay_job_items.c.job_id == job_id,
                        replay_job_items.c.endpoint_id == endpoint_id,
                        replay_job_items.c.seq > cursor,
                    )
                    .order_by(replay_job_items.c.seq)
                    .limit(budget)
                )
            )
            if not items:
                continue
            cursors[endpoint_id] = int(items[-1].seq)
            if job.kind == "backfill":
                sent = await _backfill(conn, items, alive[endpoint_id], now)
            else:
                sent = await _replay(conn, items, now)
            await _mark(conn, job_id, [i.seq for i in items if i.seq in sent], "sent")
            await _mark(conn, job_id, [i.seq for i in items if i.seq not in sent], "skipped")
            done.released += len(sent)
            done.skipped += len(items) - len(sent)
            if sent:
                done.endpoints.add(endpoint_id)
        replayed, skipped = job.replayed + done.released, job.skipped + done.skipped
        flying = sum(in_flight.values()) + done.released
        done.finished = replayed + skipped >= job.total and flying == 0
        await conn.execute(
            update(replay_jobs)
            .where(replay_jobs.c.id == job_id)
            .values(
                replayed=replayed,
                skipped=skipped,
                cursors=cursors,
                **(
                    {"status": "finished", "finished_at": now, "lease_owner": None, "lease_until": None}
                    if done.finished
                    else {}
                ),
            )
        )
        if done.endpoints:
            await notify(conn, DELIVERIES_CHANNEL, ",".join(sorted(done.endpoints)))
    return done


async def _settle(conn: AsyncConnection, job_id: str) -> dict[str, int]:
    """Items whose delivery was tried since its release stop counting against the rate; returns what
    is still in flight, per endpoint."""
    waiting_first_try = exists().where(
        deliveries.c.id == replay_job_items.c.delivery_id,
        deliveries.c.status == "pending",
        deliveries.c.attempts == deliveries.c.budget_start,
    )
    await conn.execute(
        update(replay_job_items)
        .where(replay_job_items.c.job_id == job_id, replay_job_items.c.state == "sent", ~waiting_first_try)
        .values(state="done")
    )
    rows = await conn.execute(
        select(replay_job_items.c.endpoint_id, func.count().label("n"))
        .where(replay_job_items.c.job_id == job_id, replay_job_items.c.state == "sent")
        .group_by(replay_job_items.c.endpoint_id)
    )
    return {r.endpoint_id: int(r.n) for r in rows}


async def _live_endpoints(conn: AsyncConnection, endpoint_ids: list[str]) -> dict[str, Any]:
    rows = await conn.execute(
        select(webhook_endpoints).where(
            webhook_endpoints.c.id.in_(endpoint_ids), webhook_endpoints.c.deleted_at.is_(None)
        )
    )
    return {r.id: r for r in rows}


async def _mark(conn: AsyncConnection, job_id: str, seqs: list[int], state: str) -> None:
    if seqs:
        await conn.execute(
            update(replay_job_items)
            .where(replay_job_items.c.job_id == job_id, replay_job_items.c.seq.in_(seqs))
            .values(state=state)
        )


async def _replay(conn: AsyncConnection, items: list[Any], now: datetime) -> set[int]:
    """Send the items' deliveries again, but not one that is pending now (sent again meanwhile)."""
    by_delivery = {i.delivery_id: i.seq for i in items}
    replayable = [
        r.id
        for r in await conn.execute(
            select(deliveries.c.id).where(
                deliveries.c.id.in_(list(by_delivery)), deliveries.c.status != "pending"
            )
        )
    ]
    if replayable:
        await send_again(conn, replayable, now)
    return {by_delivery[d] for d in replayable}


def _wants(event_types: Iterable[str], kind: str, payload_json: str) -> bool:
    """Whether an endpoint subscribed to `event_types` receives this stored event."""
    wanted = set(event_types)
    if kind != EventType.MESSAGE.value:
        return kind in wanted
    if EventType.MESSAGE.value in wanted:
        return True
    messages = orjson.loads(payload_json).get("messages") or [{}]
    by_agent = bool(messages[0].get("agentId"))
    return (AGENT_MESSAGE if by_agent else VISITOR_MESSAGE) in wanted


async def _backfill(conn: AsyncConnection, items: list[Any], endpoint: Any, now: datetime) -> set[int]:
    """A new delivery of each item's event for the endpoint (not one it has already)."""
    events = {
        r.id: r
        for r in await conn.execute(
            select(webhook_events).where(webhook_events.c.id.in_([i.event_id for i in items]))
        )
    }
    has = {
        r.event_id
        for r in await conn.execute(
            select(deliveries.c.event_id).where(
                deliveries.c.endpoint_id == endpoint.id,
                deliveries.c.event_id.in_([i.event_id for i in items]),
            )
        )
    }
    rows: list[dict[str, Any]] = []
    created: dict[int, str] = {}
    for item in items:
        event = events.get(item.event_id)  # pruned meanwhile: nothing to send
        if event is None or item.event_id in has:
            continue
        if not _wants(endpoint.event_types or (), event.type, event.payload):
            continue
        row = delivery_row(
            event.id, endpoint.id, event.type, event.room_id, ordered=endpoint.ordered, now=now
        )
        rows.append(row)
        created[item.seq] = row["id"]
    if rows:
        await conn.execute(insert(deliveries), rows)
        for seq, delivery_id in created.items():
            await conn.execute(
                update(replay_job_items)
                .where(replay_job_items.c.job_id == items[0].job_id, replay_job_items.c.seq == seq)
                .values(delivery_id=delivery_id)
            )
    return set(created)


async def release_leases(db: Database, owner: str) -> None:
    """Give back the jobs `owner` holds (a clean stop): another runner takes them at once."""
    async with db.transaction() as uow:
        await uow.conn.execute(
            update(replay_jobs)
            .where(replay_jobs.c.lease_owner == owner, replay_jobs.c.status == "running")
            .values(lease_owner=None, lease_until=None)
        )


class ReplayRunner:
    """The loop of one process: every tick, a step of each job it holds or may take."""

    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        lease: timedelta,
        on_released: Callable[[set[str]], None] | None = None,
        tick: float = TICK_S,
    ) -> None:
        self.db = db
        self.owner = owner
        self.lease = lease
        self.tick = tick
        self.on_released = on_released
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """A job was created or cancelled here: look now rather than at the next tick."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="replay-jobs")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._task = None
        try:
            await release_leases(self.db, self.owner)
        except Exception:
            log.warning(
                "could not give back the replay jobs of %s: they resume after their lease", self.owner
            )

    async def run_once(self) -> None:
        for job_id in await runnable_jobs(self.db, self.owner, utcnow()):
            result = await step(self.db, job_id, owner=self.owner, lease=self.lease)
            if result is None:
                continue
            if result.endpoints and self.on_released is not None:
                self.on_released(result.endpoints)
            if result.finished:
                log.info("replay job %s finished", job_id)

    async def _loop(self) -> None:
        failing = False
        while True:
            self._wake.clear()
            try:
                await self.run_once()
                failing = False
            except asyncio.CancelledError:
                raise
            except Exception:
                if not failing:
                    log.exception("running replay jobs failed; trying again every %.1f s", self.tick)
                failing = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.tick)
