"""Omnichannel agents and managers: who holds the role, and whether an agent takes chats now."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from omnihook.domain.errors import Forbidden, InvalidInput, NotFound
from omnihook.domain.rooms import AgentStatus
from omnihook.domain.users import Role, User
from omnihook.livechat.accounts import find_user, set_roles, user_from_row
from omnihook.livechat.routing import dispatch_queue
from omnihook.storage.database import Database
from omnihook.storage.tables import department_agents, users

OMNICHANNEL_ROLES = {"agent": Role.AGENT, "manager": Role.MANAGER}


def role_for(kind: str) -> Role:
    role = OMNICHANNEL_ROLES.get(kind)
    if role is None:
        raise NotFound("error-invalid-type", f"unknown user type {kind!r}: agent or manager")
    return role


async def add_role(db: Database, *, username: str, role: Role) -> User:
    async with db.transaction() as uow:
        user = await find_user(uow.conn, username=username)
        if role in user.roles:
            return user
        return await set_roles(uow.conn, user, [*user.roles, role])


async def remove_role(db: Database, *, user_id: str, role: Role) -> None:
    async with db.transaction() as uow:
        user = await find_user(uow.conn, user_id=user_id)
        if role not in user.roles:
            raise NotFound("error-user-not-found", f"{user.username} is not a {role.value}")
        await set_roles(uow.conn, user, [r for r in user.roles if r != role])
        if role is Role.AGENT:
            # An ex-agent serves no department and takes no new chat.
            await uow.conn.execute(delete(department_agents).where(department_agents.c.agent_id == user.id))
            await uow.conn.execute(
                update(users).where(users.c.id == user.id).values(livechat_status=AgentStatus.NOT_AVAILABLE)
            )


async def list_with_role(
    db: Database,
    *,
    role: Role,
    text: str | None = None,
    only_available: bool = False,
    exclude_id: str | None = None,
    offset: int = 0,
    count: int = 50,
) -> tuple[list[User], int]:
    async with db.engine.connect() as conn:
        # Roles are a JSON list; filter in Python (a workspace has few staff users).
        rows = (await conn.execute(select(users).order_by(users.c.username))).all()
    found = [user_from_row(r) for r in rows if role in (r.roles or [])]
    if text:
        needle = text.lower()
        found = [u for u in found if needle in u.username.lower() or needle in (u.name or "").lower()]
    if only_available:
        found = [u for u in found if u.livechat_status == AgentStatus.AVAILABLE]
    if exclude_id:
        found = [u for u in found if u.id != exclude_id]
    return found[offset : offset + count], len(found)


async def get_with_role(db: Database, *, user_id: str, role: Role) -> User:
    async with db.engine.connect() as conn:
        user = await find_user(conn, user_id=user_id)
    if role not in user.roles:
        raise NotFound("error-user-not-found", f"{user.username} is not a {role.value}")
    return user


async def set_status(db: Database, *, actor: User, status: str | None, agent_id: str | None = None) -> str:
    """Set (or, with no status, toggle) an agent's availability. Managers may set anyone's."""
    target_id = agent_id or actor.id
    if target_id != actor.id and not actor.is_manager:
        raise Forbidden("error-not-allowed", "only managers change another agent's status")
    if status is not None and status not in {s.value for s in AgentStatus}:
        raise InvalidInput("error-invalid-status", "status: 'available' or 'not-available'")
    async with db.transaction() as uow:
        user = await find_user(uow.conn, user_id=target_id)
        if not user.is_agent:
            raise InvalidInput("error-not-an-agent", f"{user.username} is not a livechat agent")
        new = status or (
            AgentStatus.NOT_AVAILABLE
            if user.livechat_status == AgentStatus.AVAILABLE
            else AgentStatus.AVAILABLE
        )
        await uow.conn.execute(update(users).where(users.c.id == target_id).values(livechat_status=str(new)))
        if new == AgentStatus.AVAILABLE:
            await dispatch_queue(uow, user)
    return str(new)
