"""Say clearly, before the suite runs, whether the PostgreSQL half of it can run.

Exit status 1 when PostgreSQL does not answer, unless OMNIHOOK_SKIP_POSTGRES=1 says to run on SQLite only.
"""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg

from tests.databases import POSTGRES_ADMIN_URL


async def check() -> str:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        version: str = await conn.fetchval("show server_version")
        return version
    finally:
        await conn.close()


def main() -> int:
    try:
        version = asyncio.run(check())
    except Exception as exc:
        if os.environ.get("OMNIHOOK_SKIP_POSTGRES") == "1":
            print(f"PostgreSQL not reachable ({exc}); OMNIHOOK_SKIP_POSTGRES=1: its tests are SKIPPED.")
            return 0
        print(
            f"ERROR: PostgreSQL is absent at {POSTGRES_ADMIN_URL} ({exc}).\n"
            "The suite runs every storage test on SQLite and on PostgreSQL. Start PostgreSQL, point\n"
            "OMNIHOOK_TEST_POSTGRES_URL at one, or set OMNIHOOK_SKIP_POSTGRES=1 to run on SQLite only.",
            file=sys.stderr,
        )
        return 1
    print(f"PostgreSQL {version} at {POSTGRES_ADMIN_URL}: its tests will run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
