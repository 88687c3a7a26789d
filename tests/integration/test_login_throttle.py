"""Failed logins block an account and a client address for a while (Rocket.Chat's Block_Multiple_Failed_Logins_*);
the password is checked off the event loop, outside any transaction, and unknown users get a check too."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from omnihook.app import create_app
from omnihook.config import Settings
from omnihook.livechat import passwords
from omnihook.storage import database
from omnihook.storage.tables import login_attempts, users
from tests.conftest import ADMIN_PASSWORD, login_headers


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address` (the ASGI client host)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as http:
        yield http


async def _login(client: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/login", json={"user": user, "password": password})


async def _set(client: httpx.AsyncClient, admin: dict[str, str], setting_id: str, value: Any) -> None:
    response = await client.post(f"/api/v1/settings/{setting_id}", json={"value": value}, headers=admin)
    assert response.status_code == 200, response.text


async def _fail(client: httpx.AsyncClient, user: str, times: int) -> None:
    for _ in range(times):
        response = await _login(client, user, "a-wrong-password")
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"


class CountedChecks:
    """Counts argon2 verifications, noting the thread they run on and whether a transaction is open."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[int, bool]] = []
        self.hashes: list[str] = []  # what each check verified against
        self.in_transaction: ContextVar[bool] = ContextVar("in_transaction", default=False)
        real_verify = passwords._verify_now
        real_enter = database.UnitOfWork.__aenter__
        real_exit = database.UnitOfWork.__aexit__

        def verify(stored: str, candidate: str) -> bool:
            self.calls.append((threading.get_ident(), self.in_transaction.get()))
            self.hashes.append(stored)
            return real_verify(stored, candidate)

        # The flag is set in the task that opens the unit of work; a worker thread started from that
        # task (asyncio.to_thread copies its context) sees it.
        async def enter(uow: database.UnitOfWork) -> database.UnitOfWork:
            entered = await real_enter(uow)
            self.in_transaction.set(True)
            return entered

        async def exit_(uow: database.UnitOfWork, *exc: Any) -> None:
            self.in_transaction.set(False)
            await real_exit(uow, *exc)

        monkeypatch.setattr(passwords, "_verify_now", verify)
        monkeypatch.setattr(database.UnitOfWork, "__aenter__", enter)
        monkeypatch.setattr(database.UnitOfWork, "__aexit__", exit_)


async def test_an_account_is_blocked_after_ten_failures_even_for_the_right_password(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _fail(client, "admin", 10)
    checks = CountedChecks(monkeypatch)
    blocked = await _login(client, "admin", ADMIN_PASSWORD)
    assert blocked.status_code == 401
    assert blocked.json()["error"] == "error-login-blocked-for-user"
    assert "5 minutes" in blocked.json()["details"]
    assert blocked.headers["Retry-After"] == "300"
    assert checks.calls == []  # never a password check while blocked
    assert (await client.get("/api/v1/me", headers=admin)).status_code == 200  # sessions stay


async def test_the_block_lifts_once_the_failures_are_older_than_the_unblock_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _fail(client, "admin", 10)
    assert (await _login(client, "admin", ADMIN_PASSWORD)).status_code == 401
    async with app.state.db.engine.begin() as conn:
        five_minutes_ago = datetime.now(UTC) - timedelta(minutes=5, seconds=1)
        await conn.execute(update(login_attempts).values(attempted_at=five_minutes_ago))
    await login_headers(client, "admin", ADMIN_PASSWORD)


async def test_a_successful_login_starts_the_count_again(client: httpx.AsyncClient) -> None:
    await _fail(client, "admin", 9)
    await login_headers(client, "admin", ADMIN_PASSWORD)
    await _fail(client, "admin", 9)
    await login_headers(client, "admin", ADMIN_PASSWORD)


async def test_an_unknown_username_is_blocked_like_a_real_one(client: httpx.AsyncClient) -> None:
    await _fail(client, "nobody", 10)
    blocked = await _login(client, "nobody", "a-wrong-password")
    assert blocked.json()["error"] == "error-login-blocked-for-user"
    await login_headers(client, "admin", ADMIN_PASSWORD)  # other accounts are not


async def test_an_address_is_blocked_after_its_failures_across_accounts_and_others_are_not(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _set(client, admin, "Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip", 4)
    async with client_at(app, "203.0.113.7") as guesser:
        for name in ("ann", "bob", "cy", "dee"):
            await _fail(guesser, name, 1)
        blocked = await _login(guesser, "admin", ADMIN_PASSWORD)
        assert blocked.status_code == 401
        assert blocked.json()["error"] == "error-login-blocked-for-ip"
        assert blocked.headers["Retry-After"] == "300"
    async with client_at(app, "198.51.100.2") as other:
        await login_headers(other, "admin", ADMIN_PASSWORD)


async def test_a_whitelisted_address_is_never_blocked(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _set(client, admin, "Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip", 2)
    await _set(client, admin, "Block_Multiple_Failed_Logins_Ip_Whitelist", "192.0.2.1, 203.0.113.9")
    async with client_at(app, "203.0.113.9") as office:
        for name in ("ann", "bob", "cy"):
            await _fail(office, name, 1)
        await login_headers(office, "admin", ADMIN_PASSWORD)


async def test_with_blocking_disabled_failures_never_block(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _set(client, admin, "Block_Multiple_Failed_Logins_Enabled", False)
    await _fail(client, "admin", 12)
    await login_headers(client, "admin", ADMIN_PASSWORD)


async def test_guesses_sent_at_once_get_no_more_password_checks_than_allowed(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _set(client, admin, "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User", 3)
    checks = CountedChecks(monkeypatch)
    answers = await asyncio.gather(*(_login(client, "admin", "a-wrong-password") for _ in range(12)))
    errors = sorted(a.json()["error"] for a in answers)
    assert errors == ["Unauthorized"] * 3 + ["error-login-blocked-for-user"] * 9
    assert len(checks.calls) == 3


async def test_wrong_current_passwords_count_as_failed_logins(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _set(client, admin, "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User", 3)

    async def change(current: str) -> httpx.Response:
        data = {"currentPassword": current, "newPassword": "a-new-password"}
        return await client.post("/api/v1/users.updateOwnBasicInfo", json={"data": data}, headers=admin)

    for _ in range(3):
        assert (await change("a-wrong-password")).json()["error"] == "totp-invalid"
    assert (await change(ADMIN_PASSWORD)).json()["error"] == "error-login-blocked-for-user"
    assert (await _login(client, "admin", ADMIN_PASSWORD)).json()["error"] == "error-login-blocked-for-user"


async def test_a_block_holds_across_processes_sharing_the_database(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    await _fail(client, "admin", 10)
    other_process = create_app(settings)
    async with (
        other_process.router.lifespan_context(other_process),
        client_at(other_process, "127.0.0.1") as other,
    ):
        blocked = await _login(other, "admin", ADMIN_PASSWORD)
    assert blocked.json()["error"] == "error-login-blocked-for-user"


async def test_passwords_are_checked_and_hashed_in_a_worker_thread_outside_any_transaction(
    client: httpx.AsyncClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = CountedChecks(monkeypatch)
    hashed_on: list[tuple[int, bool]] = []
    real_hash = passwords._hash_now

    def hash_now(password: str) -> str:
        hashed_on.append((threading.get_ident(), checks.in_transaction.get()))
        return real_hash(password)

    monkeypatch.setattr(passwords, "_hash_now", hash_now)
    loop_thread = threading.get_ident()
    body = {"username": "ann", "email": "ann@example.com", "name": "Ann", "password": "ann-password"}
    assert (await client.post("/api/v1/users.create", json=body, headers=admin)).status_code == 200
    await login_headers(client, "ann", "ann-password")
    assert (await _login(client, "ann", "a-wrong-password")).status_code == 401
    assert len(checks.calls) == 2 and len(hashed_on) == 1
    for thread, in_transaction in checks.calls + hashed_on:
        assert thread != loop_thread
        assert not in_transaction
    # The event loop stays free meanwhile: a concurrent task runs while a check is under way.
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    before = ticks
    await passwords.password_matches(passwords._DUMMY_HASH, "a-wrong-password")
    ticker.cancel()
    assert ticks > before


async def test_unknown_and_inactive_users_get_the_same_argon2_check_as_a_real_one(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = CountedChecks(monkeypatch)
    assert (await _login(client, "nobody", "a-wrong-password")).status_code == 401
    assert (await _login(client, "admin", "a-wrong-password")).status_code == 401
    async with app.state.db.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.username == "admin").values(active=False))
    inactive = await _login(client, "admin", ADMIN_PASSWORD)
    assert inactive.status_code == 401
    assert inactive.json()["error"] == "Unauthorized"
    assert len(checks.hashes) == 3
    assert all(h.startswith("$argon2id$") for h in checks.hashes)  # real argon2 work every time
