"""Login, tokens and users, as a Rocket.Chat client uses them."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_PASSWORD, login_headers


async def test_login_returns_user_id_and_token_that_authenticate_later_calls(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/login", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    headers = {"X-User-Id": body["data"]["userId"], "X-Auth-Token": body["data"]["authToken"]}
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["username"] == "admin"
    assert "admin" in me.json()["roles"]


async def test_login_accepts_username_as_well_as_user(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200


async def test_wrong_password_is_refused_with_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/login", json={"user": "admin", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["success"] is False


async def test_login_without_password_is_a_400_that_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/login", json={"user": "admin"})
    assert response.status_code == 400
    assert "password" in response.json()["error"]


async def test_calls_without_or_with_a_wrong_token_get_401(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    assert (await client.get("/api/v1/me")).status_code == 401
    wrong = {"X-User-Id": admin["X-User-Id"], "X-Auth-Token": "forged"}
    assert (await client.get("/api/v1/me", headers=wrong)).status_code == 401


async def test_logout_invalidates_the_token(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    assert (await client.post("/api/v1/logout", headers=admin)).status_code == 200
    assert (await client.get("/api/v1/me", headers=admin)).status_code == 401


async def test_admin_creates_users_who_can_log_in(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {
        "username": "agent1",
        "email": "agent1@example.com",
        "name": "Agent One",
        "password": "agent-password",
        "roles": ["livechat-agent"],
    }
    response = await client.post("/api/v1/users.create", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["roles"] == ["livechat-agent"]
    headers = await login_headers(client, "agent1", "agent-password")
    assert (await client.get("/api/v1/me", headers=headers)).json()["name"] == "Agent One"


async def test_users_create_refuses_duplicates_bad_roles_and_non_admins(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"username": "u1", "email": "u1@example.com", "name": "U", "password": "password-1"}
    assert (await client.post("/api/v1/users.create", json=body, headers=admin)).status_code == 200
    duplicate = await client.post("/api/v1/users.create", json=body, headers=admin)
    assert duplicate.status_code == 400
    bad_role = {**body, "username": "u2", "email": "u2@example.com", "roles": ["emperor"]}
    assert (await client.post("/api/v1/users.create", json=bad_role, headers=admin)).status_code == 400
    u1 = await login_headers(client, "u1", "password-1")
    other = {**body, "username": "u3", "email": "u3@example.com"}
    assert (await client.post("/api/v1/users.create", json=other, headers=u1)).status_code == 403
