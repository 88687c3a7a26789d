"""After logging in, the login page sends the browser on to `next` only when it is a path on this
origin; anything else lands on the home page of the user's role (issue 10, finding 4).

Each hostile `next` is written into the login page's address as an attacker would put it in a link.
Requests to the attacker's site are answered by the test (no network), so a browser that follows one
lands there and the test sees where it went.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Dialog, Page, Route, expect

from tests.e2e.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Server

pytestmark = pytest.mark.browser

EVIL = re.compile(r"^[a-z]+://([^/]*\.)?evil\.example([:/?#]|$)")
HOSTILE_NEXTS = [
    "/%5Cevil.example/",  # "/\evil.example/": a browser reads the backslash as a slash
    "/%09/evil.example",  # a tab, dropped by the URL parser: "//evil.example"
    "/%0A/evil.example",  # a newline, dropped as well
    "/\\/evil.example",  # a raw backslash in the address
    "//evil.example",
    "///evil.example",
    "%2F%2Fevil.example",
    "https://evil.example",
    "https://evil.example/admin/webhooks",
    "javascript:alert(document.domain)",
]
HOME = "/admin/webhooks"  # where an admin lands without a usable `next`


def _log_in_at(browser: Browser, server: Server, next_query: str) -> tuple[Page, list[str]]:
    """A fresh browser logs in at /admin/login?next=<next_query>; returns the page once it left the
    login page, and every attacker URL the browser asked for (or script it ran)."""
    context = browser.new_context(base_url=server.url)
    visited: list[str] = []

    def attacker(route: Route) -> None:
        visited.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>evil</title><h1>evil</h1>")

    context.route(EVIL, attacker)
    page = context.new_page()

    def script(dialog: Dialog) -> None:  # a `javascript:` next that ran
        visited.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", script)
    page.goto(f"/admin/login?next={next_query}")
    page.get_by_label("Username or email").fill(ADMIN_USERNAME)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/admin/login")
    return page, visited


def test_every_next_that_leaves_this_origin_lands_on_the_home_page_instead(
    browser: Browser, server: Server
) -> None:
    landings: dict[str, tuple[str, list[str]]] = {}
    for next_query in HOSTILE_NEXTS:
        page, elsewhere = _log_in_at(browser, server, next_query)
        try:
            landed = urlsplit(page.url)
            landings[next_query] = (f"{landed.scheme}://{landed.netloc}{landed.path}", elsewhere)
            if landed.path == HOME:
                expect(page.locator("#whoami")).to_contain_text(ADMIN_USERNAME)
        finally:
            page.context.close()
    assert landings == dict.fromkeys(HOSTILE_NEXTS, (server.url + HOME, []))


def test_a_next_on_this_origin_is_honoured_with_its_query(browser: Browser, server: Server) -> None:
    page, elsewhere = _log_in_at(browser, server, "/admin/deliveries%3Fstatus%3Ddead")
    try:
        landed = urlsplit(page.url)
        assert f"{landed.scheme}://{landed.netloc}" == server.url, page.url
        assert landed.path == "/admin/deliveries", page.url
        expect(page.get_by_label("Status")).to_have_value("dead")
        assert elsewhere == []
    finally:
        page.context.close()
