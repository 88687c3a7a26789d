"""The dispatcher: claim due deliveries in batches, send them concurrently, record the outcomes.

- A claim round takes, for each endpoint with free slots, the due heads (oldest pending row of each
  ordering-key queue, i.e. of each room) in one transaction; on PostgreSQL with
  `FOR UPDATE SKIP LOCKED`, so any number of dispatchers share the table. Rows queued behind a head
  that waits for a retry wait with it, so the walk over due rows stays short.
- A claim is a lease: the row's `next_attempt_at` moves to the end of the lease, so if this process
  dies the row becomes due again and another dispatcher takes it. A claimed row is only sent while
  its lease outlasts the request timeout, so no two healthy dispatchers send the same delivery.
- Each endpoint has its own slots (`max_in_flight`), served by long-lived senders; a slow endpoint
  fills only its own slots, and is not claimed for again until it has news.
- Results are written in batches: one transaction records every attempt that finished meanwhile.
- Wake-ups: `wake()` after a commit that enqueued (naming the endpoints), NOTIFY on PostgreSQL, a
  poll every `poll_interval`; when nothing is due the loop sleeps until the next due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from omnihook.domain.clock import utcnow
from omnihook.domain.ids import new_id
from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, delivery_attempts, rooms, webhook_events
from omnihook.webhooks import metrics
from omnihook.webhooks.endpoints import EndpointCache, EndpointConfig
from omnihook.webhooks.outbox import DELIVERIES_CHANNEL
from omnihook.webhooks.retention import prune_delivered
from omnihook.webhooks.retry import Dead, Decision, Delivered, RetryAt, RetryPolicy, policy_for
from omnihook.webhooks.settings import ENDPOINTS_CHANNEL
from omnihook.webhooks.signing import build_request, recordable_headers
from omnihook.webhooks.transport import Outcome, Transport

log = logging.getLogger("omnihook.webhooks.dispatcher")

ATTEMPT_BODY_CAP = 4096  # response body kept with each attempt
CRM_DATA_CAP = 64 * 1024
LEASE_MARGIN = timedelta(seconds=2)
RESULT_BATCH = 64
RESULT_GATHER_S = 0.002
PRUNE_EVERY_S = 600


@dataclass(kw_only=True)
class Claimed:
    seq: int
    id: str
    endpoint_id: str
    event_type: str
    room_id: str | None
    ordering_key: str
    attempts: int
    budget_start: int
    lease_until: datetime
    event_created_at: datetime
    payload: str


@dataclass(kw_only=True)
class Result:
    item: Claimed
    endpoint: EndpointConfig
    outcome: Outcome | None  # None: released without an attempt
    decision: Decision | None
    request_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _EndpointState:
    queue: deque[Claimed] = field(default_factory=deque)
    in_flight: int = 0
    senders: int = 0
    # More may be due than was claimed: senders ask for a claim round as the queue runs low.
    backlogged: bool = False


class Dispatcher:
    def __init__(
        self,
        db: Database,
        transport: Transport,
        endpoints: EndpointCache,
        *,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 1.0,
        prefetch: int = 4,
        global_cap: int = 1024,
        retention: timedelta | None = None,
    ) -> None:
        self.db = db
        self.transport = transport
        self.endpoints = endpoints
        self.lease = lease
        self.poll_interval = poll_interval
        self.prefetch = prefetch
        self.global_cap = global_cap
        self.retention = retention
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id(8)}"
        self._state: dict[str, _EndpointState] = {}
        self._configs: dict[str, EndpointConfig] = {}
        self._policies: dict[str, tuple[EndpointConfig, RetryPolicy]] = {}
        self._wake = asyncio.Event()
        # Endpoints that may have something new to claim: a claim that came back short is not
        # repeated for an endpoint until it has news (a delivery for it, a result, a due time).
        self._dirty: set[str] = set()
        self._all_dirty = True
        self._results: list[Result] = []
        self._results_ready = asyncio.Event()
        self._sends: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._listener: Any = None

    # --- life cycle ---------------------------------------------------------------------------

    def wake(self, endpoint_ids: Iterable[str] | None = None) -> None:
        """Claim again: for these endpoints (new deliveries for them), or for every endpoint."""
        if endpoint_ids is None:
            self._all_dirty = True
        else:
            self._dirty.update(endpoint_ids)
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        if not self.db.is_sqlite:
            # Without statistics (a new or restored database, a burst before autovacuum has looked) the
            # planner guesses a handful of pending rows and runs the claim's queue-head test as a
            # quadratic join: 20,000 pending deliveries held a worker in one claim for minutes.
            async with self.db.engine.begin() as conn:
                await conn.execute(text("ANALYZE deliveries"))
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="webhook-claims"),
            asyncio.create_task(self._result_loop(), name="webhook-results"),
        ]
        if self.retention is not None:
            self._tasks.append(asyncio.create_task(self._prune_loop(self.retention), name="webhook-prune"))
        if not self.db.is_sqlite:
            self._tasks.append(asyncio.create_task(self._listen_loop(), name="webhook-listen"))

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming, let requests in flight finish (up to `grace` s), record them, release the rest."""
        self._stopping = True
        claim_and_listen = [t for t in self._tasks if t.get_name() != "webhook-results"]
        for task in claim_and_listen:
            task.cancel()
        for task in claim_and_listen:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._sends:
            _, late = await asyncio.wait(set(self._sends), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        unsent = [item for state in self._state.values() for item in state.queue]
        for state in self._state.values():
            state.queue.clear()
        self._results.extend(
            Result(item=i, endpoint=_placeholder(i.endpoint_id), outcome=None, decision=None) for i in unsent
        )
        self._results_ready.set()  # the result loop records what is left, then ends
        for task in self._tasks:
            if task.get_name() == "webhook-results":
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=10)
        self._tasks = []
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    # --- claiming -----------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            timeout = self.poll_interval
            try:
                timeout = await self._claim_round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("claiming deliveries failed; retrying shortly")
            if timeout > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    self._all_dirty = True  # the poll, or a retry or lease falling due
            else:
                await asyncio.sleep(0)

    async def _claim_round(self) -> float:
        """Claim what each endpoint has room for and start sending; returns how long to sleep."""
        async with self.db.engine.connect() as conn:
            endpoints = await self.endpoints.get(conn)
        self._configs = endpoints
        total_held = sum(len(s.queue) + s.in_flight for s in self._state.values())
        budget = self.global_cap - total_held
        rooms_free: dict[str, int] = {}
        dirty, all_dirty = self._dirty, self._all_dirty
        self._dirty, self._all_dirty = set(), False
        for endpoint in endpoints.values():
            if not endpoint.enabled or not (all_dirty or endpoint.id in dirty):
                continue
            state = self._state.setdefault(endpoint.id, _EndpointState())
            room = endpoint.max_in_flight * self.prefetch - len(state.queue) - state.in_flight
            if (state.queue and room < endpoint.max_in_flight // 2) or room <= 0:
                state.backlogged = True  # enough in hand for now: claim when the queue runs low
                continue
            rooms_free[endpoint.id] = room
        wants = fair_share(rooms_free, budget)
        sleep = self.poll_interval
        if not wants:
            return sleep
        now = utcnow()
        async with self.db.write_lock(), self.db.engine.begin() as conn:
            claimed = await self._claim(conn, wants, endpoints, now)
            counts: dict[str, int] = {}
            for item in claimed:
                counts[item.endpoint_id] = counts.get(item.endpoint_id, 0) + 1
            full = {e for e, want in wants.items() if counts.get(e, 0) >= want}
            # Where the walk ran out of due rows, what it stepped over waits behind a retrying head.
            await self._park_blocked(conn, [e for e in wants if e not in full], now)
            self._dirty.update(full)  # there may be more where a claim came back full
            for endpoint_id in wants:
                self._state[endpoint_id].backlogged = endpoint_id in full
            # Asks the budget could not meet stay dirty too.
            self._dirty.update(e for e in rooms_free if e not in wants)
            more = bool(full)
            if not more:
                next_due = await self._next_due(conn, now)
                if next_due is not None:
                    sleep = min(sleep, max(0.0, (next_due - now).total_seconds()))
        for item in claimed:
            self._state[item.endpoint_id].queue.append(item)
        for endpoint_id in self._state:
            self._pump(endpoint_id)
        return 0.0 if more else sleep

    async def _claim(
        self,
        conn: AsyncConnection,
        wants: dict[str, int],
        endpoints: dict[str, EndpointConfig],
        now: datetime,
    ) -> list[Claimed]:
        """One batch for every endpoint: the due heads of its queues, oldest first, up to its `want`."""
        params: dict[str, Any] = {"now": now}
        parts = []
        for n, (endpoint_id, want) in enumerate(wants.items()):
            params[f"e{n}"], params[f"w{n}"] = endpoint_id, want
            # Walk the endpoint's due rows oldest first; a row is a head when nothing older is pending
            # in its queue. Rows waiting behind a retrying head carry the head's retry time (see
            # `_record`), so the walk rarely steps over blocked rows. The literal status lets SQLite
            # use the partial indexes of pending rows.
            parts.append(
                f"""SELECT seq FROM (
                    SELECT d.seq FROM deliveries d
                    WHERE d.status = 'pending' AND d.endpoint_id = :e{n} AND d.next_attempt_at <= :now
                    AND NOT EXISTS (
                        SELECT 1 FROM deliveries p
                        WHERE p.status = 'pending' AND p.endpoint_id = d.endpoint_id
                        AND p.ordering_key = d.ordering_key AND p.seq < d.seq
                    )
                    ORDER BY d.next_attempt_at, d.seq LIMIT :w{n}
                ) AS c{n}"""
            )
        query = text(" UNION ALL ".join(parts)).bindparams(
            bindparam("now", type_=deliveries.c.next_attempt_at.type)
        )
        seqs = [row.seq for row in await conn.execute(query, params)]
        return await self._take(conn, seqs, endpoints, now)

    async def _park_blocked(self, conn: AsyncConnection, endpoint_ids: list[str], now: datetime) -> None:
        """Give due rows queued behind a head that waits for its retry that head's retry time.

        Rows that joined a queue after its head failed keep their creation time: every walk would step
        over them again, once a poll, which costs in proportion to the blocked backlog (a tenth of a core
        with 95,000 of them). Parked, walks skip them until the head is tried again; a head that is being
        sent (leased) parks nothing, so that its queue moves on as soon as it is delivered.
        """
        if not endpoint_ids:
            return
        listed = ", ".join(f":e{n}" for n in range(len(endpoint_ids)))

        def head(of: str) -> str:
            return f"""FROM deliveries h WHERE h.status = 'pending' AND h.endpoint_id = {of}.endpoint_id
                AND h.ordering_key = {of}.ordering_key ORDER BY h.seq LIMIT 1"""

        # On PostgreSQL only rows no one holds: another dispatcher's transaction is never waited for.
        lock = "" if self.db.is_sqlite else "FOR UPDATE SKIP LOCKED"
        query = text(
            f"""UPDATE deliveries SET next_attempt_at = (SELECT h.next_attempt_at {head("deliveries")})
            WHERE seq IN (
                SELECT d.seq FROM deliveries d
                WHERE d.status = 'pending' AND d.endpoint_id IN ({listed}) AND d.next_attempt_at <= :now
                AND d.lease_owner IS NULL
                AND (SELECT h.seq {head("d")}) < d.seq
                AND (SELECT h.lease_owner IS NULL AND h.next_attempt_at > :now {head("d")})
                {lock}
            )"""
        ).bindparams(bindparam("now", type_=deliveries.c.next_attempt_at.type))
        await conn.execute(query, {"now": now, **{f"e{n}": e for n, e in enumerate(endpoint_ids)}})

    async def _next_heads(
        self, conn: AsyncConnection, keys: dict[str, list[str]], now: datetime
    ) -> list[int]:
        """The due heads of the given queues (each endpoint's ordering keys), straight from the index."""
        params: dict[str, Any] = {"now": now}
        parts = []
        expanding: list[BindParameter[Any]] = []
        for n, (endpoint_id, endpoint_keys) in enumerate(keys.items()):
            params[f"e{n}"], params[f"k{n}"] = endpoint_id, endpoint_keys
            expanding.append(bindparam(f"k{n}", expanding=True))
            parts.append(
                f"""SELECT d.seq FROM deliveries d WHERE d.seq IN (
                    SELECT min(p.seq) FROM deliveries p
                    WHERE p.status = 'pending' AND p.endpoint_id = :e{n} AND p.ordering_key IN :k{n}
                    GROUP BY p.ordering_key
                ) AND d.next_attempt_at <= :now"""
            )
        query = text(" UNION ALL ".join(parts)).bindparams(
            bindparam("now", type_=deliveries.c.next_attempt_at.type), *expanding
        )
        return [row.seq for row in await conn.execute(query, params)]

    async def _take(
        self, conn: AsyncConnection, seqs: list[int], endpoints: dict[str, EndpointConfig], now: datetime
    ) -> list[Claimed]:
        """Lease the rows `seqs` (those still free) and load what sending them needs."""
        if not seqs:
            return []
        if not self.db.is_sqlite:
            # Another dispatcher may be claiming the same heads: keep only the rows locked here.
            locked = await conn.execute(
                select(deliveries.c.seq)
                .where(
                    deliveries.c.seq.in_(seqs),
                    deliveries.c.status == "pending",
                    deliveries.c.next_attempt_at <= now,
                )
                .with_for_update(skip_locked=True)
            )
            seqs = [row.seq for row in locked]
            if not seqs:
                return []
        rows = (
            await conn.execute(
                select(
                    deliveries.c.seq,
                    deliveries.c.id,
                    deliveries.c.endpoint_id,
                    deliveries.c.event_type,
                    deliveries.c.room_id,
                    deliveries.c.ordering_key,
                    deliveries.c.attempts,
                    deliveries.c.budget_start,
                    webhook_events.c.payload,
                    webhook_events.c.created_at,
                )
                .join(webhook_events, webhook_events.c.id == deliveries.c.event_id)
                .where(deliveries.c.seq.in_(seqs))
                .order_by(deliveries.c.next_attempt_at, deliveries.c.seq)
            )
        ).all()
        claimed = []
        for r in rows:
            timeout = timedelta(milliseconds=endpoints[r.endpoint_id].timeout_ms)
            # Long enough to wait `lease` in the local queue, then send with the full timeout and a margin.
            lease_until = now + self.lease + timeout + 2 * LEASE_MARGIN
            claimed.append(
                Claimed(
                    seq=r.seq,
                    id=r.id,
                    endpoint_id=r.endpoint_id,
                    event_type=r.event_type,
                    room_id=r.room_id,
                    ordering_key=r.ordering_key,
                    attempts=r.attempts,
                    budget_start=r.budget_start,
                    lease_until=lease_until,
                    event_created_at=r.created_at,
                    payload=r.payload,
                )
            )
        by_lease: dict[datetime, list[int]] = {}
        for item in claimed:
            by_lease.setdefault(item.lease_until, []).append(item.seq)
        for lease_until, leased in by_lease.items():  # one statement per request timeout
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.seq.in_(leased))
                .values(
                    lease_owner=self.owner,
                    lease_until=lease_until,
                    next_attempt_at=lease_until,
                    updated_at=now,
                )
            )
        return claimed

    async def _next_due(self, conn: AsyncConnection, now: datetime) -> datetime | None:
        """When the next retry or lease expiry is due (rows waiting behind a head are not: the head's
        result wakes the loop)."""
        query = text(
            "SELECT min(next_attempt_at) AS next_attempt_at FROM deliveries "
            "WHERE status = 'pending' AND next_attempt_at > :now"
        ).bindparams(bindparam("now", type_=deliveries.c.next_attempt_at.type))
        value = (await conn.execute(query.columns(deliveries.c.next_attempt_at), {"now": now})).scalar()
        return value if isinstance(value, datetime) else None

    # --- sending ------------------------------------------------------------------------------

    def _pump(self, endpoint_id: str) -> None:
        """Start senders for the endpoint's queue, up to its slots (each sender drains the queue)."""
        state = self._state[endpoint_id]
        endpoint = self._endpoint(endpoint_id)
        limit = endpoint.max_in_flight if endpoint is not None and endpoint.enabled else 0
        while len(state.queue) > state.senders and state.senders < limit and not self._stopping:
            state.senders += 1
            task = asyncio.create_task(self._sender(endpoint_id))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    def _endpoint(self, endpoint_id: str) -> EndpointConfig | None:
        return self._configs.get(endpoint_id)

    async def _sender(self, endpoint_id: str) -> None:
        # A long-lived sender per slot, as a bare client has: no task per delivery.
        state = self._state[endpoint_id]
        try:
            while state.queue and not self._stopping:
                endpoint = self._endpoint(endpoint_id)
                if endpoint is None or not endpoint.enabled:
                    return
                item = state.queue.popleft()
                state.in_flight += 1
                try:
                    await self._send(endpoint, item)
                finally:
                    state.in_flight -= 1
                if state.backlogged and len(state.queue) < endpoint.max_in_flight:
                    self.wake((endpoint_id,))  # there is more to claim: before the slots run dry
        finally:
            state.senders -= 1

    async def _send(self, endpoint: EndpointConfig, item: Claimed) -> None:
        try:
            now = utcnow()
            if item.lease_until - now < timedelta(milliseconds=endpoint.timeout_ms) + LEASE_MARGIN:
                # The lease could run out mid-request and another dispatcher could send it too.
                self._push(Result(item=item, endpoint=endpoint, outcome=None, decision=None))
                return
            request = build_request(
                endpoint,
                delivery_id=item.id,
                event_type=item.event_type,
                created_at=item.event_created_at,
                payload_json=item.payload,
                now=now,
            )
            outcome = await self.transport.send(request)
            attempt = item.attempts - item.budget_start + 1
            decision = self._policy(endpoint).decide(outcome, attempt=attempt, now=utcnow())
            self._push(
                Result(
                    item=item,
                    endpoint=endpoint,
                    outcome=outcome,
                    decision=decision,
                    request_headers=recordable_headers(request.headers),
                )
            )
        except asyncio.CancelledError:
            self._push(Result(item=item, endpoint=endpoint, outcome=None, decision=None))
            raise
        except Exception:
            log.exception("sending delivery %s failed unexpectedly", item.id)
            self._push(Result(item=item, endpoint=endpoint, outcome=None, decision=None))

    def _policy(self, endpoint: EndpointConfig) -> RetryPolicy:
        cached = self._policies.get(endpoint.id)
        if cached is None or cached[0] is not endpoint:  # a reloaded endpoint gets a new policy
            cached = (endpoint, policy_for(endpoint))
            self._policies[endpoint.id] = cached
        return cached[1]

    def _push(self, result: Result) -> None:
        self._results.append(result)
        self._results_ready.set()

    # --- recording ----------------------------------------------------------------------------

    async def _result_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            in_flight = sum(state.in_flight for state in self._state.values())
            if len(self._results) < RESULT_BATCH and in_flight and not self._stopping:
                # Sends are finishing all the time: a moment's wait makes one transaction of many.
                await asyncio.sleep(RESULT_GATHER_S)
            self._results_ready.clear()
            if self._results:
                batch, self._results = self._results, []
                try:
                    await self._record(batch)
                except Exception:
                    log.exception("recording %d webhook results failed; their leases will expire", len(batch))
                # A row given back is due again; the next of a finished head was claimed by `_chain`
                # (or left for a round, when there was no room: see `backlogged`).
                # A retry sets a new due time: a round plans the sleep until it.
                renewed = {
                    r.endpoint.id for r in batch if r.decision is None or isinstance(r.decision, RetryAt)
                }
                if renewed:
                    self.wake(renewed)
            if self._stopping and not self._results and not self._sends:
                return

    async def _record(self, batch: list[Result]) -> None:
        now = utcnow()
        attempts: list[dict[str, Any]] = []
        delivered: list[dict[str, Any]] = []
        retried: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        released: list[dict[str, Any]] = []
        crm: list[dict[str, Any]] = []
        durations: dict[str, list[float]] = {}
        for result in batch:
            item, outcome, decision = result.item, result.outcome, result.decision
            if outcome is None or decision is None:
                released.append({"b_seq": item.seq, "b_owner": self.owner, "b_now": now})
                continue
            number = item.attempts + 1
            attempts.append(
                {
                    "delivery_id": item.id,
                    "attempt_no": number,
                    "started_at": outcome.started_at,
                    "duration_ms": outcome.duration_ms,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "request_headers": result.request_headers,
                    # Kept for failures, where they explain something (Retry-After, a proxy's error).
                    "response_headers": ({str(k): v for k, v in outcome.headers.items()} or None)
                    if not isinstance(decision, Delivered)
                    else None,
                    "response_body": outcome.body[:ATTEMPT_BODY_CAP] if outcome.body is not None else None,
                }
            )
            row: dict[str, Any] = {
                "b_seq": item.seq,
                "b_owner": self.owner,
                "b_attempts": number,
                "b_code": outcome.status_code,
                "b_error": outcome.error if outcome.error else _status_error(outcome),
                "b_now": now,
            }
            label = result.endpoint.id
            durations.setdefault(label, []).append(outcome.duration_ms / 1000)
            if isinstance(decision, Delivered):
                delivered.append(row)
                if result.endpoint.format == "rocketchat" and item.room_id and outcome.body is not None:
                    crm.append({"b_room": item.room_id, "b_crm": outcome.body[:CRM_DATA_CAP]})
            elif isinstance(decision, RetryAt):
                retried.append(
                    {**row, "b_at": decision.at, "b_endpoint": item.endpoint_id, "b_key": item.ordering_key}
                )
                metrics.FAILED_ATTEMPTS.labels(label).inc()
            elif isinstance(decision, Dead):
                dead.append({**row, "b_error": f"{row['b_error']} ({decision.reason})"})
                metrics.FAILED_ATTEMPTS.labels(label).inc()
                metrics.DEAD.labels(label).inc()
        for label, seconds in durations.items():
            histogram = metrics.ATTEMPT_SECONDS.labels(label)
            for value in seconds:
                histogram.observe(value)
        delivered_counts: dict[str, int] = {}
        for result in batch:
            if isinstance(result.decision, Delivered) and result.outcome is not None:
                delivered_counts[result.endpoint.id] = delivered_counts.get(result.endpoint.id, 0) + 1
        for label, count in delivered_counts.items():
            metrics.DELIVERED.labels(label).inc(count)
        mine = (deliveries.c.seq == bindparam("b_seq")) & (deliveries.c.lease_owner == bindparam("b_owner"))
        outcome_values: dict[str, Any] = {
            "attempts": bindparam("b_attempts"),
            "last_status_code": bindparam("b_code"),
            "last_error": bindparam("b_error"),
            "lease_owner": None,
            "lease_until": None,
            "updated_at": bindparam("b_now"),
        }
        async with self.db.write_lock(), self.db.engine.begin() as conn:
            if attempts and self.db.is_sqlite:
                await conn.exec_driver_sql(_SQLITE_INSERT_ATTEMPTS, [_sqlite_attempt(a) for a in attempts])
            elif attempts:
                await conn.execute(insert(delivery_attempts), attempts)
            # Delivered rows mostly share their attempt count and status: one statement per group.
            groups: dict[tuple[int, int | None], list[int]] = {}
            for row in delivered:
                groups.setdefault((row["b_attempts"], row["b_code"]), []).append(row["b_seq"])
            for (attempt_count, code), seqs in groups.items():
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.seq.in_(seqs), deliveries.c.lease_owner == self.owner)
                    .values(
                        status="delivered",
                        attempts=attempt_count,
                        last_status_code=code,
                        last_error=None,
                        lease_owner=None,
                        lease_until=None,
                        updated_at=now,
                        delivered_at=now,
                    )
                )
            if retried:
                await conn.execute(
                    update(deliveries)
                    .where(mine)
                    .values(**outcome_values, next_attempt_at=bindparam("b_at")),
                    retried,
                )
                # The rows queued behind a retrying head wait with it, so that claims do not step over them.
                await conn.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.endpoint_id == bindparam("b_endpoint"),
                        deliveries.c.ordering_key == bindparam("b_key"),
                        deliveries.c.status == "pending",
                        deliveries.c.seq > bindparam("b_seq"),
                        deliveries.c.next_attempt_at < bindparam("b_at"),
                    )
                    .values(next_attempt_at=bindparam("b_at")),
                    [{k: r[k] for k in ("b_endpoint", "b_key", "b_seq", "b_at")} for r in retried],
                )
            if dead:
                await conn.execute(
                    update(deliveries).where(mine).values(**outcome_values, status="dead"), dead
                )
            if released:
                await conn.execute(
                    update(deliveries)
                    .where(mine)
                    .values(
                        lease_owner=None,
                        lease_until=None,
                        next_attempt_at=bindparam("b_now"),
                        updated_at=bindparam("b_now"),
                    ),
                    released,
                )
            chained = await self._chain(conn, batch, now)
            if crm:
                crm = list({row["b_room"]: row for row in crm}.values())  # the last answer per room
                await conn.execute(
                    update(rooms)
                    # An unchanged answer leaves the row (and its page) untouched.
                    .where(rooms.c.id == bindparam("b_room"), _crm_differs)
                    .values(crm_data=bindparam("b_crm")),
                    crm,
                )
        for item in chained:
            self._state[item.endpoint_id].queue.append(item)
        for endpoint_id in {item.endpoint_id for item in chained}:
            self._pump(endpoint_id)

    async def _chain(self, conn: AsyncConnection, batch: list[Result], now: datetime) -> list[Claimed]:
        """Where a head was delivered or died, claim the next row of its room at once, in the same
        transaction, instead of leaving it to the next claim round (a room's deliveries go one by one)."""
        keys: dict[str, list[str]] = {}
        for result in batch:
            item = result.item
            if isinstance(result.decision, Delivered | Dead) and item.ordering_key != item.id:
                keys.setdefault(item.endpoint_id, []).append(item.ordering_key)
        wanted: dict[str, list[str]] = {}
        for endpoint_id, endpoint_keys in keys.items():
            endpoint, state = self._configs.get(endpoint_id), self._state.get(endpoint_id)
            if endpoint is None or not endpoint.enabled or state is None or self._stopping:
                continue
            room = endpoint.max_in_flight * self.prefetch - len(state.queue) - state.in_flight
            if room >= len(endpoint_keys):
                wanted[endpoint_id] = endpoint_keys
            else:  # no room for all: a claim round takes the rest when the queue runs low
                state.backlogged = True
                if room > 0:
                    wanted[endpoint_id] = endpoint_keys[:room]
        if not wanted:
            return []
        return await self._take(conn, await self._next_heads(conn, wanted, now), self._configs, now)

    # --- retention -----------------------------------------------------------------------------

    async def _prune_loop(self, retention: timedelta) -> None:
        while not self._stopping:
            try:
                pruned = await prune_delivered(self.db, before=utcnow() - retention)
                if pruned:
                    log.info("pruned %d delivered webhook deliveries older than %s", pruned, retention)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pruning delivered deliveries failed; trying again later")
            await asyncio.sleep(PRUNE_EVERY_S)

    # --- PostgreSQL wake-ups ------------------------------------------------------------------

    async def _listen_loop(self) -> None:
        import asyncpg

        dsn = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopping:
            try:
                self._listener = await asyncpg.connect(dsn)
                await self._listener.add_listener(DELIVERIES_CHANNEL, self._notified)
                await self._listener.add_listener(ENDPOINTS_CHANNEL, lambda *_: self._endpoints_changed())
                lost = asyncio.Event()
                self._listener.add_termination_listener(lambda *_, lost=lost: lost.set())
                self.wake()  # catch up on what was enqueued while not listening
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); polling meanwhile", exc)
                await asyncio.sleep(1)
            finally:
                if self._listener is not None:
                    with contextlib.suppress(Exception):
                        await self._listener.close()
                    self._listener = None

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        # The payload names the endpoints that got deliveries (empty: any of them).
        self.wake(payload.split(",") if payload else None)

    def _endpoints_changed(self) -> None:
        self.endpoints.invalidate()
        self.wake()


_crm_differs = (rooms.c.crm_data.is_(None)) | (rooms.c.crm_data != bindparam("b_crm"))


def fair_share(asks: dict[str, int], budget: int) -> dict[str, int]:
    """Split `budget` between endpoints: small asks are met in full, the rest share what is left equally.

    Served in a fixed order instead, the first endpoints' asks (renewed every round, even when they have
    nothing due) would take the whole budget and the endpoints after them would never be claimed for.
    """
    shares: dict[str, int] = {}
    waiting = sorted(asks.items(), key=lambda item: item[1])
    while waiting and budget > 0:
        equal = budget // len(waiting)
        if equal == 0:  # fewer slots than endpoints: one each, as far as they go
            shares.update((key, 1) for key, _ in waiting[:budget])
            break
        key, ask = waiting[0]
        if ask > equal:
            shares.update((key, equal) for key, _ in waiting)
            break
        shares[key] = ask
        budget -= ask
        waiting.pop(0)
    return shares


# The commonest write, one row per attempt, straight to the SQLite driver: the values stored exactly as
# the table's types store them (naive UTC text for times, JSON text), without the per-value
# processing of SQLAlchemy's executemany.
_ATTEMPT_COLUMNS = (
    "delivery_id",
    "attempt_no",
    "started_at",
    "duration_ms",
    "status_code",
    "error",
    "request_headers",
    "response_headers",
    "response_body",
)
_SQLITE_INSERT_ATTEMPTS = (
    f"INSERT INTO delivery_attempts ({', '.join(_ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ATTEMPT_COLUMNS)})"
)


def _sqlite_attempt(row: dict[str, Any]) -> tuple[Any, ...]:
    started: datetime = row["started_at"]
    headers = row["response_headers"]
    return (
        row["delivery_id"],
        row["attempt_no"],
        started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        row["duration_ms"],
        row["status_code"],
        row["error"],
        orjson.dumps(row["request_headers"]).decode(),
        orjson.dumps(headers).decode() if headers is not None else None,
        row["response_body"],
    )


def _status_error(outcome: Outcome) -> str | None:
    if outcome.status_code is None:
        return None
    return f"HTTP {outcome.status_code}"


def _placeholder(endpoint_id: str) -> EndpointConfig:
    """Stands for an endpoint when only the lease of a claimed row is given back."""
    return EndpointConfig(
        id=endpoint_id,
        name="",
        url="",
        format="rocketchat",
        secret=None,
        enabled=False,
        event_types=frozenset(),
        timeout_ms=0,
        max_retries=0,
        retry_delay_ms=0,
        max_in_flight=1,
        ordered=True,
    )
