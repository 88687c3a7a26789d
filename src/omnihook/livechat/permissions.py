"""Permissions: Rocket.Chat's permission ids for what omnihook checks, the roles holding each, and
permissions.update.

Each permission has Rocket.Chat's default roles (restricted to omnihook's roles) until permissions.update
gives it others; the change is a row in `permissions`. A user holds the permissions of their roles, plus
those given to `user`, the role of every user. Routes check them (http/deps.py), and
`view-livechat-rooms` is what makes a user see and act on every chat in the livechat rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import InvalidInput
from omnihook.domain.users import EVERY_USER, ROLES, SEE_EVERY_ROOM, Role
from omnihook.storage.database import Database
from omnihook.storage.tables import permissions

ADMIN, MANAGER, AGENT = Role.ADMIN.value, Role.MANAGER.value, Role.AGENT.value
STAFF = (ADMIN, MANAGER, AGENT)
MANAGEMENT = (ADMIN, MANAGER)

# id -> (default roles, what it lets through in omnihook). Rocket.Chat's ids and defaults, without the
# roles omnihook does not have (livechat-monitor, bot, app, guest...).
PERMISSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "view-l-room": (STAFF, "the agent's API: queue, take, rooms, messages, visitors, departments"),
    SEE_EVERY_ROOM: (MANAGEMENT, "see and act on every chat, not only the ones served"),
    "close-livechat-room": (STAFF, "livechat/room.closeByUser"),
    "transfer-livechat-guest": (STAFF, "livechat/room.forward"),
    "view-livechat-manager": (
        MANAGEMENT,
        "livechat/appearance, livechat/users, inquiries.list, livechat/integrations.settings",
    ),
    "view-livechat-webhooks": (
        MANAGEMENT,
        "the webhook API: endpoints, their stats and examples, deliveries, the CRM integration's save and test",
    ),
    "manage-livechat-agents": (MANAGEMENT, "add and remove agents"),
    "manage-livechat-managers": (MANAGEMENT, "add and remove managers"),
    "manage-livechat-departments": (MANAGEMENT, "create, edit and delete departments"),
    "view-privileged-setting": ((ADMIN,), "GET settings and settings/:id"),
    "edit-privileged-setting": ((ADMIN,), "POST settings/:id"),
    "view-d-room": ((ADMIN, EVERY_USER), "users.list"),
    "view-full-other-user-info": ((ADMIN,), "other users' e-mail addresses in users.info and users.list"),
    "create-user": ((ADMIN,), "users.create"),
    "edit-other-user-info": ((ADMIN,), "users.update (name, e-mail, username), another's users.setStatus"),
    "edit-other-user-password": ((ADMIN,), "users.update with a password"),
    "edit-other-user-active-status": ((ADMIN,), "users.update with active"),
    "assign-roles": ((ADMIN,), "users.update with roles"),
    "delete-user": ((ADMIN,), "users.delete"),
    "edit-message": ((ADMIN,), "chat.update of another's message"),
    "delete-message": ((ADMIN,), "chat.delete of another's message"),
    "access-permissions": ((ADMIN,), "permissions.update"),
    "view-statistics": ((ADMIN,), "the full /api/info"),
}

# The permissions that admins keep whatever is asked, so that nobody can lock everyone out.
KEPT_BY_ADMIN = frozenset({"access-permissions"})

# When the defaults were set: the `_updatedAt` of a permission never changed.
DEFAULTS_AT = datetime(2026, 12, 2, tzinfo=UTC)

ASSIGNABLE_ROLES = ROLES | {EVERY_USER}


@dataclass(frozen=True, kw_only=True)
class Permission:
    id: str
    roles: tuple[str, ...]
    updated_at: datetime


async def _stored(conn: AsyncConnection) -> dict[str, Permission]:
    rows = await conn.execute(select(permissions.c.id, permissions.c.roles, permissions.c.updated_at))
    return {r.id: Permission(id=r.id, roles=tuple(r.roles), updated_at=r.updated_at) for r in rows}


def _current(stored: dict[str, Permission]) -> list[Permission]:
    return [
        stored.get(pid) or Permission(id=pid, roles=default, updated_at=DEFAULTS_AT)
        for pid, (default, _) in PERMISSIONS.items()
    ]


async def current_permissions(conn: AsyncConnection) -> list[Permission]:
    """Every permission with its roles now, in the catalogue's order."""
    return _current(await _stored(conn))


async def held_by(conn: AsyncConnection, roles: Iterable[str]) -> frozenset[str]:
    """The permissions that a user with `roles` holds (every user also holds those of `user`)."""
    mine = {*roles, EVERY_USER}
    return frozenset(p.id for p in await current_permissions(conn) if mine.intersection(p.roles))


async def list_all(db: Database, *, updated_since: datetime | None = None) -> list[Permission]:
    async with db.engine.connect() as conn:
        found = await current_permissions(conn)
    if updated_since is not None:
        found = [p for p in found if p.updated_at > updated_since]
    return found


@dataclass(frozen=True, kw_only=True)
class PermissionChange:
    id: str
    roles: Sequence[str]


def _invalid(reason: str, code: str) -> InvalidInput:
    return InvalidInput(f"{reason} [{code}]", reason, error_type=code)


async def update(db: Database, changes: Sequence[PermissionChange]) -> list[Permission]:
    """Give each permission exactly the roles listed (Rocket.Chat's permissions.update); every permission
    after the change. Unknown ids or roles refuse the whole request."""
    if any(c.id not in PERMISSIONS for c in changes):
        raise _invalid("Invalid permission", "error-invalid-permission")
    if any(r not in ASSIGNABLE_ROLES for c in changes for r in c.roles):
        raise _invalid("Invalid role", "error-invalid-role")
    now = utcnow()
    async with db.transaction() as uow:
        insert = pg_insert if uow.conn.dialect.name == "postgresql" else sqlite_insert
        for change in changes:
            roles = list(dict.fromkeys(change.roles))
            if change.id in KEPT_BY_ADMIN and ADMIN not in roles:
                roles.insert(0, ADMIN)
            stmt = insert(permissions).values(id=change.id, roles=roles, updated_at=now)
            await uow.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[permissions.c.id], set_={"roles": roles, "updated_at": now}
                )
            )
        return await current_permissions(uow.conn)
