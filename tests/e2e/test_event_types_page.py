"""The event catalog page: every event type with its description, the settings that turn it on, its JSON
Schema and an example body in both formats; public, and reachable from the navigation and the home page."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from omnihook.webhooks.catalog import EventType
from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server, log_in, screenshot


def _body(page: Page, event_type: str, summary: str) -> object:
    section = page.locator(f"section[data-type='{event_type}']")
    details = section.locator("details", has_text=summary)
    details.locator("summary").click()
    text = details.locator("pre")
    expect(text).to_be_visible()
    return json.loads(text.inner_text())


def test_a_crm_developer_reads_every_event_type_without_logging_in(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/")
    page.get_by_role("link", name="Event catalog").first.click()
    expect(page).to_have_url(f"{server.url}/event-types")
    expect(page.locator("#catalog")).to_have_attribute("aria-busy", "false")
    sections = page.locator("section.event-type")
    expect(sections).to_have_count(len(EventType))
    for kind in EventType:
        section = page.locator(f"section[data-type='{kind.value}']")
        expect(section.locator(".description")).not_to_be_empty()
        expect(section.locator("details")).to_have_count(4)

    start = page.locator("section[data-type='LivechatSessionStart']")
    expect(start.get_by_role("heading")).to_contain_text("Chat Start")
    expect(start.locator(".settings")).to_have_text("Livechat_webhook_on_start")
    expect(start.locator(".keys")).to_have_text("LivechatSessionStart")
    message = page.locator("section[data-type='Message']")
    expect(message.locator(".settings")).to_contain_text("Livechat_webhook_on_visitor_message")
    expect(message.locator(".settings")).to_contain_text("Livechat_webhook_on_agent_message")
    expect(message.locator(".keys")).to_contain_text("Message.visitor")

    schema = _body(page, "Message", "JSON Schema · Rocket.Chat format")
    assert isinstance(schema, dict)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "Message"
    envelope = _body(page, "Message", "Example · Standard Webhooks")
    assert isinstance(envelope, dict)
    assert (envelope["type"], sorted(envelope)) == ("Message", ["data", "timestamp", "type"])
    assert envelope["data"]["messages"][0]["msg"]
    offline = _body(page, "LivechatOfflineMessage", "Example · Rocket.Chat format")
    assert isinstance(offline, dict)
    assert offline["type"] == "LivechatOfflineMessage"
    screenshot(page, "event-types")


def test_a_link_to_one_event_type_opens_at_it_and_the_navigation_leads_there_for_managers(
    page: Page, server: Server
) -> None:
    page.goto(f"{server.url}/event-types#LivechatSession")
    expect(page.locator("section[data-type='LivechatSession'] .description")).to_contain_text("closed")
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/endpoints")
    expect(page).to_have_url(f"{server.url}/admin/endpoints")  # logged in, not only on the way
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Event catalog").click()
    expect(page).to_have_url(f"{server.url}/event-types")
    expect(page.get_by_role("link", name="Event catalog").first).to_have_attribute("aria-current", "page")
    expect(page.locator("#whoami")).to_contain_text(ADMIN_USERNAME)
