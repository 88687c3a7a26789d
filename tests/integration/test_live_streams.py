"""Live streams for the pages: committed chat events reach the right subscribers; streams check
who is asking before they open."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from omnihook.web.live import Broker
from tests.conftest import login_headers


async def open_room(client: httpx.AsyncClient, token: str, name: str) -> str:
    visitor = {"visitor": {"token": token, "name": name, "email": f"{token}@example.com"}}
    assert (await client.post("/api/v1/livechat/visitor", json=visitor)).status_code == 200
    response = await client.get("/api/v1/livechat/room", params={"token": token})
    assert response.status_code == 200, response.text
    rid: str = response.json()["room"]["_id"]
    return rid


def drain(subscription: Any) -> list[dict[str, Any]]:
    notes = []
    while not subscription.queue.empty():
        notes.append(subscription.queue.get_nowait())
    return notes


async def test_a_visitor_subscription_hears_its_own_room_after_each_commit_and_no_other(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    broker: Broker = app.state.live
    rid_a = await open_room(client, "token-a", "Ann")
    rid_b = await open_room(client, "token-b", "Ben")
    with broker.subscribe(rid_a) as ann, broker.subscribe() as staff:
        for token, rid in (("token-a", rid_a), ("token-b", rid_b)):
            body = {"token": token, "rid": rid, "msg": "hello"}
            assert (await client.post("/api/v1/livechat/message", json=body)).status_code == 200
        heard = drain(ann)
        assert [n["kind"] for n in heard] == ["message.sent"]
        assert heard[0]["roomId"] == rid_a
        assert {n["roomId"] for n in drain(staff) if n["kind"] == "message.sent"} == {rid_a, rid_b}


async def test_a_refused_change_tells_nobody(app: FastAPI, client: httpx.AsyncClient) -> None:
    broker: Broker = app.state.live
    rid = await open_room(client, "token-a", "Ann")
    with broker.subscribe() as staff:
        wrong_token = {"token": "token-b", "rid": rid, "msg": "not my room"}
        refused = await client.post("/api/v1/livechat/message", json=wrong_token)
        assert 400 <= refused.status_code < 500
        assert drain(staff) == []


async def test_the_agent_stream_refuses_missing_forged_and_non_agent_credentials(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    url = "/api/v1/omnihook/stream/agent"
    assert (await client.get(url)).status_code == 400
    forged = {"userId": admin["X-User-Id"], "authToken": "forged"}
    assert (await client.get(url, params=forged)).status_code == 401
    plain = {"username": "plain", "email": "plain@example.com", "name": "Plain", "password": "password-1"}
    created = await client.post("/api/v1/users.create", json={**plain, "roles": []}, headers=admin)
    assert created.status_code == 200, created.text
    headers = await login_headers(client, "plain", "password-1")
    params = {"userId": headers["X-User-Id"], "authToken": headers["X-Auth-Token"]}
    refused = await client.get(url, params=params)
    assert refused.status_code == 403
    assert refused.json()["success"] is False


async def test_the_visitor_stream_refuses_a_room_that_is_not_the_visitors(client: httpx.AsyncClient) -> None:
    rid = await open_room(client, "token-a", "Ann")
    await open_room(client, "token-b", "Ben")
    url = "/api/v1/omnihook/stream/visitor"
    refused = await client.get(url, params={"token": "token-b", "rid": rid})
    assert refused.status_code == 404
    assert refused.json()["error"] == "invalid-room"
    assert (await client.get(url, params={"token": "token-a"})).status_code == 400
