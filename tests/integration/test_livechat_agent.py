"""The agent side: the queue, taking, answering, forwarding, closing and reading rooms."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from omnihook.storage.database import Database
from omnihook.storage.tables import domain_events
from tests.livechat_helpers import (
    agent_says,
    create_agent,
    create_department,
    open_room,
    register_visitor,
    room_info,
    set_routing,
    take_from_queue,
    visitor_says,
)

API = "/api/v1/livechat"


async def _events(database_url: str, room_id: str) -> list[tuple[str, dict[str, Any]]]:
    db = Database(database_url, pool_size=1)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                select(domain_events).where(domain_events.c.room_id == room_id).order_by(domain_events.c.seq)
            )
            return [(r.kind, r.data) for r in rows]
    finally:
        await db.dispose()


async def _chat(client: httpx.AsyncClient, token: str, **params: str) -> str:
    await register_visitor(client, token, f"Visitor {token}")
    room = await open_room(client, token, **params)
    await visitor_says(client, token, room["_id"], "hello")
    rid: str = room["_id"]
    return rid


async def test_agents_see_the_general_queue_and_their_departments_not_others(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    sales = await create_department(client, admin, "Sales", alice)
    support = await create_department(client, admin, "Support", bob)
    general = await _chat(client, "t-general")
    in_sales = await _chat(client, "t-sales", department=sales)
    await _chat(client, "t-support", department=support)
    queue = await client.get(f"{API}/inquiries.queued", headers=alice)
    assert queue.status_code == 200
    assert [i["rid"] for i in queue.json()["inquiries"]] == [general, in_sales]
    assert queue.json()["inquiries"][0]["message"] == "hello"
    assert queue.json()["inquiries"][0]["name"] == "Visitor t-general"
    await register_visitor(client, "t-general", "Ann Smith")
    renamed = await client.get(f"{API}/inquiries.queued", headers=alice)
    assert renamed.json()["inquiries"][0]["name"] == "Ann Smith"
    assert queue.json()["inquiries"][0]["status"] == "queued"
    everything = await client.get(f"{API}/inquiries.queued", headers=admin)
    assert everything.json()["total"] == 3
    only_sales = await client.get(f"{API}/inquiries.queued", params={"department": sales}, headers=admin)
    assert [i["rid"] for i in only_sales.json()["inquiries"]] == [in_sales]
    assert (await client.get(f"{API}/inquiries.queued")).status_code == 401


async def test_taking_an_inquiry_serves_the_room_and_records_room_taken(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    inquiry = await take_from_queue(client, alice, rid)
    assert inquiry["status"] == "taken"
    room = await room_info(client, alice, rid)
    assert room["status"] == "served"
    assert room["servedBy"]["username"] == "alice"
    assert (await client.get(f"{API}/inquiries.queued", headers=alice)).json()["inquiries"] == []
    kinds = [k for k, _ in await _events(database_url, rid)]
    assert kinds == ["room.started", "room.queued", "message.sent", "room.taken"]
    assert (await _events(database_url, rid))[-1][1] == {"agent_id": alice["X-User-Id"]}


async def test_taking_refuses_taken_unknown_and_other_departments_inquiries(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    support = await create_department(client, admin, "Support", bob)
    rid = await _chat(client, "t-1")
    other_rid = await _chat(client, "t-2", department=support)
    queue = (await client.get(f"{API}/inquiries.queued", headers=admin)).json()["inquiries"]
    ids = {i["rid"]: i["_id"] for i in queue}
    not_mine = await client.post(f"{API}/inquiries.take", json={"inquiryId": ids[other_rid]}, headers=alice)
    assert not_mine.status_code == 403
    assert (
        await client.post(f"{API}/inquiries.take", json={"inquiryId": ids[rid]}, headers=alice)
    ).status_code == 200
    twice = await client.post(f"{API}/inquiries.take", json={"inquiryId": ids[rid]}, headers=bob)
    assert twice.status_code == 400
    assert twice.json()["error"] == "error-inquiry-not-queued"
    assert (await room_info(client, admin, rid))["servedBy"]["username"] == "alice"
    unknown = await client.post(f"{API}/inquiries.take", json={"inquiryId": "nope"}, headers=alice)
    assert (unknown.status_code, unknown.json()["error"]) == (400, "Inquiry not found [error-not-found]")
    assert (await client.post(f"{API}/inquiries.take", json={}, headers=alice)).status_code == 400
    bad_user = await client.post(
        f"{API}/inquiries.take", json={"inquiryId": ids[other_rid], "userId": "nobody"}, headers=admin
    )
    assert bad_user.status_code == 400
    by_manager = await client.post(
        f"{API}/inquiries.take", json={"inquiryId": ids[other_rid], "userId": bob["X-User-Id"]}, headers=admin
    )
    assert by_manager.status_code == 200
    assert (await room_info(client, admin, other_rid))["servedBy"]["username"] == "bob"


async def test_the_serving_agent_answers_others_may_not_and_a_closed_room_takes_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob", available=False)
    rid = await _chat(client, "t-1")  # auto-assigned to alice, the only available agent
    message = await agent_says(client, alice, rid, "How can I help?")
    assert message["u"]["username"] == "alice"
    assert message["agentId"] == alice["X-User-Id"]
    assert "token" not in message
    send = "/api/v1/chat.sendMessage"
    assert (
        await client.post(send, json={"message": {"rid": rid, "msg": "me too"}}, headers=bob)
    ).status_code == 403
    assert (
        await client.post(send, json={"message": {"rid": rid, "msg": ""}}, headers=alice)
    ).status_code == 400
    assert (
        await client.post(send, json={"message": {"rid": "nope", "msg": "x"}}, headers=alice)
    ).status_code == 404
    assert (await client.post(send, json={"message": {"rid": rid, "msg": "x"}})).status_code == 401
    await client.post(f"{API}/room.closeByUser", json={"rid": rid}, headers=alice)
    closed = await client.post(send, json={"message": {"rid": rid, "msg": "still there?"}}, headers=alice)
    assert closed.status_code == 400
    assert closed.json()["error"] == "room-closed"


async def test_a_queued_chat_must_be_taken_before_an_agent_writes(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    early = await client.post(
        "/api/v1/chat.sendMessage", json={"message": {"rid": rid, "msg": "hi"}}, headers=alice
    )
    assert early.status_code == 403


async def test_forwarding_to_an_agent_records_the_previous_one(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    before = await room_info(client, alice, rid)
    bob = await create_agent(client, admin, "bob")
    forwarded = await client.post(
        f"{API}/room.forward",
        json={"roomId": rid, "userId": bob["X-User-Id"], "comment": "over to you"},
        headers=alice,
    )
    assert forwarded.status_code == 200, forwarded.text
    assert (await room_info(client, bob, rid))["servedBy"]["username"] == "bob"
    events = await _events(database_url, rid)
    # Rocket.Chat takes the chat for the new agent first, then announces the forward.
    assert events[-2] == ("room.taken", {"agent_id": bob["X-User-Id"]})
    kind, data = events[-1]
    assert kind == "room.forwarded"
    assert data["old_served_by"] == {
        "agent_id": alice["X-User-Id"],
        "username": "alice",
        "ts": before["servedBy"]["ts"],
    }
    assert data["to_department"] is False
    history = await client.get(f"{API}/messages.history/{rid}", headers=bob)
    note = history.json()["messages"][0]
    assert (note["t"], note["msg"], note["u"]["username"]) == (
        "livechat_transfer_history",
        "over to you",
        "alice",
    )
    # Alice no longer serves it.
    assert (await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=alice)).status_code == 403


async def test_forwarding_to_a_department_assigns_its_agent_or_queues_it(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    carol = await create_agent(client, admin, "carol")
    billing = await create_department(client, admin, "Billing", carol)
    empty = await create_department(client, admin, "Empty")
    to_billing = await client.post(
        f"{API}/room.forward", json={"roomId": rid, "departmentId": billing}, headers=alice
    )
    assert to_billing.status_code == 200, to_billing.text
    room = await room_info(client, admin, rid)
    assert (room["departmentId"], room["servedBy"]["username"]) == (billing, "carol")
    to_empty = await client.post(
        f"{API}/room.forward", json={"roomId": rid, "departmentId": empty}, headers=carol
    )
    assert to_empty.status_code == 200
    room = await room_info(client, admin, rid)
    assert room["status"] == "queued"
    assert "servedBy" not in room
    kinds = [k for k, _ in await _events(database_url, rid)]
    assert kinds[-4:] == ["room.taken", "room.forwarded", "room.queued", "room.forwarded"]
    last_forward = [d for k, d in await _events(database_url, rid) if k == "room.forwarded"][-1]
    assert last_forward["old_department_id"] == billing
    assert last_forward["old_served_by"]["username"] == "carol"
    assert last_forward["to_department"] is True


async def test_forwarding_refuses_bad_targets_strangers_and_closed_rooms(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    bob = await create_agent(client, admin, "bob", available=False)
    forward = f"{API}/room.forward"
    cases = [
        ({"roomId": rid}, alice, 400),
        ({"roomId": rid, "userId": bob["X-User-Id"], "departmentId": "x"}, alice, 400),
        ({"roomId": rid, "userId": bob["X-User-Id"]}, alice, 400),  # not available
        ({"roomId": rid, "userId": alice["X-User-Id"]}, alice, 400),  # already serves it
        ({"roomId": rid, "userId": "nobody"}, alice, 400),
        ({"roomId": rid, "departmentId": "nope"}, alice, 400),
        ({"roomId": rid, "userId": alice["X-User-Id"]}, bob, 403),  # not bob's chat
        ({"roomId": "nope", "userId": bob["X-User-Id"]}, alice, 404),
    ]
    for body, headers, status in cases:
        response = await client.post(forward, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
    assert (await room_info(client, alice, rid))["servedBy"]["username"] == "alice"
    await client.post(f"{API}/room.closeByUser", json={"rid": rid}, headers=alice)
    await client.post("/api/v1/livechat/agent.status", json={"status": "available"}, headers=bob)
    late = await client.post(forward, json={"roomId": rid, "userId": bob["X-User-Id"]}, headers=alice)
    assert late.status_code == 400
    assert late.json()["error"] == "room-closed"


async def test_closing_by_the_agent_stores_comment_tags_and_closing_message(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    closed = await client.post(
        f"{API}/room.closeByUser",
        json={"rid": rid, "comment": "Solved", "tags": ["vip", "vip", "sales"]},
        headers=alice,
    )
    assert closed.json() == {"success": True}
    room = await room_info(client, alice, rid)
    assert room["open"] is False
    assert room["status"] == "closed"
    assert room["closer"] == "user"
    assert room["closedBy"] == {"_id": alice["X-User-Id"], "username": "alice"}
    assert room["tags"] == ["vip", "sales"]
    assert room["closedAt"]
    last = (await client.get(f"{API}/messages.history/{rid}", headers=alice)).json()["messages"][0]
    assert (last["msg"], last["t"], last["closingMessage"], last["agentId"]) == (
        "Solved",
        "livechat-close",
        True,
        alice["X-User-Id"],
    )
    assert (await _events(database_url, rid))[-1][0] == "room.closed"
    again = await client.post(f"{API}/room.closeByUser", json={"rid": rid}, headers=alice)
    assert again.status_code == 400


async def test_closing_refuses_strangers_bad_tags_and_unknown_rooms_but_managers_close_queued_chats(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    close = f"{API}/room.closeByUser"
    assert (await client.post(close, json={"rid": rid}, headers=alice)).status_code == 403
    assert (await client.post(close, json={"rid": rid, "tags": [""]}, headers=admin)).status_code == 400
    assert (await client.post(close, json={"rid": rid, "tags": "vip"}, headers=admin)).status_code == 400
    assert (await client.post(close, json={"rid": "nope"}, headers=admin)).status_code == 404
    assert (await client.post(close, json={"rid": rid})).status_code == 401
    assert (await room_info(client, admin, rid))["open"] is True
    assert (await client.post(close, json={"rid": rid}, headers=admin)).status_code == 200
    assert (await client.get(f"{API}/inquiries.queued", headers=admin)).json()["inquiries"] == []


async def test_room_lists_filter_by_state_agent_and_department_and_agents_see_their_own(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    first = await _chat(client, "t-1")  # alice
    bob = await create_agent(client, admin, "bob")
    sales = await create_department(client, admin, "Sales", bob)
    second = await _chat(client, "t-2", department=sales)  # bob
    await client.post(f"{API}/room.closeByUser", json={"rid": first}, headers=alice)

    async def rids(headers: dict[str, str], **params: str) -> list[str]:
        response = await client.get(f"{API}/rooms", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [r["_id"] for r in response.json()["rooms"]]

    assert set(await rids(admin)) == {first, second}
    assert await rids(admin, open="true") == [second]
    assert await rids(admin, open="false") == [first]
    assert await rids(admin, departmentId=sales) == [second]
    assert await rids(admin, roomName="T-2") == [second]
    assert await rids(admin, **{"agents[]": alice["X-User-Id"]}) == [first]
    assert await rids(alice) == [first]
    assert await rids(bob, open="true") == [second]
    other = await client.get(f"{API}/rooms", params={"agents[]": bob["X-User-Id"]}, headers=alice)
    assert other.status_code == 403
    assert (await client.get(f"{API}/rooms", params={"open": "maybe"}, headers=admin)).status_code == 400


async def test_rooms_info_is_for_the_rooms_agent_and_managers(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    bob = await create_agent(client, admin, "bob")
    info = await room_info(client, alice, rid)
    assert info["t"] == "l"
    assert info["fname"] == "Visitor t-1"
    assert info["msgs"] == 1
    assert "token" not in info["v"]  # staff never receive the visitor token
    assert (await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=bob)).status_code == 403
    assert (
        await client.get("/api/v1/rooms.info", params={"roomId": "nope"}, headers=admin)
    ).status_code == 404
    assert (await client.get("/api/v1/rooms.info", headers=admin)).status_code == 400


async def test_sync_messages_returns_what_changed_since_a_time(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    first = await agent_says(client, alice, rid, "first")
    everything = await client.get("/api/v1/chat.syncMessages", params={"roomId": rid}, headers=alice)
    assert [m["msg"] for m in everything.json()["result"]["updated"]] == ["hello", "first"]
    since = await client.get(
        "/api/v1/chat.syncMessages", params={"roomId": rid, "lastUpdate": first["ts"]}, headers=alice
    )
    assert since.json()["result"]["updated"] == []
    typo = await visitor_says(client, "t-1", rid, "wrong window")
    await client.request("DELETE", f"{API}/message/{typo['_id']}", json={"token": "t-1", "rid": rid})
    after = await client.get(
        "/api/v1/chat.syncMessages", params={"roomId": rid, "lastUpdate": first["ts"]}, headers=alice
    )
    assert after.json()["result"]["updated"] == []
    assert [d["_id"] for d in after.json()["result"]["deleted"]] == [typo["_id"]]


async def test_save_info_edits_room_and_visitor_and_records_the_edit(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")
    visitor_id = (await room_info(client, alice, rid))["v"]["_id"]
    body = {
        "guestData": {"_id": visitor_id, "name": "James Bond", "email": "bond@example.com"},
        "roomData": {"_id": rid, "topic": "refund", "tags": ["billing"], "livechatData": {"order": "7"}},
    }
    saved = await client.post(f"{API}/room.saveInfo", json=body, headers=alice)
    assert saved.status_code == 200, saved.text
    room = await room_info(client, alice, rid)
    assert (room["topic"], room["tags"], room["livechatData"], room["fname"]) == (
        "refund",
        ["billing"],
        {"order": "7"},
        "James Bond",
    )
    visitor = (await client.get(f"{API}/visitor/t-1")).json()["visitor"]
    assert visitor["visitorEmails"] == [{"address": "bond@example.com"}]
    assert (await _events(database_url, rid))[-1] == ("room.info_edited", {})
    bob = await create_agent(client, admin, "bob")
    assert (await client.post(f"{API}/room.saveInfo", json=body, headers=bob)).status_code == 403
    wrong_guest = {**body, "guestData": {"_id": "someone-else"}}
    assert (await client.post(f"{API}/room.saveInfo", json=wrong_guest, headers=alice)).status_code == 400
    assert (
        await client.post(f"{API}/room.saveInfo", json={"roomData": {"_id": rid}}, headers=alice)
    ).status_code == 400


async def test_auto_selection_picks_the_available_agent_with_fewest_open_chats(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await create_agent(client, admin, "alice")
    await create_agent(client, admin, "bob")
    await create_agent(client, admin, "carol", available=False)
    served = []
    for n in range(4):
        rid = await _chat(client, f"t-{n}")
        served.append((await room_info(client, admin, rid))["servedBy"]["username"])
    assert sorted(served) == ["alice", "alice", "bob", "bob"]


async def test_auto_selection_queues_when_no_agent_of_the_department_is_available(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob", available=False)
    support = await create_department(client, admin, "Support", bob)
    rid = await _chat(client, "t-1", department=support)
    room = await room_info(client, admin, rid)
    assert room["status"] == "queued"
    assert [k for k, _ in await _events(database_url, rid)][:2] == ["room.started", "room.queued"]
    # Bob, of that department, takes it from the queue.
    await take_from_queue(client, bob, rid)
    assert (await room_info(client, bob, rid))["servedBy"]["username"] == "bob"


async def test_under_auto_selection_waiting_chats_go_out_when_an_agent_becomes_available(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    alice = await create_agent(client, admin, "alice", available=False)
    bob = await create_agent(client, admin, "bob", available=False)
    sales = await create_department(client, admin, "Sales", alice)
    support = await create_department(client, admin, "Support", bob)
    general = await _chat(client, "t-general")
    in_sales = await _chat(client, "t-sales", department=sales)
    in_support = await _chat(client, "t-support", department=support)
    for rid in (general, in_sales, in_support):
        assert (await room_info(client, admin, rid))["status"] == "queued"
    await client.post(f"{API}/agent.status", json={"status": "available"}, headers=alice)
    assert (await room_info(client, admin, general))["servedBy"]["username"] == "alice"
    assert (await room_info(client, admin, in_sales))["servedBy"]["username"] == "alice"
    assert (await room_info(client, admin, in_support))["status"] == "queued"
    assert (await _events(database_url, general))[-1] == ("room.taken", {"agent_id": alice["X-User-Id"]})


async def _set_status(client: httpx.AsyncClient, headers: dict[str, str], status: str) -> None:
    response = await client.post("/api/v1/users.setStatus", json={"status": status}, headers=headers)
    assert response.status_code == 200, response.text


async def test_auto_selection_skips_an_available_agent_whose_status_is_offline_but_not_away_or_busy(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    carol = await create_agent(client, admin, "carol")
    await _set_status(client, alice, "offline")
    await _set_status(client, bob, "away")  # Rocket.Chat still routes to away and busy agents
    await _set_status(client, carol, "busy")
    served = [(await room_info(client, admin, await _chat(client, f"t-{n}")))["servedBy"] for n in range(4)]
    assert sorted(s["username"] for s in served) == ["bob", "bob", "carol", "carol"]


async def test_an_agent_whose_status_is_offline_counts_as_nobody_and_gets_the_queue_when_back_online(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    await _set_status(client, alice, "offline")
    support = await create_department(client, admin, "Support", alice, bob)
    served_by_bob = await _chat(client, "t-1", department=support)
    assert (await room_info(client, admin, served_by_bob))["servedBy"]["username"] == "bob"
    forward = {"roomId": served_by_bob, "userId": alice["X-User-Id"]}
    refused_forward = await client.post(f"{API}/room.forward", json=forward, headers=bob)
    assert refused_forward.json()["error"] == "error-agent-not-available"
    await _set_status(client, bob, "offline")
    accept = "/api/v1/settings/Livechat_accept_chats_with_no_agents"
    await client.post(accept, json={"value": False}, headers=admin)
    config = (await client.get(f"{API}/config", params={"department": support})).json()["config"]
    assert config["online"] is False
    await register_visitor(client, "t-refused")
    refused = await client.get(f"{API}/room", params={"token": "t-refused", "department": support})
    assert refused.json()["errorType"] == "no-agent-online"
    await client.post(accept, json={"value": True}, headers=admin)
    waiting = await _chat(client, "t-2", department=support)
    assert (await room_info(client, admin, waiting))["status"] == "queued"
    await _set_status(client, alice, "online")
    assert (await room_info(client, admin, waiting))["servedBy"]["username"] == "alice"
    assert (await _events(database_url, waiting))[-1] == ("room.taken", {"agent_id": alice["X-User-Id"]})


async def test_under_manual_selection_becoming_available_assigns_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice", available=False)
    rid = await _chat(client, "t-1")
    await client.post(f"{API}/agent.status", json={"status": "available"}, headers=alice)
    assert (await room_info(client, admin, rid))["status"] == "queued"


async def test_transfer_history_records_who_moved_the_chat_from_where_to_whom(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await _chat(client, "t-1")  # alice serves it
    bob = await create_agent(client, admin, "bob")
    carol = await create_agent(client, admin, "carol")
    billing = await create_department(client, admin, "Billing", carol)
    await client.post(
        f"{API}/room.forward",
        json={"roomId": rid, "userId": bob["X-User-Id"], "comment": "yours"},
        headers=alice,
    )
    await client.post(f"{API}/room.forward", json={"roomId": rid, "departmentId": billing}, headers=bob)
    await client.post(
        f"{API}/room.transfer",
        json={"token": "t-1", "rid": rid, "department": await create_department(client, admin, "Empty")},
    )

    history = await client.get(f"{API}/transfer.history/{rid}", headers=admin)
    assert history.status_code == 200, history.text
    steps = history.json()["history"]
    assert [
        (
            s["scope"],
            s["transferredBy"]["username"],
            s.get("previousAgent", {}).get("username"),
            s.get("transferredTo", {}).get("username"),
            s.get("nextDepartment", {}).get("name"),
        )
        for s in steps
    ] == [
        ("agent", "alice", "alice", "bob", None),
        ("department", "bob", "bob", "carol", "Billing"),
        ("department", "guest-1", "carol", None, "Empty"),
    ]
    assert steps[0]["comment"] == "yours"
    assert steps[2]["transferredBy"]["type"] == "visitor"
    assert steps[2]["previousDepartment"] == billing
    assert (await client.get(f"{API}/transfer.history/{rid}", headers=alice)).status_code == 403
    assert (await client.get(f"{API}/transfer.history/nope", headers=admin)).status_code == 404
