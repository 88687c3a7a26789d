"""A visitor (Rocket.Chat's official widget, embedded with its snippet on another site's page) and agents
(omnihook's console) chatting in separate browser contexts, live, with the CRM webhooks arriving at a real
receiver."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, AGENT_PASSWORD, Server, log_in, screenshot
from tests.e2e.widget_helpers import EmbeddingSite, Visitor, agent_typing, site
from tests.receiver import Receiver

pytestmark = pytest.mark.browser
__all__ = ["site"]  # a fixture


def new_page(browser: Browser, server: Server) -> Page:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860})
    return context.new_page()


def go_available(agent: Page) -> None:
    switch = agent.get_by_label("Not available")
    expect(switch).to_be_enabled()
    switch.check()
    expect(agent.locator("#availability-label")).to_have_text("Available")


def start_chat(
    browser: Browser, site: EmbeddingSite, name: str, email: str, *, shot: str | None = None
) -> Visitor:
    visitor = Visitor(browser, site)
    visitor.open_site()
    visitor.open_widget()
    visitor.widget.get_by_label("Name").fill(name)
    visitor.widget.get_by_label("Email").fill(email)
    if shot:
        screenshot(visitor.page, shot)
    visitor.widget.get_by_role("button", name="Start chat").click()
    return visitor


def send(page: Page, text: str) -> None:
    composer = page.locator("#composer")
    composer.get_by_label("Message").fill(text)
    composer.get_by_role("button", name="Send").click()


def webhook_types(receiver: Receiver) -> list[str]:
    return [r.json()["type"] for r in receiver.requests]


def wait_for_webhook(receiver: Receiver, type_: str) -> dict[str, Any]:
    """The first webhook of `type_`, waiting for more requests as they arrive."""
    seen = 0
    while True:
        requests = receiver.wait_for(seen + 1)
        for request in requests[seen:]:
            body: dict[str, Any] = request.json()
            if body["type"] == type_:
                return body
        seen = len(requests)


def wait_until_nothing_pending(server: Server) -> None:
    deadline = time.monotonic() + 60
    while server.call("GET", "omnihook/deliveries?status=pending&count=1")["total"]:
        assert time.monotonic() < deadline, "deliveries still pending after a minute"
        time.sleep(0.1)


@pytest.fixture
def crm(server: Server, receiver: Receiver) -> Receiver:
    """The CRM integration pointed at the receiver, for the session, message and offline events."""
    server.call(
        "POST",
        "omnichannel/integrations",
        {
            "LivechatWebhookUrl": receiver.url,
            "LivechatSecretToken": "crm-secret",
            "LivechatWebhookOnStart": True,
            "LivechatWebhookOnChatQueued": True,
            "LivechatWebhookOnChatTaken": True,
            "LivechatWebhookOnForward": True,
            "LivechatWebhookOnClose": True,
            "LivechatWebhookOnVisitorMessage": True,
            "LivechatWebhookOnAgentMessage": True,
            "LivechatWebhookOnOfflineMsg": True,
        },
    )
    return receiver


def test_a_visitor_and_an_agent_hold_a_whole_chat_and_the_crm_gets_every_webhook(
    browser: Browser, server: Server, crm: Receiver, site: EmbeddingSite
) -> None:
    # Agents pick chats from the queue themselves.
    server.call("POST", "settings/Livechat_Routing_Method", {"value": "Manual_Selection"})
    finished = [{"_id": "Livechat_conversation_finished_message", "value": "Thanks for chatting with Acme"}]
    server.call("POST", "livechat/appearance", finished)
    server.create_agent("alice", "Alice Agent")
    agent = new_page(browser, server)
    log_in(agent, "alice", AGENT_PASSWORD, "/agent")
    go_available(agent)

    visitor = start_chat(browser, site, "James Visitor", "james@example.com", shot="visitor-registration")
    visitor.send("Hi, I need help with my order")
    expect(visitor.messages).to_contain_text("Hi, I need help with my order")
    expect(visitor.header).not_to_contain_text("Alice Agent")  # waiting in the queue

    # The queue updates live on the agent's console.
    waiting = agent.locator("#queue li").filter(has_text="James Visitor")
    expect(waiting).to_be_visible()
    screenshot(agent, "agent-console-queue")
    waiting.get_by_role("button", name="Take").click()
    expect(agent.locator("#chat-title")).to_have_text("James Visitor")
    expect(agent.locator("#messages")).to_contain_text("Hi, I need help with my order")
    expect(agent.locator("#queue li")).to_have_count(0)

    # Taken: the widget names its agent, live (stream-livechat-room), and gets the answer live.
    expect(visitor.header).to_contain_text("Alice Agent")
    send(agent, "Hello James, how can I help you today?")
    expect(visitor.messages).to_contain_text("Hello James, how can I help you today?")

    # A reload keeps the conversation: the widget remembers its visitor token and room.
    visitor.open_site()
    visitor.open_widget()
    expect(visitor.messages).to_contain_text("Hello James, how can I help you today?")
    visitor.send("Where is order 42?")
    expect(agent.locator("#messages")).to_contain_text("Where is order 42?")
    screenshot(agent, "agent-console")
    screenshot(visitor.page, "visitor-widget")

    agent.get_by_label("Comment", exact=True).fill("Thank you for visiting")
    agent.get_by_label("Tags (comma separated)").fill("orders, resolved")
    agent.get_by_role("button", name="Close chat").click()
    # The widget hears the closing message and says the chat is over, with the appearance's text.
    expect(visitor.widget.get_by_text("Thanks for chatting with Acme")).to_be_visible()
    expect(agent.locator("#chat-status")).to_have_text("closed")
    expect(agent.locator("#my-rooms li")).to_have_count(0)

    session = wait_for_webhook(crm, "LivechatSession")
    assert session["tags"] == ["orders", "resolved"]
    assert session["closer"] == "user"
    assert [m["msg"] for m in session["messages"] if not m.get("closingMessage")] == [
        "Hi, I need help with my order",
        "Hello James, how can I help you today?",
        "Where is order 42?",
    ]
    assert session["messages"][-1]["closingMessage"] is True
    assert session["messages"][-1]["msg"] == "Thank you for visiting"
    types = webhook_types(crm)
    for expected in ("LivechatSessionStart", "LivechatSessionQueued", "LivechatSessionTaken", "Message"):
        assert expected in types
    assert types.count("Message") == 3
    taken = next(r.json() for r in crm.requests if r.json()["type"] == "LivechatSessionTaken")
    assert taken["agent"]["username"] == "alice"
    assert all(r.header("X-RocketChat-Livechat-Token") == "crm-secret" for r in crm.requests)

    # Every one of them is on the Deliveries page (once the last outcome is recorded).
    wait_until_nothing_pending(server)
    admin = new_page(browser, server)
    log_in(admin, ADMIN_USERNAME, ADMIN_PASSWORD, "/admin/deliveries")
    rows = admin.locator("#deliveries tbody tr")
    expect(rows).to_have_count(len(crm.requests))
    expect(rows.filter(has_text="delivered")).to_have_count(len(crm.requests))
    shown_types = admin.locator("#deliveries tbody td:nth-child(3)").all_inner_texts()  # Event type
    assert sorted(shown_types) == sorted(types)
    screenshot(admin, "deliveries")

    # The same visitor starts over: a new chat, in the queue again.
    visitor.widget.get_by_role("button", name="New Chat").click()
    visitor.send("One more question")
    expect(agent.locator("#queue li").filter(has_text="James Visitor")).to_be_visible()
    assert visitor.csp_violations() == []
    visitor.close()


def test_agents_forward_a_chat_to_a_department_and_to_an_agent_who_see_it_live(
    browser: Browser, server: Server, crm: Receiver, site: EmbeddingSite
) -> None:
    server.create_agent("alice", "Alice Agent")
    server.create_agent("bob", "Bob Agent")
    agents = server.call("GET", "livechat/users/agent")["users"]
    bob_id = next(u["_id"] for u in agents if u["username"] == "bob")
    # Not offered on the widget's registration form (which would then route every chat to it).
    billing = {"name": "Billing", "enabled": True, "showOnRegistration": False, "showOnOfflineForm": True}
    server.call("POST", "livechat/department", {"department": billing, "agents": [{"agentId": bob_id}]})
    alice = new_page(browser, server)
    log_in(alice, "alice", AGENT_PASSWORD, "/agent")
    go_available(alice)

    visitor = start_chat(browser, site, "Maria", "maria@example.com")
    visitor.send("Can I talk to billing?")
    # Auto selection (the default): the only available agent gets the chat, live.
    mine = alice.locator("#my-rooms li").filter(has_text="Maria")
    expect(mine).to_be_visible()
    mine.get_by_role("button").click()
    expect(alice.locator("#messages")).to_contain_text("Can I talk to billing?")

    bob = new_page(browser, server)
    log_in(bob, "bob", AGENT_PASSWORD, "/agent")
    go_available(bob)
    expect(bob.locator("#rooms-empty")).to_be_visible()
    alice.get_by_label("To an agent or a department").select_option(label="Billing")
    alice.get_by_role("button", name="Forward").click()
    expect(alice.locator("#my-rooms li")).to_have_count(0)
    forwarded_room = bob.locator("#my-rooms li").filter(has_text="Maria")
    expect(forwarded_room).to_be_visible()
    # A visitor message in a chat bob is not looking at marks it as new.
    visitor.send("Hello? Anyone from billing?")
    expect(forwarded_room.locator(".unread")).to_have_text("new")
    forwarded_room.get_by_role("button").click()
    expect(bob.locator("#messages")).to_contain_text("Hello? Anyone from billing?")
    expect(forwarded_room.locator(".unread")).to_have_count(0)
    expect(bob.locator("#messages")).to_contain_text("Can I talk to billing?")
    send(bob, "Billing here, hello Maria")
    expect(visitor.messages).to_contain_text("Billing here, hello Maria")
    expect(visitor.header).to_contain_text("Bob Agent")
    # An agent typing shows in the widget (stream-notify-room), and stops.
    rid = server.call("GET", "livechat/rooms")["rooms"][0]["_id"]
    bob_login = server.login("bob", AGENT_PASSWORD)
    typing = visitor.widget.locator("div[class^=typing-dots__]")
    agent_typing(server, bob_login, rid, "bob", True)
    expect(typing).to_be_visible()
    agent_typing(server, bob_login, rid, "bob", False)
    expect(typing).to_have_count(0)

    # Bob hands it back to alice by name.
    bob.get_by_label("To an agent or a department").select_option(label="Alice Agent (available)")
    bob.get_by_role("button", name="Forward").click()
    expect(bob.locator("#my-rooms li")).to_have_count(0)
    expect(alice.locator("#my-rooms li").filter(has_text="Maria")).to_be_visible()
    expect(visitor.header).to_contain_text("Alice Agent")

    # The visitor ends the chat; alice's console shows it closed at once.
    visitor.finish_chat()
    expect(visitor.widget.get_by_text("Thanks for talking with us")).to_be_visible()
    expect(alice.locator("#my-rooms li")).to_have_count(0)

    to_billing = wait_for_webhook(crm, "LivechatSessionForwarded")
    assert to_billing["servedBy"]["username"] == "bob"
    assert "oldServedBy" not in to_billing  # Rocket.Chat names the old agent on a forward to an agent only
    assert wait_for_webhook(crm, "LivechatSession")["closer"] == "visitor"
    visitor.close()


def test_the_widget_shows_the_offline_form_when_no_agent_is_available_and_chats_need_one(
    browser: Browser, server: Server, crm: Receiver, site: EmbeddingSite
) -> None:
    # Rocket.Chat's default; omnihook's (on) lets the chat open and wait in the queue instead.
    server.call("POST", "settings/Livechat_accept_chats_with_no_agents", {"value": False})
    visitor = Visitor(browser, site)
    visitor.open_site()
    visitor.open_widget()
    expect(visitor.header).to_contain_text("Leave a message")
    visitor.widget.get_by_label("Name").fill("Night Owl")
    visitor.widget.get_by_label("Email").fill("owl@example.com")
    visitor.widget.get_by_label("Message").fill("Please call me back tomorrow")
    screenshot(visitor.page, "visitor-offline-form")
    visitor.widget.get_by_role("button", name="Send").click()

    offline = wait_for_webhook(crm, "LivechatOfflineMessage")
    assert offline["visitor"] == {"name": "Night Owl", "email": "owl@example.com"}
    assert offline["message"] == "Please call me back tomorrow"
    visitor.close()
