"""Building blocks for the engine's unit tests: endpoints and claimed deliveries without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from omnihook.webhooks.endpoints import EndpointConfig, endpoint_config
from omnihook.webhooks.queue_store import Claimed

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def endpoint(endpoint_id: str = "e1", **columns: object) -> EndpointConfig:
    values: dict[str, object] = {
        "name": endpoint_id,
        "url": f"https://{endpoint_id}.example/hook",
        "format": "rocketchat",
        "enabled": True,
        "event_types": ["Message"],
        "timeout_ms": 5000,
        "max_retries": 3,
        "retry_delay_ms": 10_000,
        "max_in_flight": 4,
        "ordered": True,
    }
    values.update(columns)
    return endpoint_config(endpoint_id, values)


def claimed(seq: int, *, endpoint_id: str = "e1", room: str | None = "r1", attempts: int = 0) -> Claimed:
    delivery_id = f"msg_{seq}"
    return Claimed(
        seq=seq,
        id=delivery_id,
        endpoint_id=endpoint_id,
        event_type="Message",
        room_id=room,
        ordering_key=room or delivery_id,
        attempts=attempts,
        budget_start=0,
        lease_until=NOW + timedelta(minutes=1),
        event_created_at=NOW,
        payload='{"_id": "r1"}',
    )
