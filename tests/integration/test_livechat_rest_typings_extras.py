"""Livechat endpoints a Rocket.Chat client also calls (rest-typings), beyond the issue's list."""

from __future__ import annotations

import httpx

from tests.livechat_helpers import create_agent, open_room, register_visitor, set_routing, visitor_says

API = "/api/v1/livechat"


async def test_a_visitor_is_forgotten_only_once_their_chats_are_closed(client: httpx.AsyncClient) -> None:
    visitor = await register_visitor(client, "tok-1", "James", email="james@example.com")
    rid = (await open_room(client, "tok-1"))["_id"]
    await visitor_says(client, "tok-1", rid, "my address is 1 Main St")
    refused = await client.delete(f"{API}/visitor/tok-1")
    assert refused.status_code == 400
    assert refused.json()["error"] == "visitor-has-open-rooms"
    await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": rid})
    forgotten = await client.delete(f"{API}/visitor/tok-1")
    assert forgotten.status_code == 200
    assert forgotten.json()["visitor"]["_id"] == visitor["_id"]
    assert (await client.get(f"{API}/visitor/tok-1")).status_code == 404
    old = await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-1"})
    assert old.status_code in (401, 404)
    assert (await client.delete(f"{API}/visitor/tok-1")).status_code == 404


async def test_visitor_open_rooms_status_and_next_agent(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await register_visitor(client, "tok-1")
    assert (await client.get(f"{API}/agent.next/tok-1")).json() == {"success": True}
    await create_agent(client, admin, "alice")
    assert (await client.get(f"{API}/agent.next/tok-1")).json()["agent"]["username"] == "alice"
    assert (await client.get(f"{API}/visitor/tok-1/room")).json()["rooms"] == []
    rid = (await open_room(client, "tok-1"))["_id"]
    assert [r["_id"] for r in (await client.get(f"{API}/visitor/tok-1/room")).json()["rooms"]] == [rid]
    status = await client.post(f"{API}/visitor.status", json={"token": "tok-1", "status": "away"})
    assert status.json() == {"token": "tok-1", "status": "away", "success": True}
    assert (
        await client.post(f"{API}/visitor.status", json={"token": "tok-1", "status": "x"})
    ).status_code == 400
    assert (
        await client.post(f"{API}/visitor.status", json={"token": "no", "status": "away"})
    ).status_code == 401
    assert (await client.get(f"{API}/agent.next/nobody")).status_code == 401
    assert (await client.get(f"{API}/visitor/nobody/room")).status_code == 401


async def test_agents_read_an_inquiry_department_agents_their_departments_and_visitors(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    dep = await client.post(
        f"{API}/department",
        json={"department": {"name": "Sales"}, "agents": [{"agentId": alice["X-User-Id"]}]},
        headers=admin,
    )
    dep_id = dep.json()["department"]["_id"]
    visitor = await register_visitor(client, "tok-1")
    rid = (await open_room(client, "tok-1", department=dep_id))["_id"]

    inquiry = await client.get(f"{API}/inquiries.getOne", params={"roomId": rid}, headers=alice)
    assert inquiry.json()["inquiry"]["rid"] == rid
    assert (
        await client.get(f"{API}/inquiries.getOne", params={"roomId": rid}, headers=bob)
    ).status_code == 403
    none = await client.get(f"{API}/inquiries.getOne", params={"roomId": "nope"}, headers=alice)
    assert none.json()["inquiry"] is None

    agents = await client.get(f"{API}/department/{dep_id}/agents", headers=bob)
    assert [a["username"] for a in agents.json()["agents"]] == ["alice"]
    assert (await client.get(f"{API}/department/nope/agents", headers=bob)).status_code == 404

    mine = await client.get(f"{API}/agents/{alice['X-User-Id']}/departments", headers=alice)
    assert [(d["departmentName"], d["agentId"]) for d in mine.json()["departments"]] == [
        ("Sales", alice["X-User-Id"])
    ]
    assert (
        await client.get(f"{API}/agents/{alice['X-User-Id']}/departments", headers=bob)
    ).status_code == 403

    info = await client.get(f"{API}/visitors.info", params={"visitorId": visitor["_id"]}, headers=bob)
    assert info.json()["visitor"]["username"] == visitor["username"]
    assert (
        await client.get(f"{API}/visitors.info", params={"visitorId": "nope"}, headers=bob)
    ).status_code == 404
    assert (await client.get(f"{API}/visitors.info", params={"visitorId": visitor["_id"]})).status_code == 401
