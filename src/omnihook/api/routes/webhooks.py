"""Rocket.Chat's CRM integration endpoints: save and read the settings, Send Test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from omnihook.domain.errors import InvalidInput
from omnihook.http.deps import DB, AppSettings, Manager, WebhooksViewer
from omnihook.webhooks import settings as integration
from omnihook.webhooks.runtime import WebhookRuntime

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


def runtime_of(request: Request) -> WebhookRuntime:
    runtime: WebhookRuntime = request.app.state.webhooks
    return runtime


@router.post("/omnichannel/integrations")
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


@router.get("/livechat/integrations.settings")
async def integration_settings(_: Manager, db: DB) -> dict[str, Any]:
    values = await integration.current_integration_settings(db)
    return {"settings": integration.settings_json(values), "success": True}


@router.post("/livechat/webhook.test")
async def webhook_test(request: Request, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    await integration.send_test(db, runtime_of(request).transport)
    return {"success": True}
