"""The live pages hear of each recorded delivery attempt: one note per recorded batch, naming the
deliveries, for staff streams only; on PostgreSQL from a separate worker too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from omnihook.app import create_app
from omnihook.config import Settings
from omnihook.livechat.live_events import Broker, Subscription
from omnihook.storage.database import Database
from omnihook.webhooks.delivery_news import DELIVERIES_CHANGED, IDS_PER_NOTE, WATCH_SECONDS, changed_note
from omnihook.webhooks.runtime import WebhookRuntime
from tests import databases
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, login_headers
from tests.livechat_helpers import open_chat, open_room, register_visitor, visitor_says
from tests.processes import omnihook_env, start_worker
from tests.receiver import Receiver
from tests.webhook_helpers import configure, delivery_rows


async def changed_ids_until(subscription: Subscription, wanted: set[str]) -> set[str]:
    """The delivery ids heard in deliveries.changed notes until all of `wanted` were (30 s at most)."""
    heard: set[str] = set()
    while not wanted <= heard:
        note = await asyncio.wait_for(subscription.queue.get(), timeout=30)
        if note["kind"] == DELIVERIES_CHANGED:
            assert note["roomId"] is None
            heard |= set(note["deliveryIds"])
    return heard


def kinds(subscription: Subscription) -> list[str]:
    found: list[str] = []
    while not subscription.queue.empty():
        found.append(subscription.queue.get_nowait()["kind"])
    return found


async def test_each_recorded_attempt_is_told_to_staff_streams_by_delivery_id_and_not_to_visitors(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=20,
    )
    broker: Broker = app.state.live
    await broker.ready()
    receiver.statuses = [500]  # a failed attempt, then the retry delivers
    await register_visitor(client, "tok-1")
    rid = (await open_room(client, "tok-1"))["_id"]
    with broker.subscribe() as staff, broker.subscribe(rid) as visitor:
        await visitor_says(client, "tok-1", rid, "hello")
        [row] = await delivery_rows(database_url)
        assert await changed_ids_until(staff, {row.id}) == {row.id}  # the failed attempt
        assert await changed_ids_until(staff, {row.id}) == {row.id}  # the delivered one
        assert DELIVERIES_CHANGED not in kinds(visitor)
    [row] = await delivery_rows(database_url)
    assert row.status == "delivered" and row.attempts == 2


def test_a_batch_too_large_to_name_asks_the_pages_to_reload_everything() -> None:
    assert changed_note(["msg_a"])["deliveryIds"] == ["msg_a"]
    assert changed_note([f"msg_{n}" for n in range(IDS_PER_NOTE + 1)])["deliveryIds"] is None


@pytest.mark.postgres
async def test_on_postgresql_attempts_recorded_by_a_separate_worker_reach_the_servers_streams(
    postgres_session_url: str, receiver: Receiver
) -> None:
    await databases.truncate_all(postgres_session_url)
    settings = Settings(
        database_url=postgres_session_url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        allow_private_targets=True,
        dispatcher_in_server=False,
    )
    server = create_app(settings)
    worker_db = Database(postgres_session_url)
    worker = WebhookRuntime(worker_db, settings)
    try:
        async with server.router.lifespan_context(server):
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://server.test") as client:
                admin = await login_headers(client, ADMIN_USERNAME, ADMIN_PASSWORD)
                await configure(
                    client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True
                )
                broker: Broker = server.state.live
                await broker.ready()
                await worker.start_dispatcher()
                with broker.subscribe() as staff:
                    await open_chat(client, "tok-1", "hello")
                    [row] = await delivery_rows(postgres_session_url)
                    assert await changed_ids_until(staff, {row.id}) == {row.id}
    finally:
        await worker.close()
        await worker_db.dispose()


async def test_on_sqlite_attempts_recorded_by_a_separate_worker_reach_the_servers_streams_within_seconds(
    tmp_path: Path, sqlite_template: Path, receiver: Receiver
) -> None:
    url = databases.copy_sqlite(sqlite_template, tmp_path)
    settings = Settings(
        database_url=url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        allow_private_targets=True,
        dispatcher_in_server=False,
    )
    server = create_app(settings)
    worker = await start_worker(omnihook_env(url), tmp_path / "worker.log")
    try:
        async with server.router.lifespan_context(server):
            transport = httpx.ASGITransport(app=server)
            async with httpx.AsyncClient(transport=transport, base_url="http://server.test") as client:
                admin = await login_headers(client, ADMIN_USERNAME, ADMIN_PASSWORD)
                await configure(
                    client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True
                )
                broker: Broker = server.state.live
                with broker.subscribe() as staff:
                    await asyncio.sleep(2 * WATCH_SECONDS)  # the server looks from now on
                    await open_chat(client, "tok-1", "hello")
                    [row] = await delivery_rows(url)
                    assert await changed_ids_until(staff, {row.id}) == {row.id}, worker.output()
    finally:
        worker.stop()
