"""Accounts: users, logins and their tokens (which expire), password changes, the first admin.

Hashing and checking passwords (livechat/passwords.py) run in worker threads between transactions,
never inside one; logins pass the throttle (livechat/login_throttle.py) before any check.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Conflict, InvalidInput, NotFound, Unauthorized
from omnihook.domain.events import TokensRevoked
from omnihook.domain.ids import new_id
from omnihook.domain.users import ROLES, Role, User
from omnihook.livechat import login_throttle
from omnihook.livechat.passwords import current_policy, hash_password, needs_rehash, password_matches
from omnihook.livechat.permissions import held_by
from omnihook.livechat.settings import SETTINGS, read_with_defaults
from omnihook.storage.database import Database, UnitOfWork
from omnihook.storage.tables import auth_tokens, settings, users

USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,120}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOGIN_EXPIRATION = "Accounts_LoginExpiration"  # days a login token lives (Rocket.Chat's setting)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_from_row(row: Any, held: frozenset[str] | None = None) -> User:
    return User(
        id=row.id,
        username=row.username,
        name=row.name,
        email=row.email,
        roles=tuple(row.roles),
        livechat_status=row.livechat_status,
        active=row.active,
        status=row.status,
        status_text=row.status_text,
        permissions=held,
    )


async def find_user(
    conn: AsyncConnection, *, user_id: str | None = None, username: str | None = None
) -> User:
    query = select(users)
    if user_id is not None:
        query = query.where(users.c.id == user_id)
    elif username is not None:
        query = query.where(users.c.username == username)
    else:
        raise InvalidInput("error-invalid-user", "a user id or a username is required")
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound("error-invalid-user", "no such user")
    return user_from_row(row, await held_by(conn, row.roles))


def _validate_new_user(username: str, email: str | None, roles: Iterable[str]) -> None:
    if not USERNAME_RE.match(username):
        raise InvalidInput("error-invalid-username", "username: letters, digits, '.', '_' or '-' only")
    if email is not None and not EMAIL_RE.match(email):
        raise InvalidInput("error-invalid-email", f"email: {email!r} is not an email address")
    unknown = set(roles) - ROLES
    if unknown:
        raise InvalidInput("error-invalid-role", f"roles: unknown {sorted(unknown)}; known {sorted(ROLES)}")


async def checked_password_hash(db: Database, password: str) -> str:
    """The hash of a new password that meets the policy (refused with Rocket.Chat's reasons if not)."""
    async with db.engine.connect() as conn:
        policy = await current_policy(conn)
    policy.check(password)
    return await hash_password(password)


async def create_user(
    db: Database,
    *,
    username: str,
    password: str,
    email: str | None = None,
    name: str | None = None,
    roles: Iterable[str] = (),
) -> User:
    roles = tuple(dict.fromkeys(roles))
    _validate_new_user(username, email, roles)
    password_hash = await checked_password_hash(db, password)
    async with db.transaction() as uow:
        same_name = users.c.username == username
        clash = select(users.c.id).where(or_(same_name, users.c.email == email) if email else same_name)
        if (await uow.conn.execute(clash)).first() is not None:
            raise Conflict("error-field-unavailable", "username or email is already in use")
        user_id = new_id()
        await uow.conn.execute(
            insert(users).values(
                id=user_id,
                username=username,
                name=name or username,
                email=email,
                password_hash=password_hash,
                roles=list(roles),
                livechat_status="not-available",
                active=True,
                created_at=utcnow(),
            )
        )
        return await find_user(uow.conn, user_id=user_id)


async def _login_expiration(conn: AsyncConnection) -> timedelta:
    days: int = (await read_with_defaults(conn, [LOGIN_EXPIRATION]))[LOGIN_EXPIRATION]
    return timedelta(days=days)


async def login(
    db: Database, *, username_or_email: str, password: str, client_address: str
) -> tuple[User, str]:
    """Check the password and hand out a new auth token (stored hashed).

    Unknown and inactive users get the same check (against a dummy hash) and the same answer.
    """
    async with db.transaction() as uow:  # short: find the user, pass the throttle, record the attempt
        row = (
            await uow.conn.execute(
                select(users).where(
                    or_(users.c.username == username_or_email, users.c.email == username_or_email)
                )
            )
        ).first()
        account = row.id if row is not None else login_throttle.unknown_account(username_or_email)
        rules = await login_throttle.current_rules(uow.conn)
        attempt = await login_throttle.begin_attempt(
            uow.conn, rules, account=account, client_address=client_address
        )
    stored = row.password_hash if row is not None and row.active else None
    matches = await password_matches(stored, password)  # a dummy check when there is no user
    if row is None or not matches:
        raise Unauthorized("Unauthorized", "wrong username or password")
    new_hash = await hash_password(password) if needs_rehash(row.password_hash) else None
    token = secrets.token_urlsafe(32)
    async with db.transaction() as uow:
        # The password or the user may have changed while it was checked.
        current = (
            await uow.conn.execute(select(users.c.password_hash, users.c.active).where(users.c.id == row.id))
        ).first()
        if current is None or not current.active or current.password_hash != row.password_hash:
            raise Unauthorized("Unauthorized", "wrong username or password")
        await login_throttle.attempt_succeeded(uow.conn, attempt)
        if new_hash is not None:
            await uow.conn.execute(update(users).where(users.c.id == row.id).values(password_hash=new_hash))
        now = utcnow()
        await uow.conn.execute(
            delete(auth_tokens).where(
                auth_tokens.c.user_id == row.id,
                auth_tokens.c.created_at < now - await _login_expiration(uow.conn),
            )
        )
        await uow.conn.execute(
            insert(auth_tokens).values(token_hash=hash_token(token), user_id=row.id, created_at=now)
        )
    return user_from_row(row), token


async def logout(db: Database, *, user: User, token: str) -> None:
    async with db.transaction() as uow:
        await uow.conn.execute(delete(auth_tokens).where(auth_tokens.c.token_hash == hash_token(token)))
        uow.record(TokensRevoked(user_id=user.id))  # live connections opened with it end


def _expiration_days(stored: Any) -> int:
    default: int = SETTINGS[LOGIN_EXPIRATION].default
    return stored if isinstance(stored, int) and not isinstance(stored, bool) and stored > 0 else default


async def authenticate(db: Database, *, user_id: str, token: str) -> User:
    """The user behind a token that has not expired (Accounts_LoginExpiration days after the login)."""
    # The setting rides along in the same statement: one round trip per authenticated request.
    expiration = select(settings.c.value).where(settings.c.id == LOGIN_EXPIRATION).scalar_subquery()
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                select(users, auth_tokens.c.created_at.label("token_created_at"), expiration.label("days"))
                .join(auth_tokens, auth_tokens.c.user_id == users.c.id)
                .where(auth_tokens.c.token_hash == hash_token(token), users.c.id == user_id)
            )
        ).first()
        if row is None or not row.active:
            raise Unauthorized("unauthorized", "You must be logged in to do this.")
        if row.token_created_at + timedelta(days=_expiration_days(row.days)) <= utcnow():
            raise Unauthorized("unauthorized", "You must be logged in to do this.")
        return user_from_row(row, await held_by(conn, row.roles))


async def end_other_sessions(uow: UnitOfWork, user_id: str, keep_token: str | None) -> None:
    query = delete(auth_tokens).where(auth_tokens.c.user_id == user_id)
    if keep_token is not None:
        query = query.where(auth_tokens.c.token_hash != hash_token(keep_token))
    await uow.conn.execute(query)
    uow.record(TokensRevoked(user_id=user_id))  # live connections opened with them end


async def logout_other_clients(db: Database, *, user: User, token: str) -> datetime:
    """End every session of `user` but the one of `token`; returns when that one expires."""
    async with db.transaction() as uow:
        await end_other_sessions(uow, user.id, token)
        created_at: datetime = (
            await uow.conn.execute(
                select(auth_tokens.c.created_at).where(auth_tokens.c.token_hash == hash_token(token))
            )
        ).scalar_one()
        return created_at + await _login_expiration(uow.conn)


async def change_own_password(
    db: Database,
    *,
    user: User,
    current_password: str | None,
    new_password: str,
    token: str,
    client_address: str,
) -> User:
    """Rocket.Chat's users.updateOwnBasicInfo with a new password: the current one (or its SHA-256 hex
    digest, as Rocket.Chat's client sends it) is required; every other session of the user ends.

    A wrong current password is a failed login attempt for the throttle.
    """
    if not current_password:
        raise InvalidInput("totp-required", "data.currentPassword: required to change the password")
    async with db.transaction() as uow:
        policy = await current_policy(uow.conn)
        policy.check(new_password)
        stored = (
            await uow.conn.execute(select(users.c.password_hash).where(users.c.id == user.id))
        ).scalar_one()
        rules = await login_throttle.current_rules(uow.conn)
        attempt = await login_throttle.begin_attempt(
            uow.conn, rules, account=user.id, client_address=client_address
        )
    if not await password_matches(stored, current_password, digest_too=True):
        raise InvalidInput("totp-invalid", "data.currentPassword: wrong password")
    if await password_matches(stored, new_password):
        raise InvalidInput("error-password-same-as-current", "data.newPassword: the same as the current one")
    new_hash = await hash_password(new_password)
    async with db.transaction() as uow:
        await login_throttle.attempt_succeeded(uow.conn, attempt)
        changed = await uow.conn.execute(
            update(users)
            .where(users.c.id == user.id, users.c.password_hash == stored)
            .values(password_hash=new_hash)
        )
        if changed.rowcount != 1:
            raise Conflict("error-conflict", "the password was changed meanwhile: retry")
        await end_other_sessions(uow, user.id, token)
        return await find_user(uow.conn, user_id=user.id)


async def set_password(db: Database, *, user_id: str, password: str, keep_token: str | None = None) -> User:
    """An admin sets a user's password (Rocket.Chat's users.update); that user's sessions end, except
    `keep_token` (the admin's own, when they set their own)."""
    new_hash = await checked_password_hash(db, password)
    async with db.transaction() as uow:
        target = await find_user(uow.conn, user_id=user_id)
        await uow.conn.execute(update(users).where(users.c.id == target.id).values(password_hash=new_hash))
        await end_other_sessions(uow, target.id, keep_token)
        return await find_user(uow.conn, user_id=target.id)


async def set_roles(conn: AsyncConnection, user: User, roles: Iterable[str]) -> User:
    new_roles = list(dict.fromkeys(roles))
    await conn.execute(update(users).where(users.c.id == user.id).values(roles=new_roles))
    return await find_user(conn, user_id=user.id)


async def ensure_admin(
    db: Database, *, username: str | None, password: str | None, email: str | None = None
) -> tuple[User, str | None] | None:
    """Create the first admin when there is none.

    Returns the admin and the generated password (None when it was given), or None when an admin exists.
    """
    async with db.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(users))).scalar_one()
        policy = await current_policy(conn)
    if count:
        return None
    generated = None
    if not password:
        generated = password = policy.generate()
    admin = await create_user(
        db,
        username=username or "admin",
        password=password,
        email=email,
        name="Administrator",
        roles=[Role.ADMIN, Role.MANAGER, Role.AGENT],
    )
    return admin, generated
