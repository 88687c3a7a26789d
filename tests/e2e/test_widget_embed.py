"""Rocket.Chat's official widget (npm `@rocket.chat/livechat`, served at /livechat) embedded with Rocket.Chat's
standard snippet on a page of another site (another loopback origin), chatting with omnihook's agents
while the CRM receives the webhooks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, FrameLocator, Page, expect

from tests.e2e.conftest import AGENT_PASSWORD, Server, log_in, screenshot
from tests.receiver import Receiver

pytestmark = pytest.mark.browser

# Rocket.Chat's embed snippet, as its admin page hands it out, with HOST for the server's address.
SNIPPET = """<!doctype html>
<html><head><meta charset="utf-8"><title>Acme shop</title></head>
<body>
<h1>Acme shop</h1>
<p>Everything for your garden.</p>
<!-- Start of Rocket.Chat Livechat Script -->
<script type="text/javascript">
(function(w, d, s, u) {
  w.RocketChat = function(c) { w.RocketChat._.push(c) }; w.RocketChat._ = []; w.RocketChat.url = u;
  var h = d.getElementsByTagName(s)[0], j = d.createElement(s);
  j.async = true; j.src = 'HOST/livechat/rocketchat-livechat.min.js?_=201903270000';
  h.parentNode.insertBefore(j, h);
})(window, document, 'script', 'HOST/livechat');
</script>
</body></html>
"""


class EmbeddingSite:
    """A web site of its own on another loopback port whose page embeds the widget with the snippet.

    Named 127.0.0.1 it is another origin of the server's site; named localhost it is another site, whose
    frames Chromium denies storage (as in incognito windows, or with third-party cookies blocked).
    """

    def __init__(self, widget_host: str, name: str = "127.0.0.1") -> None:
        page = SNIPPET.replace("HOST", widget_host).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"{name}:{self.http.server_port}"
        self.url = f"http://{self.host}/"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def __enter__(self) -> EmbeddingSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def site(server: Server) -> Iterator[EmbeddingSite]:
    with EmbeddingSite(server.url) as running:
        yield running


@pytest.fixture
def crm(server: Server, receiver: Receiver) -> Receiver:
    server.call(
        "POST",
        "omnichannel/integrations",
        {
            "LivechatWebhookUrl": receiver.url,
            "LivechatSecretToken": "crm-secret",
            "LivechatWebhookOnStart": True,
            "LivechatWebhookOnChatTaken": True,
            "LivechatWebhookOnClose": True,
            "LivechatWebhookOnVisitorMessage": True,
            "LivechatWebhookOnAgentMessage": True,
            "LivechatWebhookOnOfflineMsg": True,
        },
    )
    return receiver


def wait_for_webhook(receiver: Receiver, type_: str, **match: Any) -> dict[str, Any]:
    """The first webhook of `type_` (whose keys equal `match`), waiting for more as they arrive."""
    seen = 0
    while True:
        requests = receiver.wait_for(seen + 1)
        for request in requests[seen:]:
            body: dict[str, Any] = request.json()
            if body["type"] == type_ and all(body.get(k) == v for k, v in match.items()):
                return body
        seen = len(requests)


class Visitor:
    """A visitor's browser on the embedding site; `widget` is the widget's iframe."""

    def __init__(self, browser: Browser, site: EmbeddingSite) -> None:
        self.context = browser.new_context(viewport={"width": 1100, "height": 820})
        self.page: Page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", self._console)
        self.site = site
        self.widget: FrameLocator = self.page.frame_locator("#rocketchat-iframe")

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(message.text)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m]

    def open_site(self) -> None:
        self.page.goto(self.site.url)
        expect(self.page.locator(".rocketchat-widget")).to_be_attached()

    def open_widget(self) -> None:
        self.widget.locator("button[class*=screen__chat-button]").click()

    def register(self, name: str, email: str) -> None:
        self.widget.get_by_label("Name").fill(name)
        self.widget.get_by_label("Email").fill(email)
        self.widget.get_by_role("button", name="Start chat").click()

    def send(self, text: str) -> None:
        composer = self.widget.locator("[contenteditable=true]")
        composer.click()
        composer.type(text)
        composer.press("Enter")

    @property
    def messages(self) -> Any:
        return self.widget.locator("ol[class*=message-list__content]")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def other_site(server: Server) -> Iterator[EmbeddingSite]:
    with EmbeddingSite(server.url, "localhost") as running:
        yield running


@pytest.fixture
def visitor(browser: Browser, site: EmbeddingSite) -> Iterator[Visitor]:
    v = Visitor(browser, site)
    yield v
    v.close()


def agent_console(browser: Browser, server: Server, username: str) -> Page:
    """An agent logged in on omnihook's console, available for chats."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    log_in(page, username, AGENT_PASSWORD, "/agent")
    switch = page.get_by_label("Not available")
    expect(switch).to_be_enabled()
    switch.check()
    expect(page.locator("#availability-label")).to_have_text("Available")
    return page


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


def test_with_nobody_available_the_widget_takes_an_offline_message_for_the_crm(
    server: Server, crm: Receiver, visitor: Visitor
) -> None:
    server.call("POST", "livechat/appearance", [{"_id": "Livechat_offline_title", "value": "We are away"}])
    visitor.open_site()
    visitor.open_widget()
    expect(visitor.widget.get_by_text("We are away")).to_be_visible()
    visitor.widget.get_by_label("Name").fill("Night Owl")
    visitor.widget.get_by_label("Email").fill("owl@example.com")
    visitor.widget.get_by_label("Message").fill("Please call me back tomorrow")
    visitor.widget.get_by_role("button", name="Send").click()

    offline = wait_for_webhook(crm, "LivechatOfflineMessage")
    assert offline["visitor"] == {"name": "Night Owl", "email": "owl@example.com"}
    assert offline["message"] == "Please call me back tomorrow"
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
