"""What to do after an attempt: a policy object returns a decision (delivered, retry at, dead).

Rocket.Chat format (the seed): success is status 200 exactly; anything else, a timeout or a
connection error is retried `max_retries` times, `delay` apart. Standard format: any 2xx succeeds;
a schedule with jitter, `Retry-After` honoured within bounds; 410 gives up.

Policies are pure and cannot be fooled by what a receiver answers: a `Retry-After` that is not ASCII
digits or an HTTP date is ignored (and said so in the decision's `note`), a huge one is clamped.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol

from omnihook.webhooks.transport import Outcome


@dataclass(frozen=True)
class Delivered:
    pass


@dataclass(frozen=True)
class RetryAt:
    at: datetime
    # Something in the answer the policy could not use (a bad Retry-After): logged once per delivery.
    note: str | None = None


@dataclass(frozen=True)
class Dead:
    reason: str


Decision = Delivered | RetryAt | Dead


class RetryPolicy(Protocol):
    def decide(self, outcome: Outcome, *, attempt: int, now: datetime) -> Decision:
        """`attempt` is the number of the attempt just made, from 1."""
        ...

    def describe(self) -> dict[str, object]:
        """The policy's settings as the endpoints API shows them."""
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

    def describe(self) -> dict[str, object]:
        return {"maxRetries": self.max_retries, "retryDelayMs": int(self.delay / timedelta(milliseconds=1))}


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
        note = None
        if status in (429, 503) and (value := outcome.retry_after) is not None:
            asked = parse_retry_after(value, now)
            if asked is None:
                note = f"ignored Retry-After {value[:40]!r}: neither whole seconds nor an HTTP date"
            else:
                delay = max(delay, min(asked, MAX_RETRY_AFTER))
        return RetryAt(now + delay, note)

    def describe(self) -> dict[str, object]:
        return {"retrySchedule": [int(step.total_seconds()) for step in self.schedule]}


_DELAY_SECONDS = re.compile(r"[0-9]+", re.ASCII)
# More digits than this is more than a century: clamped without building a huge number.
_MAX_DIGITS = 10


def parse_retry_after(value: str, now: datetime) -> timedelta | None:
    """RFC 9110's Retry-After: ASCII delay-seconds or an HTTP date; None when it is neither."""
    value = value.strip(" \t")
    if _DELAY_SECONDS.fullmatch(value):
        if len(value.lstrip("0")) > _MAX_DIGITS:
            return MAX_RETRY_AFTER
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    if not value.isascii() or len(value) > 64:
        return None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": UTC, with no claim about the local zone
            when = when.replace(tzinfo=UTC)
        return min(max(timedelta(0), when - now), MAX_RETRY_AFTER)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
