"""Rocket.Chat's CRM integration endpoints: save and read the settings, Send Test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from omnihook.api import shapes
from omnihook.api.openapi import answers, raw_body
from omnihook.domain.errors import InvalidInput
from omnihook.http.deps import DB, AppSettings, Manager, WebhooksViewer
from omnihook.webhooks import settings as integration
from omnihook.webhooks.catalog import INTEGRATION_SETTINGS
from omnihook.webhooks.runtime import WebhookRuntime

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

_JSON_TYPES = {"url": ["string", "null"], "secret": ["string", "null"], "int": "integer", "bool": "boolean"}
# The body of POST omnichannel/integrations, for the OpenAPI document (settings.py validates the raw JSON).
INTEGRATION_CHANGES = {
    "type": "object",
    "description": "The CRM integration settings to change (Rocket.Chat's names); the others stay. A secret "
    "left out or null is kept, an empty one cleared, its mask sent back unchanged kept.",
    "properties": {
        s.field: {"type": _JSON_TYPES[s.kind], "description": s.setting_id, "default": s.default}
        for s in INTEGRATION_SETTINGS
    },
    "additionalProperties": False,
}


def runtime_of(request: Request) -> WebhookRuntime:
    runtime: WebhookRuntime = request.app.state.webhooks
    return runtime


@router.post(
    "/omnichannel/integrations",
    responses=answers(shapes.Done),
    openapi_extra=raw_body("IntegrationSettingsChange", INTEGRATION_CHANGES),
)
async def save_integrations(
    request: Request, _: WebhooksViewer, db: DB, settings: AppSettings, body: Any = Body(default=None)
) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", error_type="invalid-params")
    await integration.save_integration_settings(
        db,
        body,
        allow_private_targets=settings.allow_private_targets,
        on_change=runtime_of(request).endpoints_changed,
    )
    return {"success": True}


@router.get("/livechat/integrations.settings", responses=answers(shapes.IntegrationSettingsAnswer))
async def integration_settings(_: Manager, db: DB) -> dict[str, Any]:
    values = await integration.current_integration_settings(db)
    return {"settings": integration.settings_json(values), "success": True}


@router.post("/livechat/webhook.test", responses=answers(shapes.Done))
async def webhook_test(request: Request, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    await integration.send_test(db, runtime_of(request).transport)
    return {"success": True}
