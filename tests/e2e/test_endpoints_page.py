"""The Endpoints page in a real browser: create, edit, disable, test, rotate and delete webhook endpoints."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server, log_in, screenshot
from tests.receiver import Receiver

pytestmark = pytest.mark.browser


def endpoint_named(server: Server, name: str) -> dict[str, Any]:
    endpoints: list[dict[str, Any]] = server.call("GET", "omnihook/endpoints")["endpoints"]
    [found] = [e for e in endpoints if e["name"] == name]
    return found


def delivered(server: Server, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found: list[dict[str, Any]] = server.call("GET", "omnihook/deliveries?status=delivered")["deliveries"]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} delivered deliveries within a minute")


def test_an_endpoint_created_on_the_page_shows_its_secret_once_and_is_edited_disabled_and_enabled(
    page: Page, server: Server, receiver: Receiver
) -> None:
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/endpoints")
    expect(page.locator("nav").get_by_role("link", name="Endpoints")).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_role("button", name="New endpoint").click()
    form = page.locator("#endpoint-form")
    form.get_by_label("Name").fill("Sales CRM")
    form.get_by_label("URL").fill(receiver.url)
    form.get_by_label("Chat Close").check()
    form.get_by_label("Visitor Messages").check()
    form.get_by_label("Retry schedule").fill("10, 60")
    form.get_by_label("Timeout (milliseconds)").fill("5000")
    form.get_by_role("button", name="Create").click()

    # The whole secret, once.
    secret_box = page.locator("#secret-once")
    expect(secret_box).to_be_visible()
    secret = page.locator("#secret-value").inner_text().strip()
    assert secret.startswith("whsec_") and len(secret) > 30
    created = endpoint_named(server, "Sales CRM")
    assert created["eventTypes"] == ["LivechatSession", "Message.visitor"]
    assert created["retrySchedule"] == [10, 60] and created["timeoutMs"] == 5000
    assert created["format"] == "standard" and created["enabled"] is True
    assert created["secret"] == "whsec_********" + secret[-4:]
    row = page.locator("#endpoints tbody tr").filter(has_text="Sales CRM")
    expect(row).to_contain_text(receiver.url)
    expect(row).to_contain_text("enabled")
    screenshot(page, "endpoints-created")
    page.get_by_role("button", name="I have saved it").click()
    expect(secret_box).to_be_hidden()
    page.reload()
    expect(row).to_contain_text("Sales CRM")
    expect(page.locator("main")).not_to_contain_text(secret)
    expect(page.locator("main")).not_to_contain_text(secret[6:20])

    # Every field is edited from the same form, the other format's retry fields included.
    row.get_by_role("button", name="Edit").click()
    expect(form.get_by_label("Name")).to_have_value("Sales CRM")
    expect(form.get_by_label("Retry schedule")).to_have_value("10, 60")
    expect(form.get_by_label("Chat Close")).to_be_checked()
    form.get_by_label("Name").fill("Sales CRM (EU)")
    form.get_by_label("Format").select_option("rocketchat")
    expect(form.get_by_label("Retry schedule")).to_be_hidden()
    form.get_by_label("Retries after a failure").fill("3")
    form.get_by_label("Delay between retries").fill("250")
    form.get_by_label("Chat Close").uncheck()
    form.get_by_label("Chat Taken").check()
    form.get_by_label("Requests at once").fill("4")
    form.get_by_label("In order").uncheck()
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    expect(page.locator("#status")).to_contain_text("Saved Sales CRM (EU)")
    edited = endpoint_named(server, "Sales CRM (EU)")
    assert edited["format"] == "rocketchat" and (edited["maxRetries"], edited["retryDelayMs"]) == (3, 250)
    assert edited["eventTypes"] == ["LivechatSessionTaken", "Message.visitor"]
    assert edited["maxInFlight"] == 4 and edited["ordered"] is False
    row = page.locator("#endpoints tbody tr").filter(has_text="Sales CRM (EU)")
    expect(row).to_contain_text("Rocket.Chat")

    # A refused change says why and keeps the form open.
    row.get_by_role("button", name="Edit").click()
    form.get_by_label("URL").fill("ftp://crm.example.com")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#form-error")).to_contain_text("http:// or https://")
    form.get_by_role("button", name="Cancel").click()

    row.get_by_role("button", name="Disable").click()
    expect(row.locator(".badge")).to_have_text("disabled")
    assert endpoint_named(server, "Sales CRM (EU)")["enabled"] is False
    expect(row.get_by_role("button", name="Send example")).to_have_count(0)
    row.get_by_role("button", name="Enable").click()
    expect(row.locator(".badge")).to_have_text("enabled")
    assert endpoint_named(server, "Sales CRM (EU)")["enabled"] is True


def test_an_example_sent_from_the_page_arrives_signed_and_is_in_the_deliveries_page(
    page: Page, server: Server, receiver: Receiver
) -> None:
    body = {"name": "Helpdesk", "url": receiver.url, "eventTypes": ["LivechatSession", "Message"]}
    secret = server.call("POST", "omnihook/endpoints", body)["endpoint"]["secret"]
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/endpoints")
    row = page.locator("#endpoints tbody tr").filter(has_text="Helpdesk")
    expect(row.locator("td").nth(3)).to_have_text("—")  # no attempt yet
    row.get_by_label("Event type of an example").select_option("LivechatSession")
    row.get_by_role("button", name="Send example").click()
    expect(page.locator("#status")).to_contain_text("An example LivechatSession is on its way to Helpdesk")

    [request] = receiver.wait_for(1)
    Webhook(secret).verify(request.body, request.headers)  # raises unless signed with the endpoint's secret
    assert request.json()["type"] == "LivechatSession"
    assert request.json()["data"]["messages"][-1]["closingMessage"] is True
    [delivery] = delivered(server, 1)
    assert delivery["_id"] == request.header("webhook-id") and delivery["endpointName"] == "Helpdesk"

    # Its health is counted, and the delivery is in the log like any other.
    page.reload()
    expect(row.locator("td").nth(3)).to_have_text("100 %")
    expect(row.locator("td").nth(4)).to_contain_text("ms")
    page.locator("nav").get_by_role("link", name="Deliveries").click()
    log_row = page.locator("#deliveries tbody tr").filter(has_text="LivechatSession")
    expect(log_row).to_have_count(1)
    expect(log_row).to_contain_text("Helpdesk")
    expect(log_row).to_contain_text("delivered")
    log_row.get_by_role("link", name="Details").click()
    expect(page.locator("#payload")).to_contain_text("example-room")

    # Rotating shows the new secret once; the next example is signed with it (and the old one, for a day).
    page.goto("/admin/endpoints")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Rotate secret").click()
    expect(page.locator("#secret-once")).to_contain_text("new signing secret of Helpdesk")
    rotated = page.locator("#secret-value").inner_text().strip()
    assert rotated.startswith("whsec_") and rotated != secret
    row.get_by_label("Event type of an example").select_option("Message")
    row.get_by_role("button", name="Send example").click()
    expect(page.locator("#status")).to_contain_text("An example Message")
    second = receiver.wait_for(2)[1]
    Webhook(rotated).verify(second.body, second.headers)
    Webhook(secret).verify(second.body, second.headers)
    assert second.json()["type"] == "Message"
    delivered(server, 2)
    page.locator("#status").get_by_role("link").click()  # the delivery the page just queued
    expect(page.locator("#status")).to_have_text("delivered")
    expect(page.locator("#payload")).to_contain_text('"type": "Message"')

    # Deleting asks first: dismissed, nothing happens; accepted, the endpoint is gone.
    page.goto("/admin/endpoints")
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(1)
    assert asked and "Delete the endpoint Helpdesk?" in asked[0]
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    expect(page.locator("#status")).to_have_text("Deleted Helpdesk.")
    assert [e for e in server.call("GET", "omnihook/endpoints")["endpoints"] if e["name"] == "Helpdesk"] == []


def test_the_rocketchat_integration_is_one_endpoint_with_its_health_edited_on_the_webhooks_page(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {"LivechatWebhookUrl": receiver.url, "LivechatWebhookOnOfflineMsg": True},
    )
    offline = {"name": "Night Owl", "email": "owl@example.com", "message": "Call me back"}
    server.call("POST", "livechat/offline.message", offline, headers={})
    delivered(server, 1)
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/endpoints")
    row = page.locator("#endpoints tbody tr").filter(has_text="CRM integration")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(receiver.url)
    expect(row.locator("td").nth(3)).to_have_text("100 %")
    expect(row.get_by_role("button", name="Delete")).to_have_count(0)
    expect(row.get_by_role("button", name="Rotate secret")).to_have_count(0)
    # An example reaches the CRM in Rocket.Chat's format.
    row.get_by_role("button", name="Send example").click()
    expect(page.locator("#status")).to_contain_text("An example LivechatOfflineMessage")
    assert receiver.wait_for(2)[1].json()["type"] == "LivechatOfflineMessage"
    screenshot(page, "endpoints")
    row.get_by_role("link", name="Edit on the Webhooks page").click()
    page.wait_for_url("**/admin/webhooks")
    expect(page.get_by_label("Webhook URL")).to_have_value(receiver.url)
