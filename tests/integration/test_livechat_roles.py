"""Who may call what: no credentials get 401, a user without an omnichannel role 403 (no permission), agents
not management."""

from __future__ import annotations

import httpx

from tests.conftest import login_headers
from tests.livechat_helpers import AGENT_PASSWORD, create_agent, open_chat, open_room, register_visitor

AGENT_ENDPOINTS = [
    ("GET", "/api/v1/livechat/inquiries.queued", None),
    ("POST", "/api/v1/livechat/inquiries.take", {"inquiryId": "x"}),
    ("POST", "/api/v1/chat.sendMessage", {"message": {"rid": "{rid}", "msg": "hi"}}),
    ("POST", "/api/v1/livechat/room.forward", {"roomId": "{rid}", "departmentId": "x"}),
    ("POST", "/api/v1/livechat/room.closeByUser", {"rid": "{rid}"}),
    ("GET", "/api/v1/livechat/rooms", None),
    ("GET", "/api/v1/rooms.info?roomId={rid}", None),
    ("GET", "/api/v1/chat.syncMessages?roomId={rid}", None),
    ("POST", "/api/v1/livechat/room.saveInfo", {"guestData": {"_id": "x"}, "roomData": {"_id": "{rid}"}}),
    ("POST", "/api/v1/livechat/agent.status", {"status": "available"}),
    ("GET", "/api/v1/livechat/department", None),
    ("GET", "/api/v1/livechat/users/agent", None),
    ("GET", "/api/v1/livechat/inquiries.getOne?roomId={rid}", None),
    ("GET", "/api/v1/livechat/visitors.info?visitorId=x", None),
]

MANAGER_ENDPOINTS = [
    ("POST", "/api/v1/livechat/users/agent", {"username": "admin"}),
    ("DELETE", "/api/v1/livechat/users/agent/{agent}", None),
    ("POST", "/api/v1/livechat/users/manager", {"username": "admin"}),
    ("GET", "/api/v1/livechat/users/manager", None),
    ("POST", "/api/v1/livechat/department", {"department": {"name": "X"}}),
    ("PUT", "/api/v1/livechat/department/x", {"department": {"name": "X"}}),
    ("DELETE", "/api/v1/livechat/department/x", None),
]

ADMIN_ENDPOINTS = [
    ("GET", "/api/v1/settings/Livechat_Routing_Method", None),
    ("POST", "/api/v1/settings/Livechat_Routing_Method", {"value": "Manual_Selection"}),
]


def _fill(value: object, names: dict[str, str]) -> object:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def _call(
    client: httpx.AsyncClient,
    endpoint: tuple[str, str, object],
    names: dict[str, str],
    headers: dict[str, str],
) -> httpx.Response:
    method, path, body = endpoint
    url = str(_fill(path, names))
    if body is None:
        return await client.request(method, url, headers=headers)
    return await client.request(method, url, json=_fill(body, names), headers=headers)


async def test_each_role_is_refused_what_it_may_not_do(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    body = {"username": "plain", "email": "plain@example.com", "name": "Plain", "password": AGENT_PASSWORD}
    assert (await client.post("/api/v1/users.create", json=body, headers=admin)).status_code == 200
    plain = await login_headers(client, "plain", AGENT_PASSWORD)
    await register_visitor(client, "tok-1")
    names = {"rid": (await open_room(client, "tok-1"))["_id"], "agent": agent["X-User-Id"]}

    for endpoint in AGENT_ENDPOINTS + MANAGER_ENDPOINTS + ADMIN_ENDPOINTS:
        anonymous = await _call(client, endpoint, names, {})
        assert anonymous.status_code == 401, (endpoint, anonymous.text)
        assert anonymous.json()["success"] is False
        no_role = await _call(client, endpoint, names, plain)
        assert no_role.status_code == 403, (endpoint, no_role.text)
        # Rocket.Chat's answer to a route's missing permission.
        assert no_role.json()["error"] == (
            "User does not have the permissions required for this action [error-unauthorized]"
        )
    for endpoint in MANAGER_ENDPOINTS + ADMIN_ENDPOINTS:
        as_agent = await _call(client, endpoint, names, agent)
        assert as_agent.status_code == 403, (endpoint, as_agent.text)
    # Nothing changed: alice is still an agent serving the chat.
    room = (await client.get("/api/v1/rooms.info", params={"roomId": names["rid"]}, headers=agent)).json()[
        "room"
    ]
    assert room["servedBy"]["username"] == "alice"
    assert room["open"] is True


async def test_a_department_with_open_chats_cannot_be_deleted(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    dep = await client.post(
        "/api/v1/livechat/department", json={"department": {"name": "Sales"}}, headers=admin
    )
    dep_id = dep.json()["department"]["_id"]
    await register_visitor(client, "tok-1")
    rid = (await open_room(client, "tok-1", department=dep_id))["_id"]
    refused = await client.delete(f"/api/v1/livechat/department/{dep_id}", headers=admin)
    assert refused.status_code == 400
    assert refused.json()["error"] == "error-department-has-open-rooms"
    await client.post("/api/v1/livechat/room.closeByUser", json={"rid": rid}, headers=admin)
    assert (await client.delete(f"/api/v1/livechat/department/{dep_id}", headers=admin)).status_code == 200


async def test_a_closed_chat_cannot_be_transferred_by_its_visitor(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    dep = await client.post(
        "/api/v1/livechat/department", json={"department": {"name": "Sales"}}, headers=admin
    )
    dep_id = dep.json()["department"]["_id"]
    rid = await open_chat(client, "tok-1")
    await client.post("/api/v1/livechat/room.close", json={"token": "tok-1", "rid": rid})
    moved = await client.post(
        "/api/v1/livechat/room.transfer", json={"token": "tok-1", "rid": rid, "department": dep_id}
    )
    assert moved.status_code == 400
    assert moved.json()["error"] == "room-closed"
    await register_visitor(client, "tok-2")
    other = await client.post(
        "/api/v1/livechat/room.transfer", json={"token": "tok-2", "rid": rid, "department": dep_id}
    )
    assert other.status_code == 404
