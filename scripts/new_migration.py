"""Write a new Alembic revision from the difference between storage/tables.py and the migrations.

Usage: .venv/bin/python scripts/new_migration.py "add something" 0002
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy.engine import Connection

from omnihook.storage.database import Database
from omnihook.storage.migrate import alembic_config


async def main(message: str, rev_id: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'autogen.db'}")

        def generate(connection: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)

        async with db.engine.begin() as conn:
            await conn.run_sync(generate)
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
