"""Named locks held until the end of the caller's transaction, for check-then-write steps."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection


def _lock_id(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def lock_until_commit(conn: AsyncConnection, *names: str) -> None:
    """Wait for, then hold, the locks `names` until the transaction ends (taken in sorted order, so two
    callers never wait on each other). PostgreSQL: transaction-level advisory locks, across processes.
    SQLite: nothing to do, a unit of work already holds the one writer's lock."""
    if conn.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        await conn.execute(select(func.pg_advisory_xact_lock(_lock_id(name))))
