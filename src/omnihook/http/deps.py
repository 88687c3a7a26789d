"""Request dependencies for api/ and web/ alike: the database, the settings, the authenticated user, the
permission checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from omnihook.config import Settings
from omnihook.domain.errors import Forbidden, Unauthorized
from omnihook.domain.users import User
from omnihook.livechat.accounts import authenticate
from omnihook.livechat.permissions import PERMISSIONS
from omnihook.storage.database import Database


# async, though they await nothing: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop on every request.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Rocket.Chat's login headers, as security schemes in the OpenAPI document. Read as plain headers: a
# missing one is Rocket.Chat's 401 below, not FastAPI's own refusal.
USER_ID_HEADER = APIKeyHeader(
    name="X-User-Id",
    scheme_name="RocketChatUserId",
    description="The user id: `data.userId` of POST /api/v1/login. Sent with X-Auth-Token.",
    auto_error=False,
)
AUTH_TOKEN_HEADER = APIKeyHeader(
    name="X-Auth-Token",
    scheme_name="RocketChatAuthToken",
    description="The login token: `data.authToken` of POST /api/v1/login. Sent with X-User-Id.",
    auto_error=False,
)


async def current_user(
    request: Request,
    x_user_id: Annotated[str | None, Security(USER_ID_HEADER)] = None,
    x_auth_token: Annotated[str | None, Security(AUTH_TOKEN_HEADER)] = None,
) -> User:
    """The user behind X-User-Id / X-Auth-Token, as Rocket.Chat authenticates REST calls."""
    if not x_user_id or not x_auth_token:
        raise Unauthorized("unauthorized", "You must be logged in to do this.")
    user = await authenticate(await get_db(request), user_id=x_user_id, token=x_auth_token)
    request.state.auth_token = x_auth_token
    return user


async def get_client_address(request: Request) -> str:
    """The client's address as the ASGI server saw it. uvicorn takes it from X-Forwarded-For only when
    the connection comes from a proxy in FORWARDED_ALLOW_IPS (127.0.0.1 unless set); nothing else is
    trusted here."""
    return request.client.host if request.client is not None else "unknown"


class PermissionCheck:
    """A dependency that lets through users whose roles hold `permission` (livechat/permissions.py),
    refused as Rocket.Chat refuses a route's permissionsRequired. The OpenAPI document names it."""

    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        self.permission = permission

    async def __call__(self, user: Annotated[User, Depends(current_user)]) -> User:
        return ensure_permission(user, self.permission)


def require_permission(permission: str) -> PermissionCheck:
    return PermissionCheck(permission)


def ensure_permission(user: User, permission: str) -> User:
    """`user` when their roles hold `permission`; refused as Rocket.Chat refuses permissionsRequired."""
    if user.can(permission):
        return user
    raise Forbidden(
        "User does not have the permissions required for this action [error-unauthorized]",
        f"requires the {permission} permission",
        error_type="error-unauthorized",
    )


DB = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
ClientAddress = Annotated[str, Depends(get_client_address)]
CurrentUser = Annotated[User, Depends(current_user)]

# The permissions (Rocket.Chat's ids) the routes check; each is given by default to the roles that the
# role check it replaced let through (livechat/permissions.py lists them).
Agent = Annotated[User, Depends(require_permission("view-l-room"))]
Manager = Annotated[User, Depends(require_permission("view-livechat-manager"))]
WebhooksViewer = Annotated[User, Depends(require_permission("view-livechat-webhooks"))]
CloseRoom = Annotated[User, Depends(require_permission("close-livechat-room"))]
TransferGuest = Annotated[User, Depends(require_permission("transfer-livechat-guest"))]
AgentsManager = Annotated[User, Depends(require_permission("manage-livechat-agents"))]
ManagersManager = Annotated[User, Depends(require_permission("manage-livechat-managers"))]
DepartmentsManager = Annotated[User, Depends(require_permission("manage-livechat-departments"))]
SettingsReader = Annotated[User, Depends(require_permission("view-privileged-setting"))]
SettingsEditor = Annotated[User, Depends(require_permission("edit-privileged-setting"))]
UserCreator = Annotated[User, Depends(require_permission("create-user"))]
UserDeleter = Annotated[User, Depends(require_permission("delete-user"))]
UsersLister = Annotated[User, Depends(require_permission("view-d-room"))]
PermissionsEditor = Annotated[User, Depends(require_permission("access-permissions"))]
