"""Departments and the agents who serve each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from omnihook.domain.clock import utcnow
from omnihook.domain.errors import Conflict, InvalidInput, NotFound
from omnihook.domain.ids import new_id
from omnihook.domain.rooms import Department, DepartmentAgent, RoomStatus
from omnihook.domain.users import Role
from omnihook.storage.database import Database
from omnihook.storage.tables import department_agents, departments, rooms, users


@dataclass(frozen=True, kw_only=True)
class DepartmentInput:
    name: str
    enabled: bool = True
    description: str | None = None
    email: str | None = None
    show_on_registration: bool = True
    show_on_offline_form: bool = True


def _department(row: Any, agents: list[DepartmentAgent] | None = None) -> Department:
    return Department(
        id=row.id,
        name=row.name,
        description=row.description,
        email=row.email,
        enabled=row.enabled,
        show_on_registration=row.show_on_registration,
        show_on_offline_form=row.show_on_offline_form,
        created_at=row.created_at,
        updated_at=row.updated_at,
        agents=agents or [],
    )


async def _agents_of(
    conn: AsyncConnection, department_ids: Sequence[str]
) -> dict[str, list[DepartmentAgent]]:
    rows = await conn.execute(
        select(department_agents.c.department_id, users)
        .join(users, users.c.id == department_agents.c.agent_id)
        .where(department_agents.c.department_id.in_(list(department_ids)))
        .order_by(users.c.username)
    )
    found: dict[str, list[DepartmentAgent]] = {d: [] for d in department_ids}
    for r in rows:
        found[r.department_id].append(
            DepartmentAgent(
                agent_id=r.id,
                username=r.username,
                name=r.name,
                department_id=r.department_id,
                livechat_status=r.livechat_status,
            )
        )
    return found


async def _check_agents(conn: AsyncConnection, agent_ids: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(agent_ids))
    if not wanted:
        return []
    rows = (await conn.execute(select(users.c.id, users.c.roles).where(users.c.id.in_(wanted)))).all()
    known = {r.id: r.roles for r in rows}
    missing = [a for a in wanted if a not in known]
    if missing:
        raise InvalidInput("error-invalid-agent", f"agents: no user {missing}")
    not_agents = [a for a in wanted if Role.AGENT not in (known[a] or [])]
    if not_agents:
        raise InvalidInput("error-invalid-agent", f"agents: {not_agents} are not livechat agents")
    return wanted


async def _name_taken(conn: AsyncConnection, name: str, except_id: str | None = None) -> bool:
    query = select(departments.c.id).where(func.lower(departments.c.name) == name.lower())
    if except_id:
        query = query.where(departments.c.id != except_id)
    return (await conn.execute(query)).first() is not None


def _validate(data: DepartmentInput) -> None:
    if not data.name.strip():
        raise InvalidInput("error-invalid-department", "department.name: required")


async def create_department(
    db: Database, data: DepartmentInput, agent_ids: Sequence[str] | None = None
) -> Department:
    _validate(data)
    async with db.transaction() as uow:
        if await _name_taken(uow.conn, data.name):
            raise Conflict("error-duplicated-department-name", f"a department is named {data.name!r}")
        agents = await _check_agents(uow.conn, agent_ids or [])
        now = utcnow()
        dep_id = new_id()
        await uow.conn.execute(
            insert(departments).values(
                id=dep_id,
                name=data.name.strip(),
                description=data.description,
                email=data.email,
                enabled=data.enabled,
                show_on_registration=data.show_on_registration,
                show_on_offline_form=data.show_on_offline_form,
                created_at=now,
                updated_at=now,
            )
        )
        if agents:
            await uow.conn.execute(
                insert(department_agents), [{"department_id": dep_id, "agent_id": a} for a in agents]
            )
        return await _load(uow.conn, dep_id)


async def _load(conn: AsyncConnection, department_id: str) -> Department:
    row = (await conn.execute(select(departments).where(departments.c.id == department_id))).first()
    if row is None:
        raise NotFound("error-department-not-found", f"no department {department_id!r}")
    agents = await _agents_of(conn, [department_id])
    return _department(row, agents[department_id])


async def get_department(db: Database, department_id: str) -> Department:
    async with db.engine.connect() as conn:
        return await _load(conn, department_id)


async def list_departments(
    db: Database,
    *,
    text: str | None = None,
    enabled: bool | None = None,
    offset: int = 0,
    count: int = 50,
) -> tuple[list[Department], int]:
    async with db.engine.connect() as conn:
        query = select(departments)
        if text:
            query = query.where(func.lower(departments.c.name).contains(text.lower(), autoescape=True))
        if enabled is not None:
            query = query.where(departments.c.enabled.is_(enabled))
        total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        rows = (await conn.execute(query.order_by(departments.c.name).offset(offset).limit(count))).all()
        agents = await _agents_of(conn, [r.id for r in rows])
        return [_department(r, agents[r.id]) for r in rows], int(total)


async def update_department(
    db: Database, department_id: str, data: DepartmentInput, agent_ids: Sequence[str] | None = None
) -> Department:
    """Replace the department's fields; when `agent_ids` is given, it becomes the agent list."""
    _validate(data)
    async with db.transaction() as uow:
        await _load(uow.conn, department_id)
        if await _name_taken(uow.conn, data.name, except_id=department_id):
            raise Conflict("error-duplicated-department-name", f"a department is named {data.name!r}")
        await uow.conn.execute(
            update(departments)
            .where(departments.c.id == department_id)
            .values(
                name=data.name.strip(),
                description=data.description,
                email=data.email,
                enabled=data.enabled,
                show_on_registration=data.show_on_registration,
                show_on_offline_form=data.show_on_offline_form,
                updated_at=utcnow(),
            )
        )
        if agent_ids is not None:
            agents = await _check_agents(uow.conn, agent_ids)
            await uow.conn.execute(
                delete(department_agents).where(department_agents.c.department_id == department_id)
            )
            if agents:
                await uow.conn.execute(
                    insert(department_agents),
                    [{"department_id": department_id, "agent_id": a} for a in agents],
                )
        return await _load(uow.conn, department_id)


async def delete_department(db: Database, department_id: str) -> None:
    async with db.transaction() as uow:
        await _load(uow.conn, department_id)
        open_rooms = (
            await uow.conn.execute(
                select(func.count())
                .select_from(rooms)
                .where(rooms.c.department_id == department_id, rooms.c.status != RoomStatus.CLOSED)
            )
        ).scalar_one()
        if open_rooms:
            raise Conflict(
                "error-department-has-open-rooms", f"{open_rooms} open chats are in this department"
            )
        await uow.conn.execute(delete(departments).where(departments.c.id == department_id))


async def department_exists(conn: AsyncConnection, department_id: str) -> bool:
    row = (
        await conn.execute(
            select(departments.c.id).where(departments.c.id == department_id, departments.c.enabled.is_(True))
        )
    ).first()
    return row is not None


async def departments_of_agent(
    db: Database, agent_id: str, *, enabled_only: bool = False
) -> list[Department]:
    """The departments this agent serves (each with its agents)."""
    async with db.engine.connect() as conn:
        query = (
            select(departments)
            .join(department_agents, department_agents.c.department_id == departments.c.id)
            .where(department_agents.c.agent_id == agent_id)
            .order_by(departments.c.name)
        )
        if enabled_only:
            query = query.where(departments.c.enabled.is_(True))
        rows = (await conn.execute(query)).all()
        agents = await _agents_of(conn, [r.id for r in rows])
        return [_department(r, agents[r.id]) for r in rows]


async def enabled_department_name(conn: AsyncConnection, department_id: str) -> str | None:
    """The department's name, or None when there is no such enabled department."""
    row = (
        await conn.execute(
            select(departments.c.name).where(
                departments.c.id == department_id, departments.c.enabled.is_(True)
            )
        )
    ).first()
    return row.name if row else None
