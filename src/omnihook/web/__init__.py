"""Web pages (admin, agent console, visitor widget) and their live updates."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from omnihook.storage.database import Database
from omnihook.web import live, pages


def install_web(app: FastAPI, db: Database) -> None:
    """Serve the pages and static files, and feed committed domain events to the live streams.

    The app's lifespan must `await app.state.live.aclose()` on shutdown.
    """
    broker = live.Broker()
    app.state.live = broker
    if db.is_sqlite:
        db.after_commit.append(broker.publish)
    else:
        broker.relay = live.PostgresRelay(db, broker)
        db.before_commit.append(broker.relay.before_commit)
    app.include_router(live.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")


__all__ = ["install_web"]
