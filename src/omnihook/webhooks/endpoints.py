"""Webhook endpoints as the outbox and the dispatcher see them, and the cache the outbox reads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.storage.tables import deliveries, webhook_endpoints
from omnihook.webhooks.formats import EndpointFormat, make_format


@dataclass(frozen=True, kw_only=True)
class EndpointConfig:
    id: str
    name: str
    url: str
    format: EndpointFormat  # request, success rule and retry policy
    secret: str | None
    enabled: bool
    event_types: frozenset[str]
    timeout_ms: int
    max_in_flight: int
    ordered: bool
    # The secret replaced by a rotation, which still signs until `previous_secret_until`.
    previous_secret: str | None = None
    previous_secret_until: datetime | None = None

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a request made at `now` is signed with: the current one(s), then the replaced one."""
        secrets = self.secret.split() if self.secret else []
        if (
            self.previous_secret
            and self.previous_secret_until is not None
            and now < self.previous_secret_until
        ):
            secrets.append(self.previous_secret)
        return secrets

    @property
    def takes_deliveries(self) -> bool:
        """Whether the outbox writes deliveries for it: enabled, or disabled (they are held, unsent,
        until it is enabled again). The Rocket.Chat integration without a URL is off: it gets nothing."""
        return bool(self.url)

    def wants(self, keys: Iterable[str]) -> bool:
        return any(k in self.event_types for k in keys)


def endpoint_config(endpoint_id: str, columns: Mapping[str, Any]) -> EndpointConfig:
    """The one place an endpoint is built: from its `webhook_endpoints` columns (missing ones default)."""
    return EndpointConfig(
        id=endpoint_id,
        name=columns["name"],
        url=columns["url"],
        format=make_format(
            columns["format"],
            max_retries=int(columns["max_retries"]),
            retry_delay_ms=int(columns["retry_delay_ms"]),
            retry_schedule=columns.get("retry_schedule"),
        ),
        secret=columns.get("secret") or None,
        enabled=bool(columns["enabled"]),
        event_types=frozenset(columns.get("event_types") or ()),
        timeout_ms=int(columns["timeout_ms"]),
        max_in_flight=max(1, int(columns.get("max_in_flight") or 1)),
        ordered=bool(columns.get("ordered", True)),
        previous_secret=columns.get("previous_secret") or None,
        previous_secret_until=columns.get("previous_secret_expires_at"),
    )


def endpoint_from_row(row: Any) -> EndpointConfig:
    return endpoint_config(row.id, row._mapping)


async def load_endpoints(conn: AsyncConnection) -> dict[str, EndpointConfig]:
    rows = await conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.deleted_at.is_(None)))
    return {row.id: endpoint_from_row(row) for row in rows}


async def enabled_again(conn: AsyncConnection, endpoint_id: str, now: datetime) -> None:
    """In the transaction that enables it again: its failures count afresh, and the deliveries held
    while it was disabled are due at once (a retry's wait started before it too). The claim takes
    each room's oldest first, so they go out in order."""
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(failing_since=None, disabled_reason=None)
    )
    await conn.execute(
        update(deliveries)
        .where(
            deliveries.c.endpoint_id == endpoint_id,
            deliveries.c.status == "pending",
            deliveries.c.lease_owner.is_(None),
            deliveries.c.next_attempt_at > now,
        )
        .values(next_attempt_at=now, updated_at=now)
    )


async def held_deliveries(conn: AsyncConnection, endpoint_ids: list[str]) -> dict[str, int]:
    """How many deliveries wait for each of these (disabled) endpoints."""
    if not endpoint_ids:
        return {}
    rows = await conn.execute(
        select(deliveries.c.endpoint_id, func.count())
        .where(deliveries.c.status == "pending", deliveries.c.endpoint_id.in_(endpoint_ids))
        .group_by(deliveries.c.endpoint_id)
    )
    return {endpoint_id: int(count) for endpoint_id, count in rows}


class EndpointCache:
    """The endpoints in memory, so that an event no endpoint wants costs no query.

    Invalidated at once in this process when they change; other processes see a change within
    `ttl` seconds (and at once on PostgreSQL, where a NOTIFY invalidates them).
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._endpoints: dict[str, EndpointConfig] | None = None
        self._loaded_at = 0.0
        self._generation = 0
        # Told at once of a change (a dispatcher stops using what it loaded before).
        self.listeners: list[Callable[[], None]] = []

    def invalidate(self) -> None:
        self._endpoints = None
        self._generation += 1
        for listener in self.listeners:
            listener()

    async def get(self, conn: AsyncConnection) -> dict[str, EndpointConfig]:
        now = time.monotonic()
        if self._endpoints is not None and now - self._loaded_at <= self.ttl:
            return self._endpoints
        generation = self._generation
        endpoints = await load_endpoints(conn)
        if generation == self._generation:
            # Not kept when invalidated meanwhile: the load may have read the rows before the change.
            self._endpoints, self._loaded_at = endpoints, now
        return endpoints
