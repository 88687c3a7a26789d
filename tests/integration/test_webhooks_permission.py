"""The webhook API (endpoints, their stats and examples, deliveries, the CRM integration's save and test)
is guarded by Rocket.Chat's view-livechat-webhooks permission: admins and managers by default, any role
an admin gives it with permissions.update."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import login_headers
from tests.livechat_helpers import create_agent

API = "/api/v1"
REFUSED = "User does not have the permissions required for this action [error-unauthorized]"

# (method, path, body): each reads or changes nothing an agent may see (the ids need not exist: the
# permission is checked first).
GUARDED = [
    ("GET", "omnihook/endpoints", None),
    (
        "POST",
        "omnihook/endpoints",
        {"name": "x", "url": "https://crm.example/hook", "eventTypes": ["Message"]},
    ),
    ("GET", "omnihook/endpoints/stats", None),
    ("GET", "omnihook/endpoints/ep_missing", None),
    ("PATCH", "omnihook/endpoints/ep_missing", {"name": "y"}),
    ("DELETE", "omnihook/endpoints/ep_missing", None),
    ("POST", "omnihook/endpoints/ep_missing/rotate-secret", {}),
    ("POST", "omnihook/endpoints/ep_missing/send-example", {"eventType": "Message"}),
    ("GET", "omnihook/deliveries", None),
    ("GET", "omnihook/deliveries/dlv_missing", None),
    ("POST", "omnihook/deliveries/dlv_missing/redeliver", None),
    ("POST", "omnichannel/integrations", {"LivechatWebhookUrl": "https://crm.example/hook"}),
    ("POST", "livechat/webhook.test", None),
]


async def _call(
    client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str, body: object
) -> httpx.Response:
    return await client.request(
        method, f"{API}/{path}", headers=headers, json=body if body is not None else None
    )


async def _give(client: httpx.AsyncClient, admin: dict[str, str], roles: list[str]) -> None:
    body = {"permissions": [{"_id": "view-livechat-webhooks", "roles": roles}]}
    changed = await client.post(f"{API}/permissions.update", json=body, headers=admin)
    assert changed.status_code == 200, changed.text


async def test_view_livechat_webhooks_belongs_to_admins_and_managers_by_default(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    listed = (await client.get(f"{API}/permissions.listAll", headers=admin)).json()
    roles = {p["_id"]: p["roles"] for p in listed["update"]}
    assert roles["view-livechat-webhooks"] == ["admin", "livechat-manager"]


@pytest.mark.parametrize(("method", "path", "body"), GUARDED, ids=[f"{m} {p}" for m, p, _ in GUARDED])
async def test_an_agent_is_refused_every_webhook_route(
    client: httpx.AsyncClient, admin: dict[str, str], method: str, path: str, body: object
) -> None:
    agent = await create_agent(client, admin, "alice")
    refused = await _call(client, agent, method, path, body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == REFUSED
    assert "view-livechat-webhooks" in refused.json()["details"]


async def test_a_manager_uses_the_webhook_api(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    body = {
        "username": "manager1",
        "email": "manager1@example.com",
        "name": "Manager",
        "password": "manager-password",
        "roles": ["livechat-manager"],
    }
    assert (await client.post(f"{API}/users.create", json=body, headers=admin)).status_code == 200
    manager = await login_headers(client, "manager1", "manager-password")
    for path in ("omnihook/endpoints", "omnihook/endpoints/stats", "omnihook/deliveries"):
        answer = await client.get(f"{API}/{path}", headers=manager)
        assert answer.status_code == 200, (path, answer.text)


async def test_a_role_given_view_livechat_webhooks_is_let_in_and_shut_out_when_it_is_taken_back(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    assert (await client.get(f"{API}/omnihook/endpoints", headers=agent)).status_code == 403
    await _give(client, admin, ["admin", "livechat-manager", "livechat-agent"])
    for path in ("omnihook/endpoints", "omnihook/endpoints/stats", "omnihook/deliveries"):
        answer = await client.get(f"{API}/{path}", headers=agent)
        assert answer.status_code == 200, (path, answer.text)
    created = await client.post(
        f"{API}/omnihook/endpoints",
        json={"name": "agent's", "url": "https://crm.example/hook", "eventTypes": ["Message"]},
        headers=agent,
    )
    assert created.status_code == 200, created.text
    # The permission, not the manager role, opened the door: other manager routes stay closed.
    assert (await client.get(f"{API}/livechat/inquiries.list", headers=agent)).status_code == 403
    await _give(client, admin, ["admin", "livechat-manager"])
    assert (await client.get(f"{API}/omnihook/endpoints", headers=agent)).status_code == 403


async def test_taking_it_from_managers_closes_the_webhook_api_to_them_but_not_to_admins(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {
        "username": "manager1",
        "email": "manager1@example.com",
        "name": "Manager",
        "password": "manager-password",
        "roles": ["livechat-manager"],
    }
    assert (await client.post(f"{API}/users.create", json=body, headers=admin)).status_code == 200
    manager = await login_headers(client, "manager1", "manager-password")
    await _give(client, admin, ["admin"])
    assert (await client.get(f"{API}/omnihook/deliveries", headers=manager)).status_code == 403
    assert (await client.get(f"{API}/omnihook/deliveries", headers=admin)).status_code == 200
    # view-livechat-manager is untouched: the manager still reads the queue.
    assert (await client.get(f"{API}/livechat/inquiries.list", headers=manager)).status_code == 200
