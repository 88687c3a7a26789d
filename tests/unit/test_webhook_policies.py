"""Retry decisions, request signing and the private-target guard, without a network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from omnihook.webhooks.endpoints import EndpointConfig
from omnihook.webhooks.retry import Dead, Delivered, RetryAt, RocketChatPolicy, StandardPolicy, policy_for
from omnihook.webhooks.signing import REDACTED, TOKEN_HEADER, build_request, recordable_headers
from omnihook.webhooks.ssrf import TargetRefused, check_literal_host, check_url, parse_http_url
from omnihook.webhooks.transport import Outcome

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def outcome(status: int | None = None, error: str | None = None, **headers: str) -> Outcome:
    return Outcome(started_at=NOW, duration_ms=3, status_code=status, error=error, headers=headers)


def endpoint(**overrides: object) -> EndpointConfig:
    values: dict[str, object] = {
        "id": "e1",
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
    return EndpointConfig(**values)  # type: ignore[arg-type]


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


def test_the_policy_follows_the_endpoint_format() -> None:
    assert isinstance(policy_for(endpoint()), RocketChatPolicy)
    assert isinstance(policy_for(endpoint(format="standard")), StandardPolicy)


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
    assert recordable_headers(secret.headers)[TOKEN_HEADER] == REDACTED


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
