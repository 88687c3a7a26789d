"""The composition root: one FastAPI app from the config, storage, webhook runtime, api and web.

The only module that knows every layer; api/ and web/ each plug themselves in and know nothing of the other.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from omnihook import __version__
from omnihook.api import install_api
from omnihook.config import Settings, get_settings
from omnihook.livechat.accounts import ensure_admin
from omnihook.storage.database import Database
from omnihook.storage.migrate import migrate
from omnihook.web import install_web
from omnihook.webhooks.runtime import WebhookRuntime

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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = Database(settings.database_url)
    webhook_runtime = WebhookRuntime(db, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await migrate(db)
        await announce_first_admin(db, settings)
        if settings.dispatcher_in_server:
            await webhook_runtime.start_dispatcher()
        try:
            yield
        finally:
            await app.state.live.aclose()
            await webhook_runtime.close()
            await db.dispose()

    app = FastAPI(
        title="omnihook",
        version=__version__,
        description="Omnichannel livechat with durable, Rocket.Chat-compatible CRM webhooks.",
        lifespan=lifespan,
    )
    app.state.db = db
    app.state.settings = settings
    app.state.webhooks = webhook_runtime
    install_api(app)
    install_web(app, db)
    return app
