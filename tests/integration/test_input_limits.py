"""Hostile sizes and values: a body over the cap is a 413, deep or huge JSON a 400 naming the field,
undrivable values a 4xx, never a 500 (issue 10, findings 3 and 5)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.livechat_helpers import open_chat, room_info

API = "/api/v1/livechat"


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "x"}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


async def test_a_body_over_the_cap_is_a_413_and_changes_nothing(client: httpx.AsyncClient) -> None:
    body = {"visitor": {"token": "big-1", "name": "x" * (2 * 1024 * 1024)}}
    response = await client.post(f"{API}/visitor", json=body)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "error-request-too-large"
    assert (await client.get(f"{API}/visitor/big-1")).status_code == 404
    login = await client.post("/api/v1/login", content=b'{"user": "' + b"a" * 3_000_000 + b'"}')
    assert login.status_code == 413


async def test_twenty_thousand_custom_fields_are_a_400_naming_the_field(client: httpx.AsyncClient) -> None:
    fields = [{"key": f"f{i}", "value": "v" * 200, "overwrite": True} for i in range(20_000)]
    body = json.dumps({"visitor": {"token": "many-1", "customFields": fields}})
    assert len(body) < 1024 * 1024 * 8
    response = await client.post(f"{API}/visitor", content=body, headers={"content-type": "application/json"})
    # Over the body cap as sent; a smaller flood of fields is refused by the field cap.
    assert response.status_code in (400, 413), response.text
    small = [{"key": f"f{i}", "value": "v", "overwrite": True} for i in range(2_000)]
    response = await client.post(
        f"{API}/visitor", json={"visitor": {"token": "many-1", "customFields": small}}
    )
    assert response.status_code == 400, response.text
    assert "customFields" in response.json()["details"]


async def test_livechat_data_nested_300_deep_is_a_400_and_the_room_still_works(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rid = await open_chat(client, "deep-1", "hello")
    room = await room_info(client, admin, rid)
    body = {"guestData": {"_id": room["v"]["_id"]}, "roomData": {"_id": rid, "livechatData": nested(300)}}
    response = await client.post(f"{API}/room.saveInfo", json=body, headers=admin)
    assert response.status_code == 400, response.text
    assert "roomData.livechatData" in response.json()["details"]
    guest = {"guestData": {"_id": room["v"]["_id"], "livechatData": nested(300)}, "roomData": {"_id": rid}}
    response = await client.post(f"{API}/room.saveInfo", json=guest, headers=admin)
    assert response.status_code == 400, response.text
    assert "guestData.livechatData" in response.json()["details"]
    await room_info(client, admin, rid)
    closed = await client.post(f"{API}/room.closeByUser", json={"rid": rid}, headers=admin)
    assert closed.status_code == 200, closed.text


async def test_a_lone_surrogate_in_a_message_is_not_a_500(client: httpx.AsyncClient) -> None:
    rid = await open_chat(client, "sur-1")
    body = json.dumps({"token": "sur-1", "rid": rid, "msg": "bad \ud800 text"})
    response = await client.post(f"{API}/message", content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text


async def test_an_offset_beyond_64_bits_is_a_400(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    response = await client.get("/api/v1/omnihook/deliveries", params={"offset": str(2**63)}, headers=admin)
    assert response.status_code == 400, response.text
