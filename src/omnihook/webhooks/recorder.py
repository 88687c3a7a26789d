"""Outcomes to rows, and rows to the database so that no row can spoil the others and none is lost.

`outcome_rows` is pure: every text taken from a receiver (headers, body, errors, the crmData answer)
is made storable there, before it reaches SQL. `Recorder.record` writes a batch in one transaction;
a batch that fails is written row by row, and a row that still fails is recorded as a failed attempt
carrying the error. When even that fails, or the database is unreachable, the results are held and
written later (the dispatcher claims nothing meanwhile), so a database restart loses no result and
causes no second send.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.exc import InterfaceError, OperationalError

from omnihook.domain.clock import utcnow
from omnihook.livechat.crm import CRM_DATA_CAP, save_crm_answers
from omnihook.storage.availability import database_unavailable
from omnihook.storage.storable import storable_headers, storable_text
from omnihook.webhooks import metrics
from omnihook.webhooks.auto_disable import AutoDisable
from omnihook.webhooks.delivery_news import DeliveryNews
from omnihook.webhooks.queue_store import Claimed, Finished, OutcomeRows, QueueStore, Retried
from omnihook.webhooks.retry import Dead, Delivered, RetryAt
from omnihook.webhooks.scheduler import ChainPlan, Extension
from omnihook.webhooks.sender import Result, decide
from omnihook.webhooks.transport import Outcome

log = logging.getLogger("omnihook.webhooks.recorder")

ATTEMPT_BODY_CAP = 4096  # response body kept with each attempt
ERROR_CAP = 2000


class Chainer(Protocol):
    """Which next rows to take in the same transaction: where a room's run finished, the room's next run;
    where a run being sent asked for more (an extension), the rows behind it."""

    def chain(self, finished: list[Claimed]) -> ChainPlan: ...

    def lease_ends(self, endpoint_ids: Iterable[str], now: datetime) -> dict[str, datetime]: ...

    def take_extensions(self) -> list[Extension]: ...

    def extension_room(self, extension: Extension) -> int: ...

    def extended(self, extension: Extension, rows: list[Claimed]) -> None:
        """After the commit (rows leased), or with no rows when the transaction failed."""
        ...


def outcome_rows(batch: list[Result]) -> tuple[OutcomeRows, dict[str, str]]:
    """The rows a batch of results writes, and the crmData answers (room -> body); all storable."""
    rows = OutcomeRows()
    answers: dict[str, str] = {}
    for result in batch:
        item, outcome, decision, endpoint = result.item, result.outcome, result.decision, result.endpoint
        if outcome is None or decision is None or endpoint is None:
            rows.released.append(item.seq)
            continue
        number = item.attempts + 1
        error = storable_text(outcome.error, ERROR_CAP) if outcome.error else None
        body = storable_text(outcome.body, ATTEMPT_BODY_CAP) if outcome.body is not None else None
        rows.attempts.append(
            {
                "delivery_id": item.id,
                "attempt_no": number,
                "started_at": outcome.started_at,
                "duration_ms": outcome.duration_ms,
                "status_code": outcome.status_code,
                "error": error,
                "request_headers": result.request_headers,
                # Kept for failures, where they explain something (Retry-After, a proxy's error).
                "response_headers": (storable_headers(outcome.headers) or None)
                if not isinstance(decision, Delivered)
                else None,
                "response_body": body,
            }
        )
        summary = error or _status_error(outcome)
        if isinstance(decision, Delivered):
            rows.delivered.append(Finished(item.seq, number, outcome.status_code, None))
            if endpoint.format.writes_crm_data and item.room_id and outcome.body is not None:
                answers[item.room_id] = storable_text(outcome.body, CRM_DATA_CAP)  # the last one wins
        elif isinstance(decision, RetryAt):
            rows.retried.append(
                Retried(
                    item.seq,
                    number,
                    outcome.status_code,
                    summary,
                    decision.at,
                    item.endpoint_id,
                    item.ordering_key,
                )
            )
        elif isinstance(decision, Dead):
            why = storable_text(f"{summary} ({decision.reason})", ERROR_CAP)
            rows.dead.append(Finished(item.seq, number, outcome.status_code, why))
    return rows, answers


def unrecordable(result: Result, error: BaseException, now: datetime) -> Result:
    """The result as a failed attempt that carries only why its answer could not be stored."""
    assert result.endpoint is not None and result.outcome is not None
    answered = f" to an answer with status {result.outcome.status_code}" if result.outcome.status_code else ""
    failed = Outcome(
        started_at=result.outcome.started_at,
        duration_ms=result.outcome.duration_ms,
        error=f"the attempt{answered} could not be recorded: {type(error).__name__}: {error}",
    )
    return Result(
        item=result.item,
        endpoint=result.endpoint,
        outcome=failed,
        # A failure, whatever the status was: retried, or dead on schedule.
        decision=decide(result.endpoint, result.item, failed, now),
        request_headers={},
    )


def _status_error(outcome: Outcome) -> str | None:
    return f"HTTP {outcome.status_code}" if outcome.status_code is not None else None


def _unreachable(exc: BaseException) -> bool:
    """The database, not the row: nothing can be written until it is back. Wider than the API's test:
    any operational error (a locked SQLite file too) holds results rather than risk a second send."""
    return database_unavailable(exc) or isinstance(exc, OperationalError | InterfaceError | OSError)


class Recorder:
    def __init__(
        self,
        store: QueueStore,
        *,
        lease: timedelta,
        news: DeliveryNews | None = None,
        auto_disable: AutoDisable | None = None,
    ) -> None:
        self.store = store
        self.lease = lease
        self.news = news
        self.auto_disable = auto_disable or AutoDisable()
        self.held: list[Result] = []
        self._outage_logged = False

    @property
    def holding(self) -> bool:
        return bool(self.held)

    async def record(self, batch: list[Result], chain: Chainer) -> list[Claimed]:
        """Write `batch` (and whatever is held); returns the next deliveries of finished rooms, leased."""
        retrying = bool(self.held)
        results, self.held = self.held + batch, []
        if not results:
            return []
        try:
            if retrying:
                await self._keep_leases(results)
            chained = await self._write(results, chain)
        except Exception as exc:
            if _unreachable(exc):
                return self._hold(results, exc)
            log.warning(
                "recording %d webhook results failed (%s); recording them one by one", len(results), exc
            )
        else:
            self._recovered()
            return chained
        chained = []
        for n, result in enumerate(results):
            try:
                chained += await self._write([result], chain)
                continue
            except Exception as exc:
                if _unreachable(exc):
                    return chained + self._hold(results[n:], exc)
                error = exc
            try:
                if result.attempted:
                    chained += await self._write([unrecordable(result, error, utcnow())], chain)
                    log.warning(
                        "delivery %s: its attempt could not be recorded (%s); counted as failed",
                        result.item.id,
                        error,
                    )
                    continue
            except Exception as exc:
                error = exc
            if _unreachable(error) or not await self._reachable():
                return chained + self._hold(results[n:], error)
            # The database works, this row does not: left to its lease, which ends in a retry.
            log.error(
                "delivery %s could not be recorded at all (%s); it is sent again after its lease",
                result.item.id,
                error,
            )
        self._recovered()
        return chained

    async def _reachable(self) -> bool:
        try:
            async with self.store.transaction() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _write(self, results: list[Result], chain: Chainer) -> list[Claimed]:
        rows, answers = outcome_rows(results)
        now = utcnow()
        # Each extension asked for is answered by this transaction: with its rows once they are leased,
        # with none if it fails (the run then ends where it was).
        extensions = chain.take_extensions()
        taken: list[tuple[Extension, list[Claimed]]] = []
        changed = [r.item.id for r in results if r.attempted]
        try:
            async with self.store.transaction() as conn:
                await self.store.write(conn, rows, now)
                await save_crm_answers(conn, answers)
                await self.auto_disable.track(conn, results, now)
                if self.news is not None:
                    await self.news.before_commit(conn, changed)
                for extension in extensions:
                    room = chain.extension_room(extension)
                    until = chain.lease_ends([extension.endpoint_id], now)[extension.endpoint_id]
                    behind = await self.store.extend(conn, extension.last, room, until, now) if room else []
                    if not behind:
                        extension.last.ends_run = True  # nothing joins: its end chains the room's next run
                    taken.append((extension, behind))
                finished = [r.item for r in results if isinstance(r.decision, Delivered | Dead)]
                plan = chain.chain(finished) if finished else None
                chained = []
                if plan is not None and plan.keys:
                    ends = chain.lease_ends(plan.keys, now)
                    chained = await self.store.take_next(
                        conn, plan.keys, ends, now, wants=plan.wants, run_length=plan.run_length
                    )
        except BaseException:
            self.auto_disable.rolled_back()
            for extension in extensions:
                chain.extended(extension, [])
            raise
        self.auto_disable.committed()
        for extension, behind in taken:
            chain.extended(extension, behind)
        if self.news is not None:
            self.news.after_commit(changed)
        _count(results)
        return chained

    async def _keep_leases(self, results: list[Result]) -> None:
        """Held results' rows must not fall due while they wait: another dispatcher would send them again."""
        now = utcnow()
        short = [r.item for r in results if r.item.lease_until - now < self.lease / 2]
        if short:
            until = now + self.lease
            await self.store.extend_leases([i.seq for i in short], until, now)
            for item in short:
                item.lease_until = until

    def _hold(self, results: list[Result], exc: BaseException) -> list[Claimed]:
        self.held = results + self.held
        if not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "cannot record webhook results (%s); holding %d until the database is back", exc, len(results)
            )
        return []

    def _recovered(self) -> None:
        if self._outage_logged:
            self._outage_logged = False
            log.info("webhook results are recorded again")


def _count(results: list[Result]) -> None:
    # Labels are looked up once an endpoint a batch, not once a result.
    by_endpoint: dict[str, list[Result]] = {}
    for result in results:
        if result.attempted:
            assert result.endpoint is not None
            by_endpoint.setdefault(result.endpoint.id, []).append(result)
    for label, attempted in by_endpoint.items():
        seconds = metrics.ATTEMPT_SECONDS.labels(label)
        delivered = failed = dead = 0
        for result in attempted:
            assert result.outcome is not None
            seconds.observe(result.outcome.duration_ms / 1000)
            if isinstance(result.decision, Delivered):
                delivered += 1
            else:
                failed += 1
                dead += isinstance(result.decision, Dead)
        if delivered:
            metrics.DELIVERED.labels(label).inc(delivered)
        if failed:
            metrics.FAILED_ATTEMPTS.labels(label).inc(failed)
        if dead:
            metrics.DEAD.labels(label).inc(dead)
