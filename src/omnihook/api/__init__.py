"""HTTP API: the Rocket.Chat-compatible /api/v1 routes and omnihook's own."""

from __future__ import annotations

from fastapi import FastAPI

from omnihook.api.errors import install_error_handlers
from omnihook.api.openapi import install_openapi
from omnihook.api.routes import (
    auth,
    chat,
    deliveries,
    endpoints,
    event_types,
    livechat_agent,
    livechat_appearance,
    livechat_visitor,
    omnichannel,
    replays,
    users,
    webhooks,
)


def install_api(app: FastAPI) -> None:
    """Add the REST routes and the Rocket.Chat error envelope (which answers the pages' errors too)."""
    install_error_handlers(app)
    # Routes are matched in order, one by one: the widget's calls (every visitor message) come first.
    # No other router has a path under /api/v1/livechat/ that these could take.
    app.include_router(livechat_visitor.router)
    app.include_router(auth.router)
    app.include_router(users.info_router)
    app.include_router(users.router)
    app.include_router(omnichannel.router)
    app.include_router(livechat_agent.router)
    app.include_router(chat.router)
    app.include_router(livechat_appearance.router)
    app.include_router(webhooks.router)
    app.include_router(deliveries.router)
    app.include_router(replays.router)
    app.include_router(endpoints.router)
    app.include_router(event_types.router)
    install_openapi(app)


__all__ = ["install_api"]
