"""Accounts: users, passwords, login tokens, the first admin."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Conflict, InvalidInput, NotFound, Unauthorized
from omnihook.domain.ids import new_id
from omnihook.domain.users import ROLES, Role, User
from omnihook.storage.database import Database
from omnihook.storage.tables import auth_tokens, users

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,120}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_from_row(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        name=row.name,
        email=row.email,
        roles=tuple(row.roles),
        livechat_status=row.livechat_status,
        active=row.active,
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
    return user_from_row(row)


def _validate_new_user(username: str, email: str | None, password: str, roles: Iterable[str]) -> None:
    if not USERNAME_RE.match(username):
        raise InvalidInput("error-invalid-username", "username: letters, digits, '.', '_' or '-' only")
    if email is not None and not EMAIL_RE.match(email):
        raise InvalidInput("error-invalid-email", f"email: {email!r} is not an email address")
    if len(password) < 8:
        raise InvalidInput("error-invalid-password", "password: at least 8 characters")
    unknown = set(roles) - ROLES
    if unknown:
        raise InvalidInput("error-invalid-role", f"roles: unknown {sorted(unknown)}; known {sorted(ROLES)}")


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
    _validate_new_user(username, email, password, roles)
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
                password_hash=_hasher.hash(password),
                roles=list(roles),
                livechat_status="not-available",
                active=True,
                created_at=utcnow(),
            )
        )
        return await find_user(uow.conn, user_id=user_id)


async def login(db: Database, *, username_or_email: str, password: str) -> tuple[User, str]:
    """Check the password and hand out a new auth token (stored hashed)."""
    async with db.transaction() as uow:
        row = (
            await uow.conn.execute(
                select(users).where(
                    or_(users.c.username == username_or_email, users.c.email == username_or_email)
                )
            )
        ).first()
        if row is None or not row.active or not _password_matches(row.password_hash, password):
            raise Unauthorized("Unauthorized", "wrong username or password")
        token = secrets.token_urlsafe(32)
        await uow.conn.execute(
            insert(auth_tokens).values(token_hash=hash_token(token), user_id=row.id, created_at=utcnow())
        )
        return user_from_row(row), token


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def logout(db: Database, *, token: str) -> None:
    async with db.transaction() as uow:
        await uow.conn.execute(delete(auth_tokens).where(auth_tokens.c.token_hash == hash_token(token)))


async def authenticate(db: Database, *, user_id: str, token: str) -> User:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                select(users)
                .join(auth_tokens, auth_tokens.c.user_id == users.c.id)
                .where(auth_tokens.c.token_hash == hash_token(token), users.c.id == user_id)
            )
        ).first()
    if row is None or not row.active:
        raise Unauthorized("unauthorized", "You must be logged in to do this.")
    return user_from_row(row)


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
    if count:
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    admin = await create_user(
        db,
        username=username or "admin",
        password=password,
        email=email,
        name="Administrator",
        roles=[Role.ADMIN, Role.MANAGER, Role.AGENT],
    )
    return admin, generated
