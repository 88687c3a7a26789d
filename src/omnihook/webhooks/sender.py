"""One attempt: the endpoint's format builds the request, the transport sends it, the policy decides.

Nothing here raises: whatever goes wrong while sending (a request that cannot be built, a transport
that raises, a policy that fails) is a failed attempt with the normal backoff, never a delivery given
straight back to be claimed again. What a receiver answers that the policy could not use is logged
once per delivery, not once per try.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from omnihook.domain.clock import utcnow
from omnihook.webhooks.endpoints import EndpointConfig
from omnihook.webhooks.queue_store import Claimed
from omnihook.webhooks.retry import Dead, Decision, RetryAt
from omnihook.webhooks.transport import Outcome, Transport

log = logging.getLogger("omnihook.webhooks.sender")

LEASE_MARGIN = timedelta(seconds=2)
# When the policy itself fails: the delay of Rocket.Chat's default retry, and a budget that ends.
FALLBACK_DELAY = timedelta(seconds=10)
FALLBACK_ATTEMPTS = 10
WARNED_KEPT = 4096


@dataclass(kw_only=True)
class Result:
    item: Claimed
    endpoint: EndpointConfig | None  # None: released without an attempt
    outcome: Outcome | None = None
    decision: Decision | None = None
    request_headers: dict[str, str] = field(default_factory=dict)

    @property
    def attempted(self) -> bool:
        return self.outcome is not None and self.decision is not None and self.endpoint is not None


def released(item: Claimed) -> Result:
    """The lease given back without an attempt: the row is due again at once."""
    return Result(item=item, endpoint=None)


def decide(endpoint: EndpointConfig, item: Claimed, outcome: Outcome, now: datetime) -> Decision:
    """The endpoint's policy on this attempt; a policy that fails retries on a fixed, finite schedule."""
    attempt = item.attempts - item.budget_start + 1
    try:
        return endpoint.format.policy.decide(outcome, attempt=attempt, now=now)
    except Exception:
        log.exception("the retry policy of endpoint %s failed on delivery %s", endpoint.id, item.id)
        if attempt > FALLBACK_ATTEMPTS:
            return Dead(f"no success after {attempt} attempts")
        return RetryAt(now + FALLBACK_DELAY)


class Sender:
    def __init__(self, transport: Transport, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.transport = transport
        self.clock = clock
        self._warned: OrderedDict[str, None] = OrderedDict()

    async def send(self, endpoint: EndpointConfig, item: Claimed) -> Result:
        now = self.clock()
        if item.lease_until - now < timedelta(milliseconds=endpoint.timeout_ms) + LEASE_MARGIN:
            # The lease could run out mid-request and another dispatcher could send it too.
            return released(item)
        headers: dict[str, str] = {}
        try:
            request = endpoint.format.request(
                endpoint,
                delivery_id=item.id,
                event_type=item.event_type,
                created_at=item.event_created_at,
                payload_json=item.payload,
                now=now,
            )
            headers = endpoint.format.recordable_headers(request.headers)
            outcome = await self.transport.send(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("sending delivery %s failed unexpectedly", item.id)
            outcome = Outcome(
                started_at=now, duration_ms=0, error=f"internal error: {type(exc).__name__}: {exc}"
            )
        decision = decide(endpoint, item, outcome, self.clock())
        if isinstance(decision, RetryAt) and decision.note:
            self._warn_once(item.id, endpoint.id, decision.note)
        return Result(
            item=item, endpoint=endpoint, outcome=outcome, decision=decision, request_headers=headers
        )

    def _warn_once(self, delivery_id: str, endpoint_id: str, note: str) -> None:
        if delivery_id in self._warned:
            return
        self._warned[delivery_id] = None
        if len(self._warned) > WARNED_KEPT:
            self._warned.popitem(last=False)
        log.warning("delivery %s to endpoint %s: %s", delivery_id, endpoint_id, note)
