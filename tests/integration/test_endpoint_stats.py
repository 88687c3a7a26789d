"""Endpoints' health (success rate, p50/p99 latency over 24 hours) and "Send example", on real receivers."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import insert, select, update
from standardwebhooks.webhooks import Webhook

from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import deliveries, delivery_attempts, webhook_events
from omnihook.webhooks import examples
from omnihook.webhooks.catalog import SUBSCRIPTION_KEYS, EventType
from omnihook.webhooks.formats import TOKEN_HEADER
from omnihook.webhooks.schemas import schema_for
from tests.livechat_helpers import create_agent
from tests.receiver import Receiver, running_receiver
from tests.webhook_helpers import configure, settled

ENDPOINTS = "/api/v1/omnihook/endpoints"


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "CRM", "eventTypes": sorted(SUBSCRIPTION_KEYS), **fields}
    response = await client.post(ENDPOINTS, json=body, headers=headers)
    assert response.status_code == 200, response.text
    endpoint: dict[str, Any] = response.json()["endpoint"]
    return endpoint


async def send_example(
    client: httpx.AsyncClient, headers: dict[str, str], endpoint_id: str, event_type: str
) -> httpx.Response:
    return await client.post(
        f"{ENDPOINTS}/{endpoint_id}/send-example", json={"eventType": event_type}, headers=headers
    )


async def stats(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{ENDPOINTS}/stats", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True and body["windowHours"] == 24
    endpoints: dict[str, Any] = body["endpoints"]
    return endpoints


async def durations(database_url: str, endpoint_id: str) -> list[int]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                select(delivery_attempts.c.duration_ms)
                .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
                .where(deliveries.c.endpoint_id == endpoint_id)
            )
            return sorted(r.duration_ms for r in rows)
    finally:
        await db.dispose()


def nearest_rank(values: list[int], fraction: float) -> int:
    return values[max(math.ceil(fraction * len(values)), 1) - 1]


async def test_stats_give_each_endpoints_success_rate_and_p50_p99_latency_of_its_real_attempts(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    # Rocket.Chat format: only a 200 succeeds; no retries, so each example is one attempt.
    rocketchat = await create(client, admin, url=receiver.url, format="rocketchat", maxRetries=0)
    idle = await create(client, admin, name="Idle", url="https://crm.example.com/hook")
    receiver.statuses = [200, 201, 200, 200]
    for n, delay in enumerate([0.0, 0.0, 0.0, 0.4]):
        receiver.delay_s = delay
        assert (await send_example(client, admin, rocketchat["_id"], "LivechatSession")).status_code == 200
        await settled(database_url, n + 1)
    receiver.delay_s = 0.0
    with running_receiver() as standard_receiver:
        standard_receiver.default_status = 204  # any 2xx succeeds in the standard format
        standard = await create(client, admin, name="Std", url=standard_receiver.url)
        for _ in range(2):
            assert (await send_example(client, admin, standard["_id"], "Message")).status_code == 200
        await settled(database_url, 6)

    shown = await stats(client, admin)
    assert set(shown) == {rocketchat["_id"], idle["_id"], standard["_id"]}  # the CRM integration is unset
    measured = await durations(database_url, rocketchat["_id"])
    assert len(measured) == 4 and measured[-1] >= 400  # the slow answer
    assert shown[rocketchat["_id"]] == {
        "attempts": 4,
        "succeeded": 3,  # the 201 is a failure to the Rocket.Chat format
        "failed": 1,
        "successRate": 0.75,
        "p50Ms": nearest_rank(measured, 0.5),
        "p99Ms": nearest_rank(measured, 0.99),
    }
    assert shown[rocketchat["_id"]]["p50Ms"] < 400 <= shown[rocketchat["_id"]]["p99Ms"]
    assert shown[standard["_id"]]["successRate"] == 1.0 and shown[standard["_id"]]["attempts"] == 2
    nothing = {"attempts": 0, "succeeded": 0, "failed": 0, "successRate": None, "p50Ms": None, "p99Ms": None}
    assert shown[idle["_id"]] == nothing

    # Attempts older than 24 hours no longer count: the slow one is pushed back 25 hours.
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                update(delivery_attempts)
                .where(delivery_attempts.c.duration_ms == measured[-1])
                .values(started_at=utcnow() - timedelta(hours=25))
            )
    finally:
        await db.dispose()
    later = (await stats(client, admin))[rocketchat["_id"]]
    assert later["attempts"] == 3 and later["p99Ms"] == measured[2] and later["successRate"] == 2 / 3


async def test_stats_and_examples_are_for_managers_and_admins_only(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    endpoint = await create(client, admin, url="https://crm.example.com/hook")
    assert (await client.get(f"{ENDPOINTS}/stats")).status_code == 401
    assert (await send_example(client, {}, endpoint["_id"], "Message")).status_code == 401
    agent = await create_agent(client, admin, "alice", available=False)
    assert (await client.get(f"{ENDPOINTS}/stats", headers=agent)).status_code == 403
    assert (await send_example(client, agent, endpoint["_id"], "Message")).status_code == 403


@pytest.mark.parametrize("event_type", [t.value for t in EventType])
def test_every_example_payload_is_valid_against_its_types_schema(event_type: str) -> None:
    kind = EventType(event_type)
    for by_agent in (False, True):
        payload = examples.example_payload(kind, utcnow(), by_agent=by_agent)
        Draft202012Validator(schema_for(kind, "rocketchat")).validate(payload)


async def test_send_example_is_a_signed_delivery_in_the_log_to_that_endpoint_only(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    with running_receiver() as bystander:
        target = await create(client, admin, url=receiver.url)
        other = await create(client, admin, name="Other", url=bystander.url)
        response = await send_example(client, admin, target["_id"], "LivechatSessionTaken")
        assert response.status_code == 200, response.text
        delivery = response.json()["delivery"]
        assert delivery["endpointId"] == target["_id"] and delivery["type"] == "LivechatSessionTaken"

        [row] = await settled(database_url, 1)
        assert row.id == delivery["_id"] and row.status == "delivered"
        [request] = await receiver.arrived(1)
        Webhook(target["secret"]).verify(request.body, request.headers)  # raises unless signed with it
        assert request.header("webhook-id") == delivery["_id"]
        body = request.json()
        Draft202012Validator(schema_for(EventType.SESSION_TAKEN, "standard")).validate(body)
        assert body["type"] == "LivechatSessionTaken"
        assert bystander.requests == []

    logged = await client.get(
        "/api/v1/omnihook/deliveries", params={"endpointId": target["_id"]}, headers=admin
    )
    [entry] = logged.json()["deliveries"]
    assert entry["_id"] == delivery["_id"] and entry["status"] == "delivered"
    assert entry["endpointName"] == "CRM" and entry["attempts"] == 1
    detail = await client.get(f"/api/v1/omnihook/deliveries/{entry['_id']}", headers=admin)
    assert detail.json()["delivery"]["payload"] == body["data"]
    assert (
        await client.get("/api/v1/omnihook/deliveries", params={"endpointId": other["_id"]}, headers=admin)
    ).json()["total"] == 0


async def test_send_example_reaches_the_rocketchat_integration_with_its_token(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatSecretToken="crm-token-1")
    response = await send_example(client, admin, "rocketchat", "Message.agent")
    assert response.status_code == 200, response.text
    await settled(database_url, 1)
    [request] = await receiver.arrived(1)
    assert request.header(TOKEN_HEADER) == "crm-token-1"
    payload = request.json()
    Draft202012Validator(schema_for(EventType.MESSAGE, "rocketchat")).validate(payload)
    assert payload["messages"][0]["agentId"]  # Message.agent: the agent's message


async def test_send_example_refuses_unknown_types_and_endpoints(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint = await create(client, admin, url="https://crm.example.com/hook", format="rocketchat")
    for body in [{"eventType": "Nope"}, {"eventType": None}, {}, {"eventType": "Message", "x": 1}, []]:
        response = await client.post(f"{ENDPOINTS}/{endpoint['_id']}/send-example", json=body, headers=admin)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["success"] is False
    # A type the endpoint's format does not send (every format sends every type today).
    monkeypatch.setitem(examples.EXAMPLE_TYPES, "rocketchat", frozenset({EventType.MESSAGE}))
    refused = await send_example(client, admin, endpoint["_id"], "LivechatSession")
    assert refused.status_code == 400 and "rocketchat format" in refused.json()["error"]
    assert (await send_example(client, admin, "no-such-endpoint", "Message")).status_code == 404
    disabled = await client.patch(f"{ENDPOINTS}/{endpoint['_id']}", json={"enabled": False}, headers=admin)
    assert disabled.status_code == 200
    off = await send_example(client, admin, endpoint["_id"], "Message")
    assert off.status_code == 400 and off.json()["error"] == "error-endpoint-disabled"
    assert await settled(database_url, 0) == []  # nothing was enqueued


async def test_p50_and_p99_are_the_nearest_rank_durations_among_many_attempts(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    endpoint = await create(client, admin, url="https://crm.example.com/hook")
    now = utcnow()
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                insert(webhook_events),
                [{"id": "ev-1", "type": "Message", "room_id": None, "payload": "{}", "created_at": now}],
            )
            await conn.execute(
                insert(deliveries),
                [
                    {
                        "id": "msg_stats",
                        "event_id": "ev-1",
                        "endpoint_id": endpoint["_id"],
                        "event_type": "Message",
                        "ordering_key": "msg_stats",
                        "status": "dead",
                        "attempts": 200,
                        "next_attempt_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            # 200 attempts lasting 200, 199, ... 1 ms; every tenth one failed.
            await conn.execute(
                insert(delivery_attempts),
                [
                    {
                        "delivery_id": "msg_stats",
                        "attempt_no": n,
                        "started_at": now - timedelta(minutes=n),
                        "duration_ms": 201 - n,
                        "status_code": 500 if n % 10 == 0 else 200,
                        "request_headers": {},
                    }
                    for n in range(1, 201)
                ],
            )
    finally:
        await db.dispose()
    shown = (await stats(client, admin))[endpoint["_id"]]
    assert shown == {
        "attempts": 200,
        "succeeded": 180,
        "failed": 20,
        "successRate": 0.9,
        "p50Ms": 100,
        "p99Ms": 198,
    }
