"""Sessions: tokens expire, other sessions can be ended, and a password change or reset ends them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select, update

from omnihook.storage.tables import auth_tokens, domain_events, users
from tests.conftest import login_headers
from tests.livechat_helpers import AGENT_PASSWORD, create_agent


async def _age_tokens(app: FastAPI, user_id: str, days: float) -> None:
    async with app.state.db.engine.begin() as conn:
        await conn.execute(
            update(auth_tokens)
            .where(auth_tokens.c.user_id == user_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=days))
        )


async def _me(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/me", headers=headers)).status_code


async def test_a_token_ends_accounts_login_expiration_days_after_the_login(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    await _age_tokens(app, agent["X-User-Id"], 89)
    assert await _me(client, agent) == 200
    await _age_tokens(app, agent["X-User-Id"], 90.01)
    assert await _me(client, agent) == 401
    assert await _me(client, await login_headers(client, "ann", AGENT_PASSWORD)) == 200


async def test_a_shorter_login_expiration_applies_to_tokens_already_given(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    await _age_tokens(app, agent["X-User-Id"], 2)
    assert await _me(client, agent) == 200
    changed = await client.post("/api/v1/settings/Accounts_LoginExpiration", json={"value": 1}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert await _me(client, agent) == 401
    zero = await client.post("/api/v1/settings/Accounts_LoginExpiration", json={"value": 0}, headers=admin)
    assert zero.status_code == 400


async def test_logout_other_clients_ends_every_other_session_and_keeps_this_one(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    phone = await login_headers(client, "ann", AGENT_PASSWORD)
    response = await client.post("/api/v1/users.logoutOtherClients", headers=agent)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["token"] == agent["X-Auth-Token"]
    expires = datetime.fromisoformat(body["tokenExpires"].replace("Z", "+00:00"))
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    assert await _me(client, phone) == 401
    assert await _me(client, agent) == 200
    assert await _me(client, admin) == 200  # another user's sessions are not touched


async def test_changing_ones_password_ends_ones_other_sessions(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    phone = await login_headers(client, "ann", AGENT_PASSWORD)
    data = {"currentPassword": AGENT_PASSWORD, "newPassword": "a-new-password"}
    response = await client.post("/api/v1/users.updateOwnBasicInfo", json={"data": data}, headers=agent)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["username"] == "ann"
    assert await _me(client, phone) == 401
    assert await _me(client, agent) == 200
    old = await client.post("/api/v1/login", json={"user": "ann", "password": AGENT_PASSWORD})
    assert old.status_code == 401
    await login_headers(client, "ann", "a-new-password")


async def test_the_current_password_may_be_its_sha256_digest_as_rocketchats_client_sends_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    digest = hashlib.sha256(AGENT_PASSWORD.encode()).hexdigest()
    data = {"currentPassword": digest, "newPassword": "a-new-password"}
    response = await client.post("/api/v1/users.updateOwnBasicInfo", json={"data": data}, headers=agent)
    assert response.status_code == 200, response.text
    await login_headers(client, "ann", "a-new-password")


async def test_a_password_change_needs_the_right_current_password_and_a_new_one_within_the_rules(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)

    async def change(data: dict[str, str]) -> httpx.Response:
        return await client.post("/api/v1/users.updateOwnBasicInfo", json={"data": data}, headers=agent)

    assert (await change({"newPassword": "a-new-password"})).json()["error"] == "totp-required"
    wrong = await change({"currentPassword": "not-my-password", "newPassword": "a-new-password"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "totp-invalid"
    short = await change({"currentPassword": AGENT_PASSWORD, "newPassword": "short"})
    assert short.json()["error"] == "error-password-policy-not-met-minLength"
    same = await change({"currentPassword": AGENT_PASSWORD, "newPassword": AGENT_PASSWORD})
    assert same.json()["error"] == "error-password-same-as-current"
    email = await change({"currentPassword": AGENT_PASSWORD, "email": "new@example.com"})
    assert email.status_code == 400  # not supported here: refused, not ignored
    assert await _me(client, agent) == 200
    await login_headers(client, "ann", AGENT_PASSWORD)


async def test_an_admin_resetting_a_password_ends_that_users_sessions(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    body = {"userId": agent["X-User-Id"], "data": {"password": "reset-by-admin"}}
    assert (await client.post("/api/v1/users.update", json=body, headers=agent)).status_code == 403
    short = {"userId": agent["X-User-Id"], "data": {"password": "short"}}
    assert (await client.post("/api/v1/users.update", json=short, headers=admin)).status_code == 400
    response = await client.post("/api/v1/users.update", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["_id"] == agent["X-User-Id"]
    assert await _me(client, agent) == 401
    assert await _me(client, admin) == 200
    await login_headers(client, "ann", "reset-by-admin")


async def test_a_password_hashed_before_digests_still_logs_in_and_is_rehashed(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    async with app.state.db.engine.begin() as conn:
        legacy = PasswordHasher().hash(AGENT_PASSWORD)
        await conn.execute(update(users).where(users.c.id == agent["X-User-Id"]).values(password_hash=legacy))
    await login_headers(client, "ann", AGENT_PASSWORD)
    async with app.state.db.engine.connect() as conn:
        stored = (
            await conn.execute(select(users.c.password_hash).where(users.c.id == agent["X-User-Id"]))
        ).scalar_one()
    assert stored != legacy
    await login_headers(client, "ann", AGENT_PASSWORD)


async def test_every_way_of_ending_sessions_tells_live_connections_by_a_tokens_revoked_event(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "ann", available=False)
    user_id = agent["X-User-Id"]

    async def revocations() -> int:
        async with app.state.db.engine.connect() as conn:
            rows = await conn.execute(
                select(domain_events.c.data).where(domain_events.c.kind == "tokens.revoked")
            )
            return sum(1 for row in rows if row.data["user_id"] == user_id)

    assert await revocations() == 0
    assert (await client.post("/api/v1/users.logoutOtherClients", headers=agent)).status_code == 200
    assert await revocations() == 1
    data = {"currentPassword": AGENT_PASSWORD, "newPassword": "a-new-password"}
    await client.post("/api/v1/users.updateOwnBasicInfo", json={"data": data}, headers=agent)
    assert await revocations() == 2
    reset = {"userId": user_id, "data": {"password": "reset-by-admin"}}
    assert (await client.post("/api/v1/users.update", json=reset, headers=admin)).status_code == 200
    assert await revocations() == 3
    again = await login_headers(client, "ann", "reset-by-admin")
    assert (await client.post("/api/v1/logout", headers=again)).status_code == 200
    assert await revocations() == 4
