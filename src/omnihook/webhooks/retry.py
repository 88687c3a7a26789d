"""What to do after an attempt: a policy object returns a decision (delivered, retry at, dead).

Rocket.Chat format (the seed): success is status 200 exactly; anything else, a timeout or a
connection error is retried `max_retries` times, `retry_delay_ms` apart. Standard format: any 2xx
succeeds; an exponential schedule with jitter, `Retry-After` honoured within bounds; 410 gives up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

from omnihook.webhooks.endpoints import EndpointConfig
from omnihook.webhooks.transport import Outcome


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class RetryAt:
    at: datetime


@dataclass(frozen=True)
class Dead:
    reason: str


Decision = Delivered | RetryAt | Dead


class RetryPolicy(Protocol):
    def decide(self, outcome: Outcome, *, attempt: int, now: datetime) -> Decision:
        """`attempt` is the number of the attempt just made, from 1."""
        ...


@dataclass(frozen=True)
class RocketChatPolicy:
    max_retries: int
    delay: timedelta

    def decide(self, outcome: Outcome, *, attempt: int, now: datetime) -> Decision:
        if outcome.status_code == 200:
            return Delivered()
        if attempt > self.max_retries:
            return Dead(f"no 200 after {attempt} attempts")
        return RetryAt(now + self.delay)


STANDARD_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_RETRY_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class StandardPolicy:
    schedule: tuple[timedelta, ...] = STANDARD_SCHEDULE
    jitter: float = 0.1

    def decide(self, outcome: Outcome, *, attempt: int, now: datetime) -> Decision:
        status = outcome.status_code
        if status is not None and 200 <= status < 300:
            return Delivered()
        if status == 410:
            return Dead("the endpoint answered 410 Gone")
        if attempt > len(self.schedule):
            return Dead(f"no 2xx after {attempt} attempts")
        delay = self.schedule[attempt - 1]
        delay *= 1 + random.uniform(-self.jitter, self.jitter)
        asked = _retry_after(outcome.retry_after, now)
        if asked is not None and status in (429, 503):
            delay = max(delay, min(asked, MAX_RETRY_AFTER))
        return RetryAt(now + delay)


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    if value.strip().isdigit():
        return timedelta(seconds=int(value.strip()))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(timedelta(0), when - now)


def policy_for(endpoint: EndpointConfig) -> RetryPolicy:
    if endpoint.format == "standard":
        return StandardPolicy()
    return RocketChatPolicy(endpoint.max_retries, timedelta(milliseconds=endpoint.retry_delay_ms))
