"""The transactional outbox: a `db.before_commit` hook that turns domain events into deliveries.

For each event and each endpoint that wants it, the payload is rendered once (from the state
inside the transaction) into `webhook_events`, and one `deliveries` row per endpoint is inserted: both
commit with the change or not at all. When no endpoint wants an event, nothing is queried. A disabled
endpoint gets its deliveries too: they are held (never claimed) until it is enabled again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.events import DomainEvent
from omnihook.domain.ids import new_id
from omnihook.storage.notify import notify
from omnihook.storage.tables import deliveries, webhook_events
from omnihook.webhooks.catalog import event_type_of, subscription_keys
from omnihook.webhooks.endpoints import EndpointCache
from omnihook.webhooks.payloads import dumps, render

DELIVERIES_CHANNEL = "omnihook_deliveries"
_INSERT_EVENTS = insert(webhook_events)
_INSERT_DELIVERIES = insert(deliveries)


def new_delivery_id() -> str:
    # Sent as `webhook-id`; short enough to be an ordering key of its own when an endpoint is unordered.
    return f"msg_{new_id(24)}"


def event_row(
    event_id: str, kind: str, room_id: str | None, payload_json: str, now: datetime
) -> dict[str, Any]:
    """A `webhook_events` row: the payload rendered once, for every delivery of it."""
    return {"id": event_id, "type": kind, "room_id": room_id, "payload": payload_json, "created_at": now}


def delivery_row(
    event_id: str, endpoint_id: str, kind: str, room_id: str | None, *, ordered: bool, now: datetime
) -> dict[str, Any]:
    """A pending `deliveries` row, due now; in its room's order when the endpoint keeps one."""
    delivery_id = new_delivery_id()
    return {
        "id": delivery_id,
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "event_type": kind,
        "room_id": room_id,
        "ordering_key": room_id if ordered and room_id is not None else delivery_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _parameters(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | dict[str, Any]:
    # One row as one statement: a list, even of one, takes SQLAlchemy's executemany path (3x the cost).
    return rows[0] if len(rows) == 1 else rows


class Outbox:
    def __init__(self, endpoints: EndpointCache) -> None:
        self.endpoints = endpoints
        # Endpoints that got deliveries since the last wake-up (the after-commit listener wakes the
        # dispatcher for them).
        self.enqueued: set[str] = set()

    async def __call__(self, conn: AsyncConnection, events: list[DomainEvent]) -> None:
        endpoints = [e for e in (await self.endpoints.get(conn)).values() if e.takes_deliveries]
        if not endpoints:
            return
        now = utcnow()
        event_rows: list[dict[str, Any]] = []
        delivery_rows: list[dict[str, Any]] = []
        for event in events:
            kind = event_type_of(event)
            if kind is None:
                continue
            keys = subscription_keys(event)
            targets = [e for e in endpoints if e.wants(keys)]
            if not targets:
                continue
            payload = await render(conn, event, kind)
            if payload is None:
                continue
            event_id = new_id()
            event_rows.append(event_row(event_id, kind.value, event.room_id, dumps(payload), now))
            delivery_rows.extend(
                delivery_row(event_id, e.id, kind.value, event.room_id, ordered=e.ordered, now=now)
                for e in targets
            )
        if not delivery_rows:
            return
        await conn.execute(_INSERT_EVENTS, _parameters(event_rows))
        await conn.execute(_INSERT_DELIVERIES, _parameters(delivery_rows))
        targeted = {row["endpoint_id"] for row in delivery_rows}
        # The payload names the endpoints to wake (empty: all of them, when the names would not fit).
        names = ",".join(sorted(targeted))
        await notify(conn, DELIVERIES_CHANNEL, names if len(names) < 7000 else "")
        self.enqueued |= targeted
