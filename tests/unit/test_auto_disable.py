"""What a recorded batch tells auto-disable: which endpoints succeeded, which only failed; and its reason."""

from __future__ import annotations

from datetime import timedelta

from omnihook.webhooks.auto_disable import disabled_reason, split_outcomes
from omnihook.webhooks.retry import Dead, Delivered, RetryAt
from omnihook.webhooks.sender import Result, released
from omnihook.webhooks.transport import Outcome
from tests.unit.engine_parts import NOW, claimed, endpoint


def attempt(seq: int, endpoint_id: str, decision: Delivered | RetryAt | Dead) -> Result:
    return Result(
        item=claimed(seq, endpoint_id=endpoint_id),
        endpoint=endpoint(endpoint_id),
        outcome=Outcome(
            started_at=NOW, duration_ms=3, status_code=200 if isinstance(decision, Delivered) else 500
        ),
        decision=decision,
    )


def test_one_success_in_a_batch_counts_the_endpoint_as_working_and_rows_given_back_count_for_nothing() -> (
    None
):
    batch = [
        attempt(1, "mixed", RetryAt(NOW + timedelta(seconds=5))),
        attempt(2, "mixed", Delivered()),
        attempt(3, "down", RetryAt(NOW + timedelta(seconds=5))),
        attempt(4, "down", Dead("the endpoint answered 410 Gone")),
        released(claimed(5, endpoint_id="idle")),
    ]
    assert split_outcomes(batch) == (["mixed"], ["down"])


def test_the_reason_says_since_when_and_after_how_long() -> None:
    assert disabled_reason(NOW, timedelta(days=5)) == (
        "every attempt failed since 2026-01-02T03:04:05.000Z (disabled after 5 days of failures)"
    )
    assert disabled_reason(NOW, timedelta(hours=1)).endswith("(disabled after 1 hour of failures)")
