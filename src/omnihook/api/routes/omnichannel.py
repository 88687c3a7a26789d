"""Omnichannel management: agents, managers, availability, departments, workspace settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from omnihook.api import shapes
from omnihook.api.openapi import answers, raw_body
from omnihook.api.presenters import department_agent_json, department_json, user_json
from omnihook.domain.clock import iso
from omnihook.domain.errors import InvalidInput
from omnihook.domain.rooms import Department
from omnihook.domain.users import Role
from omnihook.http.deps import (
    DB,
    Agent,
    AppSettings,
    CurrentUser,
    DepartmentsManager,
    Manager,
    SettingsEditor,
    SettingsReader,
    ensure_permission,
)
from omnihook.livechat import agents, departments, inquiries
from omnihook.livechat import settings as workspace_settings
from omnihook.livechat.departments import DepartmentInput
from omnihook.storage.database import Database
from omnihook.webhooks import settings as integration
from omnihook.webhooks.catalog import BY_SETTING_ID

router = APIRouter(prefix="/api/v1", tags=["omnichannel"])

Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
Count = Annotated[int, Query(ge=1, le=500)]


class UsernameBody(BaseModel):
    username: str = Field(min_length=1, max_length=120)


# Who may add and remove each kind: Rocket.Chat's permissions.
MANAGE_KIND = {"agent": "manage-livechat-agents", "manager": "manage-livechat-managers"}


def _may_manage(user: CurrentUser, kind: str) -> Role:
    role = agents.role_for(kind)
    ensure_permission(user, MANAGE_KIND[kind])
    return role


@router.post("/livechat/users/{kind}", responses=answers(shapes.UserAnswer, 403, 404))
async def add_omnichannel_user(kind: str, body: UsernameBody, actor: CurrentUser, db: DB) -> dict[str, Any]:
    """Give a user the livechat-agent (`agent`) or livechat-manager (`manager`) role."""
    user = await agents.add_role(db, username=body.username, role=_may_manage(actor, kind))
    return {"user": user_json(user), "success": True}


@router.get("/livechat/users/{kind}", responses=answers(shapes.UsersPage))
async def list_omnichannel_users(
    kind: str,
    user: Agent,
    db: DB,
    text: str | None = None,
    onlyAvailable: bool = False,
    excludeId: str | None = None,
    offset: Offset = 0,
    count: Count = 50,
) -> dict[str, Any]:
    """The agents (each with `statusLivechat`; agents may list them to forward a chat) or the managers."""
    role = agents.role_for(kind)
    if role is not Role.AGENT:
        ensure_permission(user, "view-livechat-manager")
    found, total = await agents.list_with_role(
        db,
        role=role,
        text=text,
        only_available=onlyAvailable,
        exclude_id=excludeId,
        offset=offset,
        count=count,
    )
    return {
        "users": [user_json(u) for u in found],
        "count": len(found),
        "offset": offset,
        "total": total,
        "success": True,
    }


@router.get("/livechat/users/{kind}/{user_id}", responses=answers(shapes.UserAnswer, 404))
async def get_omnichannel_user(kind: str, user_id: str, _: Manager, db: DB) -> dict[str, Any]:
    user = await agents.get_with_role(db, user_id=user_id, role=agents.role_for(kind))
    return {"user": user_json(user), "success": True}


@router.delete("/livechat/users/{kind}/{user_id}", responses=answers(shapes.Done, 403, 404))
async def remove_omnichannel_user(kind: str, user_id: str, actor: CurrentUser, db: DB) -> dict[str, Any]:
    await agents.remove_role(db, user_id=user_id, role=_may_manage(actor, kind))
    return {"success": True}


class AgentStatusBody(BaseModel):
    status: str | None = None
    agentId: str | None = None


@router.post("/livechat/agent.status", responses=answers(shapes.AgentStatus, 403, 404))
async def agent_status(user: Agent, db: DB, body: AgentStatusBody | None = None) -> dict[str, Any]:
    """`available` or `not-available`; without a status it toggles. Managers may pass `agentId`."""
    body = body or AgentStatusBody()
    status = await agents.set_status(db, actor=user, status=body.status, agent_id=body.agentId)
    return {"status": status, "success": True}


class DepartmentFields(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    description: str | None = Field(default=None, max_length=5000)
    email: str | None = Field(default=None, max_length=254)
    showOnRegistration: bool = True
    showOnOfflineForm: bool = True

    def to_input(self) -> DepartmentInput:
        return DepartmentInput(
            name=self.name,
            enabled=self.enabled,
            description=self.description,
            email=self.email or None,
            show_on_registration=self.showOnRegistration,
            show_on_offline_form=self.showOnOfflineForm,
        )


class DepartmentAgentRef(BaseModel):
    agentId: str = Field(min_length=1)
    username: str | None = None
    count: int | None = None
    order: int | None = None


class DepartmentBody(BaseModel):
    department: DepartmentFields
    agents: list[DepartmentAgentRef] | None = None

    def agent_ids(self) -> list[str] | None:
        return None if self.agents is None else [a.agentId for a in self.agents]


def _with_agents(dep: Department) -> dict[str, Any]:
    return {
        "department": department_json(dep),
        "agents": [department_agent_json(a, dep) for a in dep.agents],
        "success": True,
    }


@router.post("/livechat/department", responses=answers(shapes.DepartmentAnswer))
async def create_department(body: DepartmentBody, _: DepartmentsManager, db: DB) -> dict[str, Any]:
    dep = await departments.create_department(db, body.department.to_input(), body.agent_ids())
    return _with_agents(dep)


@router.get("/livechat/department", responses=answers(shapes.DepartmentsPage))
async def list_departments(
    _: Agent,
    db: DB,
    text: str | None = None,
    enabled: bool | None = None,
    offset: Offset = 0,
    count: Count = 50,
) -> dict[str, Any]:
    found, total = await departments.list_departments(
        db, text=text, enabled=enabled, offset=offset, count=count
    )
    return {
        "departments": [
            {**department_json(d), "agents": [department_agent_json(a, d) for a in d.agents]} for d in found
        ],
        "count": len(found),
        "offset": offset,
        "total": total,
        "success": True,
    }


@router.get("/livechat/department/{department_id}", responses=answers(shapes.DepartmentAnswer, 404))
async def get_department(department_id: str, _: Agent, db: DB, includeAgents: bool = True) -> dict[str, Any]:
    dep = await departments.get_department(db, department_id)
    body = _with_agents(dep)
    if not includeAgents:
        body.pop("agents")
    return body


@router.put("/livechat/department/{department_id}", responses=answers(shapes.DepartmentAnswer, 404))
async def update_department(
    department_id: str, body: DepartmentBody, _: DepartmentsManager, db: DB
) -> dict[str, Any]:
    dep = await departments.update_department(db, department_id, body.department.to_input(), body.agent_ids())
    return _with_agents(dep)


@router.delete("/livechat/department/{department_id}", responses=answers(shapes.Done, 404))
async def delete_department(department_id: str, _: DepartmentsManager, db: DB) -> dict[str, Any]:
    await departments.delete_department(db, department_id)
    return {"success": True}


@router.get("/livechat/inquiries.list", responses=answers(shapes.InquiriesListPage))
async def list_inquiries(
    _: Manager, db: DB, department: str | None = None, offset: Offset = 0, count: Count = 50
) -> dict[str, Any]:
    """Every chat waiting in the queue, newest first (`department`: its id or name)."""
    found, total = await inquiries.list_queued(db, department=department, offset=offset, count=count)
    return {
        "inquiries": [
            {
                "_id": i.id,
                "rid": i.room_id,
                "name": i.visitor_name,
                "ts": iso(i.created_at),
                "status": i.status.value,
                **({"department": i.department_id} if i.department_id else {}),
            }
            for i in found
        ],
        "offset": offset,
        "count": len(found),
        "total": total,
        "success": True,
    }


class SettingValue(TypedDict):
    """The body of POST settings/:id, for the OpenAPI document (the route reads the raw object)."""

    value: Annotated[Any, Field(description="the setting's new value, of its type")]


async def _setting_values(db: Database) -> dict[str, Any]:
    """Every setting an admin reads here, secrets masked."""
    values: dict[str, Any] = await workspace_settings.get_settings(db, workspace_settings.SETTINGS)
    for setting_id, value in (await integration.current_integration_settings(db)).items():
        masked = BY_SETTING_ID[setting_id].kind == "secret" if setting_id in BY_SETTING_ID else False
        values[setting_id] = integration.mask_secret_value(value) if masked else value
    return values


@router.get("/settings", responses=answers(shapes.SettingsPage))
async def list_settings(user: CurrentUser, db: DB, offset: Offset = 0, count: Count = 50) -> dict[str, Any]:
    """The settings, by id, as Rocket.Chat pages them; only to holders of view-privileged-setting (the
    others see none: omnihook has no public settings here)."""
    values = await _setting_values(db) if user.can("view-privileged-setting") else {}
    ids = sorted(values)
    page = ids[offset : offset + count]
    return {
        "settings": [{"_id": setting_id, "value": values[setting_id]} for setting_id in page],
        "count": len(page),
        "offset": offset,
        "total": len(ids),
        "success": True,
    }


@router.get("/settings/{setting_id}", responses=answers(shapes.SettingAnswer, 404))
async def read_setting(setting_id: str, _: SettingsReader, db: DB) -> dict[str, Any]:
    if setting_id in BY_SETTING_ID:
        value = (await integration.current_integration_settings(db))[setting_id]
        if BY_SETTING_ID[setting_id].kind == "secret":  # write-only, as on every other path
            value = integration.mask_secret_value(value)
    else:
        value = await workspace_settings.get_setting(db, setting_id)
    return {"_id": setting_id, "value": value, "success": True}


@router.post(
    "/settings/{setting_id}",
    responses=answers(shapes.Done),
    openapi_extra=raw_body("SettingValue", SettingValue),
)
async def write_setting(
    setting_id: str,
    request: Request,
    _: SettingsEditor,
    db: DB,
    app_settings: AppSettings,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    if "value" not in body:
        raise InvalidInput("error-invalid-setting-value", "value: required")
    crm = BY_SETTING_ID.get(setting_id)
    if crm is not None:
        # The webhook engine validates these and keeps its Rocket.Chat endpoint in step.
        await integration.save_integration_settings(
            db,
            {crm.field: body["value"]},
            allow_private_targets=app_settings.allow_private_targets,
            on_change=request.app.state.webhooks.endpoints_changed,
        )
    else:
        await workspace_settings.set_setting(db, setting_id, body["value"])
    return {"success": True}
