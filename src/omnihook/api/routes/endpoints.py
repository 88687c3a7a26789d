"""omnihook's native webhook endpoints (admins and managers): many URLs, Standard Webhooks signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, NotRequired

from fastapi import APIRouter, Body, Request
from pydantic import Field
from typing_extensions import TypedDict

from omnihook.api import shapes
from omnihook.api.openapi import answers, raw_body
from omnihook.http.deps import DB, AppSettings, WebhooksViewer
from omnihook.webhooks import endpoint_service as service
from omnihook.webhooks.runtime import WebhookRuntime

router = APIRouter(prefix="/api/v1/omnihook/endpoints", tags=["endpoints"])

# The bodies, for the OpenAPI document only: endpoint_service reads the raw JSON and refuses, field by
# field, what does not fit (its messages name the field and the bounds).
EventTypeKey = Annotated[str, Field(description="an event type, or Message.visitor / Message.agent")]


Name = Annotated[str, Field(min_length=1, max_length=200)]
Url = Annotated[str, Field(max_length=2048, pattern="^https?://", description="refused if private")]
EventTypeKeys = Annotated[list[EventTypeKey], Field(min_length=1)]
Secret = Annotated[str, Field(pattern="^whsec_", description="whsec_ and 24 to 64 bytes in base64")]


class EndpointSettings(TypedDict, total=False):
    """The retry fields are those of the endpoint's format (the others are refused)."""

    format: Literal["standard", "rocketchat"]
    timeoutMs: Annotated[int, Field(ge=100, le=60_000)]
    maxInFlight: Annotated[int, Field(ge=1, le=256, description="requests at once")]
    ordered: Annotated[bool, Field(description="a chat's events wait for the one before")]
    enabled: bool
    maxRetries: Annotated[int, Field(ge=0, le=100, description="rocketchat format")]
    retryDelayMs: Annotated[int, Field(ge=10, le=86_400_000, description="rocketchat format")]
    retrySchedule: Annotated[
        list[Annotated[int, Field(ge=1, le=604_800)]],
        Field(min_length=1, max_length=20, description="standard format: seconds after each failure"),
    ]


class EndpointChange(EndpointSettings, total=False):
    """The fields to change; the others stay."""

    name: Name
    url: Url
    eventTypes: EventTypeKeys


class EndpointCreate(EndpointSettings):
    name: Name
    url: Url
    eventTypes: EventTypeKeys
    secret: NotRequired[Annotated[Secret, Field(description="left out: one is generated")]]


class SecretRotation(TypedDict, total=False):
    secret: Annotated[Secret, Field(description="empty: one is generated")]


class ExampleRequest(TypedDict):
    eventType: EventTypeKey


def _changed(request: Request) -> Callable[[], None]:
    runtime: WebhookRuntime = request.app.state.webhooks
    return runtime.endpoints_changed


def _enqueued(request: Request) -> Callable[[], None]:
    runtime: WebhookRuntime = request.app.state.webhooks
    return runtime.wake


@router.get("", responses=answers(shapes.EndpointsAnswer))
async def list_endpoints(_: WebhooksViewer, db: DB) -> dict[str, Any]:
    endpoints = await service.list_endpoints(db)
    return {"endpoints": endpoints, "count": len(endpoints), "success": True}


@router.post(
    "",
    responses=answers(
        shapes.EndpointAnswer, description="The endpoint, with its whole secret: shown this once"
    ),
    openapi_extra=raw_body("EndpointCreate", EndpointCreate),
)
async def create_endpoint(
    request: Request, _: WebhooksViewer, db: DB, settings: AppSettings, body: Any = Body(default=None)
) -> dict[str, Any]:
    endpoint = await service.create_endpoint(
        db, body, allow_private_targets=settings.allow_private_targets, on_change=_changed(request)
    )
    return {"endpoint": endpoint, "success": True}


@router.get("/stats", responses=answers(shapes.EndpointStats))
async def endpoint_stats(_: WebhooksViewer, db: DB) -> dict[str, Any]:
    """Each endpoint's attempts over the last 24 hours: count, success rate, p50/p99 duration (ms)."""
    return {**await service.endpoint_stats(db), "success": True}


@router.get("/{endpoint_id}", responses=answers(shapes.EndpointAnswer, 404))
async def get_endpoint(endpoint_id: str, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    return {"endpoint": await service.get_endpoint(db, endpoint_id), "success": True}


@router.patch(
    "/{endpoint_id}",
    responses=answers(shapes.EndpointAnswer, 404),
    openapi_extra=raw_body("EndpointChange", EndpointChange),
)
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


@router.delete("/{endpoint_id}", responses=answers(shapes.Done, 404))
async def delete_endpoint(endpoint_id: str, request: Request, _: WebhooksViewer, db: DB) -> dict[str, Any]:
    await service.delete_endpoint(db, endpoint_id, on_change=_changed(request))
    return {"success": True}


@router.post(
    "/{endpoint_id}/rotate-secret",
    responses=answers(
        shapes.EndpointAnswer, 404, description="The endpoint, with its new secret: shown this once"
    ),
    openapi_extra=raw_body("SecretRotation", SecretRotation),
)
async def rotate_secret(
    endpoint_id: str, request: Request, _: WebhooksViewer, db: DB, body: Any = Body(default=None)
) -> dict[str, Any]:
    endpoint = await service.rotate_secret(db, endpoint_id, body, on_change=_changed(request))
    return {"endpoint": endpoint, "success": True}


@router.post(
    "/{endpoint_id}/send-example",
    responses=answers(shapes.ExampleSent, 404),
    openapi_extra=raw_body("ExampleRequest", ExampleRequest),
)
async def send_example(
    endpoint_id: str, request: Request, _: WebhooksViewer, db: DB, body: Any = Body(default=None)
) -> dict[str, Any]:
    """Enqueue a delivery of a sample payload of `eventType` to this endpoint only (in the delivery log)."""
    delivery = await service.send_example(db, endpoint_id, body, on_enqueued=_enqueued(request))
    return {"delivery": delivery, "success": True}
