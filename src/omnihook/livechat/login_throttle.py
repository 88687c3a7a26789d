"""Blocking repeated failed logins, in Rocket.Chat's way (its Block_Multiple_Failed_Logins_* settings).

An account, or a client address, is blocked once it has N failed attempts within the last T minutes
and since its last successful login; the block lifts as those failures age past T minutes. Each attempt
is a row in `login_attempts`, written before the password is checked and counted as failed until it
succeeds: a blocked login never reaches the check, and attempts made at once, by one process or many
sharing one PostgreSQL database, are counted one after another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Unauthorized
from omnihook.livechat.settings import read_with_defaults
from omnihook.storage.locks import lock_until_commit
from omnihook.storage.tables import login_attempts

_PREFIX = "Block_Multiple_Failed_Logins_"
RULE_SETTINGS = tuple(
    _PREFIX + name
    for name in (
        "Enabled",
        "By_User",
        "Attempts_Until_Block_by_User",
        "Time_To_Unblock_By_User_In_Minutes",
        "By_Ip",
        "Attempts_Until_Block_By_Ip",
        "Time_To_Unblock_By_Ip_In_Minutes",
        "Ip_Whitelist",
    )
)


@dataclass(frozen=True)
class ThrottleRules:
    by_user: bool
    user_attempts: int
    user_minutes: int
    by_ip: bool
    ip_attempts: int
    ip_minutes: int
    ip_whitelist: frozenset[str]

    @classmethod
    def from_settings(cls, values: dict[str, Any]) -> ThrottleRules:
        enabled = bool(values[_PREFIX + "Enabled"])
        user_attempts = values[_PREFIX + "Attempts_Until_Block_by_User"]
        ip_attempts = values[_PREFIX + "Attempts_Until_Block_By_Ip"]
        whitelist = str(values[_PREFIX + "Ip_Whitelist"])
        return cls(
            # Rocket.Chat: no attempts count (0) is a misconfiguration that blocks nobody.
            by_user=enabled and bool(values[_PREFIX + "By_User"]) and user_attempts > 0,
            user_attempts=user_attempts,
            user_minutes=values[_PREFIX + "Time_To_Unblock_By_User_In_Minutes"],
            by_ip=enabled and bool(values[_PREFIX + "By_Ip"]) and ip_attempts > 0,
            ip_attempts=ip_attempts,
            ip_minutes=values[_PREFIX + "Time_To_Unblock_By_Ip_In_Minutes"],
            ip_whitelist=frozenset(a.strip() for a in whitelist.split(",") if a.strip()),
        )


async def current_rules(conn: AsyncConnection) -> ThrottleRules:
    return ThrottleRules.from_settings(await read_with_defaults(conn, RULE_SETTINGS))


def unknown_account(identity: str) -> str:
    """The throttle's key for a name no user has: blocked like a real one, so blocks tell nothing."""
    return "?" + hashlib.sha256(identity.casefold().encode()).hexdigest()[:40]


async def _blocked(
    conn: AsyncConnection, column: ColumnElement[str], key: str, attempts: int, minutes: int, now: datetime
) -> bool:
    window_start = now - timedelta(minutes=minutes)
    last_success = (
        select(func.max(login_attempts.c.attempted_at))
        .where(column == key, login_attempts.c.succeeded.is_(True))
        .scalar_subquery()
    )
    failures = (
        select(func.count())
        .select_from(login_attempts)
        .where(
            column == key,
            login_attempts.c.succeeded.is_(False),
            login_attempts.c.attempted_at >= window_start,
            or_(last_success.is_(None), login_attempts.c.attempted_at > last_success),
        )
    )
    return int((await conn.execute(failures)).scalar_one()) >= attempts


async def begin_attempt(
    conn: AsyncConnection, rules: ThrottleRules, *, account: str, client_address: str
) -> int | None:
    """Refuse a blocked address or account (401, as Rocket.Chat); else record the attempt, failed so far.

    Returns the attempt's id for `attempt_succeeded`, or None when nothing is throttled.
    """
    by_ip = rules.by_ip and client_address not in rules.ip_whitelist
    if not (by_ip or rules.by_user):
        return None
    client_address = client_address[:64]
    # Attempts at once on one account or address are counted one after another, so no more than the
    # allowed number reach a password check.
    await lock_until_commit(conn, f"login-address:{client_address}", f"login-account:{account}")
    now = utcnow()
    if by_ip and await _blocked(
        conn, login_attempts.c.client_address, client_address, rules.ip_attempts, rules.ip_minutes, now
    ):
        raise Unauthorized(
            "error-login-blocked-for-ip",
            f"Login has been temporarily blocked for this address after {rules.ip_attempts} failed"
            f" attempts: try again in {rules.ip_minutes} minutes",
            retry_after_seconds=rules.ip_minutes * 60,
        )
    if rules.by_user and await _blocked(
        conn, login_attempts.c.account, account, rules.user_attempts, rules.user_minutes, now
    ):
        raise Unauthorized(
            "error-login-blocked-for-user",
            f"Login has been temporarily blocked for this user after {rules.user_attempts} failed"
            f" attempts: try again in {rules.user_minutes} minutes",
            retry_after_seconds=rules.user_minutes * 60,
        )
    # Rows older than both windows count for nothing any more.
    oldest_needed = now - timedelta(minutes=max(rules.user_minutes, rules.ip_minutes))
    await conn.execute(delete(login_attempts).where(login_attempts.c.attempted_at < oldest_needed))
    result = await conn.execute(
        insert(login_attempts).values(
            account=account, client_address=client_address, succeeded=False, attempted_at=now
        )
    )
    assert result.inserted_primary_key is not None
    attempt_id: int = result.inserted_primary_key[0]
    return attempt_id


async def attempt_succeeded(conn: AsyncConnection, attempt_id: int | None) -> None:
    """The attempt found the right password: its account's and address's failures stop counting."""
    if attempt_id is not None:
        await conn.execute(
            update(login_attempts).where(login_attempts.c.id == attempt_id).values(succeeded=True)
        )
