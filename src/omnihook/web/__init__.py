"""Web pages (admin, agent console, visitor widget) and their live updates."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from omnihook.storage.database import Database
from omnihook.web import live, pages

# Query parameters that carry credentials: the live streams' authToken (EventSource cannot send
# headers) and the visitor token of the livechat API.
SECRET_QUERY = re.compile(r"((?:^|[?&])(?:authToken|token)=)[^&\s]*")


class RedactQueryCredentials(logging.Filter):
    """Keeps credentials sent in query strings out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                SECRET_QUERY.sub(r"\1[redacted]", arg) if isinstance(arg, str) and "=" in arg else arg
                for arg in record.args
            )
        return True


def install_web(app: FastAPI, db: Database) -> None:
    """Serve the pages and static files, and their live streams (from `app.state.live`, the broker of
    the live events, which the composition root sets up)."""
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQueryCredentials) for f in access_log.filters):
        access_log.addFilter(RedactQueryCredentials())
    app.include_router(live.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")


__all__ = ["install_web"]
