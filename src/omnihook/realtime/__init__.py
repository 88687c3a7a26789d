"""Rocket.Chat's realtime API: DDP over a WebSocket at /websocket, fed by the live events.

What Rocket.Chat's livechat widget and JavaScript SDK use: the handshake, ping/pong, subscriptions to
stream-room-messages, stream-livechat-room and stream-notify-room, and the methods login (resume
token), livechat:setUpConnection and stream-notify-room (typing).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.websockets import WebSocket

from omnihook.livechat.live_events import Broker
from omnihook.livechat.presence import Presence
from omnihook.realtime.hub import Hub
from omnihook.realtime.methods import methods
from omnihook.realtime.session import Limits, Session
from omnihook.storage.database import Database


def install_realtime(app: FastAPI, db: Database, broker: Broker, presence: Presence, limits: Limits) -> Hub:
    """Serve /websocket. The app's lifespan must `await hub.aclose()` on shutdown."""
    hub = Hub(db, broker, login_recheck_seconds=limits.login_recheck_seconds)
    hub.methods.update(methods(presence))

    async def websocket(ws: WebSocket) -> None:
        await ws.accept()
        await hub.ready()  # from here on, every committed change reaches this session
        session = Session(ws, hub, limits)
        hub.join(session)
        await session.run()

    app.add_api_websocket_route("/websocket", websocket)
    return hub


__all__ = ["Limits", "install_realtime"]
