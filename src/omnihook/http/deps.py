"""Request dependencies for api/ and web/ alike: the database, the settings, the authenticated user, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from omnihook.config import Settings
from omnihook.domain.errors import Forbidden, Unauthorized
from omnihook.domain.users import Role, User
from omnihook.livechat.accounts import authenticate
from omnihook.storage.database import Database


# async, though they await nothing: FastAPI runs a plain `def` dependency in its thread pool, a thread
# hop on every request.
async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def current_user(
    request: Request,
    x_user_id: Annotated[str | None, Header()] = None,
    x_auth_token: Annotated[str | None, Header()] = None,
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


def require_roles(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets through users holding any of `roles` (admins always)."""

    async def check(user: Annotated[User, Depends(current_user)]) -> User:
        if user.is_admin or user.has_any_role(*roles):
            return user
        raise Forbidden("error-not-allowed", f"requires one of the roles {[r.value for r in roles]}")

    return check


DB = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
ClientAddress = Annotated[str, Depends(get_client_address)]
CurrentUser = Annotated[User, Depends(current_user)]
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
Manager = Annotated[User, Depends(require_roles(Role.MANAGER))]
Agent = Annotated[User, Depends(require_roles(Role.AGENT, Role.MANAGER))]
