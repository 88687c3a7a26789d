"""Auto-disable without loss: an endpoint whose every attempt has failed for the period is disabled (its
reason on the endpoint, one log line, the metrics); events for a disabled endpoint are held, never sent
while it is disabled, and sent in order, once each, when it is enabled again.

The app runs its real dispatcher against a real receiver on loopback; the period is the
`endpoint_disable_after_days` setting, a fraction of a second here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from omnihook.config import Settings
from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import webhook_endpoints
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.livechat_helpers import open_chat, visitor_says
from tests.receiver import Receiver
from tests.webhook_helpers import configure, delivery_rows

ENDPOINTS = "/api/v1/omnihook/endpoints"
PERIOD_S = 0.3
LOGGER = "omnihook.webhooks.auto_disable"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
        allow_private_targets=True,
        endpoint_disable_after_days=PERIOD_S / 86_400,
    )


async def create(client: httpx.AsyncClient, admin: dict[str, str], url: str, **fields: Any) -> dict[str, Any]:
    # One retry, far away: each failure below is a new event's first attempt.
    body = {"name": "CRM", "url": url, "eventTypes": ["Message"], "retrySchedule": [3600], **fields}
    response = await client.post(ENDPOINTS, json=body, headers=admin)
    assert response.status_code == 200, response.text
    endpoint: dict[str, Any] = response.json()["endpoint"]
    return endpoint


async def endpoint_view(client: httpx.AsyncClient, admin: dict[str, str], endpoint_id: str) -> dict[str, Any]:
    response = await client.get(f"{ENDPOINTS}/{endpoint_id}", headers=admin)
    assert response.status_code == 200, response.text
    endpoint: dict[str, Any] = response.json()["endpoint"]
    return endpoint


async def until(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    endpoint_id: str,
    check: Callable[[dict[str, Any]], bool],
    within: float = 20.0,
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while not check(endpoint := await endpoint_view(client, admin, endpoint_id)):
        assert asyncio.get_running_loop().time() < deadline, endpoint
        await asyncio.sleep(0.02)
    return endpoint


async def failed_attempts(database_url: str, count: int, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while sum(r.attempts for r in await delivery_rows(database_url)) < count:
        assert asyncio.get_running_loop().time() < deadline, "the failures were never recorded"
        await asyncio.sleep(0.02)


def texts(requests: list[Any]) -> list[str]:
    return [r.json()["data"]["messages"][0]["msg"] for r in requests]


async def metric(client: httpx.AsyncClient, line_start: str) -> float:
    body = (await client.get("/metrics")).text
    values = [line.rsplit(" ", 1)[1] for line in body.splitlines() if line.startswith(line_start)]
    return float(values[0]) if values else 0.0


async def test_an_endpoint_whose_every_attempt_failed_for_the_period_is_disabled_with_its_reason_a_log_line_and_the_metric(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    receiver: Receiver,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.default_status = 500
    endpoint = await create(client, admin, receiver.url, ordered=False)
    counted = f'omnihook_endpoints_auto_disabled_total{{endpoint="{endpoint["_id"]}"}}'
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rid = await open_chat(client, "tok-1", "first")
        await failed_attempts(database_url, 1)
        first = await until(client, admin, endpoint["_id"], lambda e: e["failingSince"] is not None)
        assert first["enabled"] is True  # failing, not for long enough yet
        await asyncio.sleep(PERIOD_S + 0.1)
        await visitor_says(client, "tok-1", rid, "second")
        disabled = await until(client, admin, endpoint["_id"], lambda e: not e["enabled"])
    assert disabled["disabledReason"] == (
        f"every attempt failed since {first['failingSince']} (disabled after 0.3 s of failures)"
    )
    assert disabled["failingSince"] == first["failingSince"]
    lines = [r for r in caplog.records if r.name == LOGGER]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert endpoint["_id"] in lines[0].getMessage() and disabled["disabledReason"] in lines[0].getMessage()
    assert await metric(client, counted) == 1.0
    assert await metric(client, "omnihook_endpoints_disabled ") == 1.0
    # what the Endpoints page lists: the reason and the deliveries held (both failed ones wait to retry)
    listed = (await client.get(ENDPOINTS, headers=admin)).json()["endpoints"]
    ours = next(e for e in listed if e["_id"] == endpoint["_id"])
    assert ours["disabledReason"] == disabled["disabledReason"] and ours["heldDeliveries"] == 2


async def test_an_endpoint_with_a_success_inside_the_period_is_not_disabled(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    receiver.statuses = [500]
    endpoint = await create(client, admin, receiver.url, ordered=False)
    rid = await open_chat(client, "tok-1", "fails")
    failing = await until(client, admin, endpoint["_id"], lambda e: e["failingSince"] is not None)
    await asyncio.sleep(PERIOD_S + 0.1)
    await visitor_says(client, "tok-1", rid, "succeeds")
    await until(client, admin, endpoint["_id"], lambda e: e["failingSince"] is None)
    receiver.statuses = [500]
    await visitor_says(client, "tok-1", rid, "fails again")
    again = await until(
        client, admin, endpoint["_id"], lambda e: e["failingSince"] not in (None, failing["failingSince"])
    )
    # failing since the failure after the success: not for the period yet
    assert again["enabled"] is True and again["disabledReason"] is None
    assert len(await receiver.arrived(3)) == 3


async def test_an_auto_disabled_endpoint_keeps_new_events_and_sends_them_in_order_once_each_when_enabled(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    receiver.default_status = 503
    endpoint = await create(client, admin, receiver.url)  # ordered: each room in order
    room_a = await open_chat(client, "tok-a", "a0")
    await until(client, admin, endpoint["_id"], lambda e: e["failingSince"] is not None)
    await asyncio.sleep(PERIOD_S + 0.1)
    room_b = await open_chat(client, "tok-b", "b0")
    await until(client, admin, endpoint["_id"], lambda e: not e["enabled"])
    await asyncio.sleep(0.05)  # the dispatcher drops it from its endpoint cache right after the commit
    tried = len(receiver.requests)
    receiver.default_status = 200
    for n in (1, 2, 3):
        await visitor_says(client, "tok-a", room_a, f"a{n}")
    await visitor_says(client, "tok-b", room_b, "b1")
    held = await until(client, admin, endpoint["_id"], lambda e: e["heldDeliveries"] == 6)
    assert held["enabled"] is False
    rows = await delivery_rows(database_url)
    assert [r.status for r in rows] == ["pending"] * 6
    assert sorted(r.attempts for r in rows) == [0, 0, 0, 0, 1, 1]  # a0 and b0 failed once, the rest wait

    enabled = await client.patch(f"{ENDPOINTS}/{endpoint['_id']}", json={"enabled": True}, headers=admin)
    assert enabled.status_code == 200, enabled.text
    view = enabled.json()["endpoint"]
    assert view["enabled"] is True and view["disabledReason"] is None and view["failingSince"] is None
    arrived = texts((await receiver.arrived(tried + 6))[tried:])
    assert [t for t in arrived if t.startswith("a")] == ["a0", "a1", "a2", "a3"]
    assert [t for t in arrived if t.startswith("b")] == ["b0", "b1"]
    await _all_delivered(database_url, 6)
    assert len(receiver.requests) == tried + 6  # once each


async def _all_delivered(database_url: str, count: int, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while [r.status for r in await delivery_rows(database_url)] != ["delivered"] * count:
        assert asyncio.get_running_loop().time() < deadline, "not every delivery was delivered"
        await asyncio.sleep(0.05)


async def test_a_disabled_endpoints_held_deliveries_are_never_sent_and_go_out_in_order_once_enabled(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    endpoint = await create(client, admin, receiver.url)
    off = await client.patch(f"{ENDPOINTS}/{endpoint['_id']}", json={"enabled": False}, headers=admin)
    assert off.status_code == 200 and off.json()["endpoint"]["disabledReason"] is None  # disabled by hand
    rid = await open_chat(client, "tok-1", "m0")
    for n in range(1, 5):
        await visitor_says(client, "tok-1", rid, f"m{n}")
    held = await until(client, admin, endpoint["_id"], lambda e: e["heldDeliveries"] == 5)
    assert held["enabled"] is False
    # dispatcher rounds (woken by each message's commit) came and went: nothing is sent
    await asyncio.sleep(0.3)
    assert receiver.requests == []
    assert all(r.status == "pending" and r.attempts == 0 for r in await delivery_rows(database_url))

    await client.patch(f"{ENDPOINTS}/{endpoint['_id']}", json={"enabled": True}, headers=admin)
    assert texts(await receiver.arrived(5)) == ["m0", "m1", "m2", "m3", "m4"]
    await _all_delivered(database_url, 5)
    assert len(receiver.requests) == 5
    assert (await endpoint_view(client, admin, endpoint["_id"]))["heldDeliveries"] == 0


async def test_a_deleted_endpoint_gets_no_deliveries(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    endpoint = await create(client, admin, receiver.url)
    await client.patch(f"{ENDPOINTS}/{endpoint['_id']}", json={"enabled": False}, headers=admin)
    assert (await client.delete(f"{ENDPOINTS}/{endpoint['_id']}", headers=admin)).status_code == 200
    await open_chat(client, "tok-1", "m0")
    assert await delivery_rows(database_url) == []


async def test_the_rocketchat_integration_once_disabled_is_enabled_again_and_sends_what_it_held(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True)
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.begin() as conn:  # as the recorder leaves it after days of failures
            await conn.execute(
                update(webhook_endpoints)
                .where(webhook_endpoints.c.id == "rocketchat")
                .values(enabled=False, disabled_reason="every attempt failed since …", failing_since=utcnow())
            )
    finally:
        await db.dispose()
    app.state.webhooks.endpoints_changed()  # as the recorder's commit tells it
    # other changes stay the integration settings' own; disabling it is clearing its URL
    refused = await client.patch(f"{ENDPOINTS}/rocketchat", json={"enabled": False}, headers=admin)
    assert refused.status_code == 400 and refused.json()["error"] == "error-endpoint-managed"
    rid = await open_chat(client, "tok-1", "m0")
    await visitor_says(client, "tok-1", rid, "m1")
    held = await until(client, admin, "rocketchat", lambda e: e["heldDeliveries"] == 2)
    assert held["enabled"] is False and receiver.requests == []
    enabled = await client.patch(f"{ENDPOINTS}/rocketchat", json={"enabled": True}, headers=admin)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["endpoint"]["disabledReason"] is None
    assert [r.json()["messages"][0]["msg"] for r in await receiver.arrived(2)] == ["m0", "m1"]
