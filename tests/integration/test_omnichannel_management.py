"""Omnichannel management: agents, managers, availability, departments and the routing setting."""

from __future__ import annotations

import httpx

from tests.conftest import login_headers
from tests.livechat_helpers import AGENT_PASSWORD, create_agent


async def _plain_user(client: httpx.AsyncClient, admin: dict[str, str], username: str) -> dict[str, str]:
    body = {
        "username": username,
        "email": f"{username}@example.com",
        "name": username,
        "password": AGENT_PASSWORD,
    }
    assert (await client.post("/api/v1/users.create", json=body, headers=admin)).status_code == 200
    return await login_headers(client, username, AGENT_PASSWORD)


async def test_managers_make_users_agents_list_them_with_their_status_and_remove_them(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice", available=True)
    await create_agent(client, admin, "bob", available=False)
    listed = await client.get("/api/v1/livechat/users/agent", headers=admin)
    assert listed.status_code == 200
    statuses = {u["username"]: u["statusLivechat"] for u in listed.json()["users"]}
    assert statuses["alice"] == "available"
    assert statuses["bob"] == "not-available"

    removed = await client.delete(f"/api/v1/livechat/users/agent/{alice['X-User-Id']}", headers=admin)
    assert removed.status_code == 200
    listed = await client.get("/api/v1/livechat/users/agent", headers=admin)
    assert "alice" not in {u["username"] for u in listed.json()["users"]}
    # An ex-agent may no longer use the agent API.
    assert (await client.get("/api/v1/livechat/inquiries.queued", headers=alice)).status_code == 403


async def test_managers_are_added_and_listed_separately(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    carol = await _plain_user(client, admin, "carol")
    added = await client.post("/api/v1/livechat/users/manager", json={"username": "carol"}, headers=admin)
    assert added.status_code == 200
    assert "livechat-manager" in added.json()["user"]["roles"]
    managers = await client.get("/api/v1/livechat/users/manager", headers=admin)
    assert "carol" in {u["username"] for u in managers.json()["users"]}
    # A manager may now manage agents.
    await _plain_user(client, admin, "dave")
    made = await client.post("/api/v1/livechat/users/agent", json={"username": "dave"}, headers=carol)
    assert made.status_code == 200


async def test_agent_management_refuses_unknown_users_bad_bodies_and_non_managers(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    unknown = await client.post("/api/v1/livechat/users/agent", json={"username": "nobody"}, headers=admin)
    assert unknown.status_code == 404
    assert unknown.json()["success"] is False
    bad = await client.post("/api/v1/livechat/users/agent", json={}, headers=admin)
    assert bad.status_code == 400
    assert "username" in bad.json()["error"]
    wrong_kind = await client.post(
        "/api/v1/livechat/users/emperor", json={"username": "admin"}, headers=admin
    )
    assert wrong_kind.status_code == 404
    agent = await create_agent(client, admin, "erin")
    await _plain_user(client, admin, "frank")
    forbidden = await client.post("/api/v1/livechat/users/agent", json={"username": "frank"}, headers=agent)
    assert forbidden.status_code == 403
    assert (await client.get("/api/v1/livechat/users/agent")).status_code == 401
    not_agent = await client.delete("/api/v1/livechat/users/agent/unknown-id", headers=admin)
    assert not_agent.status_code == 404


async def test_agents_set_and_toggle_their_availability(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice", available=False)
    on = await client.post("/api/v1/livechat/agent.status", json={"status": "available"}, headers=agent)
    assert on.json()["status"] == "available"
    toggled = await client.post("/api/v1/livechat/agent.status", json={}, headers=agent)
    assert toggled.json()["status"] == "not-available"
    me = await client.get("/api/v1/me", headers=agent)
    assert me.json()["statusLivechat"] == "not-available"


async def test_agent_status_refuses_unknown_values_other_agents_and_non_agents(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    bad = await client.post("/api/v1/livechat/agent.status", json={"status": "sleeping"}, headers=alice)
    assert bad.status_code == 400
    other = await client.post(
        "/api/v1/livechat/agent.status",
        json={"status": "not-available", "agentId": bob["X-User-Id"]},
        headers=alice,
    )
    assert other.status_code == 403
    plain = await _plain_user(client, admin, "carol")
    assert (await client.post("/api/v1/livechat/agent.status", json={}, headers=plain)).status_code == 403
    # A manager may set another agent's status.
    by_admin = await client.post(
        "/api/v1/livechat/agent.status",
        json={"status": "not-available", "agentId": bob["X-User-Id"]},
        headers=admin,
    )
    assert by_admin.json()["status"] == "not-available"


async def test_departments_are_created_read_updated_and_deleted_with_their_agents(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    created = await client.post(
        "/api/v1/livechat/department",
        json={
            "department": {
                "name": "Sales",
                "enabled": True,
                "email": "sales@example.com",
                "showOnRegistration": True,
            },
            "agents": [{"agentId": alice["X-User-Id"]}],
        },
        headers=admin,
    )
    assert created.status_code == 200, created.text
    dep_id = created.json()["department"]["_id"]
    assert [a["username"] for a in created.json()["agents"]] == ["alice"]

    got = await client.get(f"/api/v1/livechat/department/{dep_id}", headers=alice)
    assert got.json()["department"]["name"] == "Sales"
    assert got.json()["agents"][0]["agentId"] == alice["X-User-Id"]

    updated = await client.put(
        f"/api/v1/livechat/department/{dep_id}",
        json={"department": {"name": "Sales EU", "enabled": True}, "agents": [{"agentId": bob["X-User-Id"]}]},
        headers=admin,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["department"]["name"] == "Sales EU"
    assert [a["username"] for a in updated.json()["agents"]] == ["bob"]

    listed = await client.get("/api/v1/livechat/department", headers=admin)
    assert [d["name"] for d in listed.json()["departments"]] == ["Sales EU"]
    assert listed.json()["total"] == 1

    assert (await client.delete(f"/api/v1/livechat/department/{dep_id}", headers=admin)).status_code == 200
    assert (await client.get(f"/api/v1/livechat/department/{dep_id}", headers=admin)).status_code == 404


async def test_departments_refuse_duplicates_bad_input_non_agents_and_non_managers(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"department": {"name": "Support"}}
    assert (await client.post("/api/v1/livechat/department", json=body, headers=admin)).status_code == 200
    duplicate = await client.post("/api/v1/livechat/department", json=body, headers=admin)
    assert duplicate.status_code == 400
    assert duplicate.json()["error"] == "error-duplicated-department-name"
    nameless = await client.post("/api/v1/livechat/department", json={"department": {}}, headers=admin)
    assert nameless.status_code == 400
    assert "name" in nameless.json()["error"]
    plain = await _plain_user(client, admin, "carol")
    with_plain = await client.post(
        "/api/v1/livechat/department",
        json={"department": {"name": "Other"}, "agents": [{"agentId": plain["X-User-Id"]}]},
        headers=admin,
    )
    assert with_plain.status_code == 400
    agent = await create_agent(client, admin, "alice")
    assert (
        await client.post("/api/v1/livechat/department", json={"department": {"name": "X"}}, headers=agent)
    ).status_code == 403
    assert (await client.put("/api/v1/livechat/department/nope", json=body, headers=admin)).status_code == 404
    assert (await client.delete("/api/v1/livechat/department/nope", headers=admin)).status_code == 404
    listed = await client.get("/api/v1/livechat/department", headers=admin)
    assert [d["name"] for d in listed.json()["departments"]] == ["Support"]


async def test_admins_read_and_write_the_routing_method(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    read = await client.get("/api/v1/settings/Livechat_Routing_Method", headers=admin)
    assert read.json() == {"_id": "Livechat_Routing_Method", "value": "Auto_Selection", "success": True}
    written = await client.post(
        "/api/v1/settings/Livechat_Routing_Method", json={"value": "Manual_Selection"}, headers=admin
    )
    assert written.status_code == 200
    read = await client.get("/api/v1/settings/Livechat_Routing_Method", headers=admin)
    assert read.json()["value"] == "Manual_Selection"


async def test_settings_refuse_unknown_ids_bad_values_and_non_admins(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    path = "/api/v1/settings/Livechat_Routing_Method"
    assert (await client.post(path, json={"value": "Random"}, headers=admin)).status_code == 400
    assert (await client.post(path, json={"value": 3}, headers=admin)).status_code == 400
    assert (await client.post(path, json={}, headers=admin)).status_code == 400
    assert (await client.get("/api/v1/settings/No_Such_Setting", headers=admin)).status_code == 404
    agent = await create_agent(client, admin, "alice")
    assert (await client.get(path, headers=agent)).status_code == 403
    assert (await client.post(path, json={"value": "Manual_Selection"}, headers=agent)).status_code == 403
    assert (await client.get(path, headers=admin)).json()["value"] == "Auto_Selection"


async def test_crm_settings_written_at_settings_id_reach_the_webhook_integration(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    url = "/api/v1/settings/Livechat_webhookUrl"
    written = await client.post(url, json={"value": "http://127.0.0.1:9/crm"}, headers=admin)
    assert written.status_code == 200, written.text
    assert (await client.get(url, headers=admin)).json()["value"] == "http://127.0.0.1:9/crm"
    integration = await client.get("/api/v1/livechat/integrations.settings", headers=admin)
    values = {s["_id"]: s["value"] for s in integration.json()["settings"]}
    assert values["Livechat_webhookUrl"] == "http://127.0.0.1:9/crm"
    timeout = await client.post(
        "/api/v1/settings/Livechat_http_timeout", json={"value": "soon"}, headers=admin
    )
    assert timeout.status_code == 400


async def test_agents_list_the_available_colleagues_they_can_forward_to_but_not_managers(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    await create_agent(client, admin, "bob")
    await create_agent(client, admin, "carol", available=False)
    colleagues = await client.get(
        "/api/v1/livechat/users/agent",
        params={"onlyAvailable": "true", "excludeId": alice["X-User-Id"]},
        headers=alice,
    )
    assert colleagues.status_code == 200
    assert [u["username"] for u in colleagues.json()["users"]] == ["bob"]
    assert (await client.get("/api/v1/livechat/users/manager", headers=alice)).status_code == 403
