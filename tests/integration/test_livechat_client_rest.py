"""The livechat REST that client libraries call beyond the widget's: the accept-with-no-agents rule,
livechat/inquiries.list, the settings list, and agents editing and deleting their messages."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from omnihook.livechat.live_events import Broker
from tests.livechat_helpers import (
    agent_says,
    create_agent,
    open_chat,
    open_room,
    register_visitor,
    set_routing,
    visitor_says,
)
from tests.receiver import Receiver
from tests.webhook_helpers import configure, settled

API = "/api/v1"


async def _setting(client: httpx.AsyncClient, admin: dict[str, str], setting_id: str, value: Any) -> None:
    response = await client.post(f"{API}/settings/{setting_id}", json={"value": value}, headers=admin)
    assert response.status_code == 200, response.text


async def test_with_accept_chats_with_no_agents_off_no_chat_opens_while_no_agent_is_available(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    setting = await client.get(f"{API}/settings/Livechat_accept_chats_with_no_agents", headers=admin)
    assert setting.json() == {"_id": "Livechat_accept_chats_with_no_agents", "value": True, "success": True}
    await _setting(client, admin, "Livechat_accept_chats_with_no_agents", False)
    await register_visitor(client, "tok-1")
    refused = await client.get(f"{API}/livechat/room", params={"token": "tok-1"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "Sorry, no online agents [no-agent-online]"
    assert refused.json()["errorType"] == "no-agent-online"
    await create_agent(client, admin, "alice")
    room = await open_room(client, "tok-1")
    assert room["servedBy"]["username"] == "alice"


async def test_with_accept_chats_with_no_agents_on_a_chat_opens_and_waits_in_the_queue(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _setting(client, admin, "Livechat_accept_chats_with_no_agents", False)
    await _setting(client, admin, "Livechat_accept_chats_with_no_agents", True)
    await create_agent(client, admin, "alice", available=False)
    rid = await open_chat(client, "tok-1", "anyone there?")
    queue = (await client.get(f"{API}/livechat/inquiries.list", headers=admin)).json()
    assert [i["rid"] for i in queue["inquiries"]] == [rid]
    assert queue["inquiries"][0]["status"] == "queued"


async def test_inquiries_list_gives_managers_the_queue_newest_first_by_department(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    dep = await client.post(
        f"{API}/livechat/department", json={"department": {"name": "Sales"}}, headers=admin
    )
    dep_id = dep.json()["department"]["_id"]
    first = await open_chat(client, "tok-1", "hello")
    await register_visitor(client, "tok-2", name="Jane")
    second = (await open_room(client, "tok-2", department=dep_id))["_id"]
    listed = (await client.get(f"{API}/livechat/inquiries.list", headers=admin)).json()
    assert [i["rid"] for i in listed["inquiries"]] == [second, first]
    assert (listed["count"], listed["offset"], listed["total"]) == (2, 0, 2)
    newest = listed["inquiries"][0]
    assert set(newest) == {"_id", "rid", "name", "ts", "status", "department"}
    assert (newest["name"], newest["department"]) == ("Jane", dep_id)
    for department in (dep_id, "Sales"):
        by_dep = await client.get(
            f"{API}/livechat/inquiries.list", params={"department": department}, headers=admin
        )
        assert [i["rid"] for i in by_dep.json()["inquiries"]] == [second]
    agent = await create_agent(client, admin, "alice", available=False)
    refused = await client.get(f"{API}/livechat/inquiries.list", headers=agent)
    assert refused.status_code == 403


async def test_the_settings_list_pages_settings_by_id_for_admins_only(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    page = (await client.get(f"{API}/settings", params={"count": 500}, headers=admin)).json()
    ids = [s["_id"] for s in page["settings"]]
    assert ids == sorted(ids)
    assert page["total"] == len(ids) and page["count"] == len(ids)
    values = {s["_id"]: s["value"] for s in page["settings"]}
    assert values["Livechat_Routing_Method"] == "Auto_Selection"
    assert values["Livechat_accept_chats_with_no_agents"] is True
    assert "Livechat_secret_token" in values and set(page["settings"][0]) == {"_id", "value"}
    second = (await client.get(f"{API}/settings", params={"offset": 1, "count": 1}, headers=admin)).json()
    assert [s["_id"] for s in second["settings"]] == ids[1:2]
    agent = await create_agent(client, admin, "alice", available=False)
    assert (await client.get(f"{API}/settings", headers=agent)).json()["settings"] == []


async def test_an_agent_edits_its_message_and_the_crm_receives_it_again_with_edited_at(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnAgentMessage=True)
    agent = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1")
    sent = await agent_says(client, agent, rid, "helo")
    body = {"roomId": rid, "msgId": sent["_id"], "text": "hello"}
    edited = await client.post(f"{API}/chat.update", json=body, headers=agent)
    assert edited.status_code == 200, edited.text
    message = edited.json()["message"]
    assert (message["_id"], message["msg"]) == (sent["_id"], "hello")
    assert message["editedAt"] and message["editedBy"]["username"] == "alice"
    await settled(database_url, 2)
    first, second = (r.json()["messages"][0] for r in receiver.requests)
    assert (first["msg"], second["msg"]) == ("helo", "hello")
    assert "editedAt" not in first and second["editedAt"].endswith("Z")
    history = await client.get(f"{API}/livechat/messages.history/{rid}", params={"token": "tok-1"})
    assert [m["msg"] for m in history.json()["messages"]] == ["hello"]


async def test_agents_edit_and_delete_only_their_own_messages_in_their_chats(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1")
    visitor_message = await visitor_says(client, "tok-1", rid, "hi")
    theirs = {"roomId": rid, "msgId": visitor_message["_id"], "text": "changed"}
    refused = await client.post(f"{API}/chat.update", json=theirs, headers=alice)
    assert refused.status_code == 403
    assert refused.json()["error"] == "Message editing not allowed [error-action-not-allowed]"
    deleting = await client.post(
        f"{API}/chat.delete", json={"roomId": rid, "msgId": visitor_message["_id"]}, headers=alice
    )
    assert deleting.status_code == 403
    missing = await client.post(f"{API}/chat.update", json={**theirs, "msgId": "nope"}, headers=alice)
    assert missing.json()["error"] == 'No message found with the id of "nope". [error-message-not-found]'
    other_rid = await open_chat(client, "tok-2")
    mine = await agent_says(client, alice, rid, "mine")
    elsewhere = await client.post(
        f"{API}/chat.update", json={"roomId": other_rid, "msgId": mine["_id"], "text": "x"}, headers=alice
    )
    assert elsewhere.json()["error"] == "The room id provided does not match where the message is from."
    bob = await create_agent(client, admin, "bob")
    not_his = await client.post(
        f"{API}/chat.update", json={"roomId": rid, "msgId": mine["_id"], "text": "x"}, headers=bob
    )
    assert not_his.status_code == 403
    # Admins hold edit-message and delete-message: any text message of the chat.
    by_admin = await client.post(f"{API}/chat.update", json=theirs, headers=admin)
    assert by_admin.json()["message"]["msg"] == "changed"


async def test_an_agent_deletes_its_message_the_visitor_no_longer_sees_it_and_the_stream_is_told(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    broker: Broker = app.state.live
    await broker.ready()
    agent = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1")
    sent = await agent_says(client, agent, rid, "oops")
    with broker.subscribe(rid) as visitor_stream:
        deleted = await client.post(
            f"{API}/chat.delete", json={"roomId": rid, "msgId": sent["_id"]}, headers=agent
        )
        assert deleted.status_code == 200, deleted.text
        body = deleted.json()
        assert body["_id"] == sent["_id"] and body["ts"].isdigit()  # milliseconds, as Rocket.Chat
        user = {"_id": agent["X-User-Id"], "username": "alice", "name": "Alice"}
        assert body["message"] == {"_id": sent["_id"], "rid": rid, "u": user}
        while True:
            note = await asyncio.wait_for(visitor_stream.queue.get(), timeout=30)
            if note["kind"] == "message.deleted":
                break
        assert note == {"kind": "message.deleted", "roomId": rid, "messageId": sent["_id"]}
    history = await client.get(f"{API}/livechat/messages.history/{rid}", params={"token": "tok-1"})
    assert history.json()["messages"] == []
    synced = await client.get(
        f"{API}/chat.syncMessages", params={"roomId": rid, "lastUpdate": sent["ts"]}, headers=agent
    )
    assert [d["_id"] for d in synced.json()["result"]["deleted"]] == [sent["_id"]]
    again = await client.post(f"{API}/chat.delete", json={"roomId": rid, "msgId": sent["_id"]}, headers=agent)
    assert again.status_code == 404


async def test_manual_routing_still_queues_with_agents_available(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await _setting(client, admin, "Livechat_accept_chats_with_no_agents", False)
    await create_agent(client, admin, "alice")
    await set_routing(client, admin, "Manual_Selection")
    rid = await open_chat(client, "tok-1", "hello")
    listed = (await client.get(f"{API}/livechat/inquiries.list", headers=admin)).json()
    assert [i["rid"] for i in listed["inquiries"]] == [rid]
