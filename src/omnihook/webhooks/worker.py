"""`omnihook worker`: the dispatcher alone, until SIGTERM or SIGINT (then it finishes cleanly)."""

from __future__ import annotations

import asyncio
import logging
import signal

from omnihook.config import Settings
from omnihook.storage.database import Database
from omnihook.storage.migrate import migrate
from omnihook.webhooks.runtime import WebhookRuntime

log = logging.getLogger("omnihook.webhooks")


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    db = Database(settings.database_url)
    runtime = WebhookRuntime(db, settings)
    try:
        await migrate(db)
        dispatcher = await runtime.start_dispatcher()
        print(f"omnihook worker {dispatcher.owner} delivering webhooks", flush=True)
        await stop.wait()
    finally:
        await runtime.close()
        await db.dispose()
