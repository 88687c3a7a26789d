"""Rocket.Chat's official livechat widget, served from its npm package (`@rocket.chat/livechat`).

`GET /livechat` answers the package's `build/index.html` with `SERVER_URL` set right after `<body>` (the
widget calls `SERVER_URL/api/v1/...` and opens `SERVER_URL/websocket`); the rest of `build/` is served
under `/livechat/`, `rocketchat-livechat.min.js` included, which is what a site's embed snippet loads.
`GET /avatar/:username` draws the initial the widget shows beside an agent's messages.

The package is installed by `make install` (npm) into `node_modules/`, never committed; without it the
page says how to install it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from omnihook.config import Settings
from omnihook.livechat.settings import get_settings as get_workspace_settings

log = logging.getLogger("omnihook.web")

PACKAGE = "@rocket.chat/livechat"
REPO_ROOT = Path(__file__).resolve().parents[3]

router = APIRouter(include_in_schema=False)

# A Host header we accept as this server's name: a DNS name or an address, with an optional port.
_HOST = re.compile(
    r"^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$"
)
# One entry of Livechat_AllowedDomainsList: a host (or `*.` wildcard), an optional port, an optional scheme.
_ALLOWED_SITE = re.compile(
    r"^(?P<scheme>https?://)?(?P<host>(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?P<port>:(?:[0-9]{1,5}|\*))?/?$"
)
# Built files whose names carry their content's hash never change: cached for a year.
_HASHED = re.compile(r"(?:^|[.~])[0-9a-f]{5,}\.(?:js|css|png|map)$")

AVATAR_COLOURS = ("#1D74F5", "#F5455C", "#2DE0A5", "#FFD21F", "#9F22C7", "#F38C39", "#158D65", "#6C727A")


def build_dir(configured: str | None = None) -> Path | None:
    """Where the package's `build/` is: OMNIHOOK_WIDGET_DIR, else node_modules in the working directory or
    beside the source tree."""
    if configured:
        candidates = [Path(configured)]
    else:
        rel = Path("node_modules") / PACKAGE / "build"
        candidates = [Path.cwd() / rel, REPO_ROOT / rel]
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate.resolve()
    return None


def _origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL whose host is a plain name or address; None otherwise."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    if not _HOST.match(parts.netloc):
        return None
    return f"{parts.scheme}://{parts.netloc}"


def request_origin(request: Request) -> str | None:
    """This server's origin as the request names it; None when its Host header is not a plain host."""
    host = request.headers.get("host", "")
    if not _HOST.match(host):
        return None
    scheme = "https" if request.url.scheme in ("https", "wss") else "http"
    return f"{scheme}://{host}"


def frame_ancestors(allowed: str) -> str | None:
    """The CSP `frame-ancestors` sources of Livechat_AllowedDomainsList; None when it is empty (any site).

    An entry without a scheme allows both http and https. Entries that are not a plain host are ignored;
    a list with none left allows no other site (fail closed).
    """
    entries = [e.strip() for e in allowed.split(",") if e.strip()]
    if not entries:
        return None
    sources = ["'self'"]
    for entry in entries:
        match = _ALLOWED_SITE.match(entry)
        if match is None:
            log.warning("Livechat_AllowedDomainsList: ignoring %r (not a host)", entry[:100])
            continue
        site = match["host"] + (match["port"] or "")
        schemes = [match["scheme"]] if match["scheme"] else ["http://", "https://"]
        sources.extend(f"{scheme}{site}" for scheme in schemes)
    return " ".join(dict.fromkeys(sources))


def _ws(origin: str) -> str:
    return "ws" + origin.removeprefix("http")


def widget_csp(*, nonce: str, origins: list[str], ancestors: str | None) -> str:
    """What the widget needs and nothing more: its scripts and the SERVER_URL line, its injected styles,
    REST and the websocket to the server, images from the server (avatars, its picture) and data: icons."""
    servers = " ".join(dict.fromkeys(origins))
    sockets = " ".join(dict.fromkeys(_ws(o) for o in origins))
    directives = [
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: {servers}",
        "font-src 'self' data:",
        f"media-src 'self' {servers}",
        f"connect-src 'self' {servers} {sockets}",
        "base-uri 'none'",
        "form-action 'self'",
    ]
    if ancestors is not None:
        directives.append(f"frame-ancestors {ancestors}")
    return "; ".join(directives)


# The widget reads window.localStorage and sessionStorage as it starts, and stops there when the browser
# denies storage to a third-party frame (Chrome's incognito windows, "block third-party cookies"). Then it
# gets storage in memory instead: the chat works, and is forgotten when the page is left.
STORAGE_FALLBACK = (
    "(function(w){['localStorage','sessionStorage'].forEach(function(n){"
    "try{w[n].getItem('omnihook');}catch(e){var d={};Object.defineProperty(w,n,{configurable:true,value:{"
    "getItem:function(k){return Object.prototype.hasOwnProperty.call(d,k)?d[k]:null;},"
    "setItem:function(k,v){d[k]=String(v);},removeItem:function(k){delete d[k];},"
    "clear:function(){d={};},key:function(i){return Object.keys(d)[i]||null;},"
    "get length(){return Object.keys(d).length;}}});}});})(window);"
)


def _js_string(value: str) -> str:
    """A JavaScript string literal safe inside an HTML <script> element."""
    return (
        json.dumps(value)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


@dataclass
class Widget:
    """The installed bundle (read once) and how to serve it."""

    directory: Path | None
    index_html: str | None

    @classmethod
    def load(cls, settings: Settings) -> Widget:
        directory = build_dir(settings.widget_dir)
        if directory is None:
            log.warning("the livechat widget (%s) is not installed: run `make install`", PACKAGE)
            return cls(None, None)
        return cls(directory, (directory / "index.html").read_text("utf-8"))


def _widget(request: Request) -> Widget:
    widget: Widget | None = getattr(request.app.state, "widget", None)
    if widget is None:
        widget = Widget.load(request.app.state.settings)
        request.app.state.widget = widget
    return widget


def _not_installed() -> HTMLResponse:
    body = (
        "<!doctype html><meta charset=utf-8><title>Widget not installed</title>"
        "<h1>The livechat widget is not installed</h1>"
        f"<p>omnihook serves Rocket.Chat's livechat widget from its npm package <code>{PACKAGE}</code>. "
        "Install it with <code>make install</code> (it runs <code>npm install</code> in the repository; "
        "Node.js and npm are needed), or point <code>OMNIHOOK_WIDGET_DIR</code> at the package's "
        "<code>build</code> folder, then restart the server.</p>"
    )
    response = HTMLResponse(body, status_code=503)
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    return response


_warned: set[str] = set()


def _choose_origin(request: Request, configured: tuple[str | None, ...]) -> str | None:
    for value in configured:
        if value:
            origin = _origin_of(value)
            if origin is not None:
                return origin
            if value not in _warned:  # once per value, not on every page load
                _warned.add(value)
                log.warning("ignoring the site URL %r: not an http(s) URL with a plain host", value[:200])
    return request_origin(request)


async def server_url(request: Request) -> str | None:
    """The origin the widget talks to: OMNIHOOK_SITE_URL, else the Site_Url setting, else the request's."""
    settings: Settings = request.app.state.settings
    stored = await get_workspace_settings(request.app.state.db, ["Site_Url"])
    return _choose_origin(request, (settings.site_url, stored["Site_Url"]))


@router.api_route("/livechat", methods=["GET", "HEAD"])
async def livechat_page(request: Request) -> Response:
    widget = _widget(request)
    if widget.index_html is None:
        return _not_installed()
    settings: Settings = request.app.state.settings
    stored = await get_workspace_settings(request.app.state.db, ["Site_Url", "Livechat_AllowedDomainsList"])
    origin = _choose_origin(request, (settings.site_url, stored["Site_Url"]))
    if origin is None:
        return HTMLResponse("Bad Host header", status_code=400, headers={"Cache-Control": "no-store"})
    nonce = secrets.token_urlsafe(18)
    line = f'<script nonce="{nonce}">SERVER_URL = {_js_string(origin)};{STORAGE_FALLBACK}</script>'
    html = widget.index_html.replace("<body>", "<body>" + line, 1)
    allowed = stored["Livechat_AllowedDomainsList"]
    own = request_origin(request)
    origins = [origin] if own is None or own == origin else [origin, own]
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = widget_csp(
        nonce=nonce, origins=origins, ancestors=frame_ancestors(str(allowed))
    )
    # Per request (a nonce, the server URL): never cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/livechat/")
async def livechat_slash(request: Request) -> RedirectResponse:
    # The page loads its scripts relative to itself (`livechat/…`): it must be served at /livechat.
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/livechat{query}", status_code=308)


@router.api_route("/livechat/{path:path}", methods=["GET", "HEAD"])
async def livechat_asset(path: str, request: Request) -> Response:
    widget = _widget(request)
    if widget.directory is None or path in ("", "index.html"):
        return Response("Not found", status_code=404, media_type="text/plain")
    static = StaticFiles(directory=widget.directory, check_dir=False)
    response = await static.get_response(path, request.scope)
    if response.status_code in (200, 304):
        name = path.rsplit("/", 1)[-1]
        if _HASHED.search(name):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:  # rocketchat-livechat.min.js: the embed snippet adds its own cache-busting query
            response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@router.api_route("/avatar/{username:path}", methods=["GET", "HEAD"])
async def avatar(username: str) -> Response:
    """A generated picture: the username's initial on a colour of its own (any name: nothing is looked up)."""
    name = username.lstrip("@").split("?", 1)[0]
    initial = escape(name[:1].upper() or "?")
    colour = AVATAR_COLOURS[hashlib.sha256(name.encode()).digest()[0] % len(AVATAR_COLOURS)]
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200" width="200" height="200">'
        f'<rect width="200" height="200" fill="{colour}"/>'
        '<text x="50%" y="50%" dy=".35em" text-anchor="middle" fill="#ffffff" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="110" font-weight="600">{initial}</text></svg>'
    )
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "public, max-age=3600",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )
