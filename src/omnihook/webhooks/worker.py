"""`omnihook worker`: the dispatcher alone, until SIGTERM or SIGINT (then it finishes cleanly)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

from omnihook.config import Settings
from omnihook.storage.database import Database
from omnihook.storage.migrate import migrate
from omnihook.webhooks.runtime import WebhookRuntime

log = logging.getLogger("omnihook.webhooks")

# Collections of the youngest generation this many container allocations apart (Python's default: 700).
GC_THRESHOLDS = (20_000, 20, 20)


def tune_gc() -> None:
    """Keep the cyclic collector off the delivery path: the objects of start-up (modules, SQLAlchemy's
    and aiohttp's) are frozen out of every collection, and the youngest generation is collected less
    often. A delivery's objects are freed by reference counting; with the defaults the collector ran
    hundreds of times a drain and took a quarter of the worker's CPU in the flood."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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
        tune_gc()
        print(f"omnihook worker {dispatcher.owner} delivering webhooks", flush=True)
        await stop.wait()
    finally:
        await runtime.close()
        await db.dispose()
