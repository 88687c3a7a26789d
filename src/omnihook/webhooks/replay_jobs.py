"""Bulk replay jobs: what an operator asks for, and the jobs as the API, the page and the CLI show them.

A replay job sends again every delivery that matches a filter (dead ones unless another status is
asked for), each once; a backfill creates deliveries of the events stored since a time for an endpoint
created after them (sent in that endpoint's format, like any of its deliveries). What a job sends is
fixed when it is created (`replay_job_items`); `replay_runner` releases it, throttled per endpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import iso, utcnow
from omnihook.domain.errors import Conflict, InvalidInput, NotFound
from omnihook.domain.ids import new_id
from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, replay_job_items, replay_jobs, webhook_endpoints
from omnihook.webhooks.catalog import AGENT_MESSAGE, VISITOR_MESSAGE, EventType
from omnihook.webhooks.deliveries import DeliveryFilter

DEFAULT_RATE = 50  # deliveries a second per endpoint: far below what live traffic gets
MAX_RATE = 1000
MAX_LISTED = 100
FILTER_FIELDS = ("status", "type", "roomId", "endpointId", "since", "until", "q")
BODY_FIELDS = ("filter", "ratePerSecond", "backfillTo", "dryRun")
# Which deliveries a replay may send again: a pending one is being sent anyway.
REPLAY_STATUSES = ("dead", "delivered", "any")
MESSAGE_KEYS = (EventType.MESSAGE.value, VISITOR_MESSAGE, AGENT_MESSAGE)


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, message, error_type="invalid-params")


@dataclass(frozen=True, kw_only=True)
class JobRequest:
    """A checked request: the job to create (or, with `dry_run`, to count)."""

    filter: dict[str, str]  # as given, in the API's names; stored with the job
    where: DeliveryFilter
    rate: int
    backfill_to: str | None = None
    dry_run: bool = False

    @property
    def kind(self) -> str:
        return "backfill" if self.backfill_to is not None else "replay"


def _time(field: str, value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise _invalid(f"filter.{field} must be an ISO 8601 time, got {value!r}") from exc


def delivery_filter(given: Mapping[str, str], *, backfill: bool = False) -> DeliveryFilter:
    """The DeliveryFilter of a job's stored filter (status "any": every status but pending)."""
    status = given.get("status", "any" if backfill else "dead")
    return DeliveryFilter(
        status=None if status == "any" else status,
        event_type=given.get("type"),
        room_id=given.get("roomId"),
        endpoint_id=given.get("endpointId"),
        since=_time("since", given["since"]) if "since" in given else None,
        until=_time("until", given["until"]) if "until" in given else None,
        search=given.get("q"),
    )


def parse_filter(value: Any, *, backfill: bool = False) -> dict[str, str]:
    """The filter object of a request, checked: known fields, strings, a replayable status."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise _invalid("filter must be an object")
    unknown = sorted(k for k in value if k not in FILTER_FIELDS)
    if unknown:
        raise _invalid(f"unknown filter(s) {', '.join(unknown)}; known: {', '.join(FILTER_FIELDS)}")
    given: dict[str, str] = {}
    for key, item in value.items():
        if item is None or item == "":
            continue  # an empty form field filters nothing
        if not isinstance(item, str):
            raise _invalid(f"filter.{key} must be a string")
        given[key] = item.strip()
    if backfill:
        for key in ("status", "endpointId"):
            if key in given:
                raise _invalid(
                    f"filter.{key} does not apply to a backfill: it sends every stored event the "
                    "endpoint subscribes to"
                )
        if "since" not in given:
            raise _invalid("a backfill needs filter.since: the events from that time on are sent")
    elif given.get("status", "dead") not in REPLAY_STATUSES:
        raise _invalid(
            f"filter.status must be one of {', '.join(REPLAY_STATUSES)}: a pending delivery is being "
            "sent already"
        )
    for bound in ("since", "until"):
        if bound in given:  # stored as the API shows times: in UTC, with the zone (none given: UTC)
            parsed = _time(bound, given[bound])
            given[bound] = iso(parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC))
    delivery_filter(given, backfill=backfill)  # the DeliveryFilter's own refusals
    return given


def parse_request(body: Any) -> JobRequest:
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise _invalid("the body must be a JSON object")
    unknown = sorted(k for k in body if k not in BODY_FIELDS)
    if unknown:
        raise _invalid(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(BODY_FIELDS)}")
    backfill_to = body.get("backfillTo")
    if backfill_to is not None and (not isinstance(backfill_to, str) or not backfill_to.strip()):
        raise _invalid("backfillTo must be an endpoint id")
    rate = body.get("ratePerSecond", DEFAULT_RATE)
    if (
        isinstance(rate, bool)
        or not isinstance(rate, int | float)
        or not math.isfinite(rate)
        or int(rate) != rate
        or not 1 <= rate <= MAX_RATE
    ):
        raise _invalid(f"ratePerSecond must be a whole number from 1 to {MAX_RATE} (per endpoint)")
    dry_run = body.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise _invalid("dryRun must be true or false")
    given = parse_filter(body.get("filter"), backfill=backfill_to is not None)
    return JobRequest(
        filter=given,
        where=delivery_filter(given, backfill=backfill_to is not None),
        rate=int(rate),
        backfill_to=backfill_to.strip() if backfill_to is not None else None,
        dry_run=dry_run,
    )


# --- what a job matches ---------------------------------------------------------------------------


def _live_endpoint() -> Any:
    return select(webhook_endpoints.c.id).where(webhook_endpoints.c.deleted_at.is_(None))


def replay_conditions(where: DeliveryFilter) -> list[Any]:
    """The deliveries a replay sends again: the filter's, never a pending one or one of a deleted endpoint."""
    return [
        *where.conditions(),
        deliveries.c.status != "pending",
        deliveries.c.endpoint_id.in_(_live_endpoint()),
    ]


def subscribed_types(event_types: list[str]) -> set[str]:
    """The payload types an endpoint subscribed to `event_types` receives."""
    types = {t for t in event_types if t not in MESSAGE_KEYS}
    if any(t in MESSAGE_KEYS for t in event_types):
        types.add(EventType.MESSAGE.value)
    return types


def backfill_conditions(where: DeliveryFilter, endpoint_id: str, event_types: list[str]) -> list[Any]:
    """Deliveries of events the endpoint subscribes to and has no delivery of (so a backfill run twice
    sends nothing twice). Which author of a Message it wants is checked at release."""
    other = deliveries.alias("other")
    return [
        *where.conditions(),
        deliveries.c.event_type.in_(sorted(subscribed_types(event_types))),
        ~exists().where(other.c.event_id == deliveries.c.event_id, other.c.endpoint_id == endpoint_id),
    ]


async def _backfill_target(conn: AsyncConnection, endpoint_id: str) -> Any:
    row = (
        await conn.execute(
            select(webhook_endpoints).where(
                webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.deleted_at.is_(None)
            )
        )
    ).first()
    if row is None:
        raise NotFound("error-endpoint-not-found", f"no webhook endpoint {endpoint_id!r}")
    if not row.enabled:
        raise Conflict("error-endpoint-disabled", "the endpoint is disabled: enable it to backfill it")
    return row


async def _count(conn: AsyncConnection, request: JobRequest) -> int:
    if request.backfill_to is None:
        query = select(func.count()).select_from(deliveries).where(*replay_conditions(request.where))
    else:
        target = await _backfill_target(conn, request.backfill_to)
        conditions = backfill_conditions(request.where, target.id, list(target.event_types or ()))
        query = select(func.count(func.distinct(deliveries.c.event_id))).where(*conditions)
    return int((await conn.execute(query)).scalar_one())


async def count_matching(db: Database, request: JobRequest) -> int:
    """How many deliveries the job would send (a dry run)."""
    async with db.engine.connect() as conn:
        return await _count(conn, request)


# --- jobs -----------------------------------------------------------------------------------------


async def create_job(
    db: Database, request: JobRequest, *, created_by: str, created_by_id: str | None = None
) -> dict[str, Any]:
    """Record the job and what it sends, in one transaction; a process running jobs starts it."""
    job_id = new_id()
    now = utcnow()
    async with db.transaction() as uow:
        conn = uow.conn
        await conn.execute(
            insert(replay_jobs).values(
                id=job_id,
                kind=request.kind,
                status="running",
                filter=request.filter,
                backfill_endpoint_id=request.backfill_to,
                rate_per_second=request.rate,
                total=0,
                replayed=0,
                skipped=0,
                endpoints={},
                cursors={},
                created_by=created_by[:120],
                created_by_id=created_by_id,
                created_at=now,
                updated_at=now,
            )
        )
        if request.backfill_to is None:
            chosen = select(
                literal(job_id, String),
                deliveries.c.seq,
                deliveries.c.endpoint_id,
                deliveries.c.event_id,
                deliveries.c.id,
                literal("waiting", String),
            ).where(*replay_conditions(request.where))
        else:
            target = await _backfill_target(conn, request.backfill_to)
            conditions = backfill_conditions(request.where, target.id, list(target.event_types or ()))
            # One item an event (its first delivery's seq gives the order), no delivery yet.
            chosen = (
                select(
                    literal(job_id, String),
                    func.min(deliveries.c.seq),
                    literal(target.id, String),
                    deliveries.c.event_id,
                    literal(None, String),
                    literal("waiting", String),
                )
                .where(*conditions)
                .group_by(deliveries.c.event_id)
            )
        columns = ["job_id", "seq", "endpoint_id", "event_id", "delivery_id", "state"]
        await conn.execute(insert(replay_job_items).from_select(columns, chosen))
        per_endpoint = {
            row.endpoint_id: int(row.n)
            for row in await conn.execute(
                select(replay_job_items.c.endpoint_id, func.count().label("n"))
                .where(replay_job_items.c.job_id == job_id)
                .group_by(replay_job_items.c.endpoint_id)
            )
        }
        total = sum(per_endpoint.values())
        await conn.execute(
            update(replay_jobs)
            .where(replay_jobs.c.id == job_id)
            .values(
                total=total,
                endpoints=per_endpoint,
                cursors={e: 0 for e in per_endpoint},
                # Nothing to send: done at once.
                status="running" if total else "finished",
                finished_at=None if total else now,
            )
        )
    return await get_job(db, job_id)


async def _in_flight(conn: AsyncConnection, job_ids: list[str]) -> dict[str, int]:
    if not job_ids:
        return {}
    rows = await conn.execute(
        select(replay_job_items.c.job_id, func.count().label("n"))
        .where(replay_job_items.c.job_id.in_(job_ids), replay_job_items.c.state == "sent")
        .group_by(replay_job_items.c.job_id)
    )
    return {r.job_id: int(r.n) for r in rows}


def job_json(row: Any, in_flight: int = 0) -> dict[str, Any]:
    waiting = max(0, row.total - row.replayed - row.skipped)
    return {
        "_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "filter": dict(row.filter),
        "backfillTo": row.backfill_endpoint_id,
        "ratePerSecond": row.rate_per_second,
        "total": row.total,
        "replayed": row.replayed,
        "skipped": row.skipped,
        "waiting": waiting if row.status == "running" else 0,
        "inFlight": in_flight,
        "endpoints": dict(row.endpoints),
        "cursor": dict(row.cursors),
        "createdBy": row.created_by,
        "cancelledBy": row.cancelled_by,
        "runner": row.lease_owner if row.status == "running" else None,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "finishedAt": iso(row.finished_at) if row.finished_at is not None else None,
    }


async def get_job(db: Database, job_id: str) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(replay_jobs).where(replay_jobs.c.id == job_id))).first()
        if row is None:
            raise NotFound("error-replay-not-found", f"no replay job {job_id!r}")
        return job_json(row, (await _in_flight(conn, [job_id])).get(job_id, 0))


async def list_jobs(db: Database, *, count: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    """Newest first."""
    if not 1 <= count <= MAX_LISTED:
        raise _invalid(f"count must be between 1 and {MAX_LISTED}")
    if status is not None and status not in ("running", "finished", "cancelled"):
        raise _invalid("status must be one of running, finished, cancelled")
    query = select(replay_jobs).order_by(replay_jobs.c.created_at.desc(), replay_jobs.c.id.desc())
    if status is not None:
        query = query.where(replay_jobs.c.status == status)
    async with db.engine.connect() as conn:
        rows = list(await conn.execute(query.limit(count)))
        flying = await _in_flight(conn, [r.id for r in rows if r.status == "running"])
    return [job_json(r, flying.get(r.id, 0)) for r in rows]


async def cancel_job(db: Database, job_id: str, *, by: str) -> dict[str, Any]:
    """Release nothing more; what was released already is sent as usual."""
    now = utcnow()
    async with db.transaction() as uow:
        changed = await uow.conn.execute(
            update(replay_jobs)
            .where(and_(replay_jobs.c.id == job_id, replay_jobs.c.status == "running"))
            .values(
                status="cancelled",
                cancelled_by=by[:120],
                finished_at=now,
                updated_at=now,
                lease_owner=None,
                lease_until=None,
            )
        )
        if changed.rowcount != 1:
            row = (
                await uow.conn.execute(select(replay_jobs.c.status).where(replay_jobs.c.id == job_id))
            ).first()
            if row is None:
                raise NotFound("error-replay-not-found", f"no replay job {job_id!r}")
            raise Conflict("error-replay-not-running", f"the replay job is {row.status} already")
    return await get_job(db, job_id)
