"""Small steps of a chat through the REST API, shared by the livechat tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import login_headers

AGENT_PASSWORD = "agent-password"


async def create_agent(
    client: httpx.AsyncClient, admin: dict[str, str], username: str, *, available: bool = True
) -> dict[str, str]:
    """A user with the livechat-agent role, logged in; available for chats unless told otherwise."""
    body = {
        "username": username,
        "email": f"{username}@example.com",
        "name": username.title(),
        "password": AGENT_PASSWORD,
    }
    created = await client.post("/api/v1/users.create", json=body, headers=admin)
    assert created.status_code == 200, created.text
    added = await client.post("/api/v1/livechat/users/agent", json={"username": username}, headers=admin)
    assert added.status_code == 200, added.text
    headers = await login_headers(client, username, AGENT_PASSWORD)
    if available:
        status = await client.post(
            "/api/v1/livechat/agent.status", json={"status": "available"}, headers=headers
        )
        assert status.status_code == 200, status.text
    return headers


async def create_department(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, *agents: dict[str, str]
) -> str:
    """A department with these agents in it; its id."""
    response = await client.post(
        "/api/v1/livechat/department",
        json={"department": {"name": name}, "agents": [{"agentId": a["X-User-Id"]} for a in agents]},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    dep_id: str = response.json()["department"]["_id"]
    return dep_id


async def set_routing(client: httpx.AsyncClient, admin: dict[str, str], method: str) -> None:
    response = await client.post(
        "/api/v1/settings/Livechat_Routing_Method", json={"value": method}, headers=admin
    )
    assert response.status_code == 200, response.text


async def register_visitor(
    client: httpx.AsyncClient, token: str, name: str = "James", **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/livechat/visitor", json={"visitor": {"token": token, "name": name, **extra}}
    )
    assert response.status_code == 200, response.text
    visitor: dict[str, Any] = response.json()["visitor"]
    return visitor


async def open_room(client: httpx.AsyncClient, token: str, **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/livechat/room", params={"token": token, **params})
    assert response.status_code == 200, response.text
    room: dict[str, Any] = response.json()["room"]
    return room


async def visitor_says(client: httpx.AsyncClient, token: str, rid: str, msg: str) -> dict[str, Any]:
    response = await client.post("/api/v1/livechat/message", json={"token": token, "rid": rid, "msg": msg})
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


async def open_chat(client: httpx.AsyncClient, token: str, *texts: str) -> str:
    """A new visitor registers, opens a room and writes `texts` in it; returns the room id."""
    await register_visitor(client, token)
    rid: str = (await open_room(client, token))["_id"]
    for text in texts:
        await visitor_says(client, token, rid, text)
    return rid


async def agent_says(
    client: httpx.AsyncClient, headers: dict[str, str], rid: str, msg: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/chat.sendMessage", json={"message": {"rid": rid, "msg": msg}}, headers=headers
    )
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()["message"]
    return message


async def room_info(client: httpx.AsyncClient, headers: dict[str, str], rid: str) -> dict[str, Any]:
    response = await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=headers)
    assert response.status_code == 200, response.text
    room: dict[str, Any] = response.json()["room"]
    return room


async def take_from_queue(client: httpx.AsyncClient, headers: dict[str, str], rid: str) -> dict[str, Any]:
    queue = await client.get("/api/v1/livechat/inquiries.queued", headers=headers)
    assert queue.status_code == 200, queue.text
    inquiry = next(i for i in queue.json()["inquiries"] if i["rid"] == rid)
    taken = await client.post(
        "/api/v1/livechat/inquiries.take", json={"inquiryId": inquiry["_id"]}, headers=headers
    )
    assert taken.status_code == 200, taken.text
    result: dict[str, Any] = taken.json()["inquiry"]
    return result
