"""The delivery log: every attempt recorded and readable, redelivery, metrics and health."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from omnihook.webhooks import deliveries as deliveries_log
from tests.conftest import login_headers
from tests.livechat_helpers import open_chat
from tests.receiver import Receiver
from tests.webhook_helpers import configure, settled

DELIVERIES = "/api/v1/omnihook/deliveries"


async def test_each_attempt_is_recorded_without_the_secret(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatSecretToken="top-secret-token",
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=20,
    )
    receiver.statuses = [502]
    receiver.response_body = "crm says hi"
    rid = await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)

    listing = (await client.get(DELIVERIES, headers=admin)).json()
    assert listing["success"] is True
    assert listing["total"] == 1 and listing["count"] == 1 and listing["offset"] == 0
    [item] = listing["deliveries"]
    assert item["_id"] == row.id
    assert item["type"] == "Message"
    assert item["roomId"] == rid
    assert item["status"] == "delivered"
    assert item["attempts"] == 2
    assert item["lastStatusCode"] == 200
    assert item["endpointId"] == "rocketchat"
    assert item["deliveredAt"].endswith("Z")

    detail = (await client.get(f"{DELIVERIES}/{row.id}", headers=admin)).json()["delivery"]
    assert detail["payload"]["messages"][0]["msg"] == "hello"
    log = detail["attemptsLog"]
    assert [a["attempt"] for a in log] == [1, 2]
    assert [a["statusCode"] for a in log] == [502, 200]
    assert log[1]["responseBody"] == "crm says hi"
    assert all(isinstance(a["durationMs"], int) for a in log)
    assert log[0]["requestHeaders"]["webhook-id"] == row.id
    assert "top-secret-token" not in str(detail)


async def test_the_list_filters_by_status_type_and_room_and_pages_newest_first(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    receiver: Receiver,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookOnStart=True,
    )
    first = await open_chat(client, "tok-1", "a", "b")
    second = await open_chat(client, "tok-2", "c")
    await settled(database_url, 5)

    everything = (await client.get(DELIVERIES, headers=admin)).json()
    assert everything["total"] == 5
    messages = (await client.get(DELIVERIES, params={"type": "Message"}, headers=admin)).json()
    assert messages["total"] == 3
    in_first = (await client.get(DELIVERIES, params={"roomId": first}, headers=admin)).json()
    assert {d["roomId"] for d in in_first["deliveries"]} == {first}
    assert in_first["total"] == 3
    page = (await client.get(DELIVERIES, params={"offset": 0, "count": 2}, headers=admin)).json()
    assert page["count"] == 2 and page["total"] == 5
    assert page["deliveries"][0]["roomId"] == second  # newest first
    rest = (await client.get(DELIVERIES, params={"offset": 2, "count": 2}, headers=admin)).json()
    seen = {d["_id"] for d in page["deliveries"]} | {d["_id"] for d in rest["deliveries"]}
    assert len(seen) == 4
    none_dead = (await client.get(DELIVERIES, params={"status": "dead"}, headers=admin)).json()
    assert none_dead["total"] == 0
    assert everything["totalCapped"] is False
    # Past the cap the total stops counting, and says so.
    monkeypatch.setattr(deliveries_log, "COUNT_CAP", 4)
    capped = (await client.get(DELIVERIES, headers=admin)).json()
    assert (capped["total"], capped["totalCapped"], capped["count"]) == (4, True, 5)
    exact = (await client.get(DELIVERIES, params={"type": "Message"}, headers=admin)).json()
    assert (exact["total"], exact["totalCapped"]) == (3, False)


async def test_the_list_filters_by_endpoint_time_and_search_and_pages_by_cursor(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True)
    native = await client.post(
        "/api/v1/omnihook/endpoints",
        json={"name": "Native", "url": receiver.url, "eventTypes": ["Message"]},
        headers=admin,
    )
    native_id = native.json()["endpoint"]["_id"]
    first = await open_chat(client, "tok-1", "order 1234 is late")
    between = datetime.now(UTC)
    second = await open_chat(client, "tok-2", "hello", "again")
    await settled(database_url, 6)

    def listed(**params: str) -> Any:
        return client.get(DELIVERIES, params=params, headers=admin)

    ours = (await listed(endpointId=native_id)).json()
    assert ours["total"] == 3 and {d["endpointId"] for d in ours["deliveries"]} == {native_id}
    later = (await listed(since=between.isoformat())).json()
    assert {d["roomId"] for d in later["deliveries"]} == {second} and later["total"] == 4
    earlier = (await listed(until=between.isoformat(), endpointId="rocketchat")).json()
    assert [d["roomId"] for d in earlier["deliveries"]] == [first]
    naive = between.replace(tzinfo=None).isoformat()  # no zone: UTC
    assert (await listed(since=naive)).json()["total"] == 4
    by_text = (await listed(q="order 1234")).json()
    assert by_text["total"] == 2 and {d["roomId"] for d in by_text["deliveries"]} == {first}
    by_room = (await listed(q=second)).json()
    assert by_room["total"] == 4
    one = by_text["deliveries"][0]["_id"]
    assert [d["_id"] for d in (await listed(q=one)).json()["deliveries"]] == [one]
    assert (await listed(q="100%_off")).json()["total"] == 0  # LIKE's wildcards are plain text

    pages: list[str] = []
    page = (await listed(count="4")).json()
    while True:
        pages.extend(d["_id"] for d in page["deliveries"])
        if page["nextCursor"] is None:
            break
        page = (await listed(count="4", before=str(page["nextCursor"]))).json()
    assert len(pages) == len(set(pages)) == 6


async def test_unknown_or_malformed_filters_are_400_and_name_the_filter(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for params, named in (
        ({"endpoint": "x"}, "endpoint"),
        ({"sinse": "2026-01-01"}, "sinse"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ({"type": "Messages"}, "type"),
        ({"before": "0"}, "before"),
        ({"q": "x" * 201}, "q"),
    ):
        refused = await client.get(DELIVERIES, params=params, headers=admin)
        assert refused.status_code == 400, (params, refused.text)
        assert named in refused.json()["error"], (params, refused.json())


async def test_bad_filters_are_400_and_unknown_ids_404(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    assert (await client.get(DELIVERIES, params={"status": "lost"}, headers=admin)).status_code == 400
    assert (await client.get(DELIVERIES, params={"count": 0}, headers=admin)).status_code == 400
    assert (await client.get(DELIVERIES, params={"offset": "x"}, headers=admin)).status_code == 400
    missing = await client.get(f"{DELIVERIES}/msg_nope", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    assert (await client.post(f"{DELIVERIES}/msg_nope/redeliver", headers=admin)).status_code == 404


async def test_a_dead_delivery_is_redelivered_with_the_same_id_and_a_fresh_budget(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetries=1,
        LivechatWebhookRetryDelay=20,
    )
    receiver.default_status = 500
    await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)
    assert row.status == "dead" and row.attempts == 2

    receiver.statuses = [500]  # one more failure is within the fresh budget
    receiver.default_status = 200
    response = await client.post(f"{DELIVERIES}/{row.id}/redeliver", headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["delivery"]["status"] == "pending"
    [again] = await settled(database_url, 1)
    assert again.status == "delivered"
    assert again.attempts == 4
    assert {r.header("webhook-id") for r in receiver.requests} == {row.id}
    detail = (await client.get(f"{DELIVERIES}/{row.id}", headers=admin)).json()["delivery"]
    assert [a["statusCode"] for a in detail["attemptsLog"]] == [500, 500, 500, 200]


async def test_a_pending_delivery_cannot_be_redelivered(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=60_000,
    )
    receiver.default_status = 500
    await open_chat(client, "tok-1", "hello")
    await receiver.arrived(1)
    listing = (await client.get(DELIVERIES, params={"status": "pending"}, headers=admin)).json()
    [pending] = listing["deliveries"]
    assert pending["nextAttemptAt"] is not None
    response = await client.post(f"{DELIVERIES}/{pending['_id']}/redeliver", headers=admin)
    assert response.status_code == 400
    assert response.json()["error"] == "error-delivery-pending"


async def listed_when(
    client: httpx.AsyncClient, admin: dict[str, str], ready: Any, *, within: float = 30.0
) -> list[dict[str, Any]]:
    """The listing once `ready(deliveries)` holds (fails after `within` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        items: list[dict[str, Any]] = (await client.get(DELIVERIES, headers=admin)).json()["deliveries"]
        if ready(items):
            return items
        assert loop.time() < deadline, f"the deliveries never got there: {items}"
        await asyncio.sleep(0.05)


async def test_a_delivery_waiting_for_its_rooms_failing_head_says_which_one_it_is_held_behind(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=60_000,
    )
    unordered = await client.post(
        "/api/v1/omnihook/endpoints",
        json={"name": "Unordered", "url": receiver.url, "eventTypes": ["Message"], "ordered": False},
        headers=admin,
    )
    assert unordered.status_code == 200, unordered.text
    receiver.default_status = 500
    busy = await open_chat(client, "tok-1", "first", "second", "third")
    other = await open_chat(client, "tok-2", "elsewhere")

    def tried_heads(items: list[dict[str, Any]]) -> bool:
        # Every room's head and every unordered delivery has failed once.
        return len(items) == 8 and sum(d["attempts"] == 1 for d in items) == 6

    items = await listed_when(client, admin, tried_heads)
    assert all(d["status"] == "pending" for d in items)
    ordered = [d for d in reversed(items) if d["endpointId"] == "rocketchat"]  # oldest first
    head, *behind = [d for d in ordered if d["roomId"] == busy]
    assert head["attempts"] == 1 and head["heldBehind"] is None
    assert [d["heldBehind"] for d in behind] == [head["_id"], head["_id"]]
    assert all(d["attempts"] == 0 for d in behind)
    # Another room's delivery, and the unordered endpoint's, wait for nobody.
    assert [d["heldBehind"] for d in ordered if d["roomId"] == other] == [None]
    assert all(d["heldBehind"] is None for d in items if d["endpointId"] != "rocketchat")

    detail = (await client.get(f"{DELIVERIES}/{behind[-1]['_id']}", headers=admin)).json()["delivery"]
    assert detail["heldBehind"] == head["_id"]
    # A page of one row still finds the head, which is not on it.
    newest = {"roomId": busy, "endpointId": "rocketchat", "count": "1"}
    page = (await client.get(DELIVERIES, params=newest, headers=admin)).json()["deliveries"]
    assert [d["heldBehind"] for d in page] == [head["_id"]]


async def test_agents_cannot_read_the_delivery_log(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    user = {
        "username": "agent1",
        "email": "agent1@example.com",
        "name": "Agent",
        "password": "agent-password",
        "roles": ["livechat-agent"],
    }
    assert (await client.post("/api/v1/users.create", json=user, headers=admin)).status_code == 200
    agent = await login_headers(client, "agent1", "agent-password")
    assert (await client.get(DELIVERIES, headers=agent)).status_code == 403
    assert (await client.get(DELIVERIES)).status_code == 401


async def test_metrics_count_deliveries_and_health_answers(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True)
    await open_chat(client, "tok-1", "hello")
    await settled(database_url, 1)
    text = (await client.get("/metrics")).text
    assert 'omnihook_webhook_deliveries_delivered_total{endpoint="rocketchat"}' in text
    assert "omnihook_webhook_attempt_duration_seconds_bucket" in text
    assert "omnihook_webhook_deliveries_pending 0.0" in text
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "dispatcher": "running"}
