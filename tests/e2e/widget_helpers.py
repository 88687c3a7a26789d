"""Rocket.Chat's official widget as a visitor meets it: embedded with Rocket.Chat's standard snippet on a
page of another site, driven inside its iframe; and what an agent does around it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, FrameLocator, Locator, Page, expect
from websockets.sync.client import connect

from tests.e2e.conftest import AGENT_PASSWORD, Server, log_in
from tests.receiver import Receiver

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
    def messages(self) -> Locator:
        return self.widget.locator("ol[class*=message-list__content]")

    @property
    def header(self) -> Locator:
        return self.widget.locator("header").first

    def finish_chat(self) -> None:
        """Options, Finish this chat, Yes: the widget closes the chat (livechat/room.close)."""
        self.widget.get_by_role("button", name="Options").click()
        self.widget.get_by_text("Finish this chat").click()
        self.widget.get_by_role("button", name="Yes").click()

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


def agent_typing(server: Server, agent: dict[str, str], rid: str, username: str, typing: bool) -> None:
    """What an agent's client does while its agent types: the stream-notify-room method over DDP."""
    url = "ws" + server.url.removeprefix("http") + "/websocket"
    with connect(url) as ws:

        def call(msg_id: str, method: str, params: list[Any]) -> dict[str, Any]:
            ws.send(json.dumps({"msg": "method", "id": msg_id, "method": method, "params": params}))
            while True:
                frame: dict[str, Any] = json.loads(ws.recv(timeout=30))
                if frame.get("msg") == "ping":
                    ws.send(json.dumps({"msg": "pong"}))
                if frame.get("msg") == "result" and frame.get("id") == msg_id:
                    assert "error" not in frame, frame
                    return frame

        ws.send(json.dumps({"msg": "connect", "version": "1", "support": ["1"]}))
        call("1", "login", [{"resume": agent["X-Auth-Token"]}])
        call("2", "stream-notify-room", [f"{rid}/typing", username, typing])
