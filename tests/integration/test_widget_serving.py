"""/livechat serves the official widget's build: SERVER_URL injected, its assets cached, its CSP and
who may frame it, and avatars. A small stand-in build keeps these tests independent of npm (the browser
tests run the real package)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from omnihook.config import Settings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

INDEX = (
    '<!doctype html><html><head><meta charset="utf-8"><title>Rocket.Chat.Livechat</title></head><body>'
    '<script src="livechat/bundle.31a95.js"></script></body></html>'
)


def _fake_build(root: Path) -> Path:
    build = root / "build"
    build.mkdir()
    (build / "index.html").write_text(INDEX)
    (build / "bundle.31a95.js").write_text("console.log('bundle')")
    (build / "vendors~bundle.chunk.8a189.js").write_text("console.log('vendors')")
    (build / "rocketchat-livechat.min.js").write_text("console.log('snippet')")
    return build


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        widget_dir=str(_fake_build(tmp_path)),
    )


def _server_url(html: str) -> str:
    match = re.search(
        r'<body><script nonce="([^"]+)">SERVER_URL = "([^"]*)";[^<]*</script><script src=', html
    )
    assert match, html
    return match.group(2)


def _csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in policy.split(";")) if d}


async def test_the_page_is_the_builds_index_with_server_url_right_after_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/livechat")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert _server_url(response.text) == "http://omnihook.test"
    assert response.text.endswith('<script src="livechat/bundle.31a95.js"></script></body></html>')
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = _csp(response)
    nonce = re.search(r'<script nonce="([^"]+)">', response.text)
    assert nonce is not None
    # Its own scripts and the one line it was given; nothing else may run.
    assert csp["script-src"] == f"'self' 'nonce-{nonce.group(1)}'"
    assert csp["default-src"] == "'none'"
    assert csp["connect-src"] == "'self' http://omnihook.test ws://omnihook.test"
    assert csp["img-src"] == "'self' data: http://omnihook.test"
    assert csp["style-src"] == "'self' 'unsafe-inline'"
    assert csp["base-uri"] == "'none'"
    # Embeddable by any site unless Livechat_AllowedDomainsList says otherwise.
    assert "frame-ancestors" not in csp
    assert "x-frame-options" not in response.headers
    # Each load has a nonce of its own.
    again = await client.get("/livechat")
    assert _csp(again)["script-src"] != csp["script-src"]


async def test_a_host_header_that_is_not_a_host_gets_no_page(client: httpx.AsyncClient) -> None:
    for host in ('evil.test"><script>alert(1)</script>', "evil.test/path", "a b", "user@evil.test", ""):
        response = await client.get("/livechat", headers={"Host": host})
        assert response.status_code == 400, host
        assert "<script>alert" not in response.text
    ipv6 = await client.get("/livechat", headers={"Host": "[::1]:3000"})
    assert _server_url(ipv6.text) == "http://[::1]:3000"
    assert "ws://[::1]:3000" in _csp(ipv6)["connect-src"]


async def test_a_configured_site_url_wins_over_the_request(
    client: httpx.AsyncClient, admin: dict[str, str], app: FastAPI
) -> None:
    saved = await client.post(
        "/api/v1/settings/Site_Url", json={"value": "https://chat.example.com/"}, headers=admin
    )
    assert saved.status_code == 200, saved.text
    response = await client.get("/livechat", headers={"Host": "attacker.test"})
    assert _server_url(response.text) == "https://chat.example.com"
    csp = _csp(response)
    # The widget may also reach the address it was loaded from (behind a proxy both are this server).
    assert csp["connect-src"] == (
        "'self' https://chat.example.com http://attacker.test wss://chat.example.com ws://attacker.test"
    )
    # OMNIHOOK_SITE_URL wins over the setting; a value that is not an http(s) URL is ignored.
    app.state.settings.site_url = "https://support.example.org:8443"
    assert _server_url((await client.get("/livechat")).text) == "https://support.example.org:8443"
    app.state.settings.site_url = "javascript:alert(1)"
    assert _server_url((await client.get("/livechat")).text) == "https://chat.example.com"
    await client.post("/api/v1/settings/Site_Url", json={"value": 'ftp://x"y'}, headers=admin)
    assert _server_url((await client.get("/livechat")).text) == "http://omnihook.test"


async def test_which_sites_may_embed_it_is_livechat_allowed_domains_list(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async def allow(value: str) -> str | None:
        saved = await client.post(
            "/api/v1/settings/Livechat_AllowedDomainsList", json={"value": value}, headers=admin
        )
        assert saved.status_code == 200, saved.text
        return _csp(await client.get("/livechat")).get("frame-ancestors")

    assert await allow("shop.example.com, *.acme.test:8443 ,https://secure.example") == (
        "'self' http://shop.example.com https://shop.example.com http://*.acme.test:8443 "
        "https://*.acme.test:8443 https://secure.example"
    )
    # Anything but a plain host is left out; nothing valid left allows no other site.
    assert await allow("good.example; script-src *, 'unsafe-inline', http://a/b") == "'self'"
    assert await allow("") is None


async def test_the_builds_files_are_served_with_caching_headers(client: httpx.AsyncClient) -> None:
    hashed = await client.get("/livechat/vendors~bundle.chunk.8a189.js")
    assert hashed.status_code == 200
    assert hashed.text == "console.log('vendors')"
    assert hashed.headers["content-type"].startswith("text/javascript")
    assert hashed.headers["cache-control"] == "public, max-age=31536000, immutable"
    revalidated = await client.get(
        "/livechat/vendors~bundle.chunk.8a189.js", headers={"If-None-Match": hashed.headers["etag"]}
    )
    assert revalidated.status_code == 304
    snippet = await client.get("/livechat/rocketchat-livechat.min.js?_=201903270000")
    assert snippet.status_code == 200
    assert snippet.headers["cache-control"] == "public, max-age=3600"
    assert (await client.head("/livechat/rocketchat-livechat.min.js")).status_code == 200
    for missing in (
        "/livechat/nothing.js",
        "/livechat/../pyproject.toml",
        "/livechat/%2e%2e/%2e%2e/README.md",
    ):
        assert (await client.get(missing)).status_code == 404, missing
    slash = await client.get("/livechat/?mode=popout")
    assert slash.status_code == 308
    assert slash.headers["location"] == "/livechat?mode=popout"


async def test_without_the_package_the_page_says_how_to_install_it(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    app.state.settings.widget_dir = str(empty)
    response = await client.get("/livechat")
    assert response.status_code == 503
    assert "make install" in response.text
    assert "@rocket.chat/livechat" in response.text
    assert (await client.get("/livechat/rocketchat-livechat.min.js")).status_code == 404


async def test_avatars_are_generated_initials_for_any_name(client: httpx.AsyncClient) -> None:
    alice = await client.get("/avatar/alice")
    assert alice.status_code == 200
    assert alice.headers["content-type"] == "image/svg+xml"
    assert ">A</text>" in alice.text
    assert alice.headers["cache-control"] == "public, max-age=3600"
    assert alice.headers["content-security-policy"].startswith("default-src 'none'")
    assert (await client.get("/avatar/alice")).text == alice.text  # the same colour every time
    hostile = await client.get("/avatar/<script>")
    assert "&lt;</text>" in hostile.text
    assert "<script" not in hostile.text
    assert ">G</text>" in (await client.get("/avatar/guest-12")).text


async def test_the_embed_page_hands_out_the_snippet_with_this_servers_address(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    page = await client.get("/embed")
    assert page.status_code == 200
    assert "j.src = 'http://omnihook.test/livechat/rocketchat-livechat.min.js?_=201903270000';" in page.text
    assert "})(window, document, 'script', 'http://omnihook.test/livechat');" in page.text
    assert '&lt;script type="text/javascript"&gt;' in page.text  # shown, not run
    await client.post("/api/v1/settings/Site_Url", json={"value": "https://chat.example.com"}, headers=admin)
    assert "'https://chat.example.com/livechat'" in (await client.get("/embed")).text
