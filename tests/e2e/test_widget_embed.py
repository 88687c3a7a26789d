"""Rocket.Chat's official widget (npm `@rocket.chat/livechat`, served at /livechat) embedded with Rocket.Chat's
standard snippet on a page of another site (another loopback origin), chatting with omnihook's agents
while the CRM receives the webhooks."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server, screenshot
from tests.e2e.widget_helpers import (
    EmbeddingSite,
    Visitor,
    agent_console,
    crm,
    other_site,
    site,
    visitor,
    wait_for_webhook,
)
from tests.receiver import Receiver

pytestmark = pytest.mark.browser
__all__ = ["crm", "other_site", "site", "visitor"]  # fixtures


def test_a_site_embedding_the_snippet_gets_the_widget_and_its_visitor_reaches_an_agent_and_the_crm(
    browser: Browser, server: Server, crm: Receiver, visitor: Visitor
) -> None:
    server.call(
        "POST",
        "livechat/appearance",
        [
            {"_id": "Livechat_title", "value": "Acme support"},
            {"_id": "Livechat_title_color", "value": "#1D74F5"},
            {"_id": "Livechat_registration_form_message", "value": "Tell us who you are"},
        ],
    )
    server.create_agent("alice", "Alice Agent")
    agent = agent_console(browser, server, "alice")

    visitor.open_site()
    visitor.open_widget()
    # The widget shows what livechat/config says (the appearance settings).
    expect(visitor.widget.get_by_text("Acme support")).to_be_visible()
    expect(visitor.widget.get_by_text("Tell us who you are")).to_be_visible()
    visitor.register("James Visitor", "james@example.com")
    visitor.send("Hi, I need help with my order")
    expect(visitor.messages).to_contain_text("Hi, I need help with my order")

    # Auto selection: the chat is alice's at once, with the visitor's message.
    mine = agent.locator("#my-rooms li").filter(has_text="James Visitor")
    expect(mine).to_be_visible()
    mine.get_by_role("button").click()
    expect(agent.locator("#messages")).to_contain_text("Hi, I need help with my order")
    # The widget names the agent (shown as Livechat_show_agent_info allows) with an avatar that loads.
    expect(visitor.widget.get_by_text("Alice Agent")).to_be_visible()
    avatar = visitor.widget.locator("img[src$='/avatar/alice']")
    expect(avatar).to_be_visible()
    assert avatar.evaluate("img => img.naturalWidth") > 0
    screenshot(visitor.page, "visitor-widget-embedded")

    visitor.send("Where is order 42?")
    expect(agent.locator("#messages")).to_contain_text("Where is order 42?")

    start = wait_for_webhook(crm, "LivechatSessionStart")
    assert start["visitor"]["name"] == "James Visitor"
    assert start["visitor"]["email"] == [{"address": "james@example.com"}]
    message = wait_for_webhook(crm, "Message")
    assert [m["msg"] for m in message["messages"]] == ["Hi, I need help with my order"]
    wait_for_webhook(crm, "LivechatSessionTaken")
    assert all(r.header("X-RocketChat-Livechat-Token") == "crm-secret" for r in crm.requests)

    # A reload of the site keeps the conversation: the widget keeps its visitor token.
    visitor.open_site()
    visitor.open_widget()
    expect(visitor.messages).to_contain_text("Where is order 42?")
    assert visitor.csp_violations() == []


def test_only_the_sites_in_livechat_allowed_domains_list_may_embed_it(
    server: Server, visitor: Visitor, site: EmbeddingSite
) -> None:
    server.call("POST", "settings/Livechat_AllowedDomainsList", {"value": "shop.example.com"})
    visitor.open_site()
    deadline = time.monotonic() + 20
    while not any("frame-ancestors" in m for m in visitor.console):
        assert time.monotonic() < deadline, visitor.console
        visitor.page.wait_for_timeout(100)
    expect(visitor.widget.locator("button[class*=screen__chat-button]")).to_have_count(0)

    server.call("POST", "settings/Livechat_AllowedDomainsList", {"value": f"shop.example.com, {site.host}"})
    visitor.open_site()
    visitor.open_widget()
    expect(visitor.widget.get_by_label("Name")).to_be_visible()


def test_on_another_site_whose_frames_get_no_storage_the_visitor_still_chats(
    browser: Browser, server: Server, crm: Receiver, other_site: EmbeddingSite
) -> None:
    server.create_agent("alice", "Alice Agent")
    agent = agent_console(browser, server, "alice")
    visitor = Visitor(browser, other_site)
    try:
        visitor.open_site()
        visitor.open_widget()
        # The widget's own storage is denied here; the page gives it storage in memory instead.
        visitor.register("Incognito Visitor", "incognito@example.com")
        visitor.send("Hello from another site")
        expect(visitor.messages).to_contain_text("Hello from another site")
        expect(agent.locator("#my-rooms li").filter(has_text="Incognito Visitor")).to_be_visible()
        message = wait_for_webhook(crm, "Message")
        assert [m["msg"] for m in message["messages"]] == ["Hello from another site"]
        assert not [m for m in visitor.console if "localStorage" in m]
        assert visitor.csp_violations() == []
    finally:
        visitor.close()


def test_the_visitor_widget_page_shows_the_snippet_and_the_widget_itself(
    browser: Browser, server: Server
) -> None:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    try:
        page.goto("/")
        page.get_by_role("link", name="Visitor widget").first.click()
        expect(page.locator("#snippet")).to_contain_text(f"'{server.url}/livechat'")
        widget = page.frame_locator("#rocketchat-iframe")
        widget.locator("button[class*=screen__chat-button]").click()
        expect(widget.get_by_label("Name")).to_be_visible()  # the offline form: nobody is available
    finally:
        context.close()
