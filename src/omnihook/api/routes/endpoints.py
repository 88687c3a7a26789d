"""omnihook's native webhook endpoints (admins and managers): many URLs, Standard Webhooks signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, Request

from omnihook.http.deps import DB, AppSettings, WebhooksViewer
from omnihook.webhooks import endpoint_service as service
from omnihook.webhooks.runtime import WebhookRuntime

router = APIRouter(prefix="/api/v1/omnihook/endpoints", tags=["endpoints"])


def _changed(request: Request) -> Callable[[], None]:
    runtime: WebhookRuntime = request.app.state.webhooks
    return runtime.endpoints_changed


def _enqueued(request: Request) -> Callable[[], None]:
    runtime: WebhookRuntime = request.app.state.webhooks
    return runtime.wake


@router.get("")
async def list_endpoints(_: WebhooksViewer, db: DB) -> dict[str, Any]:
    endpoints = await service.list_endpoints(db)
    return {"endpoints": endpoints, "count": len(endpoints), "success": True}


@router.post("")
async def create_endpoint(
    request: Request, _: WebhooksViewer, db: DB, settings: AppSettings, body: Any = Body(default=None)
) -> dict[str, Any]:
    endpoint = await service.create_endpoint(
        db, body, allow_private_targets=settings.allow_private_targets, on_change=_changed(request)
    )
    return {"endpoint": endpoint, "success": True}


@router.get("/stats")
async def endpoint_stats(_: WebhooksViewer, db: DB) -> dict[str, Any]:
    """Each endpoint's attempts over the last 24 hours: count, success rate, p50/p99 duration (ms)."""
    return {**await service.endpoint_stats(db), "success": True}


@router.get("/{endpoint_id}")
async def get_endpoint(endpoint_id: str, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    return {"endpoint": await service.get_endpoint(db, endpoint_id), "success": True}


@router.patch("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: str,
    request: Request,
    _: WebhooksViewer,
    db: DB,
    settings: AppSettings,
    body: Any = Body(default=None),
) -> dict[str, Any]:
    endpoint = await service.update_endpoint(
        db,
        endpoint_id,
        body,
        allow_private_targets=settings.allow_private_targets,
        on_change=_changed(request),
    )
    return {"endpoint": endpoint, "success": True}


@router.delete("/{endpoint_id}")
async def delete_endpoint(endpoint_id: str, request: Request, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    await service.delete_endpoint(db, endpoint_id, on_change=_changed(request))
    return {"success": True}


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_secret(
    endpoint_id: str, request: Request, _: WebhooksViewer, db: DB, body: Any = Body(default=None)
) -> dict[str, Any]:
    endpoint = await service.rotate_secret(db, endpoint_id, body, on_change=_changed(request))
    return {"endpoint": endpoint, "success": True}


@router.post("/{endpoint_id}/send-example")
async def send_example(
    endpoint_id: str, request: Request, _: WebhooksViewer, db: DB, body: Any = Body(default=None)
) -> dict[str, Any]:
    """Enqueue a delivery of a sample payload of `eventType` to this endpoint only (in the delivery log)."""
    delivery = await service.send_example(db, endpoint_id, body, on_enqueued=_enqueued(request))
    return {"delivery": delivery, "success": True}
