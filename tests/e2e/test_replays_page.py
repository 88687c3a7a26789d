"""The Replays page in a real browser: the filters from the address, the count of what matches, a bulk
replay followed to its end, a job cancelled."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server, log_in, screenshot
from tests.receiver import Receiver

pytestmark = pytest.mark.browser


def deliveries(server: Server, query: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found: list[dict[str, Any]] = server.call("GET", f"omnihook/deliveries?{query}")["deliveries"]
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} deliveries ({query}) within a minute")


def test_dead_deliveries_are_counted_replayed_with_progress_and_a_job_is_cancelled(
    page: Page, server: Server, receiver: Receiver
) -> None:
    body = {
        "name": "CRM",
        "url": receiver.url,
        "format": "rocketchat",
        "maxRetries": 0,
        "eventTypes": ["Message"],
    }
    crm = server.call("POST", "omnihook/endpoints", body)["endpoint"]["_id"]
    receiver.default_status = 500  # down: every message dies at its first try
    visitor = {"token": "tok-1", "name": "Ada", "email": "ada@example.com"}
    server.call("POST", "livechat/visitor", {"visitor": visitor}, headers={})
    rid = server.call("GET", "livechat/room?token=tok-1", headers={})["room"]["_id"]
    for text in ("one", "two", "three"):
        server.call("POST", "livechat/message", {"token": "tok-1", "rid": rid, "msg": text}, headers={})
    dead = deliveries(server, f"status=dead&endpointId={crm}", 3)
    receiver.default_status = 200  # back up

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/replays")
    expect(page.locator("#jobs")).to_contain_text("No replay yet.")  # logged in
    # A status that cannot be replayed is said so, and the default kept.
    page.goto("/admin/replays?status=pending")
    expect(page.locator("#rp-note")).to_contain_text("only dead, delivered or any can be sent again")
    expect(page.get_by_label("Status")).to_have_value("dead")

    # The Deliveries page links here with its filters.
    page.goto(f"/admin/replays?status=dead&endpointId={crm}")
    expect(page.locator("nav").get_by_role("link", name="Replays")).to_have_attribute("aria-current", "page")
    expect(page.get_by_label("Status")).to_have_value("dead")
    expect(page.get_by_label("Endpoint", exact=True)).to_have_value(crm)
    expect(page.locator("#rp-count")).to_have_text("3 deliveries match.")
    page.get_by_label("Status").select_option("delivered")
    expect(page.locator("#rp-count")).to_have_text("0 deliveries match.")
    expect(page.get_by_role("button", name="Start")).to_be_disabled()
    page.get_by_label("Created since").fill("2030-01-02T10:00")
    page.get_by_label("Created before").fill("2030-01-01T10:00")
    expect(page.locator("#rp-error")).to_contain_text("since must be before until")
    page.get_by_label("Created before").fill("")
    page.get_by_label("Created since").fill("")
    page.get_by_label("Status").select_option("dead")
    expect(page.locator("#rp-count")).to_have_text("3 deliveries match.")

    page.get_by_role("button", name="Start").click()
    row = page.locator("#jobs tbody tr").first
    expect(row).to_contain_text("endpoint CRM")
    expect(row.locator(".badge")).to_have_text("finished")
    expect(row).to_contain_text("3 of 3 sent again")
    expect(row.get_by_role("link", name="status dead, endpoint CRM")).to_have_attribute(
        "href", f"/admin/deliveries?endpointId={crm}"
    )
    sent_again = [r.header("webhook-id") for r in receiver.requests[3:]]
    assert sorted(str(i) for i in sent_again) == sorted(d["_id"] for d in dead)
    screenshot(page, "replays")

    # A job that cannot finish (its endpoint is disabled: what it released waits), cancelled.
    server.call("PATCH", f"omnihook/endpoints/{crm}", {"enabled": False})
    page.get_by_label("Status").select_option("delivered")
    page.get_by_label("Rate per endpoint").fill("1")
    expect(page.locator("#rp-count")).to_have_text("3 deliveries match.")
    page.get_by_role("button", name="Start").click()
    running = page.locator("#jobs tbody tr").first
    expect(running.locator(".badge")).to_have_text("running")
    expect(running).to_contain_text("1 in flight")
    running.get_by_role("button", name="Cancel").click()
    expect(running.locator(".badge")).to_have_text("cancelled")
    expect(running).to_contain_text("cancelled by admin")
    [job, _] = server.call("GET", "omnihook/replays")["jobs"]
    assert (job["status"], job["replayed"]) == ("cancelled", 1)


def test_a_new_endpoint_is_backfilled_with_the_past_events_from_the_page(
    page: Page, server: Server, receiver: Receiver
) -> None:
    old = {"name": "Old CRM", "url": receiver.url, "eventTypes": ["Message"]}
    server.call("POST", "omnihook/endpoints", old)
    visitor = {"token": "tok-2", "name": "Bo", "email": "bo@example.com"}
    server.call("POST", "livechat/visitor", {"visitor": visitor}, headers={})
    rid = server.call("GET", "livechat/room?token=tok-2", headers={})["room"]["_id"]
    for text in ("before", "the new CRM"):
        server.call("POST", "livechat/message", {"token": "tok-2", "rid": rid, "msg": text}, headers={})
    deliveries(server, "status=delivered", 2)
    new = {"name": "New CRM", "url": receiver.url, "eventTypes": ["Message"]}
    new_id = server.call("POST", "omnihook/endpoints", new)["endpoint"]["_id"]

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/replays")
    expect(page.locator("#jobs")).to_contain_text("No replay yet.")
    page.get_by_label("Kind").select_option("backfill")
    expect(page.get_by_label("Status")).to_be_hidden()
    expect(page.locator("#rp-count")).to_have_text("Choose the endpoint to backfill.")
    page.get_by_label("Endpoint to backfill").select_option(new_id)
    since = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")  # the browser's local time
    page.get_by_label("Created since").fill(since)
    expect(page.locator("#rp-count")).to_have_text("2 events match.")
    page.get_by_role("button", name="Start").click()
    row = page.locator("#jobs tbody tr").first
    expect(row).to_contain_text("Backfill")
    expect(row).to_contain_text("to New CRM")
    expect(row.locator(".badge")).to_have_text("finished")
    expect(row).to_contain_text("2 of 2 sent again")
    backfilled = [r.json()["data"]["messages"][0]["msg"] for r in receiver.requests[2:]]
    assert backfilled == ["before", "the new CRM"]
