"""The delivery log: list and read deliveries with their attempts, send one again, count pending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import iso, utcnow
from omnihook.domain.errors import Conflict, InvalidInput, NotFound
from omnihook.storage.database import Database
from omnihook.storage.notify import notify
from omnihook.storage.tables import deliveries, delivery_attempts, webhook_endpoints, webhook_events
from omnihook.webhooks.catalog import EventType
from omnihook.webhooks.outbox import DELIVERIES_CHANNEL

STATUSES = ("pending", "delivered", "dead")
EVENT_TYPES = tuple(t.value for t in EventType)
MAX_COUNT = 200
MAX_SEARCH = 200
COUNT_CAP = 10_000  # a listing's total is exact up to this many


def _ts(value: Any) -> str | None:
    return iso(value) if value is not None else None


def _delivery_json(row: Any, held_behind: str | None = None) -> dict[str, Any]:
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
        # The older pending delivery of its queue (same endpoint and room, ordered) that it waits for.
        "heldBehind": held_behind,
        "createdAt": _ts(row.created_at),
        "deliveredAt": _ts(row.delivered_at),
    }


def heads_query(queues: list[tuple[str, str]]) -> Any:
    """The head (oldest pending row) of each (endpoint, ordering key) queue, straight from the partial
    index of pending rows (ix_deliveries_queue): one statement for a whole page."""
    heads = [
        select(deliveries.c.seq, deliveries.c.id, deliveries.c.endpoint_id, deliveries.c.ordering_key)
        .where(
            deliveries.c.status == "pending",
            deliveries.c.endpoint_id == endpoint_id,
            deliveries.c.ordering_key == key,
        )
        .order_by(deliveries.c.seq)
        .limit(1)
        .subquery()
        for endpoint_id, key in queues
    ]
    return union_all(*(select(*head.c) for head in heads))


async def _held_behind(conn: AsyncConnection, rows: list[Any]) -> dict[str, str]:
    """delivery id -> the id of its queue's head, for the pending rows that wait behind an older one.
    Unordered deliveries are queues of one (their ordering key is their own id): they wait for nobody."""
    queues = sorted(
        {(r.endpoint_id, r.ordering_key) for r in rows if r.status == "pending" and r.ordering_key != r.id}
    )
    if not queues:
        return {}
    head_of = {(h.endpoint_id, h.ordering_key): h for h in await conn.execute(heads_query(queues))}
    held: dict[str, str] = {}
    for row in rows:
        head = head_of.get((row.endpoint_id, row.ordering_key))
        if row.status == "pending" and head is not None and head.seq < row.seq:
            held[row.id] = head.id
    return held


def _listing() -> Any:
    return select(
        deliveries,
        webhook_endpoints.c.name.label("endpoint_name"),
        webhook_endpoints.c.url.label("endpoint_url"),
    ).join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)


@dataclass(frozen=True, kw_only=True)
class DeliveryFilter:
    """Which deliveries a listing (or a bulk replay) is about; every field optional."""

    status: str | None = None
    event_type: str | None = None
    room_id: str | None = None
    endpoint_id: str | None = None
    since: datetime | None = None  # created at or after (UTC when zone-less)
    until: datetime | None = None  # created before (UTC when zone-less)
    search: str | None = None  # a delivery id, a room id, or text in the payload

    def __post_init__(self) -> None:
        # A time given without a zone is UTC, however the filter was built (API, CLI).
        for bound in ("since", "until"):
            value = getattr(self, bound)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, bound, value.replace(tzinfo=UTC))
        if self.status and self.status not in STATUSES:
            raise _invalid(f"status must be one of {', '.join(STATUSES)}")
        if self.event_type and self.event_type not in EVENT_TYPES:
            raise _invalid(f"type must be one of {', '.join(EVENT_TYPES)}")
        if self.since and self.until and self.since >= self.until:
            raise _invalid("since must be before until")
        if self.search is not None and len(self.search) > MAX_SEARCH:
            raise _invalid(f"q is longer than {MAX_SEARCH} characters")

    def conditions(self) -> list[Any]:
        found: list[Any] = []
        if self.status:
            found.append(deliveries.c.status == self.status)
        if self.event_type:
            found.append(deliveries.c.event_type == self.event_type)
        if self.room_id:
            found.append(deliveries.c.room_id == self.room_id)
        if self.endpoint_id:
            found.append(deliveries.c.endpoint_id == self.endpoint_id)
        if self.since:
            found.append(deliveries.c.created_at >= self.since)
        if self.until:
            found.append(deliveries.c.created_at < self.until)
        if self.search:
            # The matching events are found once (one scan of the payloads), not once a delivery.
            in_payload = select(webhook_events.c.id).where(
                webhook_events.c.payload.contains(self.search, autoescape=True)
            )
            found.append(
                or_(
                    deliveries.c.id == self.search,
                    deliveries.c.room_id == self.search,
                    deliveries.c.event_id.in_(in_payload),
                )
            )
        return found


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, error_type="invalid-params")


def page_query(where: DeliveryFilter, *, before: int | None = None, offset: int = 0, count: int = 50) -> Any:
    """One page of the listing, newest first: walked down the primary key (or a filter's index), so it
    stops after `count` rows instead of sorting every match."""
    page = [*where.conditions(), *([deliveries.c.seq < before] if before is not None else [])]
    return _listing().where(*page).order_by(deliveries.c.seq.desc()).offset(offset).limit(count)


async def list_deliveries(
    db: Database, where: DeliveryFilter, *, offset: int = 0, count: int = 50, before: int | None = None
) -> dict[str, Any]:
    """Newest first. `before` (the `nextCursor` of a previous page) pages by position, which stays as
    fast on the millionth row as on the first; `offset` is kept for Rocket.Chat-style clients. `total`
    stops at COUNT_CAP (`totalCapped`)."""
    if offset < 0 or not 1 <= count <= MAX_COUNT:
        raise _invalid(f"offset must be 0 or more and count between 1 and {MAX_COUNT}")
    conditions = where.conditions()
    async with db.engine.connect() as conn:
        # Counted up to a cap: a million rows would cost more than the page itself.
        counted = select(deliveries.c.seq).where(*conditions).limit(COUNT_CAP + 1).subquery()
        total = (await conn.execute(select(func.count()).select_from(counted))).scalar_one()
        rows = list(await conn.execute(page_query(where, before=before, offset=offset, count=count)))
        held = await _held_behind(conn, rows)
        items = [_delivery_json(r, held.get(r.id)) for r in rows]
    cursor = rows[-1].seq if len(rows) == count else None
    return {
        "deliveries": items,
        "count": len(items),
        "offset": offset,
        "total": min(total, COUNT_CAP),
        "totalCapped": total > COUNT_CAP,  # then there are more than `total`
        "nextCursor": cursor,
    }


async def get_delivery(db: Database, delivery_id: str) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        row = (await conn.execute(_listing().where(deliveries.c.id == delivery_id))).first()
        if row is None:
            raise NotFound("error-delivery-not-found", f"no delivery {delivery_id!r}")
        held = await _held_behind(conn, [row])
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
    return {**_delivery_json(row, held.get(row.id)), "payload": orjson.loads(payload), "attemptsLog": log}


async def redeliver(db: Database, delivery_id: str) -> dict[str, Any]:
    """Send a dead or delivered delivery again, same id, due now, with a fresh retry budget."""
    async with db.transaction() as uow:
        row = (
            await uow.conn.execute(
                select(deliveries.c.status, webhook_endpoints.c.deleted_at)
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
        await send_again(uow.conn, [delivery_id], utcnow())
        await notify(uow.conn, DELIVERIES_CHANNEL)  # wake a dispatcher in any process
    return await get_delivery(db, delivery_id)


async def send_again(conn: AsyncConnection, delivery_ids: Sequence[str], now: datetime) -> None:
    """The replay itself, for one delivery and for bulk replay jobs alike: each goes out again with its
    own id, due now, with a fresh retry budget. The caller has checked that they may (not pending,
    their endpoint not deleted)."""
    await conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(list(delivery_ids)))
        .values(
            status="pending",
            next_attempt_at=now,
            budget_start=deliveries.c.attempts,
            lease_owner=None,
            lease_until=None,
            delivered_at=None,
            updated_at=now,
        )
    )


async def count_pending(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(deliveries).where(deliveries.c.status == "pending")
    return int((await conn.execute(query)).scalar_one())
