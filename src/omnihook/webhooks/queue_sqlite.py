"""The queue store's hottest statements on SQLite, run straight on the driver.

Every statement here is a constant string, so sqlite3 prepares it once and keeps it in its statement
cache; rows are plain tuples and times the text the columns hold (naive UTC, as SQLAlchemy's SQLite
`DateTime` stores it). Built per call through SQLAlchemy instead (an `IN` list rendered for each batch,
a `UNION ALL` of one sub-query per room, a type processed per value), the same work cost the
dispatcher more than the statements themselves. They run on the connection of the caller's
transaction (`storage.sqlite_inline.driver_connection`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def stored_time(value: datetime) -> str:
    """A time as a `UtcDateTime` column holds it on SQLite."""
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def loaded_time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


# The due heads of an endpoint's queues (nothing older pending in the queue), oldest first.
HEADS = """SELECT d.seq, d.id, d.ordering_key FROM deliveries d
WHERE d.status = 'pending' AND d.endpoint_id = ? AND d.next_attempt_at <= ?
AND NOT EXISTS (
    SELECT 1 FROM deliveries p WHERE p.status = 'pending' AND p.endpoint_id = d.endpoint_id
    AND p.ordering_key = d.ordering_key AND p.seq < d.seq
)
ORDER BY d.next_attempt_at, d.seq LIMIT ?"""

# A queue's pending rows from `seq` on, in order, with what sending them needs (ix_deliveries_queue).
RUN = """SELECT d.seq, d.id, d.event_type, d.room_id, d.attempts, d.budget_start, d.next_attempt_at,
d.lease_owner, e.payload, e.created_at
FROM deliveries d JOIN webhook_events e ON e.id = d.event_id
WHERE d.status = 'pending' AND d.endpoint_id = ? AND d.ordering_key = ? AND d.seq >= ?
ORDER BY d.seq LIMIT ?"""

LEASE = "UPDATE deliveries SET lease_owner = ?, lease_until = ?, next_attempt_at = ?, updated_at = ? WHERE seq = ?"

DELIVERED = """UPDATE deliveries SET status = 'delivered', attempts = ?, last_status_code = ?,
last_error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?, delivered_at = ?
WHERE seq = ? AND lease_owner = ?"""

ATTEMPT_COLUMNS = (
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
INSERT_ATTEMPTS = (
    f"INSERT INTO delivery_attempts ({', '.join(ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in ATTEMPT_COLUMNS)})"
)

# A row of RUN
Row = tuple[int, str, str, str | None, int, int, str, str | None, str, str]


def heads(db: sqlite3.Connection, endpoint_id: str, now: str, limit: int) -> list[tuple[int, str, str]]:
    return db.execute(HEADS, (endpoint_id, now, limit)).fetchall()


def run(db: sqlite3.Connection, endpoint_id: str, key: str, from_seq: int, limit: int) -> list[Row]:
    return db.execute(RUN, (endpoint_id, key, from_seq, limit)).fetchall()


def due_prefix(rows: Sequence[Row], now: str) -> Sequence[Row]:
    """The rows a run takes: a due head (its lease, if any, ran out: its dispatcher is gone), then the
    rows behind it up to the first that is not due or is held; the rest wait, in order."""
    if not rows or rows[0][6] > now:
        return ()
    for n, row in enumerate(rows[1:], 1):
        if row[6] > now or row[7] is not None:
            return rows[:n]
    return rows


def lease(db: sqlite3.Connection, leases: Iterable[tuple[str, str, str, str, int]]) -> None:
    """(owner, until, until, now, seq) a row."""
    db.executemany(LEASE, leases)


def delivered(db: sqlite3.Connection, rows: Iterable[tuple[int, int | None, str, str, int, str]]) -> None:
    """(attempts, status code, now, now, seq, owner) a row: only rows still leased by `owner` change."""
    db.executemany(DELIVERED, rows)


def insert_attempts(db: sqlite3.Connection, rows: Iterable[Sequence[Any]]) -> None:
    db.executemany(INSERT_ATTEMPTS, rows)
