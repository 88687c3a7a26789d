"""Native (Standard Webhooks) endpoints, written straight into a fresh database before the server starts."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from omnihook.domain.clock import utcnow
from omnihook.domain.ids import new_id
from omnihook.storage.database import Database
from omnihook.storage.tables import webhook_endpoints


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    url: str
    timeout_ms: int = 5_000
    event_types: tuple[str, ...] = ("Message",)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


async def add_endpoints(database_url: str, specs: list[EndpointSpec]) -> list[str]:
    """Insert standard-format endpoints (signed, ordered per room); returns their ids."""
    db = Database(database_url, pool_size=1)
    now = utcnow()
    ids = [new_id() for _ in specs]
    rows: list[dict[str, object]] = [
        {
            "id": endpoint_id,
            "name": spec.name,
            "url": spec.url,
            "format": "standard",
            "secret": new_secret(),
            "enabled": True,
            "event_types": list(spec.event_types),
            "timeout_ms": spec.timeout_ms,
            "max_retries": 7,
            "retry_delay_ms": 5_000,
            "max_in_flight": 16,
            "ordered": True,
            "created_at": now,
            "updated_at": now,
        }
        for endpoint_id, spec in zip(ids, specs, strict=True)
    ]
    try:
        async with db.engine.begin() as conn:
            await conn.execute(webhook_endpoints.insert(), rows)
    finally:
        await db.dispose()
    return ids
