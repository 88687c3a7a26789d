"""The delivery log (view-livechat-webhooks: admins and managers by default), Prometheus metrics and the
health check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from omnihook.api import shapes
from omnihook.api.errors import RETRY_AFTER_SECONDS
from omnihook.api.openapi import answers
from omnihook.domain.errors import InvalidInput
from omnihook.http.deps import DB, WebhooksViewer
from omnihook.webhooks import deliveries as log
from omnihook.webhooks import metrics
from omnihook.webhooks.endpoint_service import disabled_counts
from omnihook.webhooks.runtime import WebhookRuntime

router = APIRouter(tags=["deliveries"])
# Far beyond any real log, and within a 64-bit integer on both dialects.
MAX_OFFSET = 2**53


LISTING_PARAMETERS = frozenset(
    {"status", "type", "roomId", "endpointId", "since", "until", "q", "offset", "count", "before"}
)


@router.get("/api/v1/omnihook/deliveries", responses=answers(shapes.DeliveriesPage))
async def list_deliveries(
    request: Request,
    _: WebhooksViewer,
    db: DB,
    status: str | None = None,
    type: str | None = None,
    roomId: str | None = None,
    endpointId: str | None = None,
    since: Annotated[
        datetime | None, Query(description="created at or after (ISO 8601; UTC if no zone)")
    ] = None,
    until: Annotated[datetime | None, Query(description="created before (ISO 8601; UTC if no zone)")] = None,
    q: Annotated[str | None, Query(description="a delivery id, a room id, or text in the payload")] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    count: int = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_OFFSET, description="nextCursor of the previous page")
    ] = None,
) -> dict[str, Any]:
    unknown = sorted(set(request.query_params) - LISTING_PARAMETERS)
    if unknown:
        raise InvalidInput(
            f"unknown filter(s) {', '.join(unknown)}; known: {', '.join(sorted(LISTING_PARAMETERS))}",
            error_type="invalid-params",
        )
    where = log.DeliveryFilter(
        status=status or None,
        event_type=type or None,
        room_id=roomId or None,
        endpoint_id=endpointId or None,
        since=since,
        until=until,
        search=q or None,
    )
    listing = await log.list_deliveries(db, where, offset=offset, count=count, before=before)
    return {**listing, "success": True}


@router.get("/api/v1/omnihook/deliveries/{delivery_id}", responses=answers(shapes.DeliveryAnswer, 404))
async def get_delivery(delivery_id: str, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    return {"delivery": await log.get_delivery(db, delivery_id), "success": True}


@router.post(
    "/api/v1/omnihook/deliveries/{delivery_id}/redeliver", responses=answers(shapes.DeliveryAnswer, 404)
)
async def redeliver(delivery_id: str, request: Request, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    delivery = await log.redeliver(db, delivery_id)
    runtime: WebhookRuntime = request.app.state.webhooks
    runtime.wake()
    return {"delivery": delivery, "success": True}


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(db: DB) -> Response:
    async with db.engine.connect() as conn:
        metrics.PENDING.set(await log.count_pending(conn))
        disabled, held = await disabled_counts(conn)
        metrics.DISABLED_ENDPOINTS.set(disabled)
        metrics.HELD.set(held)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/health",
    responses={
        200: {"model": shapes.Health, "description": "The database answers"},
        503: {
            "model": shapes.Health,
            "description": "The database is unreachable; `Retry-After` says when to ask",
        },
    },
)
async def health(request: Request, db: DB) -> Response:
    runtime: WebhookRuntime = request.app.state.webhooks
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse(
            {"status": "error", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse(
        {"status": "ok", "database": "ok", "dispatcher": "running" if runtime.dispatcher else "off"}
    )
