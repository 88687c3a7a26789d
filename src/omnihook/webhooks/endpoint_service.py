"""The native webhook endpoints (many URLs, Standard Webhooks signatures): create, read, change, delete,
rotate the secret, send an example, and each endpoint's health over the last 24 hours.

Each change runs in one transaction, tells other processes (NOTIFY) and this one (`on_change`) that the
endpoints changed. The `rocketchat` row is shown but not changed here: the CRM integration settings own it.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import iso, utcnow
from omnihook.domain.errors import Conflict, InvalidInput, NotFound
from omnihook.domain.ids import new_id
from omnihook.storage.database import Database
from omnihook.storage.notify import notify
from omnihook.storage.tables import deliveries, delivery_attempts, webhook_endpoints, webhook_events
from omnihook.webhooks.catalog import (
    AGENT_MESSAGE,
    ROCKETCHAT_ENDPOINT_ID,
    SUBSCRIPTION_KEYS,
    VISITOR_MESSAGE,
    EventType,
)
from omnihook.webhooks.endpoints import enabled_again, endpoint_from_row, held_deliveries
from omnihook.webhooks.examples import EXAMPLE_TYPES, example_payload
from omnihook.webhooks.formats import FORMAT_NAMES
from omnihook.webhooks.outbox import DELIVERIES_CHANNEL, delivery_row, event_row
from omnihook.webhooks.payloads import dumps
from omnihook.webhooks.settings import mask_secret_value, notify_endpoints_changed
from omnihook.webhooks.ssrf import TargetRefused, check_url

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
ROTATION_GRACE = timedelta(hours=24)  # how long the replaced secret still signs
MAX_URL = 2048
MAX_RETRY_STEPS = 20
MAX_RETRY_STEP_S = 7 * 24 * 3600

OnChange = Callable[[], None] | None


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, message, error_type="invalid-params")


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def mask_secret(secret: str | None) -> str | None:
    """A secret once set: its `whsec_` prefix (not secret) and at most its last four characters."""
    if not secret:
        return None
    if secret.startswith(SECRET_PREFIX):
        return SECRET_PREFIX + mask_secret_value(secret[len(SECRET_PREFIX) :])
    return mask_secret_value(secret)


# --- validation -----------------------------------------------------------------------------------


def _string(field: str, value: Any, *, maximum: int) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{field} must be a string")
    text = value.strip()
    if not text:
        raise _invalid(f"{field} must not be empty")
    if len(text) > maximum:
        raise _invalid(f"{field} is longer than {maximum} characters")
    return text


def _whole(field: str, value: Any, minimum: int, maximum: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)  # JSON's 1e999 and NaN
        or int(value) != value
    ):
        raise _invalid(f"{field} must be a whole number")
    number = int(value)
    if not minimum <= number <= maximum:
        raise _invalid(f"{field} must be between {minimum} and {maximum}, got {number}")
    return number


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(f"{field} must be true or false")
    return value


def _url(field: str, value: Any) -> str:
    url = _string(field, value, maximum=MAX_URL)
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https") or "://" not in url:
        raise _invalid(f"{field} must be an http:// or https:// URL, got {url!r}")
    return url


def _retry_schedule(field: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RETRY_STEPS:
        raise _invalid(f"{field} must be a list of 1 to {MAX_RETRY_STEPS} delays in seconds")
    return [_whole(f"{field}[{n}]", step, 1, MAX_RETRY_STEP_S) for n, step in enumerate(value)]


def _format(field: str, value: Any) -> str:
    if value not in FORMAT_NAMES:
        raise _invalid(f"{field} must be one of {', '.join(FORMAT_NAMES)}")
    return str(value)


def _event_types(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _invalid(
            f"{field} must be a non-empty list of event types: {', '.join(sorted(SUBSCRIPTION_KEYS))}"
        )
    unknown = sorted({v for v in value if v not in SUBSCRIPTION_KEYS})
    if unknown:
        raise _invalid(
            f"{field}: unknown event type(s) {', '.join(unknown)}; known: {', '.join(sorted(SUBSCRIPTION_KEYS))}"
        )
    return sorted(set(value))


def validate_secret(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(SECRET_PREFIX):
        raise _invalid(
            f"{field} must be {SECRET_PREFIX} followed by base64, as Standard Webhooks secrets are"
        )
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid(f"{field}: what follows {SECRET_PREFIX} is not valid base64") from exc
    if not SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise _invalid(f"{field} must encode {SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, got {len(key)}")
    return value


# camelCase field -> (column, coercion). Bounds of the Rocket.Chat-format retry fields are the settings'.
_FIELDS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "name": ("name", lambda f, v: _string(f, v, maximum=200)),
    "url": ("url", _url),
    "format": ("format", _format),
    "eventTypes": ("event_types", _event_types),
    "timeoutMs": ("timeout_ms", lambda f, v: _whole(f, v, 100, 60_000)),
    "maxInFlight": ("max_in_flight", lambda f, v: _whole(f, v, 1, 256)),
    "ordered": ("ordered", _bool),
    "enabled": ("enabled", _bool),
    "maxRetries": ("max_retries", lambda f, v: _whole(f, v, 0, 100)),
    "retryDelayMs": ("retry_delay_ms", lambda f, v: _whole(f, v, 10, 86_400_000)),
    "retrySchedule": ("retry_schedule", _retry_schedule),
}
# The retry fields each format uses: the others are refused rather than stored and ignored.
RETRY_FIELDS = {"rocketchat": ("maxRetries", "retryDelayMs"), "standard": ("retrySchedule",)}
DEFAULTS: dict[str, Any] = {
    "format": "standard",
    "timeout_ms": 15_000,
    "max_in_flight": 16,
    "ordered": True,
    "enabled": True,
    "max_retries": 10,
    "retry_delay_ms": 10_000,
}
REQUIRED = ("name", "url", "eventTypes")


def _check_retry_fields(body: Mapping[str, Any], format_name: str) -> None:
    for other, fields in RETRY_FIELDS.items():
        given = [f for f in fields if f in body]
        if other != format_name and given:
            uses = " and ".join(RETRY_FIELDS[format_name])
            raise _invalid(
                f"{', '.join(given)}: not used by the {format_name} format, which retries by {uses}"
            )


def _changes(body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    allowed = set(_FIELDS) | ({"secret"} if creating else set())
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        hint = "; the secret is changed with rotate-secret" if "secret" in unknown else ""
        raise _invalid(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}{hint}")
    if creating:
        missing = [f for f in REQUIRED if body.get(f) is None]
        if missing:
            raise _invalid(f"missing field(s) {', '.join(missing)}")
    values: dict[str, Any] = {}
    for field, value in body.items():
        if field == "secret":
            if value is not None:
                values["secret"] = validate_secret(field, value)
            continue
        column, coerce = _FIELDS[field]
        values[column] = coerce(field, value)
    return values


async def _guard(url: str | None, allow_private_targets: bool) -> None:
    if url is None:
        return
    try:
        await check_url(url, allow_private=allow_private_targets)
    except TargetRefused as exc:
        raise _invalid(f"url refused: {exc}") from exc


# --- presentation ---------------------------------------------------------------------------------


def endpoint_json(row: Any, *, reveal_secret: bool = False, held: int = 0) -> dict[str, Any]:
    expires = row.previous_secret_expires_at
    rotating = bool(row.previous_secret) and expires is not None and utcnow() < expires
    return {
        "_id": row.id,
        "name": row.name,
        "url": row.url,
        "format": row.format,
        "eventTypes": list(row.event_types or ()),
        "timeoutMs": row.timeout_ms,
        "maxInFlight": row.max_in_flight,
        "ordered": bool(row.ordered),
        "enabled": bool(row.enabled),
        **endpoint_from_row(row).format.policy.describe(),  # the retry fields of its format
        "secret": row.secret if reveal_secret else mask_secret(row.secret),
        "previousSecretExpiresAt": iso(expires) if rotating else None,
        "managedByIntegrationSettings": row.id == ROCKETCHAT_ENDPOINT_ID,
        "disabledReason": row.disabled_reason,
        # Since when every attempt has failed (null: the last one succeeded, or none was made).
        "failingSince": iso(row.failing_since) if row.failing_since is not None else None,
        # Deliveries written while it is disabled wait here, sent in order once it is enabled again.
        "heldDeliveries": held,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


# --- use cases ------------------------------------------------------------------------------------


async def _row(conn: AsyncConnection, endpoint_id: str) -> Any:
    row = (
        await conn.execute(
            select(webhook_endpoints).where(
                webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None)
            )
        )
    ).first()
    if row is None:
        raise NotFound("error-endpoint-not-found", f"no webhook endpoint {endpoint_id!r}")
    return row


def _refuse_managed(endpoint_id: str, what: str) -> None:
    if endpoint_id == ROCKETCHAT_ENDPOINT_ID:
        raise Conflict(
            "error-endpoint-managed",
            f"cannot {what} the {ROCKETCHAT_ENDPOINT_ID!r} endpoint: it follows the CRM integration "
            "settings (POST /api/v1/omnichannel/integrations)",
        )


def _body(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise _invalid("the body must be a JSON object")
    return body


async def create_endpoint(
    db: Database, body: Any, *, allow_private_targets: bool, on_change: OnChange = None
) -> dict[str, Any]:
    """A new endpoint; the answer is the only one, with rotate-secret's, that shows the whole secret."""
    given = _body(body)
    values = {**DEFAULTS, **_changes(given, creating=True)}
    _check_retry_fields(given, values["format"])
    values.setdefault("secret", new_secret())
    await _guard(values["url"], allow_private_targets)
    endpoint_id = new_id()
    now = utcnow()
    async with db.transaction() as uow:
        await uow.conn.execute(
            webhook_endpoints.insert().values(id=endpoint_id, created_at=now, updated_at=now, **values)
        )
        await notify_endpoints_changed(uow.conn)
        row = await _row(uow.conn, endpoint_id)
    if on_change is not None:
        on_change()
    return endpoint_json(row, reveal_secret=True)


async def list_endpoints(db: Database) -> list[dict[str, Any]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(webhook_endpoints)
            .where(webhook_endpoints.c.deleted_at.is_(None))
            .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.id)
        )
        listed = list(rows)
        held = await held_deliveries(conn, [r.id for r in listed if not r.enabled])
        return [endpoint_json(r, held=held.get(r.id, 0)) for r in listed]


async def get_endpoint(db: Database, endpoint_id: str) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        return await _endpoint_view(conn, await _row(conn, endpoint_id))


async def _endpoint_view(conn: AsyncConnection, row: Any) -> dict[str, Any]:
    held = 0 if row.enabled else (await held_deliveries(conn, [row.id])).get(row.id, 0)
    return endpoint_json(row, held=held)


def _only_enabling(endpoint_id: str, given: Mapping[str, Any]) -> bool:
    """The one change the managed `rocketchat` endpoint takes here: enabling it again after it was
    disabled for failing (disabling it is clearing its URL in the integration settings)."""
    return endpoint_id == ROCKETCHAT_ENDPOINT_ID and dict(given) == {"enabled": True}


async def update_endpoint(
    db: Database, endpoint_id: str, body: Any, *, allow_private_targets: bool, on_change: OnChange = None
) -> dict[str, Any]:
    """Change the given fields only. Disabling pauses: new deliveries are held, not dropped; enabling
    again sends them, in order."""
    given = _body(body)
    values = _changes(given, creating=False)
    await _guard(values.get("url"), allow_private_targets)
    async with db.transaction() as uow:
        row = await _row(uow.conn, endpoint_id)
        if not _only_enabling(endpoint_id, given):
            _refuse_managed(endpoint_id, "change")
        if endpoint_id == ROCKETCHAT_ENDPOINT_ID and not row.url:
            raise Conflict("error-endpoint-no-url", "set the integration's URL on the Webhooks page first")
        _check_retry_fields(given, values.get("format", row.format))
        if values:
            now = utcnow()
            await uow.conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(**values, updated_at=now)
            )
            if values.get("enabled") and not row.enabled:
                await enabled_again(uow.conn, endpoint_id, now)
            await notify_endpoints_changed(uow.conn)
        row = await _row(uow.conn, endpoint_id)
        view = await _endpoint_view(uow.conn, row)
    if values and on_change is not None:
        on_change()
    return view


async def delete_endpoint(db: Database, endpoint_id: str, *, on_change: OnChange = None) -> None:
    """Stop sending to the endpoint; its delivery log stays readable, its pending deliveries die."""
    async with db.transaction() as uow:
        await _row(uow.conn, endpoint_id)
        _refuse_managed(endpoint_id, "delete")
        now = utcnow()
        await uow.conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(deleted_at=now, enabled=False, updated_at=now)
        )
        await uow.conn.execute(
            update(deliveries)
            .where(deliveries.c.endpoint_id == endpoint_id, deliveries.c.status == "pending")
            .values(status="dead", last_error="the endpoint was deleted", updated_at=now)
        )
        await notify_endpoints_changed(uow.conn)
    if on_change is not None:
        on_change()


async def rotate_secret(
    db: Database, endpoint_id: str, body: Any, *, on_change: OnChange = None
) -> dict[str, Any]:
    """A new secret (given, or generated); the replaced one still signs for ROTATION_GRACE."""
    given = _body(body if body is not None else {})
    unknown = sorted(k for k in given if k != "secret")
    if unknown:
        raise _invalid(f"unknown field(s) {', '.join(unknown)}; known: secret")
    secret = validate_secret("secret", given["secret"]) if given.get("secret") is not None else new_secret()
    async with db.transaction() as uow:
        row = await _row(uow.conn, endpoint_id)
        _refuse_managed(endpoint_id, "rotate the secret of")
        now = utcnow()
        await uow.conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id)
            .values(
                secret=secret,
                previous_secret=row.secret,
                previous_secret_expires_at=now + ROTATION_GRACE if row.secret else None,
                updated_at=now,
            )
        )
        await notify_endpoints_changed(uow.conn)
        row = await _row(uow.conn, endpoint_id)
    if on_change is not None:
        on_change()
    return endpoint_json(row, reveal_secret=True)


async def send_example(
    db: Database, endpoint_id: str, body: Any, *, on_enqueued: OnChange = None
) -> dict[str, Any]:
    """Enqueue a delivery of `body["eventType"]`'s sample payload to this endpoint only.

    It is a delivery like any other (signed, retried, in the delivery log), of an event that belongs
    to no room: it waits behind no chat and writes no crmData. `Message.visitor` / `Message.agent`
    send a Message written by the visitor or the agent.
    """
    given = _body(body)
    unknown = sorted(k for k in given if k != "eventType")
    if unknown:
        raise _invalid(f"unknown field(s) {', '.join(unknown)}; known: eventType")
    key = given.get("eventType")
    if not isinstance(key, str) or key not in SUBSCRIPTION_KEYS:
        raise _invalid(f"eventType must be one of {', '.join(sorted(SUBSCRIPTION_KEYS))}")
    kind = EventType.MESSAGE if key in (VISITOR_MESSAGE, AGENT_MESSAGE) else EventType(key)
    now = utcnow()
    async with db.transaction() as uow:
        row = await _row(uow.conn, endpoint_id)
        if kind not in EXAMPLE_TYPES[row.format]:
            raise _invalid(f"the {row.format} format does not send {kind.value}")
        if not row.enabled:
            raise Conflict(
                "error-endpoint-disabled", "the endpoint is disabled: enable it to send an example"
            )
        event_id = new_id()
        payload = example_payload(kind, now, by_agent=key == AGENT_MESSAGE)
        await uow.conn.execute(
            insert(webhook_events), event_row(event_id, kind.value, None, dumps(payload), now)
        )
        # The rows the outbox writes for an event of no room (its own ordering key).
        delivery = delivery_row(event_id, endpoint_id, kind.value, None, ordered=False, now=now)
        await uow.conn.execute(insert(deliveries), delivery)
        delivery_id = delivery["id"]
        await notify(uow.conn, DELIVERIES_CHANNEL, endpoint_id)  # wake a dispatcher in any process
    if on_enqueued is not None:
        on_enqueued()
    return {"_id": delivery_id, "eventId": event_id, "endpointId": endpoint_id, "type": kind.value}


# --- health ---------------------------------------------------------------------------------------

STATS_WINDOW = timedelta(hours=24)


def _succeeded() -> Any:
    """An attempt that succeeded by its endpoint's format: 200 exactly (Rocket.Chat), any 2xx (standard)."""
    code = delivery_attempts.c.status_code
    return or_(
        and_(webhook_endpoints.c.format == "rocketchat", code == 200),
        and_(webhook_endpoints.c.format != "rocketchat", code >= 200, code < 300),
    )


async def endpoint_stats(db: Database) -> dict[str, Any]:
    """Per endpoint, the attempts started in the last 24 hours: how many, how many succeeded, and the
    median and 99th percentile of their durations (nearest rank); nulls where there was no attempt.

    One query, one pass over the window's attempts: each attempt is numbered by duration within its
    endpoint, and only the two at the percentiles' ranks come back, with their endpoint's counts."""
    since = utcnow() - STATS_WINDOW
    endpoint = deliveries.c.endpoint_id
    ranked = (
        select(
            endpoint.label("endpoint_id"),
            delivery_attempts.c.duration_ms,
            func.row_number()
            .over(partition_by=endpoint, order_by=(delivery_attempts.c.duration_ms, delivery_attempts.c.id))
            .label("position"),
            func.count().over(partition_by=endpoint).label("attempts"),
            func.sum(case((_succeeded(), 1), else_=0)).over(partition_by=endpoint).label("succeeded"),
        )
        .select_from(delivery_attempts)
        .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
        .join(webhook_endpoints, webhook_endpoints.c.id == endpoint)
        .where(delivery_attempts.c.started_at >= since, webhook_endpoints.c.deleted_at.is_(None))
        .subquery()
    )
    # nearest rank ceil(p * n), in integers: (n * P + 99) // 100 for P percent
    p50_rank = (ranked.c.attempts * 50 + 99) // 100
    p99_rank = (ranked.c.attempts * 99 + 99) // 100
    async with db.engine.connect() as conn:
        endpoints = list(
            await conn.execute(select(webhook_endpoints.c.id).where(webhook_endpoints.c.deleted_at.is_(None)))
        )
        picked = list(
            await conn.execute(
                select(ranked).where(or_(ranked.c.position == p50_rank, ranked.c.position == p99_rank))
            )
        )
    stats: dict[str, Any] = {
        endpoint_id: {
            "attempts": 0,
            "succeeded": 0,
            "failed": 0,
            "successRate": None,
            "p50Ms": None,
            "p99Ms": None,
        }
        for (endpoint_id,) in endpoints
    }
    for row in picked:
        entry = stats.get(row.endpoint_id)
        if entry is None:
            continue  # created or deleted between the two statements
        attempts, succeeded = int(row.attempts), int(row.succeeded or 0)
        entry.update(
            attempts=attempts,
            succeeded=succeeded,
            failed=attempts - succeeded,
            successRate=succeeded / attempts,
        )
        if row.position == (attempts * 50 + 99) // 100:
            entry["p50Ms"] = int(row.duration_ms)
        if row.position == (attempts * 99 + 99) // 100:
            entry["p99Ms"] = int(row.duration_ms)
    return {"since": iso(since), "windowHours": STATS_WINDOW // timedelta(hours=1), "endpoints": stats}


async def disabled_counts(conn: AsyncConnection) -> tuple[int, int]:
    """How many endpoints are disabled (not deleted), and how many deliveries they hold."""
    off = and_(
        webhook_endpoints.c.enabled.is_(False),
        webhook_endpoints.c.deleted_at.is_(None),
        webhook_endpoints.c.url != "",  # the Rocket.Chat integration with no URL is off, not disabled
    )
    endpoints = (
        await conn.execute(select(func.count()).select_from(webhook_endpoints).where(off))
    ).scalar_one()
    held = (
        await conn.execute(
            select(func.count())
            .select_from(deliveries)
            .join(webhook_endpoints, webhook_endpoints.c.id == deliveries.c.endpoint_id)
            .where(deliveries.c.status == "pending", off)
        )
    ).scalar_one()
    return int(endpoints), int(held)
