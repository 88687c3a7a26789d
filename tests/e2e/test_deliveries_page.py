"""The Deliveries page in a real browser: the log, the attempts of one delivery, sending a dead one again."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server, log_in, screenshot
from tests.receiver import Receiver

pytestmark = pytest.mark.browser


def wait_for_delivery(server: Server, status: str) -> dict[str, Any]:
    """The first delivery with `status`, once the dispatcher got there (fails after a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = server.call("GET", f"omnihook/deliveries?status={status}")["deliveries"]
        if found:
            delivery: dict[str, Any] = found[0]
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"no {status} delivery within a minute")


def test_a_dead_delivery_is_inspected_and_sent_again_from_the_deliveries_page(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {
            "LivechatWebhookUrl": receiver.url,
            "LivechatSecretToken": "never-shown",
            "LivechatWebhookOnOfflineMsg": True,
            "LivechatWebhookRetries": 1,
            "LivechatWebhookRetryDelay": 10,
        },
    )
    # The CRM is down for the first try and the one retry, then back.
    receiver.statuses = [500, 503]
    receiver.response_body = "CRM under maintenance"
    offline = {"name": "Night Owl", "email": "owl@example.com", "message": "Call me back"}
    server.call("POST", "livechat/offline.message", offline, headers={})
    dead = wait_for_delivery(server, "dead")
    assert dead["attempts"] == 2

    # The Webhooks page says something died, and links to it.
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/webhooks")
    expect(page.locator("#delivery-summary")).to_contain_text("0 pending, 1 dead")
    page.get_by_role("link", name="See them").click()
    page.wait_for_url("**/admin/deliveries?status=dead")
    expect(page.get_by_label("Status")).to_have_value("dead")
    row = page.locator("#deliveries tbody tr").filter(has_text="LivechatOfflineMessage")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("dead")
    expect(row.locator("td").nth(5)).to_have_text("503")
    # Filtering by event type.
    page.get_by_label("Event type").select_option("Message")
    expect(page.locator("#deliveries tbody")).to_have_text("No deliveries match.")
    page.get_by_label("Event type").select_option("LivechatOfflineMessage")
    expect(row).to_have_count(1)

    row.get_by_role("link", name="Details").click()
    expect(page.locator("#status")).to_have_text("dead")
    attempts = page.locator(".attempt")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("status 500")
    expect(attempts.nth(1)).to_contain_text("status 503")
    expect(attempts.nth(1).locator(".response-body")).to_have_text("CRM under maintenance")
    expect(page.locator("#payload")).to_contain_text('"type": "LivechatOfflineMessage"')
    expect(page.locator("#payload")).to_contain_text("Call me back")
    # The secret token was sent (the receiver saw it) but is never shown.
    assert receiver.requests[0].header("X-RocketChat-Livechat-Token") == "never-shown"
    expect(page.locator("main")).not_to_contain_text("never-shown")

    receiver.response_body = '{"crm": "saved"}'
    page.get_by_role("button", name="Send again").click()
    expect(page.locator("#redeliver-result")).to_contain_text("Queued for delivery again")
    again = receiver.wait_for(3)[2]
    assert again.json()["message"] == "Call me back"
    assert again.header("webhook-id") == receiver.requests[0].header("webhook-id")
    assert wait_for_delivery(server, "delivered")["_id"] == dead["_id"]
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#status")).to_have_text("delivered")
    expect(attempts).to_have_count(3)
    expect(attempts.nth(2)).to_contain_text("status 200")
    screenshot(page, "delivery")
