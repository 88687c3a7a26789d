"""Endpoint formats: how a delivery becomes a request, what counts as success, when to retry.

Rocket.Chat format: the payload as is, `X-RocketChat-Livechat-Token` when a secret is set, and our
`webhook-id`; success is 200 exactly; a 200's body becomes the room's crmData. Standard format:
Standard Webhooks' envelope `{type, timestamp, data}` with `webhook-id`, `webhook-timestamp` and
`webhook-signature` (one signature per secret while secrets rotate: the secret field may hold several
separated by spaces, and a rotated-out secret signs too until its expiry); any 2xx succeeds.

`make_format` is the one place a format is built from an endpoint's stored columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from standardwebhooks.webhooks import Webhook

from omnihook.webhooks.payloads import standard_body
from omnihook.webhooks.retry import STANDARD_SCHEDULE, RetryPolicy, RocketChatPolicy, StandardPolicy
from omnihook.webhooks.transport import OutgoingRequest

if TYPE_CHECKING:
    from omnihook.webhooks.endpoints import EndpointConfig

TOKEN_HEADER = "X-RocketChat-Livechat-Token"
REDACTED = "[redacted]"
FORMAT_NAMES = ("standard", "rocketchat")


class EndpointFormat(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def policy(self) -> RetryPolicy: ...

    @property
    def writes_crm_data(self) -> bool:
        """Whether a successful answer's body is saved as the room's crmData."""
        ...

    def request(
        self,
        endpoint: EndpointConfig,
        *,
        delivery_id: str,
        event_type: str,
        created_at: datetime,
        payload_json: str,
        now: datetime,
    ) -> OutgoingRequest: ...

    def recordable_headers(self, headers: dict[str, str]) -> dict[str, str]:
        """The request headers as stored with an attempt: never a secret."""
        ...


def _request(endpoint: EndpointConfig, headers: dict[str, str], body: bytes) -> OutgoingRequest:
    return OutgoingRequest(url=endpoint.url, headers=headers, body=body, timeout_s=endpoint.timeout_ms / 1000)


@dataclass(frozen=True)
class RocketChatFormat:
    policy: RocketChatPolicy
    name: str = "rocketchat"
    writes_crm_data: bool = True

    def request(
        self,
        endpoint: EndpointConfig,
        *,
        delivery_id: str,
        event_type: str,
        created_at: datetime,
        payload_json: str,
        now: datetime,
    ) -> OutgoingRequest:
        headers = {"Content-Type": "application/json", "webhook-id": delivery_id}
        if endpoint.secret:
            headers[TOKEN_HEADER] = endpoint.secret
        return _request(endpoint, headers, payload_json.encode())

    def recordable_headers(self, headers: dict[str, str]) -> dict[str, str]:
        if TOKEN_HEADER not in headers:
            return headers
        return {k: (REDACTED if k == TOKEN_HEADER else v) for k, v in headers.items()}


@dataclass(frozen=True)
class StandardFormat:
    policy: StandardPolicy
    name: str = "standard"
    writes_crm_data: bool = False

    def request(
        self,
        endpoint: EndpointConfig,
        *,
        delivery_id: str,
        event_type: str,
        created_at: datetime,
        payload_json: str,
        now: datetime,
    ) -> OutgoingRequest:
        body = standard_body(event_type, created_at, payload_json)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": delivery_id,
            "webhook-timestamp": str(int(now.timestamp())),
        }
        secrets = endpoint.signing_secrets(now)
        if secrets:
            text = body.decode()
            headers["webhook-signature"] = " ".join(Webhook(s).sign(delivery_id, now, text) for s in secrets)
        return _request(endpoint, headers, body)

    def recordable_headers(self, headers: dict[str, str]) -> dict[str, str]:
        return headers  # signatures reveal nothing of the secret


def make_format(
    name: str, *, max_retries: int, retry_delay_ms: int, retry_schedule: Sequence[int] | None
) -> EndpointFormat:
    """The format of an endpoint from its stored columns (`retry_schedule`: seconds, standard only)."""
    if name == "rocketchat":
        return RocketChatFormat(RocketChatPolicy(max_retries, timedelta(milliseconds=retry_delay_ms)))
    if name == "standard":
        schedule = (
            tuple(timedelta(seconds=s) for s in retry_schedule) if retry_schedule else STANDARD_SCHEDULE
        )
        return StandardFormat(StandardPolicy(schedule))
    raise ValueError(f"unknown endpoint format {name!r}")
