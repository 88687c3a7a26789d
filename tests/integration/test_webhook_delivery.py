"""CRM webhooks reach a real receiver as the seed says: events, token, retries, crmData."""

from __future__ import annotations

import base64
import itertools

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from omnihook.app import create_app
from omnihook.config import Settings
from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import webhook_endpoints
from omnihook.webhooks.settings import save_integration_settings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, login_headers
from tests.livechat_helpers import (
    agent_says,
    create_agent,
    open_chat,
    open_room,
    register_visitor,
    set_routing,
    take_from_queue,
    visitor_says,
)
from tests.receiver import Receiver
from tests.webhook_helpers import ALL_TOGGLES, configure, delivery_rows, settled


async def test_a_whole_chat_sends_every_event_in_order_with_the_token(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    await configure(
        client, admin, LivechatWebhookUrl=receiver.url, LivechatSecretToken="crm-secret", **ALL_TOGGLES
    )
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    await register_visitor(client, "tok-1", "James", email="james@example.com")
    rid = (await open_room(client, "tok-1"))["_id"]
    await visitor_says(client, "tok-1", rid, "Hi")
    await take_from_queue(client, alice, rid)
    await agent_says(client, alice, rid, "How can I help you today?")
    forwarded = await client.post(
        "/api/v1/livechat/room.forward",
        json={"roomId": rid, "userId": bob["X-User-Id"], "comment": "over to billing"},
        headers=alice,
    )
    assert forwarded.status_code == 200, forwarded.text
    closed = await client.post(
        "/api/v1/livechat/room.closeByUser",
        json={"rid": rid, "comment": "Thank you for visiting", "tags": ["self"]},
        headers=bob,
    )
    assert closed.status_code == 200, closed.text

    expected = [
        "LivechatSessionStart",
        "LivechatSessionQueued",
        "Message",
        "LivechatSessionTaken",
        "Message",
        "LivechatSessionTaken",  # Rocket.Chat's order: the new agent takes it, then the forward
        "LivechatSessionForwarded",
        "LivechatSession",
    ]
    arrived = await receiver.arrived(len(expected))
    assert [r.json()["type"] for r in arrived] == expected
    assert all(r.method == "POST" for r in arrived)
    assert all(r.header("X-RocketChat-Livechat-Token") == "crm-secret" for r in arrived)
    assert all(r.header("Content-Type") == "application/json" for r in arrived)
    ids = [r.header("webhook-id") for r in arrived]
    assert len(set(ids)) == len(ids) and all(ids)

    visitor_message, agent_message = arrived[2].json(), arrived[4].json()
    assert [m["msg"] for m in visitor_message["messages"]] == ["Hi"]
    assert "agentId" not in visitor_message["messages"][0]
    assert [m["msg"] for m in agent_message["messages"]] == ["How can I help you today?"]
    assert agent_message["messages"][0]["agentId"] == alice["X-User-Id"]

    forward = arrived[6].json()
    assert forward["oldServedBy"]["_id"] == alice["X-User-Id"]
    assert forward["servedBy"]["_id"] == bob["X-User-Id"]
    assert "oldDepartmentId" not in forward  # a forward to an agent names the old agent only

    session = arrived[7].json()
    # The transcript: the forward's system message is dropped, the closing message kept.
    assert [m["msg"] for m in session["messages"]] == [
        "Hi",
        "How can I help you today?",
        "Thank you for visiting",
    ]
    assert session["messages"][-1]["closingMessage"] is True
    assert session["closer"] == "user"
    assert session["closedBy"] == {"_id": bob["X-User-Id"], "username": "bob"}
    assert session["tags"] == ["self"]
    assert session["agent"]["username"] == "bob"
    assert session["visitor"]["email"] == [{"address": "james@example.com"}]
    rows = await settled(database_url, len(expected))
    assert {r.status for r in rows} == {"delivered"}


async def test_only_toggled_events_are_sent(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnAgentMessage=True)
    alice = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1", "visitor text is not wanted")
    await take_from_queue(client, alice, rid)
    await agent_says(client, alice, rid, "agent text is wanted")
    [row] = await settled(database_url, 1)
    assert row.event_type == "Message"
    [request] = receiver.requests
    assert [m["msg"] for m in request.json()["messages"]] == ["agent text is wanted"]
    assert request.header("X-RocketChat-Livechat-Token") is None  # no secret set, no header


async def test_nothing_is_queued_without_a_url(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    await configure(client, admin, **ALL_TOGGLES)
    await open_chat(client, "tok-1", "hello")
    assert await settled(database_url, 0) == []


async def test_a_500_twice_then_200_makes_three_attempts_with_one_webhook_id_spaced_by_the_delay(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=300,
    )
    receiver.statuses = [500, 500]
    await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)
    assert row.status == "delivered"
    assert row.attempts == 3
    arrived = receiver.requests
    assert len(arrived) == 3
    assert len({r.header("webhook-id") for r in arrived}) == 1
    assert arrived[0].header("webhook-id") == row.id
    assert arrived[0].body == arrived[1].body == arrived[2].body
    for before, after in itertools.pairwise(arrived):
        assert after.arrived_at - before.arrived_at >= 0.3


async def test_a_201_is_a_failure_retried_until_dead(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetries=2,
        LivechatWebhookRetryDelay=50,
    )
    receiver.default_status = 201
    await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)
    assert row.status == "dead"
    assert row.attempts == 3  # the first attempt and two retries
    assert row.last_status_code == 201
    assert len(receiver.requests) == 3


async def test_a_timeout_is_retried_and_recorded(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatHttpTimeout=200,
        LivechatWebhookRetries=1,
        LivechatWebhookRetryDelay=50,
    )
    receiver.delay_s = 1.0
    await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)
    assert row.status == "dead"
    assert row.attempts == 2
    assert "timeout" in row.last_error


async def test_a_200_body_becomes_the_rooms_crm_data_sent_in_later_payloads(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True)
    receiver.response_body = '{"contactId": "C-42"}'
    rid = await open_chat(client, "tok-1", "first")
    await settled(database_url, 1)
    await visitor_says(client, "tok-1", rid, "second")
    await settled(database_url, 2)
    first, second = receiver.requests
    assert "crmData" not in first.json()
    assert second.json()["crmData"] == '{"contactId": "C-42"}'  # a string, verbatim


async def test_messages_of_one_room_arrive_in_order_even_when_the_first_is_retried(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=200,
    )
    receiver.statuses = [503]
    rid = await open_chat(client, "tok-1")
    for n in range(5):
        await visitor_says(client, "tok-1", rid, f"m{n}")
    await settled(database_url, 5)
    texts = [r.json()["messages"][0]["msg"] for r in receiver.requests]
    assert texts == ["m0", "m0", "m1", "m2", "m3", "m4"]


async def test_closed_room_edits_send_livechat_edit_without_a_toggle(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    visitor = await register_visitor(client, "tok-1")
    rid = (await open_room(client, "tok-1"))["_id"]
    await configure(client, admin, LivechatWebhookUrl=receiver.url)
    save = {"guestData": {"_id": visitor["_id"]}, "roomData": {"_id": rid, "topic": "while open"}}
    response = await client.post("/api/v1/livechat/room.saveInfo", json=save, headers=admin)
    assert response.status_code == 200, response.text
    closed = await client.post("/api/v1/livechat/room.closeByUser", json={"rid": rid}, headers=admin)
    assert closed.status_code == 200, closed.text
    save["roomData"]["topic"] = "after closing"
    response = await client.post("/api/v1/livechat/room.saveInfo", json=save, headers=admin)
    assert response.status_code == 200, response.text
    [row] = await settled(database_url, 1)  # the edit of the open room sent nothing
    assert row.event_type == "LivechatEdit"
    [request] = receiver.requests
    assert request.json()["type"] == "LivechatEdit"
    assert request.json()["topic"] == "after closing"


async def test_an_offline_message_is_sent_in_rocket_chats_shape(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnOfflineMsg=True)
    body = {"name": "Nadia", "email": "nadia@example.com", "message": "Call me back"}
    response = await client.post("/api/v1/livechat/offline.message", json=body)
    assert response.status_code == 200, response.text
    await settled(database_url, 1)
    payload = receiver.requests[0].json()
    assert payload["type"] == "LivechatOfflineMessage"
    assert payload["visitor"] == {"name": "Nadia", "email": "nadia@example.com"}
    assert payload["message"] == "Call me back"
    assert payload["sentAt"].endswith("Z")
    assert set(payload) == {"type", "sentAt", "visitor", "message"}  # Rocket.Chat's offline payload


@pytest.mark.parametrize("toggle", ["LivechatWebhookOnStart", "LivechatWebhookOnChatQueued"])
async def test_session_start_and_queued_carry_the_department_and_an_empty_transcript(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str, toggle: str
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    await configure(client, admin, LivechatWebhookUrl=receiver.url, **{toggle: True})
    sales = await client.post(
        "/api/v1/livechat/department", json={"department": {"name": "Sales"}}, headers=admin
    )
    sales_id = sales.json()["department"]["_id"]
    await register_visitor(client, "tok-1", department=sales_id)
    rid = (await open_room(client, "tok-1"))["_id"]
    await open_chat(client, "tok-2")
    await settled(database_url, 2)
    in_sales, without = (r.json() for r in receiver.requests)
    assert in_sales["_id"] == rid
    assert in_sales["messages"] == []
    assert (in_sales["departmentId"], in_sales["visitor"]["department"]) == (sales_id, sales_id)
    # Rocket.Chat leaves out what has no value: no department, no last message, no tags yet.
    assert not {"departmentId", "lastMessageAt", "tags", "customFields"} & set(without)
    assert "department" not in without["visitor"]


async def test_an_auto_assigned_chat_starts_without_an_agent_and_names_it_when_taken(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await set_routing(client, admin, "Auto_Selection")
    alice = await create_agent(client, admin, "alice")
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnStart=True,
        LivechatWebhookOnChatTaken=True,
    )
    await register_visitor(client, "tok-1")
    await open_room(client, "tok-1")
    start, taken = (r.json() for r in await receiver.arrived(2))
    assert start["type"] == "LivechatSessionStart"
    assert "agent" not in start
    assert "servedBy" not in start
    assert taken["type"] == "LivechatSessionTaken"
    assert taken["agent"]["_id"] == alice["X-User-Id"]
    assert taken["servedBy"]["_id"] == alice["X-User-Id"]


async def test_a_private_target_is_refused_again_at_send_time(database_url: str, receiver: Receiver) -> None:
    """A URL saved while private targets were allowed is still refused when they no longer are."""
    settings = Settings(
        database_url=database_url, admin_username=ADMIN_USERNAME, admin_password=ADMIN_PASSWORD
    )
    application: FastAPI = create_app(settings)
    async with application.router.lifespan_context(application):
        body = {
            "LivechatWebhookUrl": receiver.url,
            "LivechatWebhookOnVisitorMessage": True,
            "LivechatWebhookRetries": 1,
            "LivechatWebhookRetryDelay": 20,
        }
        runtime = application.state.webhooks
        await save_integration_settings(
            application.state.db, body, allow_private_targets=True, on_change=runtime.endpoints_changed
        )
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as client:
            await open_chat(client, "tok-1", "hello")
            [row] = await settled(database_url, 1)
    assert row.status == "dead"
    assert "refused" in row.last_error and "127.0.0.1" in row.last_error
    assert receiver.requests == []


async def test_an_edited_message_is_sent_again_with_edited_at(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True)
    rid = await open_chat(client, "tok-1")
    sent = await visitor_says(client, "tok-1", rid, "helo")
    edit = {"token": "tok-1", "rid": rid, "msg": "hello"}
    response = await client.put(f"/api/v1/livechat/message/{sent['_id']}", json=edit)
    assert response.status_code == 200, response.text
    await settled(database_url, 2)
    first, second = (r.json()["messages"][0] for r in receiver.requests)
    assert first["_id"] == second["_id"] == sent["_id"]
    assert (first["msg"], second["msg"]) == ("helo", "hello")
    assert "editedAt" not in first
    assert second["editedAt"].endswith("Z")


async def test_stopping_the_server_lets_requests_in_flight_finish_and_records_them(
    settings: Settings, receiver: Receiver, database_url: str
) -> None:
    receiver.delay_s = 0.5
    application: FastAPI = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as client:
            admin = await login_headers(client, ADMIN_USERNAME, ADMIN_PASSWORD)
            await configure(
                client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True
            )
            await open_chat(client, "tok-1", "hello")
            await receiver.arrived(1)  # the request is in flight: now stop the server
    [row] = await delivery_rows(database_url)
    assert row.status == "delivered"
    assert row.lease_owner is None


async def test_a_standard_endpoint_gets_signed_envelopes_and_accepts_any_2xx(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver, database_url: str
) -> None:
    secret = "whsec_" + base64.b64encode(b"a secret of twenty-four b").decode()
    now = utcnow()
    db: Database = app.state.db
    async with db.transaction() as uow:
        await uow.conn.execute(
            webhook_endpoints.insert().values(
                id="std1",
                name="native",
                url=receiver.url,
                format="standard",
                secret=secret,
                enabled=True,
                event_types=["Message"],
                timeout_ms=2000,
                max_retries=7,
                retry_delay_ms=5000,
                max_in_flight=4,
                ordered=True,
                created_at=now,
                updated_at=now,
            )
        )
    app.state.webhooks.endpoints_changed()
    receiver.default_status = 202
    await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)
    assert row.status == "delivered" and row.attempts == 1
    [request] = receiver.requests
    Webhook(secret).verify(request.body, request.headers)  # raises unless correctly signed
    assert request.header("webhook-id") == row.id
    body = request.json()
    assert body["type"] == "Message"
    assert body["data"]["messages"][0]["msg"] == "hello"
    assert request.header("X-RocketChat-Livechat-Token") is None


async def test_a_redirect_is_not_followed_but_counts_as_a_failed_attempt(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetryDelay=20,
    )
    receiver.statuses = [302]
    receiver.response_headers = {"Location": receiver.url.replace("/hook", "/elsewhere")}
    await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)
    assert row.status == "delivered" and row.attempts == 2
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"]  # never /elsewhere


async def test_a_huge_answer_is_read_only_up_to_the_cap(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True)
    receiver.response_body = "x" * 1_000_000
    rid = await open_chat(client, "tok-1", "hello")
    [row] = await settled(database_url, 1)
    detail = (await client.get(f"/api/v1/omnihook/deliveries/{row.id}", headers=admin)).json()["delivery"]
    assert len(detail["attemptsLog"][0]["responseBody"]) == 4096
    room = await client.get("/api/v1/rooms.info", params={"roomId": rid}, headers=admin)
    assert room.status_code == 200
    assert len(room.json()["room"]["crmData"]) == 64 * 1024  # crmData keeps the first 64 KiB
