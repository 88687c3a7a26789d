"""The request of one attempt: headers of each format, and what of them may be recorded.

Rocket.Chat format: the payload as is, `X-RocketChat-Livechat-Token` when a secret is set, and our
`webhook-id`. Standard format: Standard Webhooks' `webhook-id`, `webhook-timestamp` and
`webhook-signature` (one signature per secret while secrets rotate: the secret field may hold several
separated by spaces, and a rotated-out secret signs too until its expiry).
"""

from __future__ import annotations

from datetime import datetime

from standardwebhooks.webhooks import Webhook

from omnihook.webhooks.endpoints import EndpointConfig
from omnihook.webhooks.payloads import standard_body
from omnihook.webhooks.transport import OutgoingRequest

TOKEN_HEADER = "X-RocketChat-Livechat-Token"
REDACTED = "[redacted]"


def build_request(
    endpoint: EndpointConfig,
    *,
    delivery_id: str,
    event_type: str,
    created_at: datetime,
    payload_json: str,
    now: datetime,
) -> OutgoingRequest:
    headers = {"Content-Type": "application/json", "webhook-id": delivery_id}
    if endpoint.format == "standard":
        body = standard_body(event_type, created_at, payload_json)
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        secrets = endpoint.signing_secrets(now)
        if secrets:
            text = body.decode()
            signatures = [Webhook(s).sign(delivery_id, now, text) for s in secrets]
            headers["webhook-signature"] = " ".join(signatures)
    else:
        body = payload_json.encode()
        if endpoint.secret:
            headers[TOKEN_HEADER] = endpoint.secret
    return OutgoingRequest(url=endpoint.url, headers=headers, body=body, timeout_s=endpoint.timeout_ms / 1000)


def recordable_headers(headers: dict[str, str]) -> dict[str, str]:
    """The request headers as stored with an attempt: the secret token never is."""
    if TOKEN_HEADER not in headers:
        return headers
    return {k: (REDACTED if k == TOKEN_HEADER else v) for k, v in headers.items()}
