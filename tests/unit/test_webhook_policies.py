"""Retry decisions, request signing and the private-target guard, without a network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from omnihook.webhooks.endpoints import EndpointConfig, endpoint_config
from omnihook.webhooks.formats import REDACTED, TOKEN_HEADER, RocketChatFormat, StandardFormat
from omnihook.webhooks.retry import (
    MAX_RETRY_AFTER,
    Dead,
    Delivered,
    RetryAt,
    RocketChatPolicy,
    StandardPolicy,
    parse_retry_after,
)
from omnihook.webhooks.ssrf import TargetRefused, check_literal_host, check_url, parse_http_url
from omnihook.webhooks.transport import Outcome, OutgoingRequest

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def outcome(status: int | None = None, error: str | None = None, **headers: str) -> Outcome:
    return Outcome(started_at=NOW, duration_ms=3, status_code=status, error=error, headers=headers)


def endpoint(**overrides: object) -> EndpointConfig:
    values: dict[str, object] = {
        "name": "CRM",
        "url": "https://crm.example/hook",
        "format": "rocketchat",
        "secret": None,
        "enabled": True,
        "event_types": frozenset({"Message"}),
        "timeout_ms": 5000,
        "max_retries": 10,
        "retry_delay_ms": 10_000,
        "max_in_flight": 16,
        "ordered": True,
    }
    values.update(overrides)
    return endpoint_config("e1", values)


def build_request(endpoint: EndpointConfig, **fields: Any) -> OutgoingRequest:
    return endpoint.format.request(endpoint, **fields)


def test_rocket_chat_format_succeeds_on_200_only() -> None:
    policy = RocketChatPolicy(max_retries=10, delay=timedelta(seconds=10))
    assert policy.decide(outcome(200), attempt=1, now=NOW) == Delivered()
    for status in (201, 204, 301, 400, 429, 500):
        assert policy.decide(outcome(status), attempt=1, now=NOW) == RetryAt(NOW + timedelta(seconds=10))
    assert policy.decide(outcome(error="timeout"), attempt=1, now=NOW) == RetryAt(NOW + timedelta(seconds=10))


def test_rocket_chat_format_gives_up_after_the_configured_retries() -> None:
    policy = RocketChatPolicy(max_retries=10, delay=timedelta(seconds=10))
    assert isinstance(policy.decide(outcome(500), attempt=10, now=NOW), RetryAt)
    assert isinstance(policy.decide(outcome(500), attempt=11, now=NOW), Dead)
    assert isinstance(RocketChatPolicy(0, timedelta(0)).decide(outcome(500), attempt=1, now=NOW), Dead)


def test_standard_format_accepts_any_2xx_and_gives_up_on_410() -> None:
    policy = StandardPolicy()
    assert policy.decide(outcome(204), attempt=1, now=NOW) == Delivered()
    assert isinstance(policy.decide(outcome(410), attempt=1, now=NOW), Dead)


def test_standard_format_backs_off_with_jitter_and_honours_retry_after_within_bounds() -> None:
    policy = StandardPolicy()
    first = policy.decide(outcome(500), attempt=1, now=NOW)
    assert isinstance(first, RetryAt)
    assert timedelta(seconds=4.5) <= first.at - NOW <= timedelta(seconds=5.5)
    third = policy.decide(outcome(500), attempt=3, now=NOW)
    assert isinstance(third, RetryAt) and third.at - NOW >= timedelta(minutes=27)
    asked = policy.decide(outcome(429, **{"Retry-After": "120"}), attempt=1, now=NOW)
    assert isinstance(asked, RetryAt) and asked.at - NOW == timedelta(seconds=120)
    capped = policy.decide(outcome(503, **{"Retry-After": "999999"}), attempt=1, now=NOW)
    assert isinstance(capped, RetryAt) and capped.at - NOW == timedelta(hours=1)
    assert isinstance(policy.decide(outcome(500), attempt=8, now=NOW), Dead)


def test_the_format_and_its_policy_follow_the_endpoint_columns() -> None:
    rocketchat = endpoint(max_retries=3, retry_delay_ms=2000).format
    assert isinstance(rocketchat, RocketChatFormat) and rocketchat.writes_crm_data
    assert rocketchat.policy == RocketChatPolicy(3, timedelta(seconds=2))
    standard = endpoint(format="standard").format
    assert isinstance(standard, StandardFormat) and not standard.writes_crm_data
    assert standard.policy == StandardPolicy()
    custom = endpoint(format="standard", retry_schedule=[1, 30]).format.policy
    assert custom.describe() == {"retrySchedule": [1, 30]}
    with pytest.raises(ValueError, match="unknown endpoint format"):
        endpoint(format="soap")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        (" 7 ", 7),
        ("0", 0),
        ("99999999999999999999", MAX_RETRY_AFTER.total_seconds()),  # overflowed timedelta before
        ("000000000000000000000042", 42),
        ("Wed, 02 Jan 2026 03:06:05 GMT", 120),
        ("Wed, 02 Jan 2026 03:06:05 -0000", 120),  # a naive date, taken as UTC
        ("Wed, 01 Jan 2025 00:00:00 GMT", 0),  # in the past: at once, as far as the schedule goes
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER.total_seconds()),
    ],
)
def test_retry_after_takes_ascii_seconds_or_an_http_date_clamped(value: str, seconds: float) -> None:
    asked = parse_retry_after(value, NOW)
    assert asked is not None and asked.total_seconds() == seconds


@pytest.mark.parametrize(
    "value", ["²", "٣", "-5", "1.5", "", "soon", "Thu, 99 Foo 2026", "1e9", "0x10", "9" * 500]
)
def test_retry_after_that_is_neither_seconds_nor_a_date_is_ignored(value: str) -> None:
    if value == "9" * 500:
        assert parse_retry_after(value, NOW) == MAX_RETRY_AFTER  # digits: clamped, not parsed whole
        return
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize("value", ["²", "99999999999999999999", "-5", "1.5", "٣", "\udcff\udcfe"])
def test_a_hostile_retry_after_never_raises_and_falls_back_to_the_schedule(value: str) -> None:
    decision = StandardPolicy().decide(outcome(429, **{"Retry-After": value}), attempt=1, now=NOW)
    assert isinstance(decision, RetryAt)
    assert timedelta(seconds=4.5) <= decision.at - NOW <= MAX_RETRY_AFTER


def test_rocket_chat_requests_carry_the_token_only_when_set_and_never_record_it() -> None:
    bare = build_request(
        endpoint(), delivery_id="msg_1", event_type="Message", created_at=NOW, payload_json="{}", now=NOW
    )
    assert TOKEN_HEADER not in bare.headers
    assert bare.headers["webhook-id"] == "msg_1"
    assert bare.body == b"{}"
    assert bare.timeout_s == 5.0
    secret = build_request(
        endpoint(secret="s3"),
        delivery_id="msg_1",
        event_type="Message",
        created_at=NOW,
        payload_json="{}",
        now=NOW,
    )
    assert secret.headers[TOKEN_HEADER] == "s3"
    assert endpoint().format.recordable_headers(secret.headers)[TOKEN_HEADER] == REDACTED


def test_standard_requests_are_signed_and_verify_with_every_rotating_secret() -> None:
    old, new = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + "c2VjcmV0LXR3by1mb3Itcm90YXRpb24="
    request = build_request(
        endpoint(format="standard", secret=f"{old} {new}"),
        delivery_id="msg_2",
        event_type="Message",
        created_at=NOW,
        payload_json='{"_id":"r1"}',
        now=datetime.now(UTC),
    )
    body = json.loads(request.body)
    assert body == {"type": "Message", "timestamp": "2026-01-02T03:04:05.000Z", "data": {"_id": "r1"}}
    for secret in (old, new):
        Webhook(secret).verify(request.body, request.headers)  # raises when the signature is wrong
    assert len(request.headers["webhook-signature"].split()) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://10.0.0.8/",
        "http://[::1]:8080/",
        "http://169.254.169.254/",
        "http://0.0.0.0",
    ],
)
def test_private_literals_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(TargetRefused):
        check_literal_host(url, allow_private=False)
    check_literal_host(url, allow_private=True)


async def test_names_are_resolved_and_refused_when_they_point_inside() -> None:
    with pytest.raises(TargetRefused, match="OMNIHOOK_ALLOW_PRIVATE_TARGETS"):
        await check_url("http://localhost:9/hook", allow_private=False)
    await check_url("http://localhost:9/hook", allow_private=True)


@pytest.mark.parametrize("url", ["ftp://crm.example/", "crm.example/hook", "http:///path", "http://x:port/"])
def test_only_http_urls_with_a_host_are_targets(url: str) -> None:
    with pytest.raises(TargetRefused):
        parse_http_url(url)


def test_a_public_literal_is_allowed() -> None:
    check_literal_host("https://93.184.215.14/hook", allow_private=False)
