"""The composition root: one FastAPI app from the config, storage, webhook runtime, api and web.

The only module that knows every layer; api/ and web/ each plug themselves in and know nothing of the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnihook import __version__
from omnihook.api import install_api
from omnihook.api.errors import ErrorBoundary, Outage, error_response
from omnihook.config import Settings, get_settings
from omnihook.livechat.accounts import ensure_admin
from omnihook.livechat.live_events import install_live_events
from omnihook.livechat.presence import Presence
from omnihook.realtime import Limits, install_realtime
from omnihook.storage.availability import watch_answers
from omnihook.storage.database import Database
from omnihook.storage.migrate import migrate
from omnihook.web import install_web
from omnihook.webhooks.payloads import warm_user_agent_parser
from omnihook.webhooks.runtime import WebhookRuntime
from omnihook.webhooks.worker import tune_gc

log = logging.getLogger("omnihook")


async def announce_first_admin(db: Database, settings: Settings) -> None:
    created = await ensure_admin(
        db,
        username=settings.admin_username,
        password=settings.admin_password,
        email=settings.admin_email,
    )
    if created is None:
        return
    admin, generated = created
    if generated:
        # Printed once, on the start that creates the admin; only its hash is kept.
        print(
            f"\n  omnihook: created admin user {admin.username!r} with password {generated!r}\n"
            "  (shown once; set OMNIHOOK_ADMIN_PASSWORD before the first start to choose it)\n",
            flush=True,
        )
    else:
        print(f"omnihook: created admin user {admin.username!r}", flush=True)


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413 (by Content-Length, or counted as it arrives)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        details = f"the request body is larger than {self.limit} bytes"
        response = error_response(413, "error-request-too-large", "error-request-too-large", details)
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        # Read the body here (at most `limit` bytes) and hand it on whole: nothing is processed
        # before the size is known.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_server_app() -> FastAPI:
    """The app of an `omnihook serve` process: the collector tuned once it has started (not in tests,
    which build many apps in one process)."""
    return create_app(get_settings(), tune_collector=True)


def create_app(settings: Settings | None = None, *, tune_collector: bool = False) -> FastAPI:
    settings = settings or get_settings()
    db = Database(settings.database_url)
    webhook_runtime = WebhookRuntime(db, settings)
    live = install_live_events(db)
    webhook_runtime.news.pages = live
    presence = Presence(db, grace_seconds=settings.agent_offline_grace_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(db)
        await announce_first_admin(db, settings)
        if settings.dispatcher_in_server:
            await webhook_runtime.start_dispatcher()
        else:
            webhook_runtime.news.watch()  # SQLite: what a separate worker records
        presence.start()
        warming = asyncio.create_task(asyncio.to_thread(warm_user_agent_parser))
        if tune_collector:
            tune_gc()  # as the worker does: start-up's objects out of every collection
        try:
            yield
        finally:
            await warming
            await live.aclose()
            await realtime.aclose()
            await presence.aclose()
            await webhook_runtime.news.close()
            await webhook_runtime.close()
            await db.dispose()

    # FastAPIOffline: /docs and /redoc load their scripts from this server, so they work with no network.
    app = FastAPIOffline(
        static_url="/docs-assets",
        title="omnihook",
        version=__version__,
        description="Omnichannel livechat with durable, Rocket.Chat-compatible CRM webhooks.",
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    app.state.webhooks = webhook_runtime
    app.state.live = live
    app.state.presence = presence
    install_api(app)
    install_web(app, db)
    limits = Limits(
        max_frame_bytes=settings.realtime_max_frame_bytes,
        max_subscriptions=settings.realtime_max_subscriptions,
        send_queue=settings.realtime_send_queue,
        ping_seconds=settings.realtime_ping_seconds,
        login_recheck_seconds=settings.realtime_login_recheck_seconds,
    )
    realtime = install_realtime(app, db, live, presence, limits)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    # Outermost: whatever escapes the app is answered here (503 for an unavailable database, logged
    # once per episode; 500 for the rest) on a connection that stays open.
    outage: Outage = app.state.outage
    watch_answers(db.engine, answered=outage.answered, committed_write=outage.committed_write)
    app.add_middleware(ErrorBoundary, outage=outage)
    return app
