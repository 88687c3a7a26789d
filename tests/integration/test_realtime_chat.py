"""The realtime API (/websocket) as Rocket.Chat's widget uses it: a visitor's socket hears the chat live,
and no stream opens for a token that is not the room's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.ddp_client import DDPClient, serving, visitor_args
from tests.livechat_helpers import agent_says, create_agent, open_chat, register_visitor

STREAMS = ("stream-room-messages", "stream-livechat-room", "stream-notify-room")


@pytest.fixture
async def ws_url(app: FastAPI) -> AsyncIterator[str]:
    async with serving(app) as address:
        yield f"ws://{address}/websocket"


def key_for(stream: str, rid: str) -> str:
    return f"{rid}/typing" if stream == "stream-notify-room" else rid


async def visitor_socket_for(client: DDPClient, token: str, rid: str) -> None:
    """What the widget does once the room is open: set up the connection and follow the room."""
    assert (await client.call("livechat:setUpConnection", {"token": token}))["msg"] == "result"
    for stream in STREAMS:
        answer = await client.sub(stream, key_for(stream, rid), visitor_args(token))
        assert answer["msg"] == "ready", answer
    answer = await client.sub("stream-notify-room", f"{rid}/deleteMessage", visitor_args(token))
    assert answer["msg"] == "ready", answer


async def test_a_visitor_hears_the_agents_answer_and_the_end_of_the_chat_live(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    agent = await create_agent(client, admin, "agent.smith")
    rid = await open_chat(client, "visitor-1", "hello")
    async with DDPClient.open(ws_url) as widget:
        await visitor_socket_for(widget, "visitor-1", rid)
        sent = await agent_says(client, agent, rid, "How can I help?")
        [message] = await widget.event("stream-room-messages", rid)
        assert message["_id"] == sent["_id"]
        assert message["rid"] == rid
        assert message["msg"] == "How can I help?"
        assert message["u"]["username"] == "agent.smith"
        assert set(message["ts"]) == {"$date"} and isinstance(message["ts"]["$date"], int)
        assert "$date" in message["_updatedAt"]
        assert "t" not in message and "token" not in message
        closed = await client.post("/api/v1/livechat/room.close", json={"rid": rid, "token": "visitor-1"})
        assert closed.status_code == 200, closed.text
        [close] = await widget.event("stream-room-messages", rid)
        assert close["t"] == "livechat-close"


async def test_the_visitors_own_messages_come_back_with_its_token_and_edits_with_edited_at(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    await create_agent(client, admin, "agent.smith")
    rid = await open_chat(client, "visitor-1")
    async with DDPClient.open(ws_url) as widget:
        await visitor_socket_for(widget, "visitor-1", rid)
        body = {"token": "visitor-1", "rid": rid, "msg": "helo"}
        sent = (await client.post("/api/v1/livechat/message", json=body)).json()["message"]
        [mine] = await widget.event("stream-room-messages", rid)
        assert (mine["_id"], mine["token"], "editedAt" in mine) == (sent["_id"], "visitor-1", False)
        edit = {"token": "visitor-1", "rid": rid, "msg": "hello"}
        assert (await client.put(f"/api/v1/livechat/message/{sent['_id']}", json=edit)).status_code == 200
        [edited] = await widget.event("stream-room-messages", rid)
        assert (edited["_id"], edited["msg"]) == (sent["_id"], "hello")
        assert "$date" in edited["editedAt"]
        gone = await client.request(
            "DELETE", f"/api/v1/livechat/message/{sent['_id']}", json={"token": "visitor-1", "rid": rid}
        )
        assert gone.status_code == 200, gone.text
        assert await widget.event("stream-notify-room", f"{rid}/deleteMessage") == [{"_id": sent["_id"]}]


async def test_the_visitor_is_told_who_serves_it_on_take_and_on_forward(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    first = await create_agent(client, admin, "agent.one")
    rid = await open_chat(client, "visitor-1")
    await create_agent(client, admin, "agent.two")
    async with DDPClient.open(ws_url) as widget:
        await visitor_socket_for(widget, "visitor-1", rid)
        agent_two = await client.get("/api/v1/livechat/users/agent", headers=admin)
        two = next(u for u in agent_two.json()["users"] if u["username"] == "agent.two")
        forward = {"roomId": rid, "userId": two["_id"]}
        forwarded = await client.post("/api/v1/livechat/room.forward", json=forward, headers=first)
        assert forwarded.status_code == 200, forwarded.text
        [event] = await widget.event("stream-livechat-room", rid)
        assert event["type"] == "agentData"
        assert event["data"]["username"] == "agent.two"
        assert "roles" not in event["data"] and "statusLivechat" not in event["data"]


async def test_a_visitor_waiting_in_the_queue_is_told_its_place_and_when_it_moves(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    await open_chat(client, "visitor-0")  # nobody is available: both wait
    rid = await open_chat(client, "visitor-1")
    async with DDPClient.open(ws_url) as widget:
        await visitor_socket_for(widget, "visitor-1", rid)
        # Told its place as it subscribes, and again as the queue moves.
        [event] = await widget.event("stream-livechat-room", rid)
        assert (event["type"], event["data"]["spot"]) == ("queueData", 2)
        agent = await create_agent(client, admin, "agent.smith", available=False)
        queue = await client.get("/api/v1/livechat/inquiries.queued", headers=agent)
        first = next(i for i in queue.json()["inquiries"] if i["rid"] != rid)
        taken = await client.post(
            "/api/v1/livechat/inquiries.take", json={"inquiryId": first["_id"]}, headers=agent
        )
        assert taken.status_code == 200, taken.text
        [event] = await widget.event("stream-livechat-room", rid)
        assert event["type"] == "queueData"
        assert event["data"]["spot"] == 1


@pytest.mark.parametrize("stream", STREAMS)
async def test_every_stream_refuses_another_visitors_token(
    client: httpx.AsyncClient, ws_url: str, stream: str
) -> None:
    rid = await open_chat(client, "visitor-1", "my secret question")
    await register_visitor(client, "visitor-2", "Mallory")
    async with DDPClient.open(ws_url) as intruder:
        key = key_for(stream, rid)
        for args in ([visitor_args("visitor-2")], [visitor_args("no-such-token")], []):
            answer = await intruder.sub(stream, key, *args)
            assert answer["msg"] == "nosub", answer
            assert answer["error"]["error"] == "not-allowed"
        # And nothing of the room reaches it afterwards.
        await client.post("/api/v1/livechat/message", json={"token": "visitor-1", "rid": rid, "msg": "more"})
        assert intruder.events.empty()


async def test_an_agent_logged_in_with_its_rest_token_follows_its_rooms_and_hears_the_visitor_type(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    agent = await create_agent(client, admin, "agent.smith")
    rid = await open_chat(client, "visitor-1")
    async with DDPClient.open(ws_url) as console, DDPClient.open(ws_url) as widget:
        login = await console.call("login", {"resume": agent["X-Auth-Token"]})
        assert login["result"]["id"] == agent["X-User-Id"]
        for key in (f"{rid}/typing", rid):
            stream = "stream-notify-room" if "/" in key else "stream-room-messages"
            assert (await console.sub(stream, key))["msg"] == "ready"
        await visitor_socket_for(widget, "visitor-1", rid)
        guest = (await client.get("/api/v1/livechat/visitor/visitor-1")).json()["visitor"]["username"]
        for typing in (True, True, False):  # "still typing" again at once is not sent twice
            typed = await widget.call(
                "stream-notify-room", f"{rid}/typing", guest, typing, {"token": "visitor-1"}
            )
            assert typed.get("error") is None, typed
        assert await console.event("stream-notify-room", f"{rid}/typing") == [guest, True]
        assert await console.event("stream-notify-room", f"{rid}/typing") == [guest, False]
        # The visitor is not told of its own typing: the first typing it hears is the agent's.
        typed = await console.call("stream-notify-room", f"{rid}/typing", "agent.smith", True)
        assert typed.get("error") is None, typed
        assert await widget.event("stream-notify-room", f"{rid}/typing") == ["agent.smith", True]
        # Staff's copy of a visitor message carries no visitor token.
        await client.post("/api/v1/livechat/message", json={"token": "visitor-1", "rid": rid, "msg": "hi"})
        [message] = await console.event("stream-room-messages", rid)
        assert message["msg"] == "hi" and "token" not in message


async def test_an_agent_may_not_follow_a_room_it_does_not_serve_nor_type_under_another_name(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    await create_agent(client, admin, "agent.smith")
    rid = await open_chat(client, "visitor-1")
    other = await create_agent(client, admin, "agent.jones", available=False)
    async with DDPClient.open(ws_url) as console:
        assert "result" in await console.call("login", {"resume": other["X-Auth-Token"]})
        answer = await console.sub("stream-room-messages", rid)
        assert answer["msg"] == "nosub"
        typed = await console.call("stream-notify-room", f"{rid}/typing", "agent.jones", True)
        assert typed["error"]["error"] == "error-not-allowed"
        refused = await console.call("login", {"resume": "not-a-token"})
        assert refused["error"]["error"] == "403"


async def test_the_visitor_is_online_while_its_socket_is_up_and_offline_once_it_closes(
    client: httpx.AsyncClient, ws_url: str
) -> None:
    await open_chat(client, "visitor-1")

    async def status() -> Any:
        response = await client.get("/api/v1/livechat/visitor/visitor-1")
        assert response.status_code == 200, response.text
        return response.json()["visitor"]["status"]

    async with DDPClient.open(ws_url) as widget:
        assert "error" not in await widget.call("livechat:setUpConnection", {"token": "visitor-1"})
        assert await status() == "online"
    # The server learns of the close a moment after the client: wait for the state, not for a time.
    for _ in range(3000):
        if await status() == "offline":
            break
        await asyncio.sleep(0.01)
    assert await status() == "offline"


async def test_a_widget_that_connects_before_registering_makes_its_visitor_offline_when_it_closes(
    client: httpx.AsyncClient, ws_url: str
) -> None:
    async with DDPClient.open(ws_url) as widget:
        # The official widget sets up the connection with its new token first, then registers.
        assert "error" not in await widget.call("livechat:setUpConnection", {"token": "visitor-1"})
        await open_chat(client, "visitor-1")
        registered = await client.get("/api/v1/livechat/visitor/visitor-1")
        assert registered.json()["visitor"]["status"] == "online"
    for _ in range(3000):
        if (await client.get("/api/v1/livechat/visitor/visitor-1")).json()["visitor"]["status"] == "offline":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the visitor stayed online after its socket closed")


async def test_a_message_is_loaded_once_for_all_the_sockets_following_its_room(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    agent = await create_agent(client, admin, "agent.smith")
    rid = await open_chat(client, "visitor-1")
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM messages" in statement:
            reads.append(statement)

    async with (
        DDPClient.open(ws_url) as widget,
        DDPClient.open(ws_url) as console,
        DDPClient.open(ws_url) as manager,
    ):
        await visitor_socket_for(widget, "visitor-1", rid)
        for socket, headers in ((console, agent), (manager, admin)):
            assert "result" in await socket.call("login", {"resume": headers["X-Auth-Token"]})
            assert (await socket.sub("stream-room-messages", rid))["msg"] == "ready"
        engine = app.state.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            await agent_says(client, agent, rid, "one answer, three sockets")
            for socket in (widget, console, manager):
                [message] = await socket.event("stream-room-messages", rid)
                assert message["msg"] == "one answer, three sockets"
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(reads) == 1, reads


async def _events_until(socket: DDPClient, rid: str, text: str) -> list[dict[str, Any]]:
    """The socket's events up to the message `text` of room `rid`: what it heard in between."""
    heard = []
    while True:
        frame = await asyncio.wait_for(socket.events.get(), 30)
        heard.append(frame)
        fields = frame["fields"]
        in_room = frame["collection"] == "stream-room-messages" and fields["eventName"] == rid
        if in_room and fields["args"][0]["msg"] == text:
            return heard


async def test_an_agent_stops_hearing_a_room_once_it_moves_away_and_hears_it_again_when_it_comes_back(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str
) -> None:
    first = await create_agent(client, admin, "agent.one")
    moved = await open_chat(client, "visitor-1")
    kept = await open_chat(client, "visitor-2")  # agent.one keeps this one: a marker in its stream
    second = await create_agent(client, admin, "agent.two")
    async with DDPClient.open(ws_url) as console, DDPClient.open(ws_url) as widget:
        assert "result" in await console.call("login", {"resume": first["X-Auth-Token"]})
        for stream in STREAMS:
            assert (await console.sub(stream, key_for(stream, moved)))["msg"] == "ready"
        assert (await console.sub("stream-room-messages", kept))["msg"] == "ready"
        await visitor_socket_for(widget, "visitor-1", moved)
        guest = (await client.get("/api/v1/livechat/visitor/visitor-1")).json()["visitor"]["username"]

        forward = {"roomId": moved, "userId": second["X-User-Id"]}
        forwarded = await client.post("/api/v1/livechat/room.forward", json=forward, headers=first)
        assert forwarded.status_code == 200, forwarded.text
        await agent_says(client, second, moved, "agent two here")
        typed = await widget.call(
            "stream-notify-room", f"{moved}/typing", guest, True, {"token": "visitor-1"}
        )
        assert typed.get("error") is None, typed
        await agent_says(client, first, kept, "marker")
        # The visitor keeps hearing its chat; agent.one hears nothing of it after the move.
        assert await _events_until(widget, moved, "agent two here")
        heard = await _events_until(console, kept, "marker")
        about_moved = [f for f in heard if f["fields"]["eventName"].startswith(moved)]
        assert all(f["fields"]["args"][0].get("msg") != "agent two here" for f in about_moved), about_moved
        assert not [f for f in about_moved if f["collection"] == "stream-notify-room"], about_moved
        assert not [f for f in about_moved if f["collection"] == "stream-livechat-room"], about_moved

        # Forwarded back, agent.one hears the room again on the same subscriptions.
        back = {"roomId": moved, "userId": first["X-User-Id"]}
        returned = await client.post("/api/v1/livechat/room.forward", json=back, headers=second)
        assert returned.status_code == 200, returned.text
        await client.post(
            "/api/v1/livechat/message", json={"token": "visitor-1", "rid": moved, "msg": "still me"}
        )
        heard = await _events_until(console, moved, "still me")
        assert any(f["collection"] == "stream-livechat-room" for f in heard)  # agentData: agent.one


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_on_postgresql_sockets_are_closed_to_resync_when_listen_reconnects_and_catch_up_after(
    client: httpx.AsyncClient, admin: dict[str, str], ws_url: str, database_url: str
) -> None:
    agent = await create_agent(client, admin, "agent.smith")
    rid = await open_chat(client, "visitor-1")
    async with DDPClient.open(ws_url) as widget, DDPClient.open(ws_url) as console:
        await visitor_socket_for(widget, "visitor-1", rid)
        assert "result" in await console.call("login", {"resume": agent["X-Auth-Token"]})
        assert (await console.sub("stream-room-messages", rid))["msg"] == "ready"
        # The database drops the LISTEN connection (a restart, a failover): notes sent meanwhile are lost.
        killer = await asyncpg.connect(database_url)
        try:
            pids = await killer.fetch(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'omnihook live'"
                " AND datname = current_database()"
            )
            assert len(pids) == 1, pids
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pids[0]["pid"])
        finally:
            await killer.close()
        await agent_says(client, agent, rid, "said while LISTEN was down")
        # Once LISTEN is back, every socket is closed so that its client reconnects and reloads.
        assert await widget.closed() == 1012
        assert await console.closed() == 1012
    async with DDPClient.open(ws_url) as widget:
        await visitor_socket_for(widget, "visitor-1", rid)
        # What the widget does on connecting: it loads the messages again, the missed one among them.
        history = await client.get(f"/api/v1/livechat/messages.history/{rid}", params={"token": "visitor-1"})
        assert "said while LISTEN was down" in [m["msg"] for m in history.json()["messages"]]
        await agent_says(client, agent, rid, "and live again")
        assert await _events_until(widget, rid, "and live again")
