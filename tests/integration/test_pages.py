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
    "/livechat-legacy",
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


async def test_staff_pages_refuse_framing_and_the_visitor_page_allows_it(client: httpx.AsyncClient) -> None:
    admin = await client.get("/admin/webhooks")
    assert "frame-ancestors 'none'" in admin.headers["content-security-policy"]
    # The official widget at /livechat: tests/integration/test_widget_serving.py.
    visitor = await client.get("/livechat-legacy")
    assert "frame-ancestors" not in visitor.headers["content-security-policy"]


async def test_the_pages_hold_no_data_without_a_login(client: httpx.AsyncClient) -> None:
    # The shells carry no settings or deliveries; their scripts ask the API, which wants a login.
    assert (await client.get("/api/v1/livechat/integrations.settings")).status_code == 401
    assert (await client.get("/api/v1/omnihook/deliveries")).status_code == 401
