"""The pages are served by the app itself, with everything they load, and guarded by their headers."""

from __future__ import annotations

import re

import httpx
import pytest

PAGES = [
    "/",
    "/admin/login",
    "/admin/webhooks",
    "/admin/deliveries",
    "/admin/deliveries/some-delivery-id",
    "/admin/agents",
    "/admin/departments",
    "/agent",
    "/embed",
]


@pytest.mark.parametrize("path", PAGES)
async def test_each_page_is_served_with_only_local_assets(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assets = re.findall(r'(?:src|href)="([^"#]+)"', html)
    # Nothing from another host: the pages work without the internet.
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for asset in (a for a in assets if a.startswith("/static/")):
        assert (await client.get(asset)).status_code == 200, asset
    assert "<script>" not in html  # no inline script: the policy forbids it
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("path", PAGES)
async def test_omnihooks_own_pages_refuse_framing(client: httpx.AsyncClient, path: str) -> None:
    # The visitor widget, made to be framed, is Rocket.Chat's (tests/integration/test_widget_serving.py).
    response = await client.get(path)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_the_pages_hold_no_data_without_a_login(client: httpx.AsyncClient) -> None:
    # The shells carry no settings or deliveries; their scripts ask the API, which wants a login.
    assert (await client.get("/api/v1/livechat/integrations.settings")).status_code == 401
    assert (await client.get("/api/v1/omnihook/deliveries")).status_code == 401
