"""The `omnihook` command: the server and workers, the database, users, deliveries, replay jobs, endpoints,
signatures."""

from __future__ import annotations

import omnihook.cli.server
import omnihook.cli.verify  # noqa: F401  (both add their commands to `app`)
from omnihook.cli.base import app
from omnihook.cli.deliveries import group as deliveries_group
from omnihook.cli.endpoints import group as endpoints_group
from omnihook.cli.replays import group as replays_group

app.add_typer(deliveries_group, name="deliveries")
app.add_typer(endpoints_group, name="endpoints")
app.add_typer(replays_group, name="replays")

__all__ = ["app"]
