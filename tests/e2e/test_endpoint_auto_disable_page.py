"""The Endpoints page in a real browser: an endpoint disabled for failing shows why and how many
deliveries it holds; enabled again there, it sends what it held, each room in order."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server, log_in, screenshot
from tests.receiver import Receiver

pytestmark = pytest.mark.browser

PERIOD_S = 0.3


@pytest.fixture(autouse=True)
def short_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """The served process disables an endpoint after 0.3 s of failures instead of 5 days."""
    monkeypatch.setenv("OMNIHOOK_ENDPOINT_DISABLE_AFTER_DAYS", str(PERIOD_S / 86_400))


def endpoint(server: Server, endpoint_id: str) -> dict[str, Any]:
    found: dict[str, Any] = server.call("GET", f"omnihook/endpoints/{endpoint_id}")["endpoint"]
    return found


def wait_for(server: Server, endpoint_id: str, check: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while not check(found := endpoint(server, endpoint_id)):
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def open_chat(server: Server, token: str, text: str) -> str:
    server.call("POST", "livechat/visitor", {"visitor": {"token": token, "name": token}}, headers={})
    rid: str = server.call("GET", f"livechat/room?token={token}", headers={})["room"]["_id"]
    say(server, token, rid, text)
    return rid


def say(server: Server, token: str, rid: str, text: str) -> None:
    server.call("POST", "livechat/message", {"token": token, "rid": rid, "msg": text}, headers={})


def test_an_auto_disabled_endpoint_shows_its_reason_and_held_deliveries_and_once_enabled_sends_them_in_order(
    page: Page, server: Server, receiver: Receiver
) -> None:
    receiver.default_status = 503
    body = {"name": "Failing CRM", "url": receiver.url, "eventTypes": ["Message"], "retrySchedule": [3600]}
    endpoint_id = server.call("POST", "omnihook/endpoints", body)["endpoint"]["_id"]
    room_a = open_chat(server, "tok-a", "a0")
    wait_for(server, endpoint_id, lambda e: e["failingSince"] is not None)
    time.sleep(PERIOD_S + 0.1)
    room_b = open_chat(server, "tok-b", "b0")
    disabled = wait_for(server, endpoint_id, lambda e: not e["enabled"])
    time.sleep(0.05)  # the dispatcher drops it right after the commit that disabled it
    tried = len(receiver.requests)
    receiver.default_status = 200
    say(server, "tok-a", room_a, "a1")
    say(server, "tok-a", room_a, "a2")
    say(server, "tok-b", room_b, "b1")
    wait_for(server, endpoint_id, lambda e: e["heldDeliveries"] == 5)

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/endpoints")
    row = page.locator(f'tr[data-id="{endpoint_id}"]')
    expect(row.locator(".badge")).to_have_text("disabled")
    expect(row.locator(".disabled-reason")).to_have_text(disabled["disabledReason"])
    assert disabled["disabledReason"].startswith("every attempt failed since ")
    expect(row.locator(".held")).to_have_text("5 deliveries held")
    screenshot(page, "endpoint-auto-disabled")
    time.sleep(0.3)
    assert len(receiver.requests) == tried  # held: nothing sent while it is disabled

    row.get_by_role("button", name="Enable").click()
    expect(row.locator(".badge")).to_have_text("enabled")
    expect(row.locator(".held")).to_have_count(0)
    expect(row.locator(".disabled-reason")).to_have_count(0)
    arrived = [r.json()["data"]["messages"][0]["msg"] for r in receiver.wait_for(tried + 5)[tried:]]
    assert [t for t in arrived if t.startswith("a")] == ["a0", "a1", "a2"]
    assert [t for t in arrived if t.startswith("b")] == ["b0", "b1"]
