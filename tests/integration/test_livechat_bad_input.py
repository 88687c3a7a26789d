"""No input reaches a 500: every livechat endpoint answers junk with a 4xx in Rocket.Chat's envelope."""

from __future__ import annotations

from typing import Any

import httpx

from tests.livechat_helpers import open_chat

ENDPOINTS = [
    ("POST", "/api/v1/livechat/users/agent"),
    ("POST", "/api/v1/livechat/agent.status"),
    ("POST", "/api/v1/livechat/department"),
    ("PUT", "/api/v1/livechat/department/{rid}"),
    ("POST", "/api/v1/settings/Livechat_Routing_Method"),
    ("POST", "/api/v1/livechat/visitor"),
    ("POST", "/api/v1/livechat/message"),
    ("POST", "/api/v1/livechat/room.close"),
    ("POST", "/api/v1/livechat/room.transfer"),
    ("POST", "/api/v1/livechat/visitor/department.transfer"),
    ("POST", "/api/v1/livechat/offline.message"),
    ("POST", "/api/v1/livechat/custom.field"),
    ("POST", "/api/v1/livechat/custom.fields"),
    ("POST", "/api/v1/livechat/page.visited"),
    ("POST", "/api/v1/livechat/inquiries.take"),
    ("POST", "/api/v1/chat.sendMessage"),
    ("POST", "/api/v1/livechat/room.forward"),
    ("POST", "/api/v1/livechat/room.closeByUser"),
    ("POST", "/api/v1/livechat/room.saveInfo"),
    ("PUT", "/api/v1/livechat/message/{rid}"),
    ("DELETE", "/api/v1/livechat/message/{rid}"),
    ("POST", "/api/v1/livechat/room.survey"),
    ("POST", "/api/v1/livechat/visitor.status"),
]

NUL = "a\u0000b"


def junk_bodies(rid: str) -> list[Any]:
    return [
        None,
        [],
        "text",
        42,
        {},
        {"token": 5, "rid": ["x"], "msg": {"a": 1}},
        {"token": NUL, "rid": rid, "msg": NUL},
        {"token": "tok-1", "rid": rid, "msg": NUL, "_id": NUL},
        {"visitor": {"token": NUL, "name": NUL, "email": NUL}},
        {"message": {"rid": rid, "msg": NUL}},
        {"message": "hi"},
        {"department": {"name": NUL}, "agents": [{"agentId": NUL}]},
        {"department": {"name": "x" * 5000}},
        {"value": NUL},
        {"value": 10**30},
        {"status": NUL, "agentId": NUL},
        {"username": NUL},
        {"roomId": rid, "departmentId": NUL},
        {"roomId": rid, "userId": NUL},
        {"rid": rid, "comment": NUL, "tags": [NUL]},
        {"inquiryId": NUL},
        {"token": "tok-1", "key": NUL, "value": NUL},
        {"token": "tok-1", "customFields": [{"key": "k", "value": NUL}]},
        {"token": "tok-1", "rid": rid, "pageInfo": {"title": NUL, "location": {"href": NUL}}},
        {"guestData": {"_id": NUL}, "roomData": {"_id": rid, "tags": [NUL], "livechatData": {"k": NUL}}},
        {"name": NUL, "email": "a@b.co", "message": NUL},
        {"token": "tok-1", "rid": rid, "department": NUL},
        {"token": "tok-1", "rid": rid, "data": [{"name": NUL, "value": NUL}]},
        {"token": "tok-1", "status": NUL},
    ]


async def test_junk_bodies_get_a_4xx_envelope_never_a_500(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rid = await open_chat(client, "tok-1")
    for method, path in ENDPOINTS:
        url = path.format(rid=rid)
        raw = await client.request(
            method, url, content=b"{not json", headers={**admin, "Content-Type": "application/json"}
        )
        assert 400 <= raw.status_code < 500, (url, raw.text)
        for body in junk_bodies(rid):
            response = await client.request(method, url, json=body, headers=admin)
            assert response.status_code < 500, (url, body, response.text)
            if response.status_code >= 400:
                assert response.json()["success"] is False, (url, body)


async def test_junk_query_strings_get_a_4xx_never_a_500(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rid = await open_chat(client, "tok-1")
    gets = [
        ("/api/v1/livechat/room", {"token": NUL}),
        ("/api/v1/livechat/room", {"token": "tok-1", "rid": NUL}),
        ("/api/v1/livechat/room", {"token": "tok-1", "department": NUL}),
        (f"/api/v1/livechat/messages.history/{rid}", {"token": NUL}),
        (f"/api/v1/livechat/messages.history/{rid}", {"token": "tok-1", "ls": "yesterday"}),
        (f"/api/v1/livechat/messages.history/{rid}", {"token": "tok-1", "limit": "-1"}),
        ("/api/v1/livechat/config", {"token": NUL, "department": NUL}),
        ("/api/v1/livechat/visitor/%00", {}),
        ("/api/v1/livechat/rooms", {"open": "x", "count": "0"}),
        ("/api/v1/livechat/rooms", {"departmentId": NUL, "agents[]": NUL}),
        ("/api/v1/rooms.info", {"roomId": NUL}),
        ("/api/v1/chat.syncMessages", {"roomId": rid, "lastUpdate": "never"}),
        ("/api/v1/livechat/inquiries.queued", {"department": NUL, "offset": "-3"}),
        ("/api/v1/livechat/rooms", {"offset": str(10**20)}),
        ("/api/v1/livechat/department", {"offset": str(10**20)}),
        (f"/api/v1/livechat/messages.history/{rid}", {"token": "tok-1", "offset": str(10**20)}),
        ("/api/v1/chat.syncMessages", {"roomId": rid, "lastUpdate": "9999999-01-01"}),
        (f"/api/v1/livechat/messages.history/{rid}", {"token": "tok-1", "ls": "0001-01-01T00:00:00"}),
        ("/api/v1/livechat/department", {"text": NUL, "count": "100000"}),
        ("/api/v1/livechat/department/%00", {}),
        ("/api/v1/settings/%00", {}),
        ("/api/v1/livechat/users/agent/%00", {}),
        ("/api/v1/livechat/users/agent", {"text": NUL}),
        ("/api/v1/livechat/message/%00", {"token": "tok-1", "rid": rid}),
        (f"/api/v1/livechat/agent.info/{rid}/%00", {}),
    ]
    for url, params in gets:
        response = await client.get(url, params=params, headers=admin)
        assert response.status_code < 500, (url, params, response.text)
