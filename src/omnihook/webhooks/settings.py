"""The CRM integration settings (Rocket.Chat's Webhooks page): validate, save, read.

The settings are stored under Rocket.Chat's ids; saving them also rewrites the Rocket.Chat-format
row of `webhook_endpoints`, which is what the outbox and the dispatcher use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import InvalidInput
from omnihook.domain.ids import new_id
from omnihook.storage.database import Database
from omnihook.storage.notify import notify
from omnihook.storage.settings_store import read_settings, write_settings
from omnihook.storage.tables import webhook_endpoints
from omnihook.webhooks.catalog import (
    BY_FIELD,
    INTEGRATION_SETTINGS,
    ROCKETCHAT_ENDPOINT_ID,
    EventType,
    IntegrationSetting,
)
from omnihook.webhooks.endpoints import EndpointConfig, enabled_again, endpoint_config
from omnihook.webhooks.payloads import dumps, sample_payload
from omnihook.webhooks.ssrf import TargetRefused, check_url
from omnihook.webhooks.transport import Outcome, Transport

ENDPOINTS_CHANNEL = "omnihook_endpoints"
SEND_TEST_BODY_SHOWN = 300  # characters of the receiver's answer quoted in a failed Send Test
ROCKETCHAT_MAX_IN_FLIGHT = 64
SECRET_MASK = "********"
SECRET_SHOWN = 4  # characters of a secret's end shown once it is set
SECRET_SHOWN_FROM = 12  # shorter secrets show none of theirs


def mask_secret_value(secret: str | None) -> str:
    """A secret as everyone sees it after it was set: the mask and at most its last four characters."""
    if not secret:
        return ""
    if len(secret) < SECRET_SHOWN_FROM:
        return SECRET_MASK
    return SECRET_MASK + secret[-SECRET_SHOWN:]


def is_masked(value: str, secret: str | None) -> bool:
    """Whether a value sent back is the mask of the stored secret (a client saving what it read)."""
    return bool(secret) and value == mask_secret_value(secret)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, message, error_type="invalid-params")


def validate_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The changes of a POST omnichannel/integrations body, keyed by setting id; 400 on anything wrong."""
    unknown = sorted(k for k in body if k not in BY_FIELD)
    if unknown:
        raise _invalid(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(BY_FIELD)}")
    changes: dict[str, Any] = {}
    for field, value in body.items():
        setting = BY_FIELD[field]
        if setting.kind == "secret" and value is None:
            continue  # not given: the secret is kept (an empty string clears it)
        changes[setting.setting_id] = _coerce(setting, value)
    return changes


def _coerce(setting: IntegrationSetting, value: Any) -> Any:
    name = setting.field
    if setting.kind in ("url", "secret"):
        if value is None:
            return ""
        if not isinstance(value, str):
            raise _invalid(f"{name} must be a string")
        value = value.strip()
        if setting.kind == "url" and value:
            if len(value) > 2048:
                raise _invalid(f"{name} is longer than 2048 characters")
            scheme = value.split(":", 1)[0].lower()
            if scheme not in ("http", "https") or "://" not in value:
                raise _invalid(f"{name} must be an http:// or https:// URL, got {value!r}")
        return value
    if setting.kind == "bool":
        if not isinstance(value, bool):
            raise _invalid(f"{name} must be true or false")
        return value
    # int
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)  # JSON's 1e999 and NaN
        or int(value) != value
    ):
        raise _invalid(f"{name} must be a whole number")
    number = int(value)
    if setting.minimum is not None and number < setting.minimum:
        raise _invalid(f"{name} must be at least {setting.minimum}, got {number}")
    if setting.maximum is not None and number > setting.maximum:
        raise _invalid(f"{name} must be at most {setting.maximum}, got {number}")
    return number


async def read_integration_settings(conn: AsyncConnection) -> dict[str, Any]:
    """Every integration setting by id, defaults filled in."""
    stored = await read_settings(conn, [s.setting_id for s in INTEGRATION_SETTINGS])
    return {s.setting_id: stored.get(s.setting_id, s.default) for s in INTEGRATION_SETTINGS}


def settings_json(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `settings` array of GET livechat/integrations.settings, in Rocket.Chat's ISetting shape."""
    types = {"url": "string", "secret": "string", "int": "int", "bool": "boolean"}
    return [
        {
            "_id": s.setting_id,
            # Secrets are write-only: once set, only their mask is read back.
            "value": mask_secret_value(values[s.setting_id]) if s.kind == "secret" else values[s.setting_id],
            "type": types[s.kind],
            "packageValue": s.default,
            "group": "Omnichannel",
            "section": "CRM_Integration",
            "i18nLabel": s.i18n_label,
            "public": False,
            "secret": s.kind == "secret",
        }
        for s in INTEGRATION_SETTINGS
    ]


def endpoint_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The Rocket.Chat-format endpoint row that the integration settings describe."""
    url = str(values["Livechat_webhookUrl"] or "")
    subscribed = [
        s.subscribes for s in INTEGRATION_SETTINGS if s.subscribes is not None and bool(values[s.setting_id])
    ]
    # LivechatEdit has no toggle: Rocket.Chat sends it whenever a URL is set.
    subscribed.append(EventType.EDIT.value)
    return {
        "name": "Rocket.Chat CRM integration",
        "url": url,
        "format": "rocketchat",
        "secret": str(values["Livechat_secret_token"] or "") or None,
        "enabled": bool(url),
        "event_types": subscribed,
        "timeout_ms": int(values["Livechat_http_timeout"]),
        "max_retries": int(values["Livechat_webhook_retries"]),
        "retry_delay_ms": int(values["Livechat_webhook_retry_delay"]),
        "ordered": True,
    }


async def sync_rocketchat_endpoint(conn: AsyncConnection, values: Mapping[str, Any]) -> None:
    row = endpoint_values(values)
    now = utcnow()
    exists = (
        await conn.execute(
            select(webhook_endpoints.c.enabled).where(webhook_endpoints.c.id == ROCKETCHAT_ENDPOINT_ID)
        )
    ).first()
    if exists:
        await conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == ROCKETCHAT_ENDPOINT_ID)
            .values(**row, updated_at=now)
        )
        if row["enabled"] and not exists.enabled:
            # Saved with a URL after it was disabled (for failing): enabled again, its held deliveries sent.
            await enabled_again(conn, ROCKETCHAT_ENDPOINT_ID, now)
    else:
        await conn.execute(
            webhook_endpoints.insert().values(
                id=ROCKETCHAT_ENDPOINT_ID,
                max_in_flight=ROCKETCHAT_MAX_IN_FLIGHT,
                created_at=now,
                updated_at=now,
                **row,
            )
        )
    await notify_endpoints_changed(conn)


async def notify_endpoints_changed(conn: AsyncConnection) -> None:
    """Inside the transaction that changed `webhook_endpoints`: other processes drop their cache on commit."""
    await notify(conn, ENDPOINTS_CHANNEL)


async def save_integration_settings(
    db: Database,
    body: Mapping[str, Any],
    *,
    allow_private_targets: bool,
    on_change: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Validate and store the given settings (all or nothing); returns every setting afterwards."""
    changes = validate_changes(body)
    url = changes.get("Livechat_webhookUrl")
    if url:
        try:
            await check_url(url, allow_private=allow_private_targets)
        except TargetRefused as exc:
            raise _invalid(f"LivechatWebhookUrl refused: {exc}") from exc
    async with db.transaction() as uow:
        stored = await read_integration_settings(uow.conn)
        for setting in INTEGRATION_SETTINGS:
            sent = changes.get(setting.setting_id)
            if (
                setting.kind == "secret"
                and isinstance(sent, str)
                and is_masked(sent, stored[setting.setting_id])
            ):
                del changes[setting.setting_id]  # the mask sent back unchanged keeps the secret
        await write_settings(uow.conn, changes)
        values = await read_integration_settings(uow.conn)
        await sync_rocketchat_endpoint(uow.conn, values)
    if on_change is not None:
        on_change()
    return values


async def current_integration_settings(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        return await read_integration_settings(conn)


async def send_test(db: Database, transport: Transport) -> Outcome:
    """Send Test: the sample LivechatSession payload, once, to the saved URL with the token."""
    values = await current_integration_settings(db)
    if not values["Livechat_webhookUrl"]:
        raise InvalidInput(
            "Webhook_URL_not_set", "save a webhook URL first", error_type="Webhook_URL_not_set"
        )
    endpoint = endpoint_from_values(values)
    now = utcnow()
    request = endpoint.format.request(
        endpoint,
        delivery_id=f"test_{new_id(24)}",
        event_type=EventType.SESSION.value,
        created_at=now,
        payload_json=dumps(sample_payload()),
        now=now,
    )
    outcome = await transport.send(request)
    if outcome.status_code != 200:
        what = f"status {outcome.status_code}" if outcome.status_code is not None else outcome.error
        details = f"the webhook answered {what}; a 200 is expected"
        if outcome.body:
            # The start of the answer is what tells a person why their endpoint refused.
            start = outcome.body[:SEND_TEST_BODY_SHOWN]
            details += f". Start of its answer: {start}{'…' if len(outcome.body) > len(start) else ''}"
        raise InvalidInput(
            "error-invalid-webhook-response", details, error_type="error-invalid-webhook-response"
        )
    return outcome


def endpoint_from_values(values: Mapping[str, Any]) -> EndpointConfig:
    return endpoint_config(
        ROCKETCHAT_ENDPOINT_ID, {**endpoint_values(values), "max_in_flight": ROCKETCHAT_MAX_IN_FLIGHT}
    )
