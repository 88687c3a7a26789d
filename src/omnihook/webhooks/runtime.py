"""The webhook engine of one process: endpoint cache, outbox hook, transport and dispatcher."""

from __future__ import annotations

import logging

from omnihook.config import Settings
from omnihook.storage.database import Database
from omnihook.webhooks.endpoints import EndpointCache
from omnihook.webhooks.transport import AiohttpTransport, Transport

log = logging.getLogger("omnihook.webhooks")


class WebhookRuntime:
    def __init__(self, db: Database, settings: Settings, *, transport: Transport | None = None) -> None:
        self.db = db
        self.settings = settings
        self.endpoints = EndpointCache()
        self.transport: Transport = transport or AiohttpTransport(
            allow_private_targets=settings.allow_private_targets
        )

    def endpoints_changed(self) -> None:
        self.endpoints.invalidate()

    async def close(self) -> None:
        await self.transport.close()
