"""The pages: server-rendered shells whose small scripts call the REST API.

Pages carry no data of their own: the scripts log in through `POST /api/v1/login`, keep the user id
and token in localStorage and send them as X-User-Id / X-Auth-Token, as any Rocket.Chat client does,
so a page can never show more than its user's API calls may.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from omnihook import __version__
from omnihook.web import widget
from omnihook.webhooks.catalog import EventType

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(include_in_schema=False)
router.include_router(widget.router)

# (path, template, title, who may use it: "manager" | "agent" | "anyone")
PAGES: list[tuple[str, str, str, str]] = [
    ("/admin/webhooks", "webhooks.html", "Webhooks", "manager"),
    ("/admin/agents", "agents.html", "Agents", "manager"),
    ("/admin/departments", "departments.html", "Departments", "manager"),
    ("/agent", "agent.html", "Agent console", "agent"),
]


# Scripts and styles come from this server only (the pages have no inline script), and no other site may
# frame them. The visitor widget (web/widget.py, at /livechat) has a policy of its own.
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'"


def render(request: Request, template: str, title: str, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, template, {"title": title, "version": __version__, "path": request.url.path, **context}
    )
    response.headers["Content-Security-Policy"] = CSP + "; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@router.get("/")
async def home(request: Request) -> HTMLResponse:
    return render(request, "index.html", "omnihook", role="anyone")


@router.get("/admin")
async def admin_home() -> RedirectResponse:
    return RedirectResponse("/admin/webhooks")


@router.get("/admin/login")
async def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", "Log in", role="anyone")


# The names Rocket.Chat's Webhooks page gives the events, beside their payload `type`.
EVENT_LABELS = {
    "LivechatSessionStart": "Chat Start",
    "LivechatSessionQueued": "Chat Queued",
    "LivechatSessionTaken": "Chat Taken",
    "LivechatSessionForwarded": "Forwarding",
    "LivechatSession": "Chat Close",
    "LivechatEdit": "room edited after close",
    "Message": "Visitor or Agent Message",
    "LivechatOfflineMessage": "Offline Messages",
}


@router.get("/admin/deliveries")
async def deliveries_page(request: Request) -> HTMLResponse:
    types = [(t.value, EVENT_LABELS.get(t.value)) for t in EventType]
    return render(request, "deliveries.html", "Deliveries", role="manager", event_types=types)


@router.get("/admin/deliveries/{delivery_id}")
async def delivery_page(request: Request, delivery_id: str) -> HTMLResponse:
    return render(request, "delivery.html", "Delivery", role="manager", delivery_id=delivery_id)


@router.get("/admin/replays")
async def replays_page(request: Request) -> HTMLResponse:
    """Bulk replay jobs; the filters may come in the query string (the Deliveries page links here)."""
    types = [(t.value, EVENT_LABELS.get(t.value)) for t in EventType]
    return render(request, "replays.html", "Replays", role="manager", event_types=types)


# The keys an endpoint subscribes to, in the catalog's order, with the names the Webhooks page gives them.
SUBSCRIPTION_LABELS = {
    **EVENT_LABELS,
    "Message": "Every message",
    "Message.visitor": "Visitor Messages",
    "Message.agent": "Agent Messages",
    "LeadCapture": "Lead Capture",
}
SUBSCRIPTION_EXTRAS = {"Message": ("Message.visitor", "Message.agent")}


@router.get("/admin/endpoints")
async def endpoints_page(request: Request) -> HTMLResponse:
    keys = [key for t in EventType for key in (t.value, *SUBSCRIPTION_EXTRAS.get(t.value, ()))]
    types = [(key, SUBSCRIPTION_LABELS.get(key, key)) for key in keys]
    return render(request, "endpoints.html", "Endpoints", role="manager", event_types=types)


@router.get("/event-types")
async def event_types_page(request: Request) -> HTMLResponse:
    """The event catalog: public, as its API is (a CRM developer needs no login to read it)."""
    types = [(t.value, EVENT_LABELS.get(t.value)) for t in EventType]
    return render(request, "event_types.html", "Event catalog", role="anyone", event_types=types)


@router.get("/embed")
async def embed_page(request: Request) -> HTMLResponse:
    """The embed snippet with this server's address, and the widget on the page itself."""
    origin = await widget.server_url(request) or ""
    return render(request, "embed.html", "Visitor widget", role="anyone", widget_url=f"{origin}/livechat")


def _add_page(path: str, template: str, title: str, role: str) -> None:
    async def page(request: Request) -> HTMLResponse:
        return render(request, template, title, role=role)

    router.add_api_route(path, page, methods=["GET"], name=template.removesuffix(".html"))


for _path, _template, _title, _role in PAGES:
    _add_page(_path, _template, _title, _role)
