"""Livechat endpoints a Rocket.Chat client also calls (rest-typings), beyond the issue's list."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from omnihook.storage.database import Database
from omnihook.storage.tables import domain_events
from tests.livechat_helpers import (
    create_agent,
    open_chat,
    open_room,
    register_visitor,
    set_routing,
    visitor_says,
)

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

    info = await client.get(f"{API}/visitors.info", params={"visitorId": visitor["_id"]}, headers=alice)
    assert info.json()["visitor"]["username"] == visitor["username"]
    assert "token" not in info.json()["visitor"]
    assert "token" not in inquiry.json()["inquiry"]["v"]
    assert (
        await client.get(f"{API}/visitors.info", params={"visitorId": visitor["_id"]}, headers=bob)
    ).status_code == 403
    assert (
        await client.get(f"{API}/visitors.info", params={"visitorId": "nope"}, headers=bob)
    ).status_code == 404
    assert (await client.get(f"{API}/visitors.info", params={"visitorId": visitor["_id"]})).status_code == 401


async def test_visitors_edit_and_withdraw_their_own_messages_in_an_open_chat(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1")
    typo = await visitor_says(client, "tok-1", rid, "helo")
    edited = await client.put(
        f"{API}/message/{typo['_id']}", json={"token": "tok-1", "rid": rid, "msg": "hello"}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["message"]["msg"] == "hello"
    assert edited.json()["message"]["editedAt"]
    # An edit is sent again as a message, as Rocket.Chat's Message webhook does.
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            sent = await conn.execute(
                select(domain_events.c.data).where(domain_events.c.kind == "message.sent")
            )
            assert [d["message_id"] for (d,) in sent] == [typo["_id"], typo["_id"]]
    finally:
        await db.dispose()
    oops = await visitor_says(client, "tok-1", rid, "wrong window")
    withdrawn = await client.request(
        "DELETE", f"{API}/message/{oops['_id']}", json={"token": "tok-1", "rid": rid}
    )
    assert withdrawn.json()["message"]["_id"] == oops["_id"]
    history = await client.get(f"{API}/messages.history/{rid}", headers=alice)
    assert [m["msg"] for m in history.json()["messages"]] == ["hello"]

    answer = await client.post(
        "/api/v1/chat.sendMessage", json={"message": {"rid": rid, "msg": "hi"}}, headers=alice
    )
    agents_message = answer.json()["message"]["_id"]
    not_theirs = await client.put(
        f"{API}/message/{agents_message}", json={"token": "tok-1", "rid": rid, "msg": "x"}
    )
    assert not_theirs.status_code == 403
    await register_visitor(client, "tok-2", "Other")
    stranger = await client.put(
        f"{API}/message/{typo['_id']}", json={"token": "tok-2", "rid": rid, "msg": "x"}
    )
    assert stranger.status_code == 404
    empty = await client.put(f"{API}/message/{typo['_id']}", json={"token": "tok-1", "rid": rid, "msg": ""})
    assert empty.status_code == 400
    assert (
        await client.put(f"{API}/message/nope", json={"token": "tok-1", "rid": rid, "msg": "x"})
    ).status_code == 404
    await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": rid})
    late = await client.put(f"{API}/message/{typo['_id']}", json={"token": "tok-1", "rid": rid, "msg": "bye"})
    assert late.status_code == 400
    assert late.json()["error"] == "room-closed"


async def test_the_visitor_rates_the_chat_after_it_closed(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rid = await open_chat(client, "tok-1")
    await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": rid})
    data = [{"name": "satisfaction", "value": "5"}, {"name": "additionalFeedback", "value": "quick!"}]
    rated = await client.post(f"{API}/room.survey", json={"token": "tok-1", "rid": rid, "data": data})
    assert rated.json() == {
        "rid": rid,
        "data": {"satisfaction": "5", "additionalFeedback": "quick!"},
        "success": True,
    }
    room = (await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=admin)).json()["room"]
    assert room["surveyFeedback"] == {"satisfaction": "5", "additionalFeedback": "quick!"}
    bad = [{"name": "satisfaction", "value": "11"}]
    assert (
        await client.post(f"{API}/room.survey", json={"token": "tok-1", "rid": rid, "data": bad})
    ).status_code == 400
    unknown = [{"name": "mood", "value": "1"}]
    assert (
        await client.post(f"{API}/room.survey", json={"token": "tok-1", "rid": rid, "data": unknown})
    ).status_code == 400
    await register_visitor(client, "tok-2")
    assert (
        await client.post(f"{API}/room.survey", json={"token": "tok-2", "rid": rid, "data": data})
    ).status_code == 404


async def test_transcripts_and_uploads_are_refused_as_the_config_announces(client: httpx.AsyncClient) -> None:
    settings = (await client.get(f"{API}/config")).json()["config"]["settings"]
    assert (settings["transcript"], settings["fileUpload"]) == (False, False)
    transcript = await client.post(f"{API}/transcript", json={"token": "t", "rid": "r", "email": "a@b.co"})
    assert transcript.status_code == 400
    assert transcript.json()["error"] == "error-transcript-not-enabled"
    upload = await client.post(f"{API}/upload/some-room", files={"file": ("a.txt", b"hi")})
    assert upload.status_code == 400
    assert upload.json()["error"] == "error-file-upload-disabled"


async def test_agent_info_names_the_agent_of_the_visitors_own_chat_only(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    await register_visitor(client, "tok-1")
    await register_visitor(client, "tok-2")
    rid = (await open_room(client, "tok-1"))["_id"]
    assert (await client.get(f"{API}/agent.info/{rid}/tok-1")).status_code == 404  # queued: nobody yet
    queue = (await client.get(f"{API}/inquiries.queued", headers=alice)).json()["inquiries"]
    await client.post(f"{API}/inquiries.take", json={"inquiryId": queue[0]["_id"]}, headers=alice)
    agent = (await client.get(f"{API}/agent.info/{rid}/tok-1")).json()["agent"]
    assert agent["username"] == "alice"
    assert "roles" not in agent
    assert (await client.get(f"{API}/agent.info/{rid}/tok-2")).status_code == 404
    assert (await client.get(f"{API}/agent.info/{rid}/nobody")).status_code == 401
