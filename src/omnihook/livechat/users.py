"""Managing users as Rocket.Chat's users.* REST calls do: register, list, update, delete, status.

Each change runs in one transaction. Ending a user's sessions (a password reset, deactivation, deletion)
records TokensRevoked so that their live connections close too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from omnihook.domain.events import TokensRevoked
from omnihook.domain.rooms import AgentStatus, RoomStatus
from omnihook.domain.users import EVERY_USER, ROLES, Role, User
from omnihook.livechat import accounts
from omnihook.livechat.accounts import EMAIL_RE, USERNAME_RE, find_user, user_from_row
from omnihook.livechat.routing import dispatch_queue, enqueue, takes_chats
from omnihook.livechat.settings import read_with_defaults
from omnihook.storage.database import Database, UnitOfWork
from omnihook.storage.tables import auth_tokens, department_agents, live_connections, rooms, users

REGISTRATION = "Accounts_RegistrationForm"
STATUSES = ("online", "away", "busy", "offline")
MAX_STATUS_TEXT = 120
# A live connection not refreshed for this long belongs to a server that is gone.
CONNECTION_FRESH = timedelta(seconds=60)


def rc_error(cls: type[DomainError], reason: str, code: str) -> DomainError:
    """Rocket.Chat's Meteor.Error as its REST API answers it: `error` is "reason [code]"."""
    return cls(f"{reason} [{code}]", reason, error_type=code)


def user_not_found() -> DomainError:
    # Rocket.Chat answers users.info with API.v1.failure('User not found.').
    return InvalidInput("User not found.", "no such user", error_type="error-invalid-user")


async def register(db: Database, *, username: str, email: str, name: str, password: str) -> User:
    """Self-registration (users.register), when Accounts_RegistrationForm is Public: a user without roles."""
    async with db.engine.connect() as conn:
        form = (await read_with_defaults(conn, [REGISTRATION]))[REGISTRATION]
        taken = (await conn.execute(select(users.c.id).where(users.c.username == username))).first()
    if form != "Public":  # before the username check, so a closed form tells nobody which names exist
        raise rc_error(InvalidInput, "User registration is disabled", "error-user-registration-disabled")
    if taken is not None:
        raise InvalidInput(
            "Username is already in use", "username: taken", error_type="error-field-unavailable"
        )
    return await accounts.create_user(db, username=username, password=password, email=email, name=name)


async def user_info(db: Database, *, user_id: str | None, username: str | None) -> User:
    if not user_id and not username:
        raise InvalidInput("Invalid search query.", "give userId or username", error_type="invalid-params")
    async with db.engine.connect() as conn:
        try:
            return await find_user(conn, user_id=user_id or None, username=None if user_id else username)
        except NotFound:
            raise user_not_found() from None


async def all_users(db: Database) -> list[User]:
    """Every user, by username: the staff, few enough for users.list to filter and sort them as shown."""
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(users).order_by(users.c.username))
        return [user_from_row(r) for r in rows]


@dataclass(frozen=True, kw_only=True)
class UserChanges:
    """What users.update changes; None leaves a field as it is."""

    name: str | None = None
    email: str | None = None
    username: str | None = None
    roles: list[str] | None = None
    active: bool | None = None
    password: str | None = None


async def _admins_left(uow: UnitOfWork, without: str) -> int:
    rows = await uow.conn.execute(
        select(users.c.roles).where(users.c.active.is_(True), users.c.id != without)
    )
    return sum(1 for r in rows if Role.ADMIN in (r.roles or []))


def _last_admin() -> DomainError:
    return rc_error(Forbidden, "Leaving the app without admins is not allowed", "error-action-not-allowed")


async def _stop_serving(uow: UnitOfWork, user_id: str) -> None:
    """An agent who leaves (role removed, deactivated, deleted): their open chats go back to the queue,
    they serve no department and take no new chat."""
    served = await uow.conn.execute(
        select(rooms.c.id, rooms.c.department_id).where(
            rooms.c.served_by_id == user_id, rooms.c.status == RoomStatus.SERVED
        )
    )
    for room in served.all():
        await enqueue(uow, room.id, room.department_id)
    await uow.conn.execute(delete(department_agents).where(department_agents.c.agent_id == user_id))
    await uow.conn.execute(
        update(users).where(users.c.id == user_id).values(livechat_status=AgentStatus.NOT_AVAILABLE)
    )


def _check_changes(changes: UserChanges) -> list[str] | None:
    if changes.username is not None and not USERNAME_RE.match(changes.username):
        raise InvalidInput("error-invalid-username", "username: letters, digits, '.', '_' or '-' only")
    if changes.email is not None and not EMAIL_RE.match(changes.email):
        raise InvalidInput("error-invalid-email", f"email: {changes.email!r} is not an email address")
    if changes.roles is None:
        return None
    roles = [r for r in dict.fromkeys(changes.roles) if r != EVERY_USER]
    unknown = set(roles) - ROLES
    if unknown:
        raise rc_error(InvalidInput, f"Role {sorted(unknown)[0]} does not exist", "error-invalid-role")
    return roles


async def update_user(db: Database, *, user_id: str, changes: UserChanges, keep_token: str | None) -> User:
    """users.update: the fields given change; a new password (the policy applies) or a deactivation ends
    the user's sessions, `keep_token` excepted (an admin's own, when they change themselves)."""
    roles = _check_changes(changes)
    # Hashed before the transaction (in a worker thread), which then changes everything or nothing.
    new_hash = None
    if changes.password is not None:
        new_hash = await accounts.checked_password_hash(db, changes.password)
    async with db.transaction() as uow:
        target = await find_user(uow.conn, user_id=user_id)
        values: dict[str, Any] = {}
        if new_hash is not None:
            values["password_hash"] = new_hash
        if changes.name is not None:
            values["name"] = changes.name
        for field, value in (("username", changes.username), ("email", changes.email)):
            if value is None or value == getattr(target, field):
                continue
            column = users.c[field]
            clash = await uow.conn.execute(select(users.c.id).where(column == value, users.c.id != target.id))
            if clash.first() is not None:
                raise rc_error(Conflict, f"{value} is already in use :(", "error-field-unavailable")
            values[field] = value
        losing_admin = (roles is not None and Role.ADMIN not in roles) or changes.active is False
        if target.is_admin and losing_admin and not await _admins_left(uow, target.id):
            raise _last_admin()
        if roles is not None:
            values["roles"] = roles
        if changes.active is not None:
            values["active"] = changes.active
        if values:
            await uow.conn.execute(update(users).where(users.c.id == target.id).values(**values))
        stops_agent = target.is_agent and roles is not None and Role.AGENT not in roles
        if stops_agent or (changes.active is False and target.active):
            await _stop_serving(uow, target.id)
        if changes.active is False and target.active:
            await uow.conn.execute(delete(auth_tokens).where(auth_tokens.c.user_id == target.id))
            uow.record(TokensRevoked(user_id=target.id))
        elif new_hash is not None:
            await accounts.end_other_sessions(uow, target.id, keep_token)
        return await find_user(uow.conn, user_id=target.id)


async def delete_user(db: Database, *, actor: User, user_id: str | None, username: str | None) -> None:
    """users.delete: the user, their sessions and department memberships go; chats they served wait
    in the queue again. The last admin stays."""
    if not user_id and not username:
        raise InvalidInput("error-invalid-user", "give userId or username", error_type="invalid-params")
    async with db.transaction() as uow:
        try:
            target = await find_user(
                uow.conn, user_id=user_id or None, username=None if user_id else username
            )
        except NotFound:
            raise rc_error(InvalidInput, "Invalid user", "error-invalid-user") from None
        if target.is_admin and not await _admins_left(uow, target.id):
            raise _last_admin()
        await _stop_serving(uow, target.id)
        await uow.conn.execute(delete(users).where(users.c.id == target.id))
        uow.record(TokensRevoked(user_id=target.id))


async def set_status(
    db: Database,
    *,
    actor: User,
    status: str | None,
    message: str | None,
    user_id: str | None,
    username: str | None,
) -> None:
    """users.setStatus: a status among online, away, busy and offline, and/or a status message; another
    user's only with edit-other-user-info."""
    if status is None and message is None:
        raise InvalidInput("invalid-params", "give status or message", error_type="invalid-params")
    if status is not None and status not in STATUSES:
        raise rc_error(
            InvalidInput,
            "Valid status types include online, away, offline, and busy.",
            "error-invalid-status",
        )
    if message is not None and len(message) > MAX_STATUS_TEXT:
        raise InvalidInput("invalid-params", f"message: {MAX_STATUS_TEXT} characters at most")
    myself = (not user_id and not username) or user_id == actor.id or username == actor.username
    if not myself and not actor.can("edit-other-user-info"):
        raise Forbidden("unauthorized", "changing another user's status needs edit-other-user-info")
    async with db.transaction() as uow:
        target = actor if myself else await find_user(uow.conn, user_id=user_id or None, username=username)
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if message is not None:
            values["status_text"] = message
        await uow.conn.execute(update(users).where(users.c.id == target.id).values(**values))
        back = replace(target, status=status) if status is not None else target
        if takes_chats(back) and not takes_chats(target):
            await dispatch_queue(uow, back)  # an agent back from offline gets the chats that waited


async def connection_status(db: Database, user: User) -> str:
    """'online' while the user holds a live connection (realtime socket or agent stream), else 'offline'."""
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                select(live_connections.c.id)
                .where(
                    live_connections.c.user_id == user.id,
                    live_connections.c.closed_at.is_(None),
                    live_connections.c.seen_at > utcnow() - CONNECTION_FRESH,
                )
                .limit(1)
            )
        ).first()
    return "online" if row is not None else "offline"


def shown_status(user: User, connection: str) -> str:
    """The status others see: the one the user chose, else online while connected."""
    return user.status or connection
