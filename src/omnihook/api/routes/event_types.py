"""The event catalog: every event type omnihook sends, with the JSON Schema of its payload in each format
and an example of each."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query

from omnihook.api import shapes
from omnihook.api.openapi import answers
from omnihook.domain.clock import utcnow
from omnihook.domain.errors import InvalidInput, NotFound
from omnihook.webhooks.catalog import INTEGRATION_SETTINGS, SUBSCRIPTION_KEYS, EventType
from omnihook.webhooks.examples import example_payload
from omnihook.webhooks.payloads import dumps, standard_body
from omnihook.webhooks.schemas import (
    DESCRIPTIONS,
    FORMAT_NAMES,
    rocketchat_schema,
    schema_for,
    standard_schema,
)

router = APIRouter(prefix="/api/v1/omnihook/event-types", tags=["event catalog"])

# The Rocket.Chat setting that turns each type on for the CRM integration (LivechatEdit has none).
_TOGGLES = {s.subscribes: s.setting_id for s in INTEGRATION_SETTINGS if s.subscribes is not None}


def _entry(kind: EventType) -> dict[str, Any]:
    toggles = [setting for key, setting in _TOGGLES.items() if key.split(".")[0] == kind.value]
    example = example_payload(kind, utcnow())
    envelope = standard_body(kind.value, utcnow(), dumps(example))
    return {
        "type": kind.value,
        "description": DESCRIPTIONS[kind],
        "rocketChatSettings": toggles,
        "subscriptionKeys": sorted(k for k in SUBSCRIPTION_KEYS if k.split(".")[0] == kind.value),
        "schemas": {"rocketchat": rocketchat_schema(kind), "standard": standard_schema(kind)},
        "examples": {"rocketchat": example, "standard": orjson.loads(envelope)},
    }


@router.get("", responses=answers(shapes.EventTypesAnswer))
async def list_event_types() -> dict[str, Any]:
    """Public: the shapes of the payloads are no secret, and a CRM developer needs them without a login."""
    return {"eventTypes": [_entry(kind) for kind in EventType], "success": True}


@router.get(
    "/{event_type}/schema",
    responses=answers(dict[str, Any], 404, description="The JSON Schema (2020-12) of the body"),
)
async def event_type_schema(
    event_type: str, format: str = Query(default="rocketchat", description="rocketchat or standard")
) -> dict[str, Any]:
    try:
        kind = EventType(event_type)
    except ValueError:
        raise NotFound("error-invalid-event-type", f"no event type {event_type!r}") from None
    if format not in FORMAT_NAMES:
        raise InvalidInput("error-invalid-format", f"format: one of {list(FORMAT_NAMES)}")
    return schema_for(kind, format)
