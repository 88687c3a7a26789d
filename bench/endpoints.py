"""Native (Standard Webhooks) endpoints, created through omnihook's endpoint service before the server starts."""

from __future__ import annotations

from dataclasses import dataclass

from omnihook.storage.database import Database
from omnihook.webhooks.endpoint_service import create_endpoint


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    url: str
    timeout_ms: int = 5_000
    event_types: tuple[str, ...] = ("Message",)


async def add_endpoints(database_url: str, specs: list[EndpointSpec]) -> list[str]:
    """Create standard-format endpoints (signed, ordered per room, the service's defaults); their ids."""
    db = Database(database_url, pool_size=1)
    ids = []
    try:
        for spec in specs:
            body = {
                "name": spec.name,
                "url": spec.url,
                "eventTypes": list(spec.event_types),
                "timeoutMs": spec.timeout_ms,
            }
            endpoint = await create_endpoint(db, body, allow_private_targets=True)
            ids.append(str(endpoint["_id"]))
    finally:
        await db.dispose()
    return ids
