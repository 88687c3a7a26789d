"""Login, logout, me, sessions, own password changes and users.create, as Rocket.Chat's REST API has them
(users.update and the other users.* calls: users.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnihook.api import shapes
from omnihook.api.openapi import answers
from omnihook.api.presenters import user_json
from omnihook.domain.clock import iso
from omnihook.http.deps import DB, ClientAddress, CurrentUser, UserCreator
from omnihook.livechat import accounts

router = APIRouter(prefix="/api/v1", tags=["auth"])


class LoginBody(BaseModel):
    user: str | None = Field(default=None, min_length=1)
    username: str | None = Field(default=None, min_length=1)
    email: str | None = Field(default=None, min_length=1)
    password: str = Field(min_length=1)

    @model_validator(mode="after")
    def one_identity(self) -> LoginBody:
        if not (self.user or self.username or self.email):
            raise ValueError("give `user` (or `username`) and `password`")
        return self

    @property
    def identity(self) -> str:
        return self.user or self.username or self.email or ""


@router.post("/login", responses=answers(shapes.LoginAnswer, 401))
async def login(body: LoginBody, db: DB, client_address: ClientAddress) -> dict[str, Any]:
    user, token = await accounts.login(
        db, username_or_email=body.identity, password=body.password, client_address=client_address
    )
    return {"status": "success", "data": {"userId": user.id, "authToken": token, "me": user_json(user)}}


@router.post("/logout", responses=answers(shapes.LogoutAnswer))
async def logout(request: Request, user: CurrentUser, db: DB) -> dict[str, Any]:
    await accounts.logout(db, user=user, token=request.state.auth_token)
    return {"status": "success", "data": {"message": "You've been logged out!"}}


@router.post("/users.logoutOtherClients", responses=answers(shapes.OtherClientsLoggedOut))
async def logout_other_clients(request: Request, user: CurrentUser, db: DB) -> dict[str, Any]:
    # Rocket.Chat keeps the calling session and answers its token with its expiry.
    token: str = request.state.auth_token
    expires = await accounts.logout_other_clients(db, user=user, token=token)
    return {"token": token, "tokenExpires": iso(expires), "success": True}


class OwnBasicInfo(BaseModel):
    # Only the password can be changed here yet: other fields are refused rather than ignored.
    model_config = ConfigDict(extra="forbid")
    currentPassword: str | None = None
    newPassword: str | None = Field(default=None, min_length=1)


class UpdateOwnBasicInfoBody(BaseModel):
    data: OwnBasicInfo


@router.post("/users.updateOwnBasicInfo", responses=answers(shapes.UserAnswer))
async def update_own_basic_info(
    body: UpdateOwnBasicInfoBody, request: Request, user: CurrentUser, db: DB, client_address: ClientAddress
) -> dict[str, Any]:
    if body.data.newPassword is not None:
        user = await accounts.change_own_password(
            db,
            user=user,
            current_password=body.data.currentPassword,
            new_password=body.data.newPassword,
            token=request.state.auth_token,
            client_address=client_address,
        )
    return {"user": user_json(user), "success": True}


@router.get("/me", responses=answers(shapes.Me))
async def me(user: CurrentUser) -> dict[str, Any]:
    return {**user_json(user), "success": True}


class CreateUserBody(BaseModel):
    username: str = Field(min_length=1, max_length=120)
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1)
    roles: list[str] = Field(default_factory=lambda: ["user"])


@router.post("/users.create", responses=answers(shapes.UserAnswer))
async def create_user(body: CreateUserBody, _: UserCreator, db: DB) -> dict[str, Any]:
    # Rocket.Chat's plain "user" role has no meaning here; keep only ours.
    roles = [r for r in body.roles if r != "user"]
    user = await accounts.create_user(
        db, username=body.username, password=body.password, email=body.email, name=body.name, roles=roles
    )
    return {"user": user_json(user), "success": True}
