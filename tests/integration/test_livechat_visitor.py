"""The visitor side: the widget's calls, authorized by the visitor's token alone."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from omnihook.storage.database import Database
from omnihook.storage.tables import domain_events, offline_messages
from tests.livechat_helpers import (
    agent_says,
    create_agent,
    create_department,
    open_chat,
    open_room,
    register_visitor,
    set_routing,
    visitor_says,
)

API = "/api/v1/livechat"


async def _events(database_url: str, kind: str) -> list[dict[str, object]]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(select(domain_events).where(domain_events.c.kind == kind))
            return [dict(r._mapping) for r in rows]
    finally:
        await db.dispose()


async def test_visitors_register_with_increasing_guest_usernames_and_update_by_token(
    client: httpx.AsyncClient,
) -> None:
    first = await register_visitor(client, "tok-1", "James", email="james@example.com", phone="+15550001")
    second = await register_visitor(client, "tok-2", "Ann")
    assert first["username"] == "guest-1"
    assert second["username"] == "guest-2"
    assert first["visitorEmails"] == [{"address": "james@example.com"}]
    assert first["phone"] == [{"phoneNumber": "+15550001"}]
    again = await register_visitor(client, "tok-1", "James Bond")
    assert again["_id"] == first["_id"]
    assert again["username"] == "guest-1"
    got = await client.get(f"{API}/visitor/tok-1")
    assert got.json()["visitor"]["name"] == "James Bond"


async def test_visitor_registration_refuses_bad_input(client: httpx.AsyncClient) -> None:
    no_token = await client.post(f"{API}/visitor", json={"visitor": {"name": "X"}})
    assert no_token.status_code == 400
    assert "token" in no_token.json()["error"]
    bad_email = await client.post(f"{API}/visitor", json={"visitor": {"token": "t", "email": "nope"}})
    assert bad_email.status_code == 400
    bad_dep = await client.post(f"{API}/visitor", json={"visitor": {"token": "t", "department": "nope"}})
    assert bad_dep.status_code == 400
    assert (await client.get(f"{API}/visitor/t")).status_code == 404


async def test_a_room_is_created_once_and_reused_until_closed(client: httpx.AsyncClient) -> None:
    await register_visitor(client, "tok-1")
    first = await client.get(f"{API}/room", params={"token": "tok-1"})
    assert first.json()["newRoom"] is True
    room = first.json()["room"]
    assert room["fname"] == "James"
    assert room["v"]["token"] == "tok-1"
    again = await client.get(f"{API}/room", params={"token": "tok-1"})
    assert again.json()["newRoom"] is False
    assert again.json()["room"]["_id"] == room["_id"]
    by_rid = await client.get(f"{API}/room", params={"token": "tok-1", "rid": room["_id"]})
    assert by_rid.json()["room"]["_id"] == room["_id"]
    closed = await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": room["_id"]})
    assert closed.status_code == 200
    reopened = await client.get(f"{API}/room", params={"token": "tok-1", "rid": room["_id"]})
    assert reopened.status_code == 400
    assert reopened.json()["error"] == "room-closed"
    fresh = await open_room(client, "tok-1")
    assert fresh["_id"] != room["_id"]


async def test_a_visitor_token_never_reaches_another_visitors_room(client: httpx.AsyncClient) -> None:
    await register_visitor(client, "tok-a", "A")
    await register_visitor(client, "tok-b", "B")
    room_a = await open_room(client, "tok-a")
    rid = room_a["_id"]
    await visitor_says(client, "tok-a", rid, "secret")
    attempts = [
        await client.get(f"{API}/room", params={"token": "tok-b", "rid": rid}),
        await client.post(f"{API}/message", json={"token": "tok-b", "rid": rid, "msg": "hi"}),
        await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-b"}),
        await client.post(f"{API}/room.close", json={"token": "tok-b", "rid": rid}),
        await client.post(
            f"{API}/page.visited",
            json={"token": "tok-b", "rid": rid, "pageInfo": {"location": {"href": "x"}}},
        ),
    ]
    for response in attempts:
        assert response.status_code == 404, response.text
        assert response.json() == {
            "success": False,
            "error": "invalid-room",
            "errorType": "not-found",
            "details": f"no room {rid!r} for this visitor",
        }
    unknown = await client.get(f"{API}/room", params={"token": "tok-unknown"})
    assert unknown.status_code == 401
    history = await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-a"})
    assert [m["msg"] for m in history.json()["messages"]] == ["secret"]


async def test_visitor_messages_are_stored_with_the_visitor_and_token(
    client: httpx.AsyncClient, database_url: str
) -> None:
    visitor = await register_visitor(client, "tok-1")
    rid = (await open_room(client, "tok-1"))["_id"]
    message = await visitor_says(client, "tok-1", rid, "Hi")
    assert message["u"] == {"_id": visitor["_id"], "username": "guest-1", "name": "James"}
    assert message["token"] == "tok-1"
    assert message["rid"] == rid
    assert "agentId" not in message
    sent = await _events(database_url, "message.sent")
    assert [(e["room_id"], e["data"]) for e in sent] == [
        (rid, {"message_id": message["_id"], "by_visitor": True})
    ]


async def test_a_repeated_message_id_is_stored_once(client: httpx.AsyncClient, database_url: str) -> None:
    rid = await open_chat(client, "tok-1")
    body = {"token": "tok-1", "rid": rid, "msg": "once", "_id": "clientMsgId00001"}
    first = await client.post(f"{API}/message", json=body)
    second = await client.post(f"{API}/message", json=body)
    assert first.json()["message"]["_id"] == second.json()["message"]["_id"] == "clientMsgId00001"
    history = await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-1"})
    assert len(history.json()["messages"]) == 1
    assert len(await _events(database_url, "message.sent")) == 1


async def test_visitor_messages_refuse_empty_oversized_unknown_tokens_and_closed_rooms(
    client: httpx.AsyncClient,
) -> None:
    rid = await open_chat(client, "tok-1")
    empty = await client.post(f"{API}/message", json={"token": "tok-1", "rid": rid, "msg": "  "})
    assert empty.status_code == 400
    huge = await client.post(f"{API}/message", json={"token": "tok-1", "rid": rid, "msg": "x" * 5001})
    assert huge.status_code == 400
    assert huge.json()["error"] == "message-length-exceeds-character-limit"
    missing = await client.post(f"{API}/message", json={"token": "tok-1", "rid": rid})
    assert missing.status_code == 400
    assert "msg" in missing.json()["error"]
    wrong = await client.post(f"{API}/message", json={"token": "forged", "rid": rid, "msg": "hi"})
    assert wrong.status_code in (401, 404)
    await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": rid})
    late = await client.post(f"{API}/message", json={"token": "tok-1", "rid": rid, "msg": "hello?"})
    assert late.status_code == 400
    assert late.json()["error"] == "room-closed"
    history = await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-1"})
    assert [m["t"] for m in history.json()["messages"]] == ["livechat-close"]


async def test_history_is_newest_first_paged_and_readable_by_the_rooms_agent(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob", available=False)
    await register_visitor(client, "tok-1")
    rid = (await open_room(client, "tok-1"))["_id"]  # auto-assigned to alice
    for text in ("one", "two", "three"):
        await visitor_says(client, "tok-1", rid, text)
    await agent_says(client, alice, rid, "four")
    page = await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-1", "limit": 2})
    assert [m["msg"] for m in page.json()["messages"]] == ["four", "three"]
    rest = await client.get(
        f"{API}/messages.history/{rid}", params={"token": "tok-1", "limit": 2, "offset": 2}
    )
    assert [m["msg"] for m in rest.json()["messages"]] == ["two", "one"]
    by_agent = await client.get(f"{API}/messages.history/{rid}", headers=alice)
    assert len(by_agent.json()["messages"]) == 4
    assert (await client.get(f"{API}/messages.history/{rid}", headers=bob)).status_code == 403
    assert (await client.get(f"{API}/messages.history/{rid}")).status_code == 400
    assert (
        await client.get(f"{API}/messages.history/{rid}", params={"limit": 0, "token": "tok-1"})
    ).status_code == 400


async def test_the_visitor_closes_their_chat(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    visitor = await register_visitor(client, "tok-1")
    rid = (await open_room(client, "tok-1"))["_id"]
    closed = await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": rid})
    assert closed.json() == {"rid": rid, "comment": "Closed by visitor", "success": True}
    info = await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=admin)
    room = info.json()["room"]
    assert room["open"] is False
    assert room["closer"] == "visitor"
    assert room["closedBy"] == {"_id": visitor["_id"], "username": "guest-1"}
    again = await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": rid})
    assert again.status_code == 400
    assert again.json()["error"] == "room-closed"


async def test_visitors_cannot_close_when_the_workspace_forbids_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    setting = "/api/v1/settings/Omnichannel_allow_visitors_to_close_conversation"
    assert (await client.post(setting, json={"value": False}, headers=admin)).status_code == 200
    rid = await open_chat(client, "tok-1")
    refused = await client.post(f"{API}/room.close", json={"token": "tok-1", "rid": rid})
    assert refused.status_code == 403
    assert (await client.get(f"{API}/room", params={"token": "tok-1", "rid": rid})).status_code == 200


async def test_the_visitor_transfers_the_chat_to_another_department(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    dep = await client.post(
        "/api/v1/livechat/department", json={"department": {"name": "Billing"}}, headers=admin
    )
    dep_id = dep.json()["department"]["_id"]
    rid = await open_chat(client, "tok-1")
    moved = await client.post(
        f"{API}/room.transfer", json={"token": "tok-1", "rid": rid, "department": dep_id}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["room"]["departmentId"] == dep_id
    assert moved.json()["room"]["status"] == "queued"
    forwarded = await _events(database_url, "room.forwarded")
    assert forwarded[0]["data"] == {"old_served_by": None, "old_department_id": None, "to_department": True}
    bad = await client.post(f"{API}/room.transfer", json={"token": "tok-1", "rid": rid, "department": "nope"})
    assert bad.status_code == 400
    same = await client.post(
        f"{API}/room.transfer", json={"token": "tok-1", "rid": rid, "department": dep_id}
    )
    assert same.status_code == 400
    # Rocket.Chat 7's replacement endpoint does the same.
    other = await client.post(
        "/api/v1/livechat/department", json={"department": {"name": "Other"}}, headers=admin
    )
    other_id = other.json()["department"]["_id"]
    newer = await client.post(
        f"{API}/visitor/department.transfer", json={"token": "tok-1", "rid": rid, "department": other_id}
    )
    assert newer.json() == {"success": True}
    room = (await client.get(f"{API}/room", params={"token": "tok-1", "rid": rid})).json()["room"]
    assert room["departmentId"] == other_id


async def test_offline_messages_are_stored_and_recorded(client: httpx.AsyncClient, database_url: str) -> None:
    body = {"name": "Ann", "email": "ann@example.com", "message": "Call me back"}
    sent = await client.post(f"{API}/offline.message", json=body)
    assert sent.status_code == 200
    assert sent.json()["message"]
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            stored = (await conn.execute(select(offline_messages))).all()
    finally:
        await db.dispose()
    assert [(r.name, r.email, r.message) for r in stored] == [("Ann", "ann@example.com", "Call me back")]
    events = await _events(database_url, "offline_message.received")
    assert events[0]["data"]["email"] == "ann@example.com"  # type: ignore[index]


async def test_offline_messages_refuse_bad_input(client: httpx.AsyncClient, database_url: str) -> None:
    for body in (
        {"name": "Ann", "email": "not-an-email", "message": "x"},
        {"name": "Ann", "email": "ann@example.com"},
        {"name": "", "email": "ann@example.com", "message": "x"},
        {"name": "Ann", "email": "ann@example.com", "message": "x", "department": "nope"},
    ):
        response = await client.post(f"{API}/offline.message", json=body)
        assert response.status_code == 400, body
    assert await _events(database_url, "offline_message.received") == []


async def test_custom_fields_are_stored_on_the_visitor_and_overwrite_only_when_asked(
    client: httpx.AsyncClient,
) -> None:
    await register_visitor(client, "tok-1")
    one = await client.post(
        f"{API}/custom.field", json={"token": "tok-1", "key": "plan", "value": "gold", "overwrite": True}
    )
    assert one.json()["field"] == {"key": "plan", "value": "gold", "overwrite": True}
    many = await client.post(
        f"{API}/custom.fields",
        json={
            "token": "tok-1",
            "customFields": [
                {"key": "plan", "value": "silver", "overwrite": False},
                {"key": "orderId", "value": "42", "overwrite": True},
            ],
        },
    )
    assert many.json()["fields"][1] == {"Key": "orderId", "value": "42", "overwrite": True}
    visitor = (await client.get(f"{API}/visitor/tok-1")).json()["visitor"]
    assert visitor["livechatData"] == {"plan": "gold", "orderId": "42"}


async def test_custom_fields_refuse_bad_keys_and_unknown_tokens(client: httpx.AsyncClient) -> None:
    await register_visitor(client, "tok-1")
    bad_key = await client.post(f"{API}/custom.field", json={"token": "tok-1", "key": "a b", "value": "x"})
    assert bad_key.status_code == 400
    unknown = await client.post(f"{API}/custom.field", json={"token": "nope", "key": "a", "value": "x"})
    assert unknown.status_code == 401
    empty = await client.post(f"{API}/custom.fields", json={"token": "tok-1", "customFields": []})
    assert empty.status_code == 400


async def test_page_visits_are_kept_as_hidden_navigation_messages_unless_shown(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rid = await open_chat(client, "tok-1")
    page = {"title": "Pricing", "change": "url", "location": {"href": "https://shop.example/pricing"}}
    visited = await client.post(f"{API}/page.visited", json={"token": "tok-1", "rid": rid, "pageInfo": page})
    assert visited.json()["page"]["t"] == "livechat_navigation_history"
    assert visited.json()["page"]["navigation"]["page"]["location"]["href"] == "https://shop.example/pricing"
    history = await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-1"})
    assert history.json()["messages"] == []
    shown = "/api/v1/settings/Livechat_Visitor_navigation_as_a_message"
    assert (await client.post(shown, json={"value": True}, headers=admin)).status_code == 200
    await client.post(f"{API}/page.visited", json={"token": "tok-1", "rid": rid, "pageInfo": page})
    history = await client.get(f"{API}/messages.history/{rid}", params={"token": "tok-1"})
    assert [m["msg"] for m in history.json()["messages"]] == ["Pricing - https://shop.example/pricing"]
    without_room = await client.post(f"{API}/page.visited", json={"token": "tok-1", "pageInfo": page})
    assert without_room.json() == {"success": True}
    # The widget reports pages before it registers its visitor: accepted, nothing recorded.
    unregistered = await client.post(f"{API}/page.visited", json={"token": "tok-new", "pageInfo": page})
    assert (unregistered.status_code, unregistered.json()) == (200, {"success": True})
    no_href = await client.post(f"{API}/page.visited", json={"token": "tok-1", "pageInfo": {"title": "x"}})
    assert no_href.status_code == 400


async def test_config_offers_the_chat_with_no_agent_online_while_chats_are_accepted_with_no_agents(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # omnihook's default (Livechat_accept_chats_with_no_agents on): the chat waits in the queue.
    assert (await client.get(f"{API}/config")).json()["config"]["online"] is True
    await create_agent(client, admin, "alice", available=False)
    dep_id = await create_department(client, admin, "Empty")
    per_dep = await client.get(f"{API}/config", params={"department": dep_id})
    assert per_dep.json()["config"]["online"] is True


async def test_config_says_whether_an_agent_is_online_overall_and_per_department(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # Rocket.Chat's default: no chat is offered (the widget shows its offline form) while nobody answers.
    accept = {"value": False}
    setting = "/api/v1/settings/Livechat_accept_chats_with_no_agents"
    assert (await client.post(setting, json=accept, headers=admin)).status_code == 200
    offline = await client.get(f"{API}/config")
    assert offline.json()["config"]["online"] is False
    assert offline.json()["config"]["enabled"] is True
    alice = await create_agent(client, admin, "alice")
    dep = await client.post(
        "/api/v1/livechat/department", json={"department": {"name": "Empty"}}, headers=admin
    )
    dep_id = dep.json()["department"]["_id"]
    assert (await client.get(f"{API}/config")).json()["config"]["online"] is True
    per_dep = await client.get(f"{API}/config", params={"department": dep_id})
    assert per_dep.json()["config"]["online"] is False
    assert [d["name"] for d in per_dep.json()["config"]["departments"]] == ["Empty"]
    await client.post("/api/v1/livechat/agent.status", json={"status": "not-available"}, headers=alice)
    assert (await client.get(f"{API}/config")).json()["config"]["online"] is False


async def test_config_with_a_token_returns_the_guest_their_open_room_and_agent(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1")
    cfg = (await client.get(f"{API}/config", params={"token": "tok-1"})).json()["config"]
    assert cfg["guest"]["token"] == "tok-1"
    assert cfg["room"]["_id"] == rid
    assert cfg["agent"]["username"] == "alice"
    assert "roles" not in cfg["agent"]
    agent = await client.get(f"{API}/agent.info/{rid}/tok-1")
    assert agent.json()["agent"]["username"] == "alice"
    stranger = (await client.get(f"{API}/config", params={"token": "nobody"})).json()["config"]
    assert "guest" not in stranger


async def test_when_the_livechat_is_off_config_says_so_and_no_chat_starts(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await register_visitor(client, "tok-1")
    assert (
        await client.post("/api/v1/settings/Livechat_enabled", json={"value": False}, headers=admin)
    ).status_code == 200
    cfg = await client.get(f"{API}/config", params={"token": "tok-1"})
    assert cfg.json() == {"config": {"enabled": False}, "success": True}
    refused = await client.get(f"{API}/room", params={"token": "tok-1"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "error-omnichannel-is-disabled"


async def test_a_chat_opens_in_the_general_queue_when_the_visitors_department_is_gone(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    dep = await client.post(
        "/api/v1/livechat/department", json={"department": {"name": "Sales"}}, headers=admin
    )
    dep_id = dep.json()["department"]["_id"]
    await register_visitor(client, "tok-1", department=dep_id)
    assert (await client.delete(f"/api/v1/livechat/department/{dep_id}", headers=admin)).status_code == 200
    room = await open_room(client, "tok-1")
    assert room["departmentId"] is None
    assert room["status"] == "queued"
