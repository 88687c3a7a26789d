"""The event catalog: every event type omnihook sends, with the JSON Schema of its payload in each format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Query

from omnihook.domain.errors import InvalidInput, NotFound
from omnihook.webhooks.catalog import INTEGRATION_SETTINGS, EventType
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
    return {
        "type": kind.value,
        "description": DESCRIPTIONS[kind],
        "rocketChatSettings": toggles,
        "schemas": {"rocketchat": rocketchat_schema(kind), "standard": standard_schema(kind)},
    }


@router.get("")
async def list_event_types() -> dict[str, Any]:
    """Public: the shapes of the payloads are no secret, and a CRM developer needs them without a login."""
    return {"eventTypes": [_entry(kind) for kind in EventType], "success": True}


@router.get("/{event_type}/schema")
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


def publish_in_openapi(app: FastAPI) -> None:
    """List every event type in the OpenAPI document's `webhooks` section, once per format."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema["webhooks"] = {
                name: {
                    "post": {
                        "summary": name,
                        "description": DESCRIPTIONS[kind],
                        "tags": ["event catalog"],
                        "requestBody": {"content": {"application/json": {"schema": body}}},
                        "responses": {"200": {"description": "received (anything else is retried)"}},
                    }
                }
                for kind in EventType
                for name, body in (
                    (kind.value, rocketchat_schema(kind)),
                    (f"{kind.value} (Standard Webhooks)", standard_schema(kind)),
                )
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
