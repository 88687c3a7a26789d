"""Browser tests: the real server (`omnihook serve` in a subprocess, fresh SQLite file) driven by
Debian's Chromium through Playwright, with a real webhook receiver on loopback.

Chromium comes from the system (`chromium` on PATH, installed by .ci/run with apt-get); Playwright
never downloads a browser of its own. PostgreSQL coverage comes from the other suites.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests import databases
from tests.receiver import Receiver, running_receiver

T = TypeVar("T")
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-1"
AGENT_PASSWORD = "agent-password-1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The machine is shared and slow: web-first assertions wait this long before failing.
expect.set_options(timeout=20_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A running `omnihook serve` and a small REST client for setting up what a test needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.admin = self.login(ADMIN_USERNAME, ADMIN_PASSWORD)

    def login(self, username: str, password: str) -> dict[str, str]:
        data = self.call("POST", "login", {"user": username, "password": password}, headers={})["data"]
        return {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None) -> Any:
        response = self.http.request(
            method, f"/api/v1/{path}", json=body, headers=self.admin if headers is None else headers
        )
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def create_agent(self, username: str, name: str) -> dict[str, str]:
        body = {
            "username": username,
            "name": name,
            "email": f"{username}@example.com",
            "password": AGENT_PASSWORD,
            "roles": ["livechat-agent"],
        }
        self.call("POST", "users.create", body)
        return self.login(username, AGENT_PASSWORD)

    def settings(self) -> dict[str, Any]:
        return {s["_id"]: s["value"] for s in self.call("GET", "livechat/integrations.settings")["settings"]}


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"omnihook serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/livechat/config", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"omnihook serve did not answer within 90 s:\n{log.read_text()}")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    # Playwright's sync API keeps an event loop running in this thread: run elsewhere.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def server_database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file; OMNIHOOK_E2E_DATABASE=postgres runs the pages on a new PostgreSQL database."""
    if os.environ.get("OMNIHOOK_E2E_DATABASE") != "postgres":
        yield f"sqlite:///{tmp_path / 'omnihook.db'}"
        return
    url = _run(databases.create_postgres_database())
    yield url
    _run(databases.drop_postgres_database(url))


@pytest.fixture
def server(tmp_path: Path, server_database_url: str) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "OMNIHOOK_DATABASE_URL": server_database_url,
        "OMNIHOOK_ADMIN_USERNAME": ADMIN_USERNAME,
        "OMNIHOOK_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "OMNIHOOK_ALLOW_PRIVATE_TARGETS": "1",
        "OMNIHOOK_LOG_LEVEL": "warning",
    }
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "omnihook.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log)
        server = Server(url)
        yield server
        server.http.close()
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(15)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


# Package scope: Playwright's sync API keeps an event loop running in the main thread while it is
# started, which the asyncio tests collected after this package cannot share.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the browser tests need Debian's `chromium` on PATH (apt-get install chromium)")
    browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def log_in(page: Page, username: str, password: str, next_path: str) -> None:
    """Log in through the login page, then land on `next_path`."""
    page.goto(f"/admin/login?next={next_path}")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
