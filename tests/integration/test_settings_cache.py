"""Settings are read from a cache, and a change is never hidden by it longer than it should be."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from omnihook.livechat.settings import get_setting, set_setting
from omnihook.storage import settings_store
from omnihook.storage.database import Database
from omnihook.storage.settings_store import read_settings, write_settings

SETTING = "Livechat_lead_email_regex"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.dispose()


async def test_a_change_made_in_this_process_is_read_at_once(db: Database) -> None:
    await get_setting(db, SETTING)  # fills the cache
    await set_setting(db, SETTING, "[a-z]+@example")
    assert await get_setting(db, SETTING) == "[a-z]+@example"


async def test_a_transaction_reads_its_own_change_before_it_commits(db: Database) -> None:
    await get_setting(db, SETTING)
    async with db.transaction() as uow:
        await write_settings(uow.conn, {SETTING: "mine"})
        assert await read_settings(uow.conn, [SETTING]) == {SETTING: "mine"}


async def test_a_change_rolled_back_is_never_read(db: Database) -> None:
    before = await get_setting(db, SETTING)
    with pytest.raises(RuntimeError):
        async with db.transaction() as uow:
            await write_settings(uow.conn, {SETTING: "rolled back"})
            await read_settings(uow.conn, [SETTING])
            raise RuntimeError("the use case fails")
    assert await get_setting(db, SETTING) == before


async def test_a_change_made_by_another_process_is_read_once_the_cache_expires(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings_store, "CACHE_TTL", 0.2)
    await get_setting(db, SETTING)  # fills the cache
    other = Database(database_url, pool_size=1)  # another server process on the same database
    try:
        await set_setting(other, SETTING, "from elsewhere")
    finally:
        await other.dispose()
    await asyncio.sleep(0.3)
    assert await get_setting(db, SETTING) == "from elsewhere"


async def test_changing_a_value_read_from_the_cache_does_not_change_the_setting(db: Database) -> None:
    async with db.transaction() as uow:
        await write_settings(uow.conn, {"Some_list_setting": ["a"]})
    first = await read_settings_via(db, "Some_list_setting")
    first.append("changed by a caller")
    assert await read_settings_via(db, "Some_list_setting") == ["a"]


async def read_settings_via(db: Database, setting_id: str) -> list[str]:
    async with db.engine.connect() as conn:
        value: list[str] = (await read_settings(conn, [setting_id]))[setting_id]
    return value
