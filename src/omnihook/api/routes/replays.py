"""Bulk replay jobs (admins and managers): send again every delivery matching a filter, or backfill an
endpoint with the events stored since a time; list, read and cancel the jobs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from typing_extensions import TypedDict

from omnihook.domain.errors import InvalidInput
from omnihook.http.deps import DB, Manager
from omnihook.webhooks import replay_jobs as jobs
from omnihook.webhooks.runtime import WebhookRuntime

router = APIRouter(prefix="/api/v1/omnihook/replays", tags=["replays"])

# --- the answers, for the OpenAPI document only ---------------------------------------------------


class ReplayFilter(TypedDict, total=False):
    status: Annotated[str, Field(description="dead (the default), delivered or any")]
    type: str
    roomId: str
    endpointId: str
    since: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    until: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    q: Annotated[str, Field(description="a delivery id, a room id or text in the payload")]


class ReplayJob(TypedDict):
    _id: str
    kind: Literal["replay", "backfill"]
    status: Literal["running", "finished", "cancelled"]
    filter: ReplayFilter
    backfillTo: Annotated[str | None, Field(description="the endpoint a backfill sends to")]
    ratePerSecond: Annotated[int, Field(description="deliveries released a second, per endpoint")]
    total: Annotated[int, Field(description="deliveries (a backfill: events) the job sends")]
    replayed: Annotated[int, Field(description="released so far")]
    skipped: Annotated[
        int, Field(description="no longer replayable when reached: pending again, endpoint deleted")
    ]
    waiting: int
    inFlight: Annotated[int, Field(description="released, not yet tried")]
    endpoints: Annotated[dict[str, int], Field(description="endpoint id -> deliveries of the job")]
    cursor: Annotated[dict[str, int], Field(description="endpoint id -> last position released")]
    createdBy: str
    cancelledBy: str | None
    runner: Annotated[str | None, Field(description="the process running it")]
    createdAt: str
    updatedAt: str
    finishedAt: str | None


class JobAnswer(TypedDict):
    job: ReplayJob
    success: Literal[True]


class JobsAnswer(TypedDict):
    jobs: list[ReplayJob]
    count: int
    success: Literal[True]


class DryRunAnswer(TypedDict):
    dryRun: Literal[True]
    matching: int
    success: Literal[True]


class ErrorAnswer(TypedDict):
    success: Literal[False]
    error: str
    errorType: str


LISTING_PARAMETERS = frozenset({"status", "count"})


@router.post(
    "",
    status_code=201,
    responses={
        201: {"model": JobAnswer, "description": "The job, started"},
        200: {"model": DryRunAnswer, "description": "dryRun: how many deliveries would be sent"},
        400: {"model": ErrorAnswer},
        404: {"model": ErrorAnswer, "description": "backfillTo names no endpoint"},
    },
)
async def create_replay(
    request: Request,
    user: Manager,
    db: DB,
    body: Annotated[
        Any,
        Body(
            description="{filter: {status, type, roomId, endpointId, since, until, q}, ratePerSecond, "
            "backfillTo, dryRun}; status is dead unless given (delivered, any)",
        ),
    ] = None,
) -> Any:
    asked = jobs.parse_request(body)
    if asked.dry_run:
        matching = await jobs.count_matching(db, asked)
        return JSONResponse({"dryRun": True, "matching": matching, "success": True})
    job = await jobs.create_job(db, asked, created_by=user.username, created_by_id=user.id)
    runtime: WebhookRuntime = request.app.state.webhooks
    runtime.replays_changed()
    return JSONResponse({"job": job, "success": True}, status_code=201)


@router.get("", responses={200: {"model": JobsAnswer}, 400: {"model": ErrorAnswer}})
async def list_replays(
    request: Request, _: Manager, db: DB, status: str | None = None, count: int = 50
) -> dict[str, Any]:
    unknown = sorted(set(request.query_params) - LISTING_PARAMETERS)
    if unknown:
        raise InvalidInput(
            f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(LISTING_PARAMETERS))}",
            error_type="invalid-params",
        )
    found = await jobs.list_jobs(db, count=count, status=status or None)
    return {"jobs": found, "count": len(found), "success": True}


@router.get("/{job_id}", responses={200: {"model": JobAnswer}, 404: {"model": ErrorAnswer}})
async def get_replay(job_id: str, _: Manager, db: DB) -> dict[str, Any]:
    return {"job": await jobs.get_job(db, job_id), "success": True}


@router.post(
    "/{job_id}/cancel",
    responses={
        200: {"model": JobAnswer},
        400: {"model": ErrorAnswer, "description": "the job has finished or was cancelled"},
        404: {"model": ErrorAnswer},
    },
)
async def cancel_replay(job_id: str, user: Manager, db: DB) -> dict[str, Any]:
    return {"job": await jobs.cancel_job(db, job_id, by=user.username), "success": True}
