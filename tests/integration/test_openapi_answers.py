"""The OpenAPI document tells the truth: real answers of a running app validate against the schema that
/openapi.json declares for their route and status, and every operation declares its answer, its body
and, for staff routes, Rocket.Chat's login headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, login_headers
from tests.livechat_helpers import (
    AGENT_PASSWORD,
    create_agent,
    create_department,
    open_chat,
    set_routing,
)
from tests.openapi_checker import AnswerChecker
from tests.receiver import Receiver

API = "/api/v1"
# Operations the scenario below does not reach: the streams (text/event-stream, checked by the live
# tests) and the replay jobs (their own tests).
NOT_EXERCISED_AT_MOST = 8
# Bodies described in words only, to be typed with openapi.raw_body (bulk replay: built beside this work).
BODY_DESCRIBED_ONLY = {("post", "/api/v1/omnihook/replays")}


@pytest.fixture
async def document(app: FastAPI) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as http:
        answer = await http.get("/openapi.json")
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


@pytest.fixture
async def checker(document: dict[str, Any]) -> AnswerChecker:
    return AnswerChecker(document)


@pytest.fixture
async def checked(app: FastAPI, checker: AnswerChecker) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app whose every answer is checked against the document."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://omnihook.test", event_hooks={"response": [checker]}
    ) as http:
        yield http


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.request.method, response.request.url.path, response.text)
    return response.json()


async def _staff_and_settings(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    _ok(await http.get("/api/info"))
    _ok(await http.get("/api/info", headers=admin))
    _ok(await http.get(f"{API}/me", headers=admin))
    _ok(await http.get(f"{API}/users.list", headers=admin))
    _ok(await http.get(f"{API}/users.info", params={"username": ADMIN_USERNAME}, headers=admin))
    _ok(await http.get(f"{API}/users.getStatus", headers=admin))
    _ok(await http.post(f"{API}/users.setStatus", json={"status": "away", "message": "lunch"}, headers=admin))
    _ok(await http.get(f"{API}/users.info", params={"username": ADMIN_USERNAME}, headers=admin))
    _ok(await http.get(f"{API}/permissions.listAll", headers=admin))
    roles = ["admin", "livechat-manager"]
    _ok(
        await http.post(
            f"{API}/permissions.update",
            json={"permissions": [{"_id": "view-livechat-webhooks", "roles": roles}]},
            headers=admin,
        )
    )
    _ok(await http.get(f"{API}/settings", params={"count": 200}, headers=admin))
    _ok(await http.get(f"{API}/settings/Livechat_title", headers=admin))
    _ok(await http.get(f"{API}/settings/Livechat_secret_token", headers=admin))
    _ok(await http.post(f"{API}/settings/Livechat_title", json={"value": "Help"}, headers=admin))
    _ok(await http.get(f"{API}/livechat/appearance", headers=admin))
    _ok(
        await http.post(
            f"{API}/livechat/appearance", json=[{"_id": "Livechat_title", "value": "Hi"}], headers=admin
        )
    )
    _ok(await http.get(f"{API}/livechat/integrations.settings", headers=admin))
    _ok(await http.get(f"{API}/omnihook/event-types"))
    _ok(await http.get(f"{API}/omnihook/event-types/Message/schema", params={"format": "standard"}))
    _ok(await http.get("/health"))


async def _users(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {"username": "carol", "email": "carol@example.com", "name": "Carol", "password": "carol-pass-1"}
    carol = _ok(await http.post(f"{API}/users.create", json=body, headers=admin))["user"]
    _ok(
        await http.post(
            f"{API}/users.update",
            json={"userId": carol["_id"], "data": {"name": "Carol C."}},
            headers=admin,
        )
    )
    _ok(await http.post(f"{API}/livechat/users/manager", json={"username": "carol"}, headers=admin))
    _ok(await http.get(f"{API}/livechat/users/manager", headers=admin))
    _ok(await http.get(f"{API}/livechat/users/manager/{carol['_id']}", headers=admin))
    _ok(await http.delete(f"{API}/livechat/users/manager/{carol['_id']}", headers=admin))
    headers = await login_headers(http, "carol", "carol-pass-1")
    _ok(await http.post(f"{API}/users.logoutOtherClients", headers=headers))
    _ok(
        await http.post(
            f"{API}/users.updateOwnBasicInfo",
            json={"data": {"currentPassword": "carol-pass-1", "newPassword": "carol-pass-2"}},
            headers=headers,
        )
    )
    _ok(await http.post(f"{API}/logout", headers=await login_headers(http, "carol", "carol-pass-2")))
    _ok(await http.post(f"{API}/users.delete", json={"username": "carol"}, headers=admin))


async def _chat(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    agent = await create_agent(http, admin, "alice")
    dep = await create_department(http, admin, "Sales", agent)
    _ok(await http.get(f"{API}/livechat/department", headers=admin))
    _ok(await http.get(f"{API}/livechat/department/{dep}", headers=admin))
    _ok(await http.get(f"{API}/livechat/department/{dep}", params={"includeAgents": "false"}, headers=admin))
    _ok(
        await http.put(
            f"{API}/livechat/department/{dep}",
            json={
                "department": {"name": "Sales EU", "description": "Europe"},
                "agents": [{"agentId": agent["X-User-Id"]}],
            },
            headers=admin,
        )
    )
    _ok(await http.get(f"{API}/livechat/department/{dep}/agents", headers=agent))
    _ok(await http.get(f"{API}/livechat/agents/{agent['X-User-Id']}/departments", headers=agent))
    _ok(await http.get(f"{API}/livechat/users/agent", headers=agent))

    _ok(await http.get(f"{API}/livechat/config"))
    rid = await open_chat(http, "tok-1", "hello, my mail is ada@example.com")
    token = "tok-1"
    _ok(await http.get(f"{API}/livechat/config", params={"token": token}))
    _ok(await http.get(f"{API}/livechat/visitor/{token}"))
    _ok(await http.get(f"{API}/livechat/visitor/{token}/room"))
    _ok(await http.get(f"{API}/livechat/agent.info/{rid}/{token}"))
    _ok(await http.get(f"{API}/livechat/agent.next/{token}"))
    _ok(await http.post(f"{API}/livechat/visitor.status", json={"token": token, "status": "away"}))
    _ok(
        await http.post(f"{API}/livechat/custom.field", json={"token": token, "key": "plan", "value": "gold"})
    )
    _ok(
        await http.post(
            f"{API}/livechat/custom.fields",
            json={"token": token, "customFields": [{"key": "plan", "value": "silver"}]},
        )
    )
    page = {"title": "Pricing", "change": "url", "location": {"href": "https://shop.example/pricing"}}
    _ok(await http.post(f"{API}/livechat/page.visited", json={"token": token, "rid": rid, "pageInfo": page}))
    said = _ok(await http.post(f"{API}/livechat/message", json={"token": token, "rid": rid, "msg": "typo"}))
    mid = said["message"]["_id"]
    _ok(await http.get(f"{API}/livechat/message/{mid}", params={"token": token, "rid": rid}))
    _ok(await http.put(f"{API}/livechat/message/{mid}", json={"token": token, "rid": rid, "msg": "fixed"}))
    gone = _ok(await http.post(f"{API}/livechat/message", json={"token": token, "rid": rid, "msg": "oops"}))
    _ok(
        await http.request(
            "DELETE", f"{API}/livechat/message/{gone['message']['_id']}", json={"token": token, "rid": rid}
        )
    )
    _ok(await http.get(f"{API}/livechat/messages.history/{rid}", params={"token": token}))
    _ok(await http.get(f"{API}/livechat/messages.history/{rid}", headers=agent))

    _ok(await http.get(f"{API}/livechat/rooms", headers=agent))
    _ok(await http.get(f"{API}/rooms.info", params={"roomId": rid}, headers=agent))
    mine = _ok(
        await http.post(f"{API}/chat.sendMessage", json={"message": {"rid": rid, "msg": "hi"}}, headers=agent)
    )
    agent_mid = mine["message"]["_id"]
    _ok(
        await http.post(
            f"{API}/chat.update", json={"roomId": rid, "msgId": agent_mid, "text": "hi!"}, headers=agent
        )
    )
    _ok(await http.get(f"{API}/chat.syncMessages", params={"roomId": rid}, headers=agent))
    _ok(await http.post(f"{API}/chat.delete", json={"roomId": rid, "msgId": agent_mid}, headers=agent))
    _ok(await http.get(f"{API}/chat.syncMessages", params={"roomId": rid}, headers=agent))
    visitor_id = _ok(await http.get(f"{API}/rooms.info", params={"roomId": rid}, headers=agent))["room"]["v"][
        "_id"
    ]
    _ok(await http.get(f"{API}/livechat/visitors.info", params={"visitorId": visitor_id}, headers=agent))
    _ok(
        await http.post(
            f"{API}/livechat/room.saveInfo",
            json={
                "guestData": {"_id": visitor_id, "name": "Ada", "livechatData": {"plan": "gold"}},
                "roomData": {"_id": rid, "topic": "pricing", "tags": ["lead"]},
            },
            headers=agent,
        )
    )
    _ok(await http.get(f"{API}/livechat/inquiries.getOne", params={"roomId": rid}, headers=agent))

    bob = await create_agent(http, admin, "bob")
    _ok(
        await http.post(
            f"{API}/livechat/room.forward",
            json={"roomId": rid, "userId": bob["X-User-Id"], "comment": "yours"},
            headers=agent,
        )
    )
    _ok(await http.get(f"{API}/livechat/transfer.history/{rid}", headers=bob))
    _ok(
        await http.post(
            f"{API}/livechat/room.survey",
            json={"token": token, "rid": rid, "data": [{"name": "satisfaction", "value": "5"}]},
        )
    )
    _ok(await http.post(f"{API}/livechat/room.close", json={"token": token, "rid": rid}))
    _ok(await http.get(f"{API}/rooms.info", params={"roomId": rid}, headers=admin))
    _ok(await http.get(f"{API}/livechat/rooms", params={"open": "false"}, headers=admin))

    # The queue: a chat nobody takes on its own.
    await set_routing(http, admin, "Manual_Selection")
    queued = await open_chat(http, "tok-2", "anyone there?")
    _ok(await http.get(f"{API}/livechat/inquiries.queued", headers=agent))
    _ok(await http.get(f"{API}/livechat/inquiries.queuedForUser", headers=agent))
    _ok(await http.get(f"{API}/livechat/inquiries.list", headers=admin))
    inquiry = _ok(
        await http.get(f"{API}/livechat/inquiries.getOne", params={"roomId": queued}, headers=agent)
    )
    _ok(
        await http.post(
            f"{API}/livechat/inquiries.take", json={"inquiryId": inquiry["inquiry"]["_id"]}, headers=agent
        )
    )
    _ok(
        await http.post(
            f"{API}/livechat/room.closeByUser", json={"rid": queued, "comment": "done"}, headers=agent
        )
    )
    _ok(await http.post(f"{API}/livechat/agent.status", json={"status": "not-available"}, headers=agent))

    third = await open_chat(http, "tok-3", "moving on")
    other = await create_department(http, admin, "Support")
    _ok(
        await http.post(
            f"{API}/livechat/room.transfer", json={"token": "tok-3", "rid": third, "department": other}
        )
    )
    _ok(
        await http.post(
            f"{API}/livechat/visitor/department.transfer",
            json={"token": "tok-3", "rid": third, "department": dep},
        )
    )
    _ok(
        await http.post(
            f"{API}/livechat/offline.message",
            json={"name": "Ada", "email": "ada@example.com", "message": "call me"},
        )
    )
    _ok(await http.post(f"{API}/livechat/room.close", json={"token": "tok-3", "rid": third}))
    _ok(await http.delete(f"{API}/livechat/visitor/tok-3"))
    _ok(await http.delete(f"{API}/livechat/department/{other}", headers=admin))
    agent_user = _ok(await http.get(f"{API}/me", headers=bob))
    assert agent_user["username"] == "bob"
    _ok(await http.get(f"{API}/livechat/users/agent/{agent_user['_id']}", headers=admin))
    _ok(await http.delete(f"{API}/livechat/users/agent/{agent_user['_id']}", headers=admin))
    assert AGENT_PASSWORD  # the helpers' agents log in with it


async def _webhooks(http: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver) -> None:
    _ok(
        await http.post(
            f"{API}/omnichannel/integrations",
            json={"LivechatWebhookUrl": receiver.url, "LivechatSecretToken": "s3cret-token"},
            headers=admin,
        )
    )
    _ok(await http.get(f"{API}/livechat/integrations.settings", headers=admin))
    _ok(await http.post(f"{API}/livechat/webhook.test", headers=admin))
    body = {"name": "CRM", "url": receiver.url, "eventTypes": ["Message", "LivechatSession"]}
    created = _ok(await http.post(f"{API}/omnihook/endpoints", json=body, headers=admin))["endpoint"]
    rc = {
        "name": "RC",
        "url": receiver.url,
        "format": "rocketchat",
        "eventTypes": ["Message"],
        "maxRetries": 2,
    }
    _ok(await http.post(f"{API}/omnihook/endpoints", json=rc, headers=admin))
    _ok(await http.get(f"{API}/omnihook/endpoints", headers=admin))
    _ok(await http.get(f"{API}/omnihook/endpoints/{created['_id']}", headers=admin))
    _ok(
        await http.patch(
            f"{API}/omnihook/endpoints/{created['_id']}", json={"retrySchedule": [1, 2]}, headers=admin
        )
    )
    _ok(await http.post(f"{API}/omnihook/endpoints/{created['_id']}/rotate-secret", headers=admin))
    sent = _ok(
        await http.post(
            f"{API}/omnihook/endpoints/{created['_id']}/send-example",
            json={"eventType": "Message.agent"},
            headers=admin,
        )
    )
    _ok(await http.get(f"{API}/omnihook/endpoints/stats", headers=admin))
    _ok(await http.get(f"{API}/omnihook/deliveries", headers=admin))
    example = f"{API}/omnihook/deliveries/{sent['delivery']['_id']}"
    for _ in range(100):  # the dispatcher sends it to the receiver
        if _ok(await http.get(example, headers=admin))["delivery"]["status"] == "delivered":
            break
        await asyncio.sleep(0.1)
    _ok(await http.post(f"{example}/redeliver", headers=admin))
    _ok(await http.get(f"{API}/omnihook/deliveries", params={"type": "Message", "count": 5}, headers=admin))
    _ok(
        await http.patch(f"{API}/omnihook/endpoints/{created['_id']}", json={"enabled": False}, headers=admin)
    )
    _ok(await http.get(f"{API}/omnihook/endpoints/{created['_id']}", headers=admin))
    _ok(await http.delete(f"{API}/omnihook/endpoints/{created['_id']}", headers=admin))


async def _refusals(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    agent = await create_agent(http, admin, "dave")
    expected = [
        (await http.get(f"{API}/me"), 401),
        (await http.get(f"{API}/me", headers={"X-User-Id": "nobody", "X-Auth-Token": "wrong"}), 401),
        (await http.post(f"{API}/login", json={"user": "admin", "password": "wrong-password"}), 401),
        (await http.get(f"{API}/omnihook/endpoints", headers=agent), 403),
        (await http.get(f"{API}/livechat/inquiries.list", headers=agent), 403),
        (await http.get(f"{API}/rooms.info", params={"roomId": "nope"}, headers=admin), 404),
        (await http.get(f"{API}/omnihook/endpoints/nope", headers=admin), 404),
        (await http.get(f"{API}/omnihook/event-types/Nope/schema"), 404),
        (await http.post(f"{API}/livechat/message", json={"token": "t"}), 400),
        (await http.post(f"{API}/omnihook/endpoints", json={"name": "x"}, headers=admin), 400),
        (await http.get(f"{API}/omnihook/deliveries", params={"colour": "red"}, headers=admin), 400),
        (await http.post(f"{API}/livechat/transcript"), 400),
        (await http.post(f"{API}/livechat/upload/some-room"), 400),
        (
            await http.post(
                f"{API}/users.register",
                json={"username": "eve", "email": "e@example.com", "name": "Eve", "pass": "x-pass-1"},
            ),
            400,
        ),
        (
            await http.post(
                f"{API}/livechat/visitor",
                content=b"x" * (2 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            ),
            413,
        ),
    ]
    for response, status in expected:
        assert response.status_code == status, (
            response.request.url.path,
            response.status_code,
            response.text,
        )


async def test_real_answers_match_the_schemas_that_openapi_declares(
    checked: httpx.AsyncClient, checker: AnswerChecker, document: dict[str, Any], receiver: Receiver
) -> None:
    admin = await login_headers(checked, ADMIN_USERNAME, ADMIN_PASSWORD)
    await _staff_and_settings(checked, admin)
    await _users(checked, admin)
    await _chat(checked, admin)
    await _webhooks(checked, admin, receiver)
    await _refusals(checked, admin)
    assert checker.failures == []
    operations = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    successes = {op for op in checker.checked}
    missing = sorted(operations - successes)
    assert len(missing) <= NOT_EXERCISED_AT_MOST, missing


async def test_every_operation_declares_its_answer_and_its_body(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            success = operation["responses"].get("200") or operation["responses"].get("201")
            assert success is not None, where
            schemas = [m.get("schema") for m in success.get("content", {}).values()]
            assert schemas and all(schemas), f"{where}: no schema for its answer"
            assert all(s.get("$ref") or s.get("type") for s in schemas if s), f"{where}: {schemas}"
            if method in ("post", "put", "patch") and "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                typed = body.get("$ref") or body.get("type") or body.get("anyOf")
                assert typed or (method, path) in BODY_DESCRIBED_ONLY, f"{where}: untyped body"
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    # Rocket.Chat's envelope, documented once in components (or a route's own model of it).
                    shared = response.get("$ref", "").startswith("#/components/responses/")
                    assert shared or response["content"]["application/json"]["schema"], (where, status)


async def test_the_routes_that_read_raw_json_document_their_bodies(document: dict[str, Any]) -> None:
    bodies = {
        ("post", "/api/v1/omnihook/endpoints"): "EndpointCreate",
        ("patch", "/api/v1/omnihook/endpoints/{endpoint_id}"): "EndpointChange",
        ("post", "/api/v1/omnihook/endpoints/{endpoint_id}/send-example"): "ExampleRequest",
        ("post", "/api/v1/omnichannel/integrations"): "IntegrationSettingsChange",
        ("post", "/api/v1/settings/{setting_id}"): "SettingValue",
        ("post", "/api/v1/livechat/appearance"): "AppearanceChanges",
    }
    schemas = document["components"]["schemas"]
    for (method, path), name in bodies.items():
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{name}"}, (path, body)
        assert name in schemas
    assert schemas["EndpointCreate"]["required"] == ["name", "url", "eventTypes"]
    assert "LivechatWebhookUrl" in schemas["IntegrationSettingsChange"]["properties"]


async def test_staff_routes_require_both_login_headers_and_visitor_routes_none(
    document: dict[str, Any],
) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["RocketChatUserId"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-User-Id",
        "description": schemes["RocketChatUserId"]["description"],
    }
    assert (schemes["RocketChatAuthToken"]["in"], schemes["RocketChatAuthToken"]["name"]) == (
        "header",
        "X-Auth-Token",
    )
    login: dict[str, list[str]] = {"RocketChatUserId": [], "RocketChatAuthToken": []}
    paths = document["paths"]
    for path, method in [
        ("/api/v1/omnihook/endpoints", "get"),
        ("/api/v1/omnihook/deliveries", "get"),
        ("/api/v1/livechat/rooms", "get"),
        ("/api/v1/me", "get"),
        ("/api/v1/permissions.update", "post"),
    ]:
        assert paths[path][method]["security"] == [login], path
        assert "401" in paths[path][method]["responses"], path
    endpoints = paths["/api/v1/omnihook/endpoints"]["get"]
    assert "view-livechat-webhooks" in endpoints["description"]
    assert "403" in endpoints["responses"]
    # Optional: the visitor's token or staff's login.
    assert paths["/api/v1/livechat/messages.history/{rid}"]["get"]["security"] == [{}, login]
    for path, method in [("/api/v1/livechat/message", "post"), ("/api/v1/livechat/room", "get")]:
        assert "security" not in paths[path][method], path
    token = next(p for p in paths["/api/v1/livechat/room"]["get"]["parameters"] if p["name"] == "token")
    assert "authorizes" in token["description"]
    in_body = document["components"]["schemas"]["MessageBody"]["properties"]["token"]
    assert "authorizes" in in_body["description"]
    assert "X-Auth-Token" in document["info"]["description"]
    # No operation lists the login headers as plain parameters beside the security scheme.
    for path, operations in paths.items():
        for method, operation in operations.items():
            if operation.get("security") == [login]:
                names = {p["name"].lower() for p in operation.get("parameters", [])}
                assert not names & {"x-user-id", "x-auth-token"}, (method, path)
