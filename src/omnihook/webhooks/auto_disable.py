"""Auto-disable: an endpoint whose every attempt has failed for a period (Svix's 5 days) is disabled.

The recorder hands each recorded batch here, inside its transaction. One statement keeps
`webhook_endpoints.failing_since` (the first failure after the last success): cleared where the batch
has a success, set where it has only failures and it was not set, and `enabled` turned off where it was
set `disable_after` ago or longer. The statement matches only rows that change, so a batch of an
endpoint that works writes nothing. Disabled endpoints keep their new events as held deliveries (the
outbox still writes them), released in order when the endpoint is enabled again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, false, func, literal, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import iso
from omnihook.storage.tables import webhook_endpoints
from omnihook.webhooks import metrics
from omnihook.webhooks.retry import Delivered
from omnihook.webhooks.sender import Result
from omnihook.webhooks.settings import notify_endpoints_changed

log = logging.getLogger("omnihook.webhooks.auto_disable")

DEFAULT_DISABLE_AFTER = timedelta(days=5)


@dataclass(frozen=True)
class Disabled:
    endpoint_id: str
    name: str
    failing_since: datetime
    reason: str


def disabled_reason(failing_since: datetime, after: timedelta) -> str:
    return f"every attempt failed since {iso(failing_since)} (disabled after {describe(after)} of failures)"


def describe(period: timedelta) -> str:
    seconds = period.total_seconds()
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"


def split_outcomes(results: Iterable[Result]) -> tuple[list[str], list[str]]:
    """The endpoints of a batch that had a success, and those whose every attempt in it failed."""
    succeeded: set[str] = set()
    failed: set[str] = set()
    for result in results:
        if not result.attempted:
            continue
        assert result.endpoint is not None
        (succeeded if isinstance(result.decision, Delivered) else failed).add(result.endpoint.id)
    return sorted(succeeded), sorted(failed - succeeded)


@dataclass
class AutoDisable:
    """`after` None: failures are tracked, nothing is disabled."""

    after: timedelta | None = DEFAULT_DISABLE_AFTER
    # Told after the commit which endpoints were disabled (the dispatcher drops them from its cache).
    on_disabled: Callable[[list[Disabled]], None] | None = None
    _pending: list[Disabled] = field(default_factory=list)

    async def track(self, conn: AsyncConnection, results: Iterable[Result], now: datetime) -> None:
        """Inside the recording transaction: at most one statement, and one more when it disables."""
        succeeded, failed = split_outcomes(results)
        if not succeeded and not failed:
            return
        e = webhook_endpoints.c
        at = literal(now, e.failing_since.type)
        cutoff = now - self.after if self.after is not None else None
        due = (
            and_(e.id.in_(failed), e.enabled.is_(True), e.failing_since <= cutoff)
            if cutoff is not None and failed
            else false()
        )
        starts = and_(e.id.in_(failed), e.failing_since.is_(None)) if failed else false()
        clears = and_(e.id.in_(succeeded), e.failing_since.is_not(None)) if succeeded else false()
        failing = func.coalesce(e.failing_since, at)
        changed = await conn.execute(
            update(webhook_endpoints)
            .where(or_(clears, starts, due))
            .values(
                failing_since=case((e.id.in_(succeeded), None), else_=failing) if succeeded else failing,
                enabled=case((due, False), else_=e.enabled),
            )
            .returning(e.id, e.name, e.failing_since, e.enabled)
        )
        if self.after is None or cutoff is None:
            return
        # A row comes back disabled with an old `failing_since` only where this statement disabled it:
        # one that just started failing has `failing_since` now, after the cutoff.
        disabled = [
            Disabled(row.id, row.name, row.failing_since, disabled_reason(row.failing_since, self.after))
            for row in changed
            if not row.enabled and row.failing_since is not None and row.failing_since <= cutoff
        ]
        if not disabled:
            return
        await conn.execute(
            update(webhook_endpoints)
            .where(e.id == bindparam("b_id"))
            .values(disabled_reason=bindparam("b_reason"), updated_at=now),
            [{"b_id": d.endpoint_id, "b_reason": d.reason} for d in disabled],
        )
        await notify_endpoints_changed(conn)  # other processes stop sending to them at once
        self._pending.extend(disabled)

    def committed(self) -> None:
        """After the commit: each disabling logged once and counted."""
        disabled, self._pending = self._pending, []
        for d in disabled:
            log.warning("webhook endpoint %s (%s) disabled: %s", d.endpoint_id, d.name, d.reason)
            metrics.AUTO_DISABLED.labels(d.endpoint_id).inc()
        if disabled and self.on_disabled is not None:
            self.on_disabled(disabled)

    def rolled_back(self) -> None:
        self._pending = []
