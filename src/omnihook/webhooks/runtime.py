"""The webhook engine of one process: endpoint cache, outbox hook, transport, dispatcher and the
replay jobs' runner (which runs where deliveries are sent)."""

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
from omnihook.webhooks.replay_runner import ReplayRunner
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
        self.replays: ReplayRunner | None = None  # runs beside the dispatcher
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

    def replays_changed(self) -> None:
        """A replay job was created here: start it now rather than at the next tick."""
        if self.replays is not None:
            self.replays.wake()

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
                disable_after=timedelta(days=after)
                if (after := self.settings.endpoint_disable_after_days) > 0
                else None,
            )
            await self.dispatcher.start()
            log.info("webhook dispatcher %s started", self.dispatcher.owner)
            self.replays = ReplayRunner(
                self.db,
                owner=self.dispatcher.owner,
                lease=self.dispatcher.lease,
                on_released=self.dispatcher.wake,
            )
            self.replays.start()
        return self.dispatcher

    async def close(self) -> None:
        if self.replays is not None:
            await self.replays.stop()
            self.replays = None
        if self.dispatcher is not None:
            await self.dispatcher.stop()
            self.dispatcher = None
        await self.transport.close()
