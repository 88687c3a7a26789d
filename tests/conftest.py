"""Fixtures shared by the whole suite.

`database_url` runs a test once on SQLite and once on the real PostgreSQL server; each test gets
clean tables. `client` is an HTTP client on a running app (lifespan included), `admin` its headers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from omnihook.app import create_app
from omnihook.config import Settings
from tests import databases
from tests.receiver import Receiver, running_receiver

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-1"
SKIP_POSTGRES = os.environ.get("OMNIHOOK_SKIP_POSTGRES") == "1"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return asyncio.run(databases.create_sqlite_template(tmp_path_factory.mktemp("sqlite")))


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    if SKIP_POSTGRES:
        pytest.skip("OMNIHOOK_SKIP_POSTGRES=1")
    url = asyncio.run(databases.create_postgres_database())
    yield url
    asyncio.run(databases.drop_postgres_database(url))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return databases.copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
    url: str = request.getfixturevalue("postgres_session_url")
    asyncio.run(databases.truncate_all(url))
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        allow_private_targets=True,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as http:
        yield http


async def login_headers(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/login", json={"user": username, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> dict[str, str]:
    return await login_headers(client, ADMIN_USERNAME, ADMIN_PASSWORD)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on loopback (see tests/receiver.py)."""
    with running_receiver() as running:
        yield running
