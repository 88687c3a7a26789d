"""The delivery queue in the database: every claim, park, take, next-due and outcome statement.

- A claim takes, for each endpoint, the due heads of its queues (the oldest pending row of each
  ordering key, i.e. of each room), oldest first; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so any
  number of dispatchers share the table.
- A claim is a lease: the row's `next_attempt_at` moves to the end of the lease, so if its dispatcher
  dies the row becomes due again and another takes it. Outcomes are written only where the lease is
  still the writer's (`lease_owner`).
- Rows queued behind a head that waits for a retry carry the head's retry time (parked), so the walk
  over due rows stays short.
- Where the budget allows, a head is claimed with the rows behind it in its room (a run), so that a
  busy room's next request can go out as soon as the one before succeeds.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Integer, bindparam, column, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter

from omnihook.storage.database import Database
from omnihook.storage.sqlite_inline import driver_connection
from omnihook.storage.tables import deliveries, delivery_attempts, webhook_endpoints, webhook_events
from omnihook.webhooks import queue_sqlite as lite


@dataclass(kw_only=True)
class Claimed:
    """A leased delivery with what sending it needs."""

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
    # A run: the head of a room's queue carries the room's next deliveries, claimed with it and sent
    # one after another by one sender; `ends_run` marks the last, whose end takes the room's next run.
    followers: list[Claimed] = field(default_factory=list)
    ends_run: bool = True

    @property
    def run(self) -> list[Claimed]:
        return [self, *self.followers]


@dataclass(frozen=True)
class Head:
    seq: int
    endpoint_id: str
    ordering_key: str
    id: str


@dataclass(frozen=True)
class Retried:
    seq: int
    attempts: int
    status_code: int | None
    error: str | None
    at: datetime
    endpoint_id: str
    ordering_key: str


@dataclass(frozen=True)
class Finished:
    """A delivered or dead row."""

    seq: int
    attempts: int
    status_code: int | None
    error: str | None


@dataclass
class OutcomeRows:
    """What one recording transaction writes; every text in it is already storable."""

    attempts: list[dict[str, Any]] = field(default_factory=list)  # delivery_attempts rows
    delivered: list[Finished] = field(default_factory=list)
    retried: list[Retried] = field(default_factory=list)
    dead: list[Finished] = field(default_factory=list)
    released: list[int] = field(default_factory=list)  # seqs given back without an attempt


class QueueStore:
    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.write_lock(), self.db.engine.begin() as conn:
            yield conn

    async def analyze(self) -> None:
        """PostgreSQL: fresh statistics, so the claim's queue-head test is not planned as a quadratic join
        (a new or restored database, or a burst before autovacuum looked: 20,000 pending rows held a
        worker in one claim for minutes)."""
        if not self.db.is_sqlite:
            async with self.db.engine.begin() as conn:
                await conn.execute(text("ANALYZE deliveries"))

    # --- claiming -----------------------------------------------------------------------------

    async def claim(
        self,
        conn: AsyncConnection,
        wants: Mapping[str, int],
        lease_ends: Mapping[str, datetime],
        now: datetime,
        *,
        run_length: int = 1,
        heads_at_most: Mapping[str, int] | None = None,
    ) -> list[Claimed]:
        """For every endpoint, the due heads of its queues, oldest first, up to its `want` rows in all;
        leased. Heads come first (up to `heads_at_most`); what is left of a `want` goes to runs of up to
        `run_length`."""
        if self.db.is_sqlite:
            return await self._sqlite_claim(conn, wants, lease_ends, now, run_length, heads_at_most or {})
        params: dict[str, Any] = {"now": now}
        parts = []
        for n, (endpoint_id, want) in enumerate(wants.items()):
            params[f"e{n}"] = endpoint_id
            params[f"w{n}"] = min(want, (heads_at_most or {}).get(endpoint_id, want))
            # A row is a head when nothing older is pending in its queue. The literal status lets
            # SQLite use the partial indexes of pending rows.
            parts.append(
                f"""SELECT seq, id, endpoint_id, ordering_key FROM (
                    SELECT d.seq, d.id, d.endpoint_id, d.ordering_key FROM deliveries d
                    WHERE d.status = 'pending' AND d.endpoint_id = :e{n} AND d.next_attempt_at <= :now
                    AND NOT EXISTS (
                        SELECT 1 FROM deliveries p
                        WHERE p.status = 'pending' AND p.endpoint_id = d.endpoint_id
                        AND p.ordering_key = d.ordering_key AND p.seq < d.seq
                    )
                    ORDER BY d.next_attempt_at, d.seq LIMIT :w{n}
                ) AS c{n}"""
            )
        if not parts:
            return []
        query = text(" UNION ALL ".join(parts)).bindparams(_now())
        return await self._take_runs(
            conn, await conn.execute(query, params), wants, lease_ends, now, run_length
        )

    async def _take_runs(
        self,
        conn: AsyncConnection,
        head_rows: Any,
        wants: Mapping[str, int],
        lease_ends: Mapping[str, datetime],
        now: datetime,
        run_length: int,
    ) -> list[Claimed]:
        """Lease the heads found (rows of seq, id, endpoint_id, ordering_key) with the runs behind them."""
        heads = [Head(r.seq, r.endpoint_id, r.ordering_key, r.id) for r in head_rows]
        followers = await self._followers(conn, heads, wants, run_length, now)
        return await self._take(conn, [h.seq for h in heads], lease_ends, now, followers=followers)

    async def _followers(
        self,
        conn: AsyncConnection,
        heads: list[Head],
        wants: Mapping[str, int],
        run_length: int,
        now: datetime,
    ) -> dict[int, list[int]]:
        """head seq -> the seqs behind it in its room that share its run (contiguous, due, unleased):
        each endpoint's `want` less its heads, shared between its ordered heads."""
        by_endpoint: dict[str, list[Head]] = {}
        for head in heads:
            by_endpoint.setdefault(head.endpoint_id, []).append(head)
        params: dict[str, Any] = {}
        parts: list[str] = []
        for endpoint_id, endpoint_heads in by_endpoint.items():
            ordered = [h for h in endpoint_heads if h.ordering_key != h.id]
            spare = wants.get(endpoint_id, 0) - len(endpoint_heads)
            if not ordered or spare <= 0 or run_length <= 1:
                continue
            each = min(run_length - 1, spare // len(ordered))
            for head in ordered[: _MAX_RUN_QUERIES - len(parts)] if each > 0 else []:
                n = len(parts)
                params.update(
                    {f"e{n}": endpoint_id, f"k{n}": head.ordering_key, f"s{n}": head.seq, f"l{n}": each}
                )
                parts.append(
                    f"""SELECT * FROM (
                        SELECT CAST(:s{n} AS BIGINT) AS head, f.seq, f.next_attempt_at, f.lease_owner FROM deliveries f
                        WHERE f.status = 'pending' AND f.endpoint_id = :e{n} AND f.ordering_key = :k{n}
                        AND f.seq > CAST(:s{n} AS BIGINT) ORDER BY f.seq LIMIT :l{n}
                    ) AS r{n}"""
                )
        if not parts:
            return {}
        query = text(" UNION ALL ".join(parts)).columns(
            column("head", Integer),
            column("seq", Integer),
            deliveries.c.next_attempt_at,
            column("lease_owner"),
        )
        runs: dict[int, list[int]] = {}
        stopped: set[int] = set()
        for row in await conn.execute(query, params):
            # A row that is not due or is held ends the run there: the rows after it wait, in order.
            if row.head in stopped or row.next_attempt_at > now or row.lease_owner is not None:
                stopped.add(row.head)
                continue
            runs.setdefault(row.head, []).append(row.seq)
        return runs

    async def disabled_among(self, conn: AsyncConnection, endpoint_ids: set[str]) -> set[str]:
        """Those of these endpoints that are disabled or deleted by now: a claim's list of endpoints may be
        older than the rows it took (a disabled endpoint's deliveries are held, not claimed)."""
        if not endpoint_ids:
            return set()
        e = webhook_endpoints.c
        enabled = await conn.execute(
            select(e.id).where(e.id.in_(endpoint_ids), e.enabled.is_(True), e.deleted_at.is_(None))
        )
        return endpoint_ids - {row.id for row in enabled}

    async def park_blocked(self, conn: AsyncConnection, endpoint_ids: list[str], now: datetime) -> None:
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
        ).bindparams(_now())
        await conn.execute(query, {"now": now, **{f"e{n}": e for n, e in enumerate(endpoint_ids)}})

    async def take_next(
        self,
        conn: AsyncConnection,
        keys: Mapping[str, list[str]],
        lease_ends: Mapping[str, datetime],
        now: datetime,
        *,
        wants: Mapping[str, int] | None = None,
        run_length: int = 1,
    ) -> list[Claimed]:
        """Lease the due heads of the given queues (each endpoint's ordering keys), straight from the index,
        with runs behind them within `wants` rows an endpoint."""
        if not keys:
            return []
        if self.db.is_sqlite:
            return await self._sqlite_take_next(conn, keys, lease_ends, now, wants or {}, run_length)
        params: dict[str, Any] = {"now": now}
        parts = []
        expanding: list[BindParameter[Any]] = []
        for n, (endpoint_id, endpoint_keys) in enumerate(keys.items()):
            params[f"e{n}"], params[f"k{n}"] = endpoint_id, endpoint_keys
            expanding.append(bindparam(f"k{n}", expanding=True))
            parts.append(
                f"""SELECT d.seq, d.id, d.endpoint_id, d.ordering_key FROM deliveries d WHERE d.seq IN (
                    SELECT min(p.seq) FROM deliveries p
                    WHERE p.status = 'pending' AND p.endpoint_id = :e{n} AND p.ordering_key IN :k{n}
                    GROUP BY p.ordering_key
                ) AND d.next_attempt_at <= :now"""
            )
        query = text(" UNION ALL ".join(parts)).bindparams(_now(), *expanding)
        return await self._take_runs(
            conn, await conn.execute(query, params), wants or {}, lease_ends, now, run_length
        )

    # --- SQLite: the same claims straight on the driver (see queue_sqlite) ---------------------

    async def _sqlite_claim(
        self,
        conn: AsyncConnection,
        wants: Mapping[str, int],
        lease_ends: Mapping[str, datetime],
        now: datetime,
        run_length: int,
        heads_at_most: Mapping[str, int],
    ) -> list[Claimed]:
        raw, now_s = await driver_connection(conn), lite.stored_time(now)
        queues: list[tuple[str, str, int, int]] = []  # endpoint, key, from seq, at most
        for endpoint_id, want in wants.items():
            found = lite.heads(raw, endpoint_id, now_s, min(want, heads_at_most.get(endpoint_id, want)))
            ordered = sum(1 for _, id_, key in found if key != id_)
            spare = want - len(found)
            each = min(run_length - 1, spare // ordered) if ordered and spare > 0 and run_length > 1 else 0
            queues += [(endpoint_id, key, seq, 1 if key == id_ else 1 + each) for seq, id_, key in found]
        return self._sqlite_lease(raw, queues, lease_ends, now_s)

    async def _sqlite_take_next(
        self,
        conn: AsyncConnection,
        keys: Mapping[str, list[str]],
        lease_ends: Mapping[str, datetime],
        now: datetime,
        wants: Mapping[str, int],
        run_length: int,
    ) -> list[Claimed]:
        raw, now_s = await driver_connection(conn), lite.stored_time(now)
        queues: list[tuple[str, str, int, int]] = []
        for endpoint_id, endpoint_keys in keys.items():
            spare = wants.get(endpoint_id, 0) - len(endpoint_keys)
            each = min(run_length - 1, spare // len(endpoint_keys)) if spare > 0 and run_length > 1 else 0
            # From the queue's oldest pending row, the head: a redelivered old row comes first again.
            queues += [(endpoint_id, key, 0, 1 + each) for key in endpoint_keys]
        return self._sqlite_lease(raw, queues, lease_ends, now_s)

    def _sqlite_lease(
        self,
        raw: sqlite3.Connection,
        queues: list[tuple[str, str, int, int]],
        lease_ends: Mapping[str, datetime],
        now_s: str,
    ) -> list[Claimed]:
        """Each queue's due rows from its head on (a run), leased; returns the heads carrying their runs."""
        claimed: list[Claimed] = []
        leases: list[tuple[str, str, str, str, int]] = []
        ends = {e: (end, lite.stored_time(end)) for e, end in lease_ends.items()}
        for endpoint_id, key, from_seq, limit in queues:
            rows = lite.due_prefix(lite.run(raw, endpoint_id, key, from_seq, limit), now_s)
            if not rows:
                continue
            until, until_s = ends[endpoint_id]
            run = [
                Claimed(
                    seq=seq,
                    id=id_,
                    endpoint_id=endpoint_id,
                    event_type=event_type,
                    room_id=room_id,
                    ordering_key=key,
                    attempts=attempts,
                    budget_start=budget_start,
                    lease_until=until,
                    event_created_at=lite.loaded_time(created_at),
                    payload=payload,
                    ends_run=False,
                )
                for seq, id_, event_type, room_id, attempts, budget_start, _, _, payload, created_at in rows
            ]
            run[-1].ends_run = True
            head = run[0]
            head.followers = run[1:]
            claimed.append(head)
            leases += [(self.owner, until_s, until_s, now_s, item.seq) for item in run]
        lite.lease(raw, leases)
        return claimed

    async def extend(
        self, conn: AsyncConnection, last: Claimed, limit: int, lease_until: datetime, now: datetime
    ) -> list[Claimed]:
        """Lease the due rows right behind `last` in its queue (up to `limit`, stopping at the first that is
        not due or is held): they go on the run `last` ends, in order."""
        if limit <= 0:
            return []
        ends = {last.endpoint_id: lease_until}
        if self.db.is_sqlite:
            raw, now_s = await driver_connection(conn), lite.stored_time(now)
            queue = (last.endpoint_id, last.ordering_key, last.seq + 1, limit)
            heads = self._sqlite_lease(raw, [queue], ends, now_s)
        else:
            behind = await conn.execute(
                select(deliveries.c.seq, deliveries.c.next_attempt_at, deliveries.c.lease_owner)
                .where(
                    deliveries.c.status == "pending",
                    deliveries.c.endpoint_id == last.endpoint_id,
                    deliveries.c.ordering_key == last.ordering_key,
                    deliveries.c.seq > last.seq,
                )
                .order_by(deliveries.c.seq)
                .limit(limit)
            )
            due = [
                r.seq
                for r in itertools.takewhile(
                    lambda r: r.next_attempt_at <= now and r.lease_owner is None, behind
                )
            ]
            if not due:
                return []
            heads = await self._take(conn, due[:1], ends, now, followers={due[0]: due[1:]})
        rows = [item for head in heads for item in head.run]
        for head in heads:
            head.followers = []
        return rows

    async def _take(
        self,
        conn: AsyncConnection,
        seqs: list[int],
        lease_ends: Mapping[str, datetime],
        now: datetime,
        *,
        followers: Mapping[int, list[int]] | None = None,
    ) -> list[Claimed]:
        """Lease the rows `seqs` (those still free) and their `followers`, and load what sending them needs;
        returns the heads, each carrying its followers."""
        followers = followers or {}
        if not seqs:
            return []
        seqs = seqs + [f for head in seqs for f in followers.get(head, ())]
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
            kept = {row.seq for row in locked}
            # Only heads locked here lead runs, and a run keeps its rows up to the first another
            # dispatcher holds: a row taken without its head would wait, leased, for nobody.
            runs = {f for run in followers.values() for f in run}
            heads = [seq for seq in seqs if seq in kept and seq not in runs]
            followers = {
                head: list(itertools.takewhile(kept.__contains__, followers.get(head, ()))) for head in heads
            }
            seqs = heads + [f for run in followers.values() for f in run]
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
        loaded = {
            r.seq: Claimed(
                seq=r.seq,
                id=r.id,
                endpoint_id=r.endpoint_id,
                event_type=r.event_type,
                room_id=r.room_id,
                ordering_key=r.ordering_key,
                attempts=r.attempts,
                budget_start=r.budget_start,
                lease_until=lease_ends[r.endpoint_id],
                event_created_at=r.created_at,
                payload=r.payload,
            )
            for r in rows
        }
        behind = {f for run in followers.values() for f in run}
        claimed = [item for seq, item in loaded.items() if seq not in behind]
        for head in claimed:
            run = [loaded[f] for f in followers.get(head.seq, ()) if f in loaded]
            if run:
                head.followers, head.ends_run = run, False
                for item in run[:-1]:
                    item.ends_run = False
        by_lease: dict[datetime, list[int]] = {}
        for item in loaded.values():
            by_lease.setdefault(item.lease_until, []).append(item.seq)
        for lease_until, leased in by_lease.items():  # one statement per request timeout
            await self._lease(conn, leased, lease_until, now)
        return claimed

    async def _lease(self, conn: AsyncConnection, seqs: list[int], until: datetime, now: datetime) -> None:
        await conn.execute(
            update(deliveries)
            .where(deliveries.c.seq.in_(seqs))
            .values(lease_owner=self.owner, lease_until=until, next_attempt_at=until, updated_at=now)
        )

    async def extend_leases(self, seqs: list[int], until: datetime, now: datetime) -> None:
        """Keep the rows this dispatcher still holds (their results wait to be recorded) from falling due."""
        if not seqs:
            return
        async with self.transaction() as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.seq.in_(seqs), deliveries.c.lease_owner == self.owner)
                .values(lease_until=until, next_attempt_at=until, updated_at=now)
            )

    async def next_due(self, conn: AsyncConnection, now: datetime) -> datetime | None:
        """When the next retry or lease expiry is due (rows waiting behind a head are not: the head's
        result wakes the loop)."""
        query = text(
            "SELECT min(next_attempt_at) AS next_attempt_at FROM deliveries "
            "WHERE status = 'pending' AND next_attempt_at > :now"
        ).bindparams(_now())
        value = (await conn.execute(query.columns(deliveries.c.next_attempt_at), {"now": now})).scalar()
        return value if isinstance(value, datetime) else None

    # --- outcomes -----------------------------------------------------------------------------

    async def write(self, conn: AsyncConnection, rows: OutcomeRows, now: datetime) -> None:
        if self.db.is_sqlite and (rows.attempts or rows.delivered):
            raw, now_s = await driver_connection(conn), lite.stored_time(now)
            lite.insert_attempts(raw, [_sqlite_attempt(a) for a in rows.attempts])
            lite.delivered(
                raw, [(r.attempts, r.status_code, now_s, now_s, r.seq, self.owner) for r in rows.delivered]
            )
            rows = OutcomeRows(retried=rows.retried, dead=rows.dead, released=rows.released)
        elif rows.attempts:
            await conn.execute(insert(delivery_attempts), rows.attempts)
        mine = (deliveries.c.seq == bindparam("b_seq")) & (deliveries.c.lease_owner == self.owner)
        outcome: dict[str, Any] = {
            "attempts": bindparam("b_attempts"),
            "last_status_code": bindparam("b_code"),
            "last_error": bindparam("b_error"),
            "lease_owner": None,
            "lease_until": None,
            "updated_at": now,
        }
        # Delivered rows mostly share their attempt count and status: one statement per group.
        groups: dict[tuple[int, int | None], list[int]] = {}
        for row in rows.delivered:
            groups.setdefault((row.attempts, row.status_code), []).append(row.seq)
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
        # Given back first: a row released behind a head that is retried below is parked with it.
        if rows.released:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.seq.in_(rows.released), deliveries.c.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None, next_attempt_at=now, updated_at=now)
            )
        if rows.retried:
            params = [
                {
                    "b_seq": r.seq,
                    "b_attempts": r.attempts,
                    "b_code": r.status_code,
                    "b_error": r.error,
                    "b_at": r.at,
                    "b_endpoint": r.endpoint_id,
                    "b_key": r.ordering_key,
                }
                for r in rows.retried
            ]
            await conn.execute(
                update(deliveries).where(mine).values(**outcome, next_attempt_at=bindparam("b_at")), params
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
                [{k: p[k] for k in ("b_endpoint", "b_key", "b_seq", "b_at")} for p in params],
            )
        if rows.dead:
            await conn.execute(
                update(deliveries).where(mine).values(**outcome, status="dead"),
                [
                    {"b_seq": r.seq, "b_attempts": r.attempts, "b_code": r.status_code, "b_error": r.error}
                    for r in rows.dead
                ],
            )


# Statements of one UNION ALL that looks for runs (SQLite allows 500).
_MAX_RUN_QUERIES = 128


def _now() -> BindParameter[Any]:
    return bindparam("now", type_=deliveries.c.next_attempt_at.type)


# The commonest write, one row per attempt, straight to the SQLite driver: the values stored exactly as
# the table's types store them (naive UTC text for times, JSON text).
def _sqlite_attempt(row: dict[str, Any]) -> tuple[Any, ...]:
    started: datetime = row["started_at"]
    headers = row["response_headers"]
    return (
        row["delivery_id"],
        row["attempt_no"],
        lite.stored_time(started),
        row["duration_ms"],
        row["status_code"],
        row["error"],
        orjson.dumps(row["request_headers"]).decode(),
        orjson.dumps(headers).decode() if headers is not None else None,
        row["response_body"],
    )
