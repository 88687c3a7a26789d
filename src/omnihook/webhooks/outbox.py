"""The transactional outbox: a `db.before_commit` hook that turns domain events into deliveries.

For each event and each enabled endpoint that wants it, the payload is rendered once (from the state
inside the transaction) into `webhook_events`, and one `deliveries` row per endpoint is inserted: both
commit with the change or not at all. When no endpoint wants an event, nothing is queried.
"""

from __future__ import annotations

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


def new_delivery_id() -> str:
    # Sent as `webhook-id`; short enough to be an ordering key of its own when an endpoint is unordered.
    return f"msg_{new_id(24)}"


class Outbox:
    def __init__(self, endpoints: EndpointCache) -> None:
        self.endpoints = endpoints
        # Endpoints that got deliveries since the last wake-up (the after-commit listener wakes the
        # dispatcher for them).
        self.enqueued: set[str] = set()

    async def __call__(self, conn: AsyncConnection, events: list[DomainEvent]) -> None:
        endpoints = [e for e in (await self.endpoints.get(conn)).values() if e.enabled]
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
            event_rows.append(
                {
                    "id": event_id,
                    "type": kind.value,
                    "room_id": event.room_id,
                    "payload": dumps(payload),
                    "created_at": now,
                }
            )
            for endpoint in targets:
                delivery_id = new_delivery_id()
                ordered = endpoint.ordered and event.room_id is not None
                delivery_rows.append(
                    {
                        "id": delivery_id,
                        "event_id": event_id,
                        "endpoint_id": endpoint.id,
                        "event_type": kind.value,
                        "room_id": event.room_id,
                        "ordering_key": event.room_id if ordered else delivery_id,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        if not delivery_rows:
            return
        await conn.execute(insert(webhook_events), event_rows)
        await conn.execute(insert(deliveries), delivery_rows)
        targeted = {row["endpoint_id"] for row in delivery_rows}
        # The payload names the endpoints to wake (empty: all of them, when the names would not fit).
        names = ",".join(sorted(targeted))
        await notify(conn, DELIVERIES_CHANNEL, names if len(names) < 7000 else "")
        self.enqueued |= targeted
