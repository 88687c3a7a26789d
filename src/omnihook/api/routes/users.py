"""The REST that Rocket.Chat's client libraries call around livechat: /api/info, users.*, permissions.*.

Shapes and errors are Rocket.Chat's (apps/meteor/app/api/server/v1/users.ts, permissions.ts and
lib/getServerInfo.ts); each permission checked is one of livechat/permissions.py.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnihook import __version__
from omnihook.api import json_query, shapes
from omnihook.api.openapi import OPTIONAL_LOGIN, answers
from omnihook.api.presenters import user_json
from omnihook.domain.clock import iso
from omnihook.domain.errors import InvalidInput, Unauthorized
from omnihook.domain.users import User
from omnihook.http.deps import (
    DB,
    CurrentUser,
    PermissionsEditor,
    UserDeleter,
    UsersLister,
    current_user,
    ensure_permission,
)
from omnihook.livechat import permissions
from omnihook.livechat import users as user_admin
from omnihook.livechat.permissions import Permission, PermissionChange

# The version of Rocket.Chat whose REST API omnihook follows: clients compare it to decide what to call.
ROCKETCHAT_VERSION = "7.0.0"

info_router = APIRouter(prefix="/api", tags=["users"])
router = APIRouter(prefix="/api/v1", tags=["users"])

Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]
Count = Annotated[int, Query(ge=1, le=500)]


@info_router.get("/info", responses=answers(shapes.ServerInfo), openapi_extra=OPTIONAL_LOGIN)
async def server_info(
    request: Request,
    x_user_id: Annotated[str | None, Header()] = None,
    x_auth_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Rocket.Chat's `GET /api/info`: the version without its patch; with view-statistics, the full
    version and the build. A missing or wrong login is no error here."""
    user: User | None = None
    if x_user_id and x_auth_token:
        try:
            user = await current_user(request, x_user_id, x_auth_token)
        except Unauthorized:
            user = None
    major_minor = ".".join(ROCKETCHAT_VERSION.split(".")[:2])
    if user is None or not user.can("view-statistics"):
        return {"version": major_minor, "success": True}
    return {
        "version": ROCKETCHAT_VERSION,
        "info": {
            "version": ROCKETCHAT_VERSION,
            "build": {
                "platform": platform.system().lower(),
                "arch": platform.machine(),
                "osRelease": platform.release(),
                "cpus": os.cpu_count() or 1,
                "pythonVersion": platform.python_version(),
            },
            "omnihook": {"version": __version__},
        },
        "success": True,
    }


# --- users ----------------------------------------------------------------------------------------


class RegisterBody(BaseModel):
    username: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(alias="pass", min_length=1)


@router.post("/users.register", responses=answers(shapes.UserAnswer))
async def register(
    body: RegisterBody,
    db: DB,
    x_user_id: Annotated[str | None, Header()] = None,
    x_auth_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Anyone registers an account without roles, when Accounts_RegistrationForm is Public."""
    if x_user_id or x_auth_token:
        raise InvalidInput(
            "Logged in users can not register again.", "log out first", error_type="error-invalid-user"
        )
    user = await user_admin.register(
        db, username=body.username, email=body.email, name=body.name, password=body.password
    )
    return {"user": user_json(user), "success": True}


def _shown(viewer: User, user: User, connection: str) -> dict[str, Any]:
    mine = viewer.id == user.id
    emails = mine or viewer.can("view-full-other-user-info")
    return user_json(user, emails=emails, status=user_admin.shown_status(user, connection))


@router.get("/users.info", responses=answers(shapes.UserAnswer, 404))
async def users_info(
    viewer: CurrentUser, db: DB, userId: str | None = None, username: str | None = None
) -> dict[str, Any]:
    """A user by `userId` or `username`; their e-mail addresses only to themselves or with
    view-full-other-user-info."""
    user = await user_admin.user_info(db, user_id=userId, username=username)
    connection = await user_admin.connection_status(db, user)
    return {"user": _shown(viewer, user, connection), "success": True}


@router.get("/users.list", responses=answers(shapes.UsersPage))
async def users_list(
    viewer: UsersLister,
    db: DB,
    offset: Offset = 0,
    count: Count = 50,
    query: str | None = None,
    fields: str | None = None,
    sort: str | None = None,
) -> dict[str, Any]:
    """Users by username, paged; Rocket.Chat's `query` (JSON: `$or`, `$and`, `$regex` on the fields
    shown), `fields` (JSON: a 0 leaves a field out) and `sort` (JSON: {field: 1 | -1}); other operators
    are refused (400 error-invalid-query)."""
    # As in Rocket.Chat, e-mail addresses (one's own too) only with view-full-other-user-info: what
    # is not shown can neither be queried.
    emails = viewer.can("view-full-other-user-info")
    docs = [user_json(u, emails=emails, status=u.status) for u in await user_admin.all_users(db)]
    shown = json_query.parse_fields(fields, list(dict.fromkeys(k for d in docs for k in d)))
    selected = json_query.parse_query(query, shown)
    order = json_query.parse_sort(sort, {"username": 1})
    matching = [d for d in docs if selected(d)]
    ordered = json_query.sort_documents(matching, order, insensitive=frozenset({"name"}))
    page = [json_query.project(d, shown) for d in ordered[offset : offset + count]]
    return {"users": page, "count": len(page), "offset": offset, "total": len(matching), "success": True}


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, min_length=3, max_length=254)
    username: str | None = Field(default=None, min_length=1, max_length=120)
    roles: list[str] | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=1)

    def needed_permissions(self) -> list[str]:
        """Rocket.Chat's permission for each kind of change given."""
        needed = []
        if self.name is not None or self.email is not None or self.username is not None:
            needed.append("edit-other-user-info")
        if self.password is not None:
            needed.append("edit-other-user-password")
        if self.active is not None:
            needed.append("edit-other-user-active-status")
        if self.roles is not None:
            needed.append("assign-roles")
        return needed or ["edit-other-user-info"]


class UpdateUserBody(BaseModel):
    userId: str = Field(min_length=1, max_length=32)
    data: UserUpdate


@router.post("/users.update", responses=answers(shapes.UserAnswer, 403, 404))
async def update_user(body: UpdateUserBody, request: Request, actor: CurrentUser, db: DB) -> dict[str, Any]:
    """Change a user's name, email, username, roles, active state or password (each needs its
    permission). A new password or a deactivation ends that user's sessions (the caller's own excepted)."""
    for needed in body.data.needed_permissions():
        ensure_permission(actor, needed)
    d = body.data
    keep = request.state.auth_token if body.userId == actor.id else None
    user = await user_admin.update_user(
        db,
        user_id=body.userId,
        changes=user_admin.UserChanges(
            name=d.name,
            email=d.email,
            username=d.username,
            roles=d.roles,
            active=d.active,
            password=d.password,
        ),
        keep_token=keep,
    )
    return {"user": user_json(user), "success": True}


class DeleteUserBody(BaseModel):
    userId: str | None = Field(default=None, max_length=32)
    username: str | None = Field(default=None, max_length=120)
    confirmRelinquish: bool = False


@router.post("/users.delete", responses=answers(shapes.Done, 404))
async def delete_user(body: DeleteUserBody, actor: UserDeleter, db: DB) -> dict[str, Any]:
    await user_admin.delete_user(db, actor=actor, user_id=body.userId, username=body.username)
    return {"success": True}


class SetStatusBody(BaseModel):
    message: str | None = None
    status: str | None = None
    userId: str | None = Field(default=None, max_length=32)
    username: str | None = Field(default=None, max_length=120)

    @model_validator(mode="after")
    def something(self) -> SetStatusBody:
        if self.message is None and self.status is None:
            raise ValueError("give `status` or `message`")
        return self


@router.post("/users.setStatus", responses=answers(shapes.Done, 403, 404))
async def set_status(body: SetStatusBody, actor: CurrentUser, db: DB) -> dict[str, Any]:
    """The user's status (online, away, busy, offline) and status message. It is what users.info and
    users.getStatus show; whether an agent takes chats is livechat/agent.status."""
    await user_admin.set_status(
        db, actor=actor, status=body.status, message=body.message, user_id=body.userId, username=body.username
    )
    return {"success": True}


@router.get("/users.getStatus", responses=answers(shapes.UserStatus, 404))
async def get_status(
    viewer: CurrentUser, db: DB, userId: str | None = None, username: str | None = None
) -> dict[str, Any]:
    myself = (not userId and not username) or userId == viewer.id or username == viewer.username
    user = viewer if myself else await user_admin.user_info(db, user_id=userId, username=username)
    connection = await user_admin.connection_status(db, user)
    body: dict[str, Any] = {"_id": user.id, "status": user_admin.shown_status(user, connection)}
    if myself:
        body["connectionStatus"] = connection
    return {**body, "success": True}


# --- permissions ---------------------------------------------------------------------------------


def _permission_json(p: Permission) -> dict[str, Any]:
    return {"_id": p.id, "roles": list(p.roles), "_updatedAt": iso(p.updated_at)}


@router.get("/permissions.listAll", responses=answers(shapes.PermissionsList))
async def permissions_list_all(
    _: CurrentUser, db: DB, updatedSince: datetime | None = None
) -> dict[str, Any]:
    """Every permission omnihook checks with the roles holding it; with `updatedSince`, those changed
    after it (none is ever removed)."""
    found = await permissions.list_all(db, updated_since=updatedSince)
    return {"update": [_permission_json(p) for p in found], "remove": [], "success": True}


class PermissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(alias="_id", min_length=1, max_length=120)
    roles: list[str] = Field(max_length=50)


class PermissionsUpdateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    permissions: list[PermissionIn] = Field(max_length=200)


@router.post("/permissions.update", responses=answers(shapes.PermissionsUpdated))
async def permissions_update(body: PermissionsUpdateBody, _: PermissionsEditor, db: DB) -> dict[str, Any]:
    """Give each permission listed exactly these roles (admins keep access-permissions)."""
    changes = [PermissionChange(id=p.id, roles=p.roles) for p in body.permissions]
    found = await permissions.update(db, changes)
    return {"permissions": [_permission_json(p) for p in found], "success": True}
