"""The API's documentation pages work with no network: their scripts and styles come from this server."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.e2e.conftest import Server


def only_this_server(context: BrowserContext, server: Server) -> list[str]:
    """Refuse every request to another origin, as a machine without network would; returns those the
    page needs to work (all but images)."""
    ours = urlsplit(server.url).netloc
    refused: list[str] = []

    def route(route: Route) -> None:
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            # ReDoc's "powered by" logo is an image on its CDN: refused like the rest, harmless if missing.
            if route.request.resource_type != "image":
                refused.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return refused


def test_swagger_ui_shows_the_operations_and_the_event_catalog_offline(
    context: BrowserContext, page: Page, server: Server
) -> None:
    refused = only_this_server(context, server)
    page.goto(f"{server.url}/docs")
    expect(page.get_by_text("POST/api/v1/livechat/message", exact=False).first).to_be_visible()
    expect(page.locator(".opblock-tag", has_text="event catalog").first).to_be_visible()
    assert refused == []


def test_redoc_shows_the_api_and_the_webhooks_offline(
    context: BrowserContext, page: Page, server: Server
) -> None:
    refused = only_this_server(context, server)
    page.goto(f"{server.url}/redoc")
    webhook = page.get_by_role("heading", name="LivechatSessionStart (Standard Webhooks) Webhook")
    expect(webhook.first).to_be_visible(
        timeout=90_000
    )  # ReDoc renders the whole document first: slow on a busy machine
    assert refused == []


def test_swagger_ui_authorizes_with_rocket_chats_login_headers_and_links_the_event_catalog(
    page: Page, server: Server
) -> None:
    page.goto(f"{server.url}/docs")
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")  # Swagger UI's Authorize dialog
    expect(dialog.get_by_text("X-User-Id").first).to_be_visible()
    expect(dialog.get_by_text("X-Auth-Token").first).to_be_visible()
    # The description links the event catalog page (Swagger UI opens it in a new tab).
    expect(page.get_by_role("link", name="event catalog page")).to_have_attribute("href", "/event-types")
