"""The native webhook endpoints API: many URLs, each signed with its own Standard Webhooks secret."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from omnihook.app import create_app
from omnihook.config import Settings
from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import webhook_endpoints
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
from tests.receiver import Receiver, running_receiver
from tests.webhook_helpers import configure, delivery_rows, settled

ENDPOINTS = "/api/v1/omnihook/endpoints"


async def create(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "CRM", "url": "https://crm.example.com/hook", "eventTypes": ["Message"], **fields}
    response = await client.post(ENDPOINTS, json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    endpoint: dict[str, Any] = response.json()["endpoint"]
    return endpoint


async def refused(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any = None
) -> dict[str, Any]:
    """The 400 envelope of a refused request (`body` as bytes: raw JSON text, such as 1e999 or NaN)."""
    if isinstance(body, bytes):
        raw = {**headers, "Content-Type": "application/json"}
        response = await client.request(method, url, content=body, headers=raw)
    else:
        response = await client.request(method, url, json=body, headers=headers)
    assert response.status_code == 400, response.text
    envelope: dict[str, Any] = response.json()
    assert envelope["success"] is False
    return envelope


async def listed(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(ENDPOINTS, headers=headers)
    assert response.status_code == 200, response.text
    endpoints: list[dict[str, Any]] = response.json()["endpoints"]
    return endpoints


async def test_an_endpoint_is_created_with_defaults_and_a_generated_secret_shown_once(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    assert created["format"] == "standard"
    assert created["timeoutMs"] == 15000 and created["maxInFlight"] == 16
    assert created["ordered"] is True and created["enabled"] is True
    assert created["eventTypes"] == ["Message"]
    # the standard schedule, and none of the Rocket.Chat format's retry fields
    assert created["retrySchedule"] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert "maxRetries" not in created and "retryDelayMs" not in created
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24

    fetched = (await client.get(f"{ENDPOINTS}/{created['_id']}", headers=admin)).json()["endpoint"]
    assert fetched["secret"] == "whsec_********" + secret[-4:]  # the last four characters at most
    assert {**fetched, "secret": secret} == created
    [entry] = await listed(client, admin)
    assert entry == fetched


async def test_the_list_masks_every_secret_the_crm_token_too(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = [(await create(client, admin, name=f"e{n}"))["secret"] for n in range(3)]
    token = "crm-token-0123456789"
    body = {"LivechatWebhookUrl": "https://crm.example.com/crm", "LivechatSecretToken": token}
    assert (
        await client.post("/api/v1/omnichannel/integrations", json=body, headers=admin)
    ).status_code == 200
    response = await client.get(ENDPOINTS, headers=admin)
    for secret in [*created, token]:
        body_start = secret.removeprefix("whsec_")[:4]
        assert secret not in response.text and f"whsec_{body_start}" not in response.text
    shown = {entry["secret"] for entry in await listed(client, admin)}
    assert shown == {"whsec_********" + secret[-4:] for secret in created} | {"********6789"}
    for entry in await listed(client, admin):
        fetched = (await client.get(f"{ENDPOINTS}/{entry['_id']}", headers=admin)).json()["endpoint"]
        assert fetched["secret"] == entry["secret"]


async def test_each_format_takes_and_shows_only_its_own_retry_fields(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    standard = await create(client, admin, retrySchedule=[10, 60, 600])
    assert standard["retrySchedule"] == [10, 60, 600]
    rocketchat = await create(client, admin, format="rocketchat", maxRetries=2, retryDelayMs=500)
    assert (rocketchat["maxRetries"], rocketchat["retryDelayMs"]) == (2, 500)
    assert "retrySchedule" not in rocketchat
    for body, url, named in [
        ({"maxRetries": 3}, f"{ENDPOINTS}/{standard['_id']}", "maxRetries"),
        ({"retrySchedule": [1]}, f"{ENDPOINTS}/{rocketchat['_id']}", "retrySchedule"),
        ({"retrySchedule": []}, f"{ENDPOINTS}/{standard['_id']}", "retrySchedule"),
        ({"retrySchedule": [0]}, f"{ENDPOINTS}/{standard['_id']}", "retrySchedule[0]"),
        (b'{"retrySchedule": [1, 1e999]}', f"{ENDPOINTS}/{standard['_id']}", "retrySchedule[1]"),
        ({"retrySchedule": [1] * 21}, f"{ENDPOINTS}/{standard['_id']}", "retrySchedule"),
        ({"retrySchedule": "5,10"}, f"{ENDPOINTS}/{standard['_id']}", "retrySchedule"),
    ]:
        assert named in (await refused(client, "PATCH", url, admin, body))["error"]
    changed = await client.patch(
        f"{ENDPOINTS}/{standard['_id']}", json={"retrySchedule": [1, 2]}, headers=admin
    )
    assert changed.json()["endpoint"]["retrySchedule"] == [1, 2]


async def test_a_given_secret_is_kept_and_other_endpoints_get_their_own(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    given = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    first = await create(client, admin, secret=given, name="first")
    second = await create(client, admin, name="second")
    assert first["secret"] == given
    assert second["secret"] not in (given, first["secret"])
    assert [e["name"] for e in await listed(client, admin)] == ["first", "second"]


async def test_patch_changes_only_the_fields_sent(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    created = await create(client, admin, timeoutMs=2000)
    response = await client.patch(
        f"{ENDPOINTS}/{created['_id']}",
        json={"enabled": False, "eventTypes": ["LivechatSession", "Message.agent"], "maxInFlight": 1},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    changed = response.json()["endpoint"]
    assert changed["enabled"] is False and changed["maxInFlight"] == 1
    assert changed["eventTypes"] == ["LivechatSession", "Message.agent"]
    assert changed["timeoutMs"] == 2000 and changed["name"] == "CRM" and changed["ordered"] is True


async def test_a_deleted_endpoint_is_gone_from_the_api(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    deleted = await client.delete(f"{ENDPOINTS}/{created['_id']}", headers=admin)
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    assert await listed(client, admin) == []
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(method, f"{ENDPOINTS}/{created['_id']}", json={}, headers=admin)
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"] == "error-endpoint-not-found"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"name": "", "url": "https://a.example.com", "eventTypes": ["Message"]}, "name"),
        ({"name": "x" * 201, "url": "https://a.example.com", "eventTypes": ["Message"]}, "name"),
        ({"url": "https://a.example.com", "eventTypes": ["Message"]}, "name"),
        ({"name": "a", "url": "ftp://a.example.com", "eventTypes": ["Message"]}, "url"),
        ({"name": "a", "url": "not a url", "eventTypes": ["Message"]}, "url"),
        ({"name": "a", "url": 12, "eventTypes": ["Message"]}, "url"),
        ({"name": "a", "url": "https://a.example.com", "eventTypes": []}, "eventTypes"),
        ({"name": "a", "url": "https://a.example.com", "eventTypes": "Message"}, "eventTypes"),
        ({"name": "a", "url": "https://a.example.com", "eventTypes": ["Message", "Nope"]}, "Nope"),
        ({"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "format": "xml"}, "format"),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "timeoutMs": 99},
            "timeoutMs",
        ),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "timeoutMs": 60001},
            "timeoutMs",
        ),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "maxInFlight": 0},
            "maxInFlight",
        ),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "maxInFlight": 257},
            "maxInFlight",
        ),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "maxInFlight": 1.5},
            "maxInFlight",
        ),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "ordered": "yes"},
            "ordered",
        ),
        ({"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "enabled": 1}, "enabled"),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "secret": "hunter2"},
            "secret",
        ),
        (
            {
                "name": "a",
                "url": "https://a.example.com",
                "eventTypes": ["Message"],
                "secret": "whsec_c2hvcnQ=",
            },
            "secret",
        ),
        (
            {"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "secret": "whsec_!!!"},
            "secret",
        ),
        ({"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "colour": "red"}, "colour"),
        (
            b'{"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "timeoutMs": 1e999}',
            "timeoutMs",
        ),
        (
            b'{"name": "a", "url": "https://a.example.com", "eventTypes": ["Message"], "maxInFlight": NaN}',
            "maxInFlight",
        ),
        (
            {"name": "a", "url": "https://" + "a" * 64 + ".example.com", "eventTypes": ["Message"]},
            "host name",
        ),
        ({"name": "a", "url": "https://a.example.com:99999/", "eventTypes": ["Message"]}, "url"),
        (["not", "an", "object"], "object"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], body: Any, named: str
) -> None:
    envelope = await refused(client, "POST", ENDPOINTS, admin, body)
    assert envelope["errorType"] == "invalid-params"
    assert named in envelope["error"]
    assert await listed(client, admin) == []


async def test_a_bad_patch_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    created = await create(client, admin)
    url = f"{ENDPOINTS}/{created['_id']}"
    for body, named in [
        ({"name": "renamed", "timeoutMs": 10}, "timeoutMs"),
        ({"eventTypes": ["LivechatSession", "Bogus"]}, "Bogus"),
        ({"secret": "whsec_" + base64.b64encode(bytes(24)).decode()}, "rotate-secret"),
        ({"name": None}, "name"),
        ("text", "object"),
    ]:
        assert named in (await refused(client, "PATCH", url, admin, body))["error"]
    fetched = (await client.get(url, headers=admin)).json()["endpoint"]
    assert {**fetched, "secret": created["secret"]} == created


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'{"LivechatHttpTimeout": 1e999}', "LivechatHttpTimeout"),
        (b'{"LivechatWebhookRetries": NaN}', "LivechatWebhookRetries"),
        ({"LivechatWebhookUrl": "https://" + "a" * 64 + ".example.com"}, "host name"),
    ],
)
async def test_the_integration_settings_refuse_the_same_unusable_numbers_and_host_names(
    client: httpx.AsyncClient, admin: dict[str, str], body: Any, named: str
) -> None:
    envelope = await refused(client, "POST", "/api/v1/omnichannel/integrations", admin, body)
    assert named in envelope["error"]


@pytest.fixture
async def guarded_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An app with the private-target guard on (the default)."""
    settings = Settings(
        database_url=database_url, admin_username=ADMIN_USERNAME, admin_password=ADMIN_PASSWORD
    )
    application: FastAPI = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as http:
            yield http


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://10.0.0.7/hook", "http://[::1]/hook"])
async def test_private_targets_are_refused_while_the_guard_is_on(
    guarded_client: httpx.AsyncClient, url: str
) -> None:
    headers = await login_headers(guarded_client, ADMIN_USERNAME, ADMIN_PASSWORD)
    body = {"name": "internal", "url": url, "eventTypes": ["Message"]}
    envelope = await refused(guarded_client, "POST", ENDPOINTS, headers, body)
    assert "url refused" in envelope["error"] and "OMNIHOOK_ALLOW_PRIVATE_TARGETS" in envelope["error"]
    assert await listed(guarded_client, headers) == []

    public = await create(guarded_client, headers, url="https://93.184.216.34/hook")
    patched = await refused(guarded_client, "PATCH", f"{ENDPOINTS}/{public['_id']}", headers, {"url": url})
    assert "url refused" in patched["error"]
    [entry] = await listed(guarded_client, headers)
    assert entry["url"] == "https://93.184.216.34/hook"


async def test_agents_may_not_use_the_endpoints_api_and_managers_may(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "agent1")
    created = await create(client, admin)
    one = f"{ENDPOINTS}/{created['_id']}"
    for method, url in [
        ("GET", ENDPOINTS),
        ("POST", ENDPOINTS),
        ("GET", one),
        ("PATCH", one),
        ("DELETE", one),
        ("POST", f"{one}/rotate-secret"),
    ]:
        response = await client.request(method, url, json={}, headers=agent)
        assert response.status_code == 403, (method, url, response.text)
        assert (await client.request(method, url, json={})).status_code == 401
    user = {
        "username": "manager1",
        "email": "m1@example.com",
        "name": "Manager",
        "password": "manager-password",
        "roles": ["livechat-manager"],
    }
    assert (await client.post("/api/v1/users.create", json=user, headers=admin)).status_code == 200
    manager = await login_headers(client, "manager1", "manager-password")
    await create(client, manager, name="by the manager")
    assert len(await listed(client, manager)) == 2


async def test_unknown_ids_are_404(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for method, url in [
        ("GET", f"{ENDPOINTS}/nope"),
        ("PATCH", f"{ENDPOINTS}/nope"),
        ("DELETE", f"{ENDPOINTS}/nope"),
        ("POST", f"{ENDPOINTS}/nope/rotate-secret"),
    ]:
        response = await client.request(method, url, json={}, headers=admin)
        assert response.status_code == 404, (method, response.text)
        assert response.json() == {
            "success": False,
            "error": "error-endpoint-not-found",
            "errorType": "not-found",
            "details": "no webhook endpoint 'nope'",
        }


async def test_the_rocketchat_endpoint_is_listed_but_only_the_integration_settings_change_it(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatSecretToken="crm-token")
    [managed] = await listed(client, admin)
    assert managed["_id"] == "rocketchat" and managed["format"] == "rocketchat"
    assert managed["managedByIntegrationSettings"] is True
    assert "crm-token" not in str(managed)
    url = f"{ENDPOINTS}/rocketchat"
    for method, path, body in [
        ("DELETE", url, None),
        ("PATCH", url, {"enabled": False}),
        ("POST", f"{url}/rotate-secret", None),
    ]:
        envelope = await refused(client, method, path, admin, body)
        assert envelope["error"] == "error-endpoint-managed"
        assert "omnichannel/integrations" in envelope["details"]
    assert await listed(client, admin) == [managed]


async def chat_with_an_agent(client: httpx.AsyncClient, admin: dict[str, str], token: str) -> None:
    """A visitor's chat, taken by an agent, a message each way, closed by the agent."""
    await set_routing(client, admin, "Manual_Selection")
    agent = await create_agent(client, admin, f"agent-{token}")
    await register_visitor(client, token)
    rid = (await open_room(client, token))["_id"]
    await visitor_says(client, token, rid, "Hi")
    await take_from_queue(client, agent, rid)
    await agent_says(client, agent, rid, "Hello, how can I help?")
    closed = await client.post("/api/v1/livechat/room.close", json={"rid": rid, "token": token})
    assert closed.status_code == 200, closed.text


async def test_a_standard_endpoint_gets_only_its_event_types_each_request_signed_with_its_secret(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    created = await create(
        client,
        admin,
        url=receiver.url,
        eventTypes=["LivechatSessionStart", "Message.visitor", "LivechatSession"],
    )
    await chat_with_an_agent(client, admin, "tok-1")

    rows = await settled(database_url, 3)
    assert len(rows) == 3 and {r.status for r in rows} == {"delivered"}
    arrived = await receiver.arrived(3)
    assert [r.json()["type"] for r in arrived] == ["LivechatSessionStart", "Message", "LivechatSession"]
    assert [m["msg"] for m in arrived[1].json()["data"]["messages"]] == ["Hi"]
    for request in arrived:
        Webhook(created["secret"]).verify(request.body, request.headers)  # raises unless signed with it
        assert len(request.header("webhook-signature").split()) == 1  # type: ignore[union-attr]
    other = "whsec_" + base64.b64encode(bytes(24)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(arrived[0].body, arrived[0].headers)


async def test_after_rotation_requests_verify_with_the_new_secret_and_with_the_old_one_for_a_day(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    created = await create(client, admin, url=receiver.url, eventTypes=["Message"])
    old = created["secret"]
    rotation = await client.post(f"{ENDPOINTS}/{created['_id']}/rotate-secret", headers=admin)
    assert rotation.status_code == 200, rotation.text
    rotated = rotation.json()["endpoint"]
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old
    assert rotated["previousSecretExpiresAt"] is not None
    fetched = (await client.get(f"{ENDPOINTS}/{created['_id']}", headers=admin)).json()["endpoint"]
    assert new not in str(fetched) and old not in str(fetched)

    rid = await open_chat(client, "tok-1", "during the rotation")
    [first] = await receiver.arrived(1)
    assert len(first.header("webhook-signature").split()) == 2  # type: ignore[union-attr]
    Webhook(new).verify(first.body, first.headers)
    Webhook(old).verify(first.body, first.headers)

    await settled(database_url, 1)
    # A day later the old secret no longer signs.
    db: Database = app.state.db
    async with db.transaction() as uow:
        await uow.conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == created["_id"])
            .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
    app.state.webhooks.endpoints_changed()
    await visitor_says(client, "tok-1", rid, "after the rotation")
    second = (await receiver.arrived(2))[1]
    Webhook(new).verify(second.body, second.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(second.body, second.headers)
    await settled(database_url, 2)


async def test_a_given_secret_can_be_rotated_in(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    created = await create(client, admin)
    given = "whsec_" + base64.b64encode(b"0123456789abcdefghijklmnopqrstuv").decode()
    url = f"{ENDPOINTS}/{created['_id']}/rotate-secret"
    assert "secret" in (await refused(client, "POST", url, admin, {"secret": "whsec_short"}))["error"]
    response = await client.post(url, json={"secret": given}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["endpoint"]["secret"] == given


async def test_two_endpoints_get_the_same_event_and_one_failing_does_not_stop_the_other(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    with running_receiver() as failing:
        failing.default_status = 500
        broken = await create(client, admin, name="broken", url=failing.url)
        healthy = await create(client, admin, name="healthy", url=receiver.url)
        rid = await open_chat(client, "tok-1")
        message = await visitor_says(client, "tok-1", rid, "to both")

        [good] = await receiver.arrived(1)
        [bad] = await failing.arrived(1)
        for request, endpoint in [(good, healthy), (bad, broken)]:
            Webhook(endpoint["secret"]).verify(request.body, request.headers)
            assert request.json()["data"]["messages"][0]["_id"] == message["_id"]
        assert good.header("webhook-id") != bad.header("webhook-id")
        rows = await recorded(database_url, lambda rs: len(rs) == 2 and all(r.attempts >= 1 for r in rs))
        by_endpoint = {r.endpoint_id: r for r in rows}
        assert by_endpoint[healthy["_id"]].status == "delivered"
        assert by_endpoint[broken["_id"]].status == "pending"  # retried later, on its own schedule
        assert by_endpoint[broken["_id"]].last_status_code == 500


async def recorded(database_url: str, done: Any, within: float = 30.0) -> list[Any]:
    """The deliveries once `done(rows)` holds (fails after `within` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        rows = await delivery_rows(database_url)
        if done(rows):
            return rows
        if loop.time() > deadline:
            raise AssertionError(f"deliveries never got there: {[(r.status, r.attempts) for r in rows]}")
        await asyncio.sleep(0.05)


async def test_deleting_an_endpoint_stops_its_deliveries_and_keeps_its_log(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    receiver.default_status = 503
    created = await create(client, admin, url=receiver.url)
    rid = await open_chat(client, "tok-1", "before")
    await receiver.arrived(1)
    await recorded(database_url, lambda rs: len(rs) == 1 and rs[0].attempts == 1)

    assert (await client.delete(f"{ENDPOINTS}/{created['_id']}", headers=admin)).status_code == 200
    [row] = await delivery_rows(database_url)
    assert row.status == "dead" and row.last_error == "the endpoint was deleted"
    log = await client.get("/api/v1/omnihook/deliveries", headers=admin)
    assert [d["endpointName"] for d in log.json()["deliveries"]] == ["CRM"]

    await visitor_says(client, "tok-1", rid, "after")
    assert len(await delivery_rows(database_url)) == 1  # nothing enqueued for a deleted endpoint
    again = await refused(client, "POST", f"/api/v1/omnihook/deliveries/{row.id}/redeliver", admin)
    assert again["error"] == "error-endpoint-deleted"
    [row] = await delivery_rows(database_url)
    assert row.status == "dead"
