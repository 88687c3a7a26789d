"""Staff never receive a visitor's token (issue 10, finding 1).

A visitor's token is their password: whoever holds it reads the chat and writes as the visitor. An agent
sees a room, its inquiry and its visitor only while serving it, while it waits in a queue the agent may
take from, or as a manager; everything else is refused as rooms.info refuses. No answer to staff carries
the token; the visitor's own API and the webhook payloads (sent to the CRM) keep it.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import login_headers
from tests.livechat_helpers import (
    AGENT_PASSWORD,
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
from tests.receiver import Receiver
from tests.webhook_helpers import ALL_TOGGLES, configure

API = "/api/v1/livechat"
# Long and unlike anything else in an answer, so that finding it anywhere in a body means a leak.
TOKEN = "visitor-secret-0d5e2c9b71"
OTHER_TOKEN = "visitor-secret-a4f08e6d33"


async def _manager(client: httpx.AsyncClient, admin: dict[str, str], username: str) -> dict[str, str]:
    """A user with the livechat-manager role only (not an admin, not an agent), logged in."""
    body = {
        "username": username,
        "email": f"{username}@example.com",
        "name": username,
        "password": AGENT_PASSWORD,
    }
    assert (await client.post("/api/v1/users.create", json=body, headers=admin)).status_code == 200
    added = await client.post(f"{API}/users/manager", json={"username": username}, headers=admin)
    assert added.status_code == 200, added.text
    return await login_headers(client, username, AGENT_PASSWORD)


async def _chat(client: httpx.AsyncClient, token: str, **params: str) -> tuple[str, str]:
    """A visitor writes in a new chat; returns (room id, visitor id)."""
    visitor = await register_visitor(client, token, "James", email="james@example.com")
    rid: str = (await open_room(client, token, **params))["_id"]
    await visitor_says(client, token, rid, "hello")
    return rid, visitor["_id"]


def _views(rid: str, visitor_id: str) -> list[tuple[str, dict[str, str]]]:
    """Every staff read of one chat: the room, its inquiry, its visitor, its messages, its transfers."""
    return [
        ("/api/v1/rooms.info", {"roomId": rid}),
        (f"{API}/inquiries.getOne", {"roomId": rid}),
        (f"{API}/visitors.info", {"visitorId": visitor_id}),
        ("/api/v1/chat.syncMessages", {"roomId": rid}),
        (f"{API}/messages.history/{rid}", {}),
        (f"{API}/transfer.history/{rid}", {}),
    ]


async def _statuses(
    client: httpx.AsyncClient, headers: dict[str, str], rid: str, visitor_id: str
) -> dict[str, int]:
    statuses = {}
    for path, params in _views(rid, visitor_id):
        response = await client.get(path, params=params, headers=headers)
        assert TOKEN not in response.text, (path, response.text)
        statuses[path] = response.status_code
    return statuses


def _assert_refused_as_rooms_info(statuses: dict[str, int]) -> None:
    """Each read refused, with the status rooms.info refuses with (403 or 404)."""
    refused = statuses["/api/v1/rooms.info"]
    assert refused in (403, 404), statuses
    assert statuses == dict.fromkeys(statuses, refused)


def _assert_no_token(response: httpx.Response) -> None:
    assert response.status_code == 200, (response.request.url, response.text)
    assert TOKEN not in response.text, (response.request.url, response.text)
    assert OTHER_TOKEN not in response.text, (response.request.url, response.text)


async def test_an_agent_gets_nothing_of_a_chat_another_agent_serves(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    rid, visitor_id = await _chat(client, TOKEN)
    inquiry = await take_from_queue(client, alice, rid)

    _assert_refused_as_rooms_info(await _statuses(client, bob, rid, visitor_id))
    # Nor by taking it over, nor in the refusal.
    grab = await client.post(f"{API}/inquiries.take", json={"inquiryId": inquiry["_id"]}, headers=bob)
    assert 400 <= grab.status_code < 500 and TOKEN not in grab.text, grab.text
    assert (await room_info(client, alice, rid))["servedBy"]["_id"] == alice["X-User-Id"]
    rooms = await client.get(f"{API}/rooms", headers=bob)
    assert rid not in [r["_id"] for r in rooms.json()["rooms"]]
    queue = await client.get(f"{API}/inquiries.queued", headers=bob)
    assert rid not in [i["rid"] for i in queue.json()["inquiries"]]
    # The agent who serves it sees all of it.
    assert set((await _statuses(client, alice, rid, visitor_id)).values()) == {200}


async def test_an_agent_of_the_queue_sees_a_waiting_chat_until_another_agent_takes_it(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    carol = await create_agent(client, admin, "carol")
    sales = await create_department(client, admin, "Sales", alice, bob)
    await create_department(client, admin, "Support", carol)
    rid, visitor_id = await _chat(client, TOKEN, department=sales)

    waiting = await _statuses(client, bob, rid, visitor_id)
    assert set(waiting.values()) == {200}, waiting
    inquiry = await client.get(f"{API}/inquiries.getOne", params={"roomId": rid}, headers=bob)
    assert inquiry.json()["inquiry"]["rid"] == rid
    visitor = await client.get(f"{API}/visitors.info", params={"visitorId": visitor_id}, headers=bob)
    assert visitor.json()["visitor"]["_id"] == visitor_id
    # An agent of another department may not take it, so sees none of it.
    _assert_refused_as_rooms_info(await _statuses(client, carol, rid, visitor_id))

    await take_from_queue(client, alice, rid)
    _assert_refused_as_rooms_info(await _statuses(client, bob, rid, visitor_id))


async def test_a_manager_sees_every_chat_and_its_visitor_but_not_the_token(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    manager = await _manager(client, admin, "mona")
    rid, visitor_id = await _chat(client, TOKEN)
    await take_from_queue(client, alice, rid)
    for headers in (manager, admin):
        for path, params in _views(rid, visitor_id):
            _assert_no_token(await client.get(path, params=params, headers=headers))
        visitor = await client.get(f"{API}/visitors.info", params={"visitorId": visitor_id}, headers=headers)
        assert visitor.json()["visitor"]["visitorEmails"] == [{"address": "james@example.com"}]
        assert "token" not in visitor.json()["visitor"]
        room = (await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=headers)).json()[
            "room"
        ]
        assert room["v"]["_id"] == visitor_id and "token" not in room["v"]


async def test_no_answer_to_staff_carries_the_visitor_token(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    """Every route that hands a room, inquiry, visitor or message to staff, in every state of a chat."""
    await set_routing(client, admin, "Manual_Selection")
    shown = await client.post(
        "/api/v1/settings/Livechat_Visitor_navigation_as_a_message", json={"value": True}, headers=admin
    )
    assert shown.status_code == 200, shown.text
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    manager = await _manager(client, admin, "mona")
    staff = (alice, bob, manager, admin)
    rid, visitor_id = await _chat(client, TOKEN)
    waiting_rid, waiting_visitor = await _chat(client, OTHER_TOKEN)
    page = {
        "token": TOKEN,
        "rid": rid,
        "pageInfo": {"title": "Pricing", "location": {"href": "https://x.test/p"}},
    }
    assert (await client.post(f"{API}/page.visited", json=page)).status_code == 200

    for headers in staff:
        _assert_no_token(await client.get(f"{API}/inquiries.queued", headers=headers))
        _assert_no_token(await client.get(f"{API}/inquiries.queuedForUser", headers=headers))
        _assert_no_token(
            await client.get(f"{API}/inquiries.getOne", params={"roomId": waiting_rid}, headers=headers)
        )
        _assert_no_token(
            await client.get(f"{API}/visitors.info", params={"visitorId": waiting_visitor}, headers=headers)
        )
    queue = await client.get(f"{API}/inquiries.queued", headers=alice)
    inquiry_id = next(i["_id"] for i in queue.json()["inquiries"] if i["rid"] == rid)
    _assert_no_token(
        await client.post(f"{API}/inquiries.take", json={"inquiryId": inquiry_id}, headers=alice)
    )
    _assert_no_token(
        await client.post(
            "/api/v1/chat.sendMessage", json={"message": {"rid": rid, "msg": "Hi!"}}, headers=alice
        )
    )
    await visitor_says(client, TOKEN, rid, "I have a question")
    typo = await visitor_says(client, TOKEN, rid, "typo")
    edit = {"token": TOKEN, "rid": rid, "msg": "fixed"}
    edited = await client.put(f"{API}/message/{typo['_id']}", json=edit)
    assert edited.status_code == 200, edited.text
    save = {"guestData": {"_id": visitor_id, "name": "James B"}, "roomData": {"_id": rid, "topic": "pricing"}}
    assert (await client.post(f"{API}/room.saveInfo", json=save, headers=alice)).status_code == 200
    forward = {"roomId": rid, "userId": bob["X-User-Id"], "comment": "over to you"}
    assert (await client.post(f"{API}/room.forward", json=forward, headers=alice)).status_code == 200
    await agent_says(client, bob, rid, "Bob here")

    def reads() -> list[tuple[str, dict[str, str]]]:
        return [
            *_views(rid, visitor_id),
            (f"{API}/rooms", {}),
            (f"{API}/rooms", {"open": "true"}),
            (f"{API}/rooms", {"roomName": "James"}),
            (f"{API}/inquiries.queued", {}),
            (f"{API}/inquiries.getOne", {"roomId": waiting_rid}),
        ]

    for headers in (bob, manager, admin):  # bob serves it now
        for path, params in reads():
            _assert_no_token(await client.get(path, params=params, headers=headers))
    history = await client.get(f"{API}/messages.history/{rid}", params={"limit": 100}, headers=bob)
    _assert_no_token(history)
    shown_kinds = {m.get("t") for m in history.json()["messages"]}
    assert {"livechat_navigation_history", "livechat_transfer_history"} <= shown_kinds, shown_kinds

    closed = await client.post(f"{API}/room.closeByUser", json={"rid": rid, "comment": "bye"}, headers=bob)
    assert closed.status_code == 200, closed.text
    for headers in (bob, manager, admin):
        _assert_no_token(await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=headers))
        _assert_no_token(await client.get(f"{API}/rooms", params={"open": "false"}, headers=headers))
        _assert_no_token(await client.get(f"{API}/messages.history/{rid}", headers=headers))

    # The visitor's own API still answers with it (the widget keeps it): the searches above could find it.
    own = await client.get(f"{API}/messages.history/{rid}", params={"token": TOKEN, "limit": 100})
    assert own.status_code == 200 and TOKEN in own.text
    assert (await client.get(f"{API}/visitor/{TOKEN}")).json()["visitor"]["token"] == TOKEN
    assert (await client.get(f"{API}/room", params={"token": OTHER_TOKEN})).json()["room"]["v"][
        "token"
    ] == OTHER_TOKEN


async def test_the_webhook_payload_still_carries_the_visitor_token(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    await configure(client, admin, LivechatWebhookUrl=receiver.url, **ALL_TOGGLES)
    alice = await create_agent(client, admin, "alice")
    rid, _ = await _chat(client, TOKEN)
    await take_from_queue(client, alice, rid)
    arrived = await receiver.arrived(4)
    payloads: list[dict[str, Any]] = [r.json() for r in arrived]
    by_type = {p["type"]: p for p in payloads}
    assert set(by_type) >= {
        "LivechatSessionStart",
        "LivechatSessionQueued",
        "Message",
        "LivechatSessionTaken",
    }
    assert all(p["visitor"]["token"] == TOKEN for p in payloads), payloads
