"""The `omnihook` command: the server and workers, the database, users, deliveries, endpoints, signatures."""

from __future__ import annotations

import omnihook.cli.server
import omnihook.cli.verify  # noqa: F401  (both add their commands to `app`)
from omnihook.cli.base import app
from omnihook.cli.deliveries import group as deliveries_group
from omnihook.cli.endpoints import group as endpoints_group

app.add_typer(deliveries_group, name="deliveries")
app.add_typer(endpoints_group, name="endpoints")

__all__ = ["app"]
