"""The Deliveries page in a real browser: the log, the attempts of one delivery, sending a dead one again."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server, log_in, screenshot
from tests.receiver import Receiver

pytestmark = pytest.mark.browser
DASH = "\N{EN DASH}"


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
    expect(row.locator("td").nth(6)).to_have_text("503")
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
    attempts.nth(1).locator("summary").click()
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
    # The page follows the live stream: no Refresh needed.
    expect(page.locator("#status")).to_have_text("delivered")
    expect(attempts).to_have_count(3)
    expect(attempts.nth(2)).to_contain_text("status 200")
    screenshot(page, "delivery")


def test_deliveries_show_their_endpoint_and_filter_by_endpoint_and_by_text_in_the_payload(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {"LivechatWebhookUrl": receiver.url, "LivechatWebhookOnOfflineMsg": True},
    )
    billing = server.call(
        "POST",
        "omnihook/endpoints",
        {"name": "Billing CRM", "url": receiver.url, "eventTypes": ["LivechatOfflineMessage"]},
    )["endpoint"]["_id"]
    for name, message in (("Ann", "my order 1234 is late"), ("Bob", "just saying hi")):
        offline = {"name": name, "email": f"{name.lower()}@example.com", "message": message}
        server.call("POST", "livechat/offline.message", offline, headers={})
    deadline = time.monotonic() + 60
    while len(server.call("GET", "omnihook/deliveries?status=delivered")["deliveries"]) < 4:
        assert time.monotonic() < deadline, "the four deliveries did not arrive within a minute"
        time.sleep(0.1)

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/deliveries")
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(4)
    # One message to two endpoints: two rows that say which endpoint each went to.
    expect(rows.filter(has_text="Billing CRM")).to_have_count(2)
    expect(rows.filter(has_text="Rocket.Chat CRM integration")).to_have_count(2)
    page.get_by_label("Endpoint").select_option(label="Billing CRM")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Rocket.Chat CRM integration")).to_have_count(0)
    page.get_by_label("Search").fill("order 1234")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    page.wait_for_url("**/admin/deliveries?*q=order+1234*")
    # The filters live in the address: a reload shows the same rows.
    page.reload()
    expect(page.get_by_label("Search")).to_have_value("order 1234")
    expect(rows).to_have_count(1)
    # Replay matching… carries the same filters to the bulk replay page.
    replay = page.get_by_role("link", name="Replay matching…")
    href = replay.get_attribute("href") or ""
    assert href.startswith("/admin/replays?"), href
    assert parse_qs(urlsplit(href).query) == {
        "status": ["any"],
        "endpointId": [billing],
        "q": ["order 1234"],
    }


def open_chat(server: Server, token: str, *texts: str) -> str:
    """A visitor opens a chat through the REST API and writes `texts`; returns the room id."""
    visitor = {"token": token, "name": f"Visitor {token}", "email": f"{token}@example.com"}
    server.call("POST", "livechat/visitor", {"visitor": visitor}, headers={})
    rid: str = server.call("GET", f"livechat/room?token={token}", headers={})["room"]["_id"]
    for text in texts:
        server.call("POST", "livechat/message", {"token": token, "rid": rid, "msg": text}, headers={})
    return rid


def deliveries_when(server: Server, ready: Any, query: str = "") -> list[dict[str, Any]]:
    """The listing once `ready(deliveries)` holds (fails after a minute)."""
    deadline = time.monotonic() + 60
    while True:
        found: list[dict[str, Any]] = server.call("GET", f"omnihook/deliveries{query}")["deliveries"]
        if ready(found):
            return found
        assert time.monotonic() < deadline, f"the deliveries never got there: {found}"
        time.sleep(0.1)


def test_a_delivery_waiting_for_its_rooms_failing_head_says_it_is_held_behind_it_and_links_to_it(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {
            "LivechatWebhookUrl": receiver.url,
            "LivechatWebhookOnVisitorMessage": True,
            "LivechatWebhookRetryDelay": 3_600_000,
        },
    )
    receiver.default_status = 500
    rid = open_chat(server, "held-1", "first", "second")
    newest, head = deliveries_when(server, lambda found: len(found) == 2 and found[1]["attempts"] == 1)
    assert newest["heldBehind"] == head["_id"]

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, f"/admin/deliveries?roomId={rid}")
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(2)
    held = rows.nth(0)
    expect(held).to_contain_text(f"held behind {head['_id']}")
    # The head itself waits for its retry time, not for another delivery.
    expect(rows.nth(1)).not_to_contain_text("held behind")
    held.get_by_role("link", name=head["_id"]).click()
    page.wait_for_url(f"**/admin/deliveries/{head['_id']}")
    expect(page.locator("#facts")).to_contain_text("Next attempt")
    expect(page.locator("#held")).to_have_count(0)

    page.goto(f"/admin/deliveries/{newest['_id']}")
    expect(page.locator("#held")).to_contain_text(f"held behind {head['_id']}")
    expect(page.locator("#attempts")).to_have_text("No attempt yet.")
    screenshot(page, "delivery-held")


def test_eleven_attempts_are_a_compact_timeline_of_one_line_each_that_opens_on_click(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {
            "LivechatWebhookUrl": receiver.url,
            "LivechatWebhookOnOfflineMsg": True,
            "LivechatWebhookRetries": 10,
            "LivechatWebhookRetryDelay": 10,
        },
    )
    receiver.default_status = 502
    receiver.response_body = "bad gateway, try later"
    offline = {"name": "Night Owl", "email": "owl@example.com", "message": "Call me back"}
    server.call("POST", "livechat/offline.message", offline, headers={})
    dead = wait_for_delivery(server, "dead")
    assert dead["attempts"] == 11

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, f"/admin/deliveries/{dead['_id']}")
    attempts = page.locator("#attempts .attempt")
    expect(attempts).to_have_count(11)
    lines = attempts.locator("summary")
    for n in range(11):
        expect(lines.nth(n)).to_contain_text(f"#{n + 1}")
        expect(lines.nth(n)).to_contain_text("status 502")
        expect(lines.nth(n)).to_contain_text(" ms")
    # One line each: the whole timeline is shorter than two of the old cards.
    box = page.locator("#attempts").bounding_box()
    assert box is not None and box["height"] < 11 * 40, box
    body = attempts.nth(2).locator(".response-body")
    expect(body).to_be_hidden()
    lines.nth(2).click()
    expect(body).to_be_visible()
    expect(body).to_have_text("bad gateway, try later")
    expect(attempts.nth(2)).to_contain_text("webhook-id")  # the request headers
    expect(attempts.nth(3).locator(".response-body")).to_be_hidden()
    screenshot(page, "delivery-timeline")
    lines.nth(2).click()
    expect(body).to_be_hidden()


def test_an_attempt_recorded_while_the_pages_are_open_shows_up_on_both_without_a_reload(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {
            "LivechatWebhookUrl": receiver.url,
            "LivechatWebhookOnVisitorMessage": True,
            "LivechatWebhookRetryDelay": 6_000,
        },
    )
    receiver.statuses = [500]  # the first try fails, the retry six seconds later is delivered
    open_chat(server, "live-1", "hello")
    [pending] = deliveries_when(server, lambda found: len(found) == 1 and found[0]["attempts"] == 1)
    assert pending["status"] == "pending"

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/deliveries")
    row = page.locator("#deliveries tbody tr").first
    expect(row.locator("td").nth(4)).to_have_text("pending")
    detail = page.context.new_page()  # logged in too: the same browser
    detail.goto(f"/admin/deliveries/{pending['_id']}")
    expect(detail.locator("#status")).to_have_text("pending")
    expect(detail.locator("#attempts .attempt")).to_have_count(1)
    for shown in (page, detail):  # a reload would forget this
        shown.evaluate("window.notReloaded = true")

    expect(row.locator("td").nth(4)).to_have_text("delivered")
    expect(row.locator("td").nth(5)).to_have_text("2")
    expect(row.locator("td").nth(6)).to_have_text("200")
    expect(detail.locator("#status")).to_have_text("delivered")
    expect(detail.locator("#attempts .attempt")).to_have_count(2)
    expect(detail.locator("#attempts .attempt").nth(1)).to_contain_text("status 200")
    for shown in (page, detail):
        assert shown.evaluate("window.notReloaded") is True


def test_older_and_newer_page_through_the_log_by_cursor(
    page: Page, server: Server, receiver: Receiver
) -> None:
    server.call(
        "POST",
        "omnichannel/integrations",
        {"LivechatWebhookUrl": receiver.url, "LivechatWebhookOnOfflineMsg": True},
    )
    for n in range(55):
        offline = {"name": f"Visitor {n}", "email": f"v{n}@example.com", "message": f"message {n}"}
        server.call("POST", "livechat/offline.message", offline, headers={})
    deliveries_when(server, lambda found: len(found) == 55, "?status=delivered&count=100")

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/deliveries")
    rows = page.locator("#deliveries tbody tr")
    info = page.locator("#page-info")
    older, newer = page.locator("#next"), page.locator("#prev")
    expect(info).to_have_text(f"1{DASH}50 of 55")
    expect(rows).to_have_count(50)
    newest = rows.first.get_attribute("data-id")
    older.click()
    expect(info).to_have_text(f"51{DASH}55 of 55")
    expect(rows).to_have_count(5)
    expect(older).to_be_disabled()
    page.wait_for_url("**/admin/deliveries?before=*")
    newer.click()
    expect(info).to_have_text(f"1{DASH}50 of 55")
    expect(rows.first).to_have_attribute("data-id", newest or "")
    expect(newer).to_be_disabled()
