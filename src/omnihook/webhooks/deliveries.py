"""The delivery log: list and read deliveries with their attempts, send one again, count pending."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import iso, utcnow
from omnihook.domain.errors import Conflict, InvalidInput, NotFound
from omnihook.storage.database import Database
from omnihook.storage.notify import notify
from omnihook.storage.tables import deliveries, delivery_attempts, webhook_endpoints, webhook_events
from omnihook.webhooks.outbox import DELIVERIES_CHANNEL

STATUSES = ("pending", "delivered", "dead")
MAX_COUNT = 200


def _ts(value: Any) -> str | None:
    return iso(value) if value is not None else None


def _delivery_json(row: Any) -> dict[str, Any]:
    return {
        "_id": row.id,
        "eventId": row.event_id,
        "endpointId": row.endpoint_id,
        "endpointName": row.endpoint_name,
        "endpointUrl": row.endpoint_url,
        "type": row.event_type,
        "roomId": row.room_id,
        "status": row.status,
        "attempts": row.attempts,
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "nextAttemptAt": _ts(row.next_attempt_at) if row.status == "pending" else None,
        "createdAt": _ts(row.created_at),
        "deliveredAt": _ts(row.delivered_at),
    }


def _listing() -> Any:
    return select(
        deliveries,
        webhook_endpoints.c.name.label("endpoint_name"),
        webhook_endpoints.c.url.label("endpoint_url"),
    ).join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)


async def list_deliveries(
    db: Database,
    *,
    status: str | None = None,
    event_type: str | None = None,
    room_id: str | None = None,
    offset: int = 0,
    count: int = 50,
) -> dict[str, Any]:
    if status and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", error_type="invalid-params")
    if offset < 0 or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(
            f"offset must be 0 or more and count between 1 and {MAX_COUNT}", error_type="invalid-params"
        )
    conditions = []
    if status:
        conditions.append(deliveries.c.status == status)
    if event_type:
        conditions.append(deliveries.c.event_type == event_type)
    if room_id:
        conditions.append(deliveries.c.room_id == room_id)
    async with db.engine.connect() as conn:
        total = (
            await conn.execute(select(func.count()).select_from(deliveries).where(*conditions))
        ).scalar_one()
        rows = await conn.execute(
            _listing().where(*conditions).order_by(deliveries.c.seq.desc()).offset(offset).limit(count)
        )
        items = [_delivery_json(r) for r in rows]
    return {"deliveries": items, "count": len(items), "offset": offset, "total": total}


async def get_delivery(db: Database, delivery_id: str) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        row = (await conn.execute(_listing().where(deliveries.c.id == delivery_id))).first()
        if row is None:
            raise NotFound("error-delivery-not-found", f"no delivery {delivery_id!r}")
        payload = (
            await conn.execute(select(webhook_events.c.payload).where(webhook_events.c.id == row.event_id))
        ).scalar_one()
        attempts = await conn.execute(
            select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.attempt_no, delivery_attempts.c.id)
        )
        log = [
            {
                "attempt": a.attempt_no,
                "startedAt": _ts(a.started_at),
                "durationMs": a.duration_ms,
                "statusCode": a.status_code,
                "error": a.error,
                "requestHeaders": a.request_headers,
                "responseHeaders": a.response_headers,
                "responseBody": a.response_body,
            }
            for a in attempts
        ]
    return {**_delivery_json(row), "payload": orjson.loads(payload), "attemptsLog": log}


async def redeliver(db: Database, delivery_id: str) -> dict[str, Any]:
    """Send a dead or delivered delivery again, same id, due now, with a fresh retry budget."""
    async with db.transaction() as uow:
        row = (
            await uow.conn.execute(
                select(deliveries.c.status, deliveries.c.attempts, webhook_endpoints.c.deleted_at)
                .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
                .where(deliveries.c.id == delivery_id)
            )
        ).first()
        if row is None:
            raise NotFound("error-delivery-not-found", f"no delivery {delivery_id!r}")
        if row.deleted_at is not None:
            # Nothing sends to a deleted endpoint: the delivery would stay pending for ever.
            raise Conflict("error-endpoint-deleted", "the endpoint of this delivery was deleted")
        if row.status == "pending":
            raise Conflict("error-delivery-pending", "this delivery is still pending; it will be sent anyway")
        now = utcnow()
        await uow.conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id)
            .values(
                status="pending",
                next_attempt_at=now,
                budget_start=row.attempts,
                lease_owner=None,
                lease_until=None,
                delivered_at=None,
                updated_at=now,
            )
        )
        await notify(uow.conn, DELIVERIES_CHANNEL)  # wake a dispatcher in any process
    return await get_delivery(db, delivery_id)


async def count_pending(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(deliveries).where(deliveries.c.status == "pending")
    return int((await conn.execute(query)).scalar_one())
