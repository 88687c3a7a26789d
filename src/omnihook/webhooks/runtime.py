"""The webhook engine of one process: endpoint cache, outbox hook, transport and dispatcher."""

from __future__ import annotations

import logging
from datetime import timedelta

from omnihook.config import Settings
from omnihook.domain.events import DomainEvent
from omnihook.storage.database import Database
from omnihook.webhooks.delivery_news import DeliveryNews
from omnihook.webhooks.dispatcher import Dispatcher
from omnihook.webhooks.endpoints import EndpointCache
from omnihook.webhooks.outbox import Outbox
from omnihook.webhooks.transport import AiohttpTransport, Transport

log = logging.getLogger("omnihook.webhooks")


class WebhookRuntime:
    """Registers the outbox on `db` at once; `start_dispatcher()` begins delivering."""

    def __init__(self, db: Database, settings: Settings, *, transport: Transport | None = None) -> None:
        self.db = db
        self.settings = settings
        self.endpoints = EndpointCache()
        self.transport: Transport = transport or AiohttpTransport(
            allow_private_targets=settings.allow_private_targets
        )
        self.outbox = Outbox(self.endpoints)
        self.dispatcher: Dispatcher | None = None
        # The live pages hear of each recorded batch; the app sets `news.pages` (its live broker).
        self.news = DeliveryNews(db)
        db.before_commit.append(self.outbox)
        db.after_commit.append(self._after_commit)

    def _after_commit(self, _events: list[DomainEvent]) -> None:
        if self.outbox.enqueued:
            targeted, self.outbox.enqueued = self.outbox.enqueued, set()
            if self.dispatcher is not None:
                self.dispatcher.wake(targeted)

    def wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def endpoints_changed(self) -> None:
        self.endpoints.invalidate()
        if self.dispatcher is not None:
            self.dispatcher.wake()

    async def start_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(
                self.db,
                self.transport,
                self.endpoints,
                lease=timedelta(seconds=self.settings.dispatcher_lease_seconds),
                retention=timedelta(days=days)
                if (days := self.settings.delivery_retention_days) > 0
                else None,
                news=self.news,
            )
            await self.dispatcher.start()
            log.info("webhook dispatcher %s started", self.dispatcher.owner)
        return self.dispatcher

    async def close(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
            self.dispatcher = None
        await self.transport.close()
