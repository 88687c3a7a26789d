"""One attempt on the in-memory transport: whatever goes wrong is a failed attempt with the normal
backoff, never a delivery given straight back (which the next claim would take again at once)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from omnihook.webhooks.fake_transport import FakeTransport, Raise, Reply
from omnihook.webhooks.formats import REDACTED, TOKEN_HEADER
from omnihook.webhooks.retry import Dead, Delivered, RetryAt
from omnihook.webhooks.sender import Sender
from tests.unit.engine_parts import NOW, claimed, endpoint


def sender(transport: FakeTransport) -> Sender:
    return Sender(transport, clock=lambda: NOW)


async def test_a_200_is_delivered_and_the_secret_token_is_never_recorded() -> None:
    transport = FakeTransport()
    target = endpoint(secret="s3cret")
    result = await sender(transport).send(target, claimed(1))
    assert result.decision == Delivered()
    [request] = transport.requests
    assert request.headers[TOKEN_HEADER] == "s3cret"
    assert result.request_headers[TOKEN_HEADER] == REDACTED


async def test_a_transport_that_raises_is_a_failed_attempt_retried_after_the_delay() -> None:
    transport = FakeTransport()
    target = endpoint()
    transport.script(target.url, Raise(RuntimeError("boom")))
    result = await sender(transport).send(target, claimed(1))
    assert result.outcome is not None and result.outcome.error == "internal error: RuntimeError: boom"
    assert result.decision == RetryAt(NOW + timedelta(seconds=10))
    assert result.attempted


async def test_a_transport_that_keeps_raising_ends_dead_on_schedule() -> None:
    transport = FakeTransport(default=Raise(ValueError("bad")))
    result = await sender(transport).send(endpoint(max_retries=3), claimed(1, attempts=3))
    assert isinstance(result.decision, Dead)


async def test_a_request_that_cannot_be_built_is_a_failed_attempt() -> None:
    transport = FakeTransport()
    target = endpoint(format="standard", secret="whsec_not-base64!")
    result = await sender(transport).send(target, claimed(1))
    assert transport.requests == []
    assert result.outcome is not None and (result.outcome.error or "").startswith("internal error:")
    assert isinstance(result.decision, RetryAt)


async def test_a_lease_too_short_for_the_request_gives_the_delivery_back_unsent() -> None:
    transport = FakeTransport()
    item = claimed(1)
    item.lease_until = NOW + timedelta(seconds=3)  # the timeout is 5 s
    result = await sender(transport).send(endpoint(), item)
    assert transport.requests == [] and not result.attempted


async def test_a_bad_retry_after_is_logged_once_per_delivery_not_per_try(
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = FakeTransport(default=Reply(429, headers={"Retry-After": "²"}))
    target = endpoint(format="standard", retry_schedule=[1, 1, 1])
    one = sender(transport)
    with caplog.at_level(logging.WARNING, logger="omnihook.webhooks.sender"):
        for attempts in range(3):
            result = await one.send(target, claimed(1, attempts=attempts))
            assert isinstance(result.decision, RetryAt)
        await one.send(target, claimed(2))
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and all("ignored Retry-After" in m for m in warned)
