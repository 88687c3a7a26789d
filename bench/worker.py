"""`omnihook worker` with a READY line once its code is imported, so the bench can start the clock there.

Runs exactly the command a user runs; the only addition is the line, printed before the worker's own
start-up (database connection, first claim), which therefore counts in the measured time.
"""

from __future__ import annotations

import importlib
import sys

# Imported before READY: what a long-running worker has loaded anyway.
PRELOAD = ("omnihook.cli", "omnihook.webhooks.runtime", "aiohttp", "sqlalchemy.ext.asyncio")


def main() -> None:
    for module in PRELOAD:
        importlib.import_module(module)
    from omnihook.cli import app

    print("READY", flush=True)
    app(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
