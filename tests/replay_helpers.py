"""Steps shared by the replay job tests: endpoints, deliveries in a given state, a job's items."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import insert, select, update

from omnihook.domain.clock import utcnow
from omnihook.domain.ids import new_id
from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, replay_job_items, webhook_events
from omnihook.webhooks import endpoint_service, replay_jobs
from omnihook.webhooks.outbox import delivery_row, event_row


async def create_endpoint(
    db: Database, url: str, name: str = "CRM", *, on_change: Callable[[], None] | None = None, **fields: Any
) -> str:
    """`on_change`: the running app's (runtime.endpoints_changed), so that its outbox sees it at once."""
    body = {"name": name, "url": url, "eventTypes": ["Message"], **fields}
    created = await endpoint_service.create_endpoint(
        db, body, allow_private_targets=True, on_change=on_change
    )
    return str(created["_id"])


async def seed_deliveries(
    db: Database, endpoint_id: str, statuses: list[str], *, room_id: str | None = None
) -> list[str]:
    """One delivery of a Message event per status given, as the dispatcher would have left it
    (dead or delivered after one attempt, pending before any), oldest first; returns their ids."""
    now = utcnow()
    ids = []
    async with db.transaction() as uow:
        for n, status in enumerate(statuses):
            event_id = new_id()
            payload = orjson.dumps({"type": "Message", "messages": [{"msg": f"m{n}"}]}).decode()
            await uow.conn.execute(
                insert(webhook_events), event_row(event_id, "Message", room_id, payload, now)
            )
            row = delivery_row(event_id, endpoint_id, "Message", room_id, ordered=False, now=now)
            tried = status != "pending"
            row.update(
                status=status, attempts=1 if tried else 0, last_status_code=500 if status == "dead" else None
            )
            await uow.conn.execute(insert(deliveries), row)
            ids.append(row["id"])
    return ids


async def job_request(**body: Any) -> replay_jobs.JobRequest:
    return replay_jobs.parse_request(body)


async def items(db: Database, job_id: str) -> list[Any]:
    async with db.engine.connect() as conn:
        query = (
            select(replay_job_items)
            .where(replay_job_items.c.job_id == job_id)
            .order_by(replay_job_items.c.seq)
        )
        return list(await conn.execute(query))


async def rows_by_id(db: Database, ids: list[str]) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        return {r.id: r for r in await conn.execute(select(deliveries).where(deliveries.c.id.in_(ids)))}


async def try_pending(db: Database, ids: list[str]) -> None:
    """What a dispatcher does to released deliveries: one attempt each, delivered."""
    async with db.transaction() as uow:
        await uow.conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids), deliveries.c.status == "pending")
            .values(status="delivered", attempts=deliveries.c.attempts + 1, delivered_at=utcnow())
        )


async def job_settled(db: Database, job_id: str, *, within: float = 30.0) -> dict[str, Any]:
    """The job once it is no longer running (fails after `within` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        job = await replay_jobs.get_job(db, job_id)
        if job["status"] != "running":
            return job
        assert loop.time() < deadline, f"the job did not finish: {job}"
        await asyncio.sleep(0.1)
