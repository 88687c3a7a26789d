"""permissions.listAll and permissions.update: stored, and what the routes and the livechat rules let through."""

from __future__ import annotations

from typing import Any

import httpx

from tests.livechat_helpers import create_agent, open_chat, room_info

API = "/api/v1"
REFUSED = "User does not have the permissions required for this action [error-unauthorized]"


async def _update(client: httpx.AsyncClient, headers: dict[str, str], *changes: tuple[str, list[str]]) -> Any:
    body = {"permissions": [{"_id": pid, "roles": roles} for pid, roles in changes]}
    return await client.post(f"{API}/permissions.update", json=body, headers=headers)


async def _roles(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, list[str]]:
    listed = (await client.get(f"{API}/permissions.listAll", headers=headers)).json()
    assert listed["remove"] == []
    return {p["_id"]: p["roles"] for p in listed["update"]}


async def test_list_all_shows_each_permission_with_its_default_roles(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    roles = await _roles(client, admin)
    assert roles["view-l-room"] == ["admin", "livechat-manager", "livechat-agent"]
    assert roles["view-livechat-manager"] == ["admin", "livechat-manager"]
    assert roles["view-livechat-rooms"] == ["admin", "livechat-manager"]
    assert roles["close-livechat-room"] == ["admin", "livechat-manager", "livechat-agent"]
    assert roles["transfer-livechat-guest"] == ["admin", "livechat-manager", "livechat-agent"]
    assert roles["access-permissions"] == ["admin"]
    assert (await client.get(f"{API}/permissions.listAll")).status_code == 401


async def test_taking_view_l_room_from_agents_closes_the_agent_api_to_them_until_given_back(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    assert (await client.get(f"{API}/livechat/rooms", headers=agent)).status_code == 200
    changed = await _update(client, admin, ("view-l-room", ["admin", "livechat-manager"]))
    assert changed.status_code == 200, changed.text
    updated = {p["_id"]: p for p in changed.json()["permissions"]}
    assert updated["view-l-room"]["roles"] == ["admin", "livechat-manager"]
    assert updated["view-l-room"]["_updatedAt"].endswith("Z")
    refused = await client.get(f"{API}/livechat/rooms", headers=agent)
    assert refused.status_code == 403
    assert refused.json()["error"] == REFUSED
    assert (await client.get(f"{API}/livechat/rooms", headers=admin)).status_code == 200
    await _update(client, admin, ("view-l-room", ["admin", "livechat-manager", "livechat-agent"]))
    assert (await client.get(f"{API}/livechat/rooms", headers=agent)).status_code == 200


async def test_an_agent_given_view_livechat_rooms_sees_every_chat(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1", "hello")  # served by alice
    bob = await create_agent(client, admin, "bob")
    hidden = await client.get(f"{API}/rooms.info", params={"roomId": rid}, headers=bob)
    assert hidden.status_code == 403
    await _update(client, admin, ("view-livechat-rooms", ["admin", "livechat-manager", "livechat-agent"]))
    assert (await room_info(client, bob, rid))["servedBy"]["username"] == "alice"
    listed = (await client.get(f"{API}/livechat/rooms", headers=bob)).json()
    assert [r["_id"] for r in listed["rooms"]] == [rid]
    # And acts on it: bob may close alice's chat now.
    closed = await client.post(f"{API}/livechat/room.closeByUser", json={"rid": rid}, headers=bob)
    assert closed.status_code == 200, closed.text
    assert alice  # alice served it throughout


async def test_agents_without_close_or_transfer_permissions_can_neither_close_nor_forward(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1", "hello")
    bob = await create_agent(client, admin, "bob")
    await _update(
        client,
        admin,
        ("close-livechat-room", ["admin", "livechat-manager"]),
        ("transfer-livechat-guest", ["admin", "livechat-manager"]),
    )
    forward = {"roomId": rid, "userId": bob["X-User-Id"]}
    assert (await client.post(f"{API}/livechat/room.forward", json=forward, headers=alice)).status_code == 403
    closing = await client.post(f"{API}/livechat/room.closeByUser", json={"rid": rid}, headers=alice)
    assert closing.status_code == 403
    room = await room_info(client, alice, rid)
    assert (room["open"], room["servedBy"]["username"]) == (True, "alice")


async def test_a_permission_given_to_user_reaches_every_user(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    alice = await create_agent(client, admin, "alice")
    assert (await client.get(f"{API}/livechat/inquiries.list", headers=alice)).status_code == 403
    await _update(client, admin, ("view-livechat-manager", ["admin", "livechat-manager", "user"]))
    assert (await client.get(f"{API}/livechat/inquiries.list", headers=alice)).status_code == 200


async def test_permissions_update_refuses_unknown_ids_roles_and_callers_without_access_permissions(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    unknown = await _update(client, admin, ("fly-to-the-moon", ["admin"]))
    assert (unknown.status_code, unknown.json()["error"]) == (
        400,
        "Invalid permission [error-invalid-permission]",
    )
    bad_role = await _update(client, admin, ("view-l-room", ["admin", "astronaut"]))
    assert bad_role.json()["error"] == "Invalid role [error-invalid-role]"
    agent = await create_agent(client, admin, "alice")
    refused = await _update(client, agent, ("view-l-room", ["admin"]))
    assert (refused.status_code, refused.json()["error"]) == (403, REFUSED)
    # Nothing changed, and admins keep access-permissions whatever is asked.
    kept = await _update(client, admin, ("access-permissions", []))
    assert {p["_id"]: p["roles"] for p in kept.json()["permissions"]}["access-permissions"] == ["admin"]
    roles = await _roles(client, admin)
    assert roles["view-l-room"] == ["admin", "livechat-manager", "livechat-agent"]


async def test_settings_need_the_privileged_setting_permissions(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    manager = await create_agent(client, admin, "mia")
    await client.post(f"{API}/livechat/users/manager", json={"username": "mia"}, headers=admin)
    path = f"{API}/settings/Livechat_Routing_Method"
    assert (await client.get(path, headers=manager)).status_code == 403
    await _update(
        client,
        admin,
        ("view-privileged-setting", ["admin", "livechat-manager"]),
        ("edit-privileged-setting", ["admin", "livechat-manager"]),
    )
    assert (await client.get(path, headers=manager)).json()["value"] == "Auto_Selection"
    written = await client.post(path, json={"value": "Manual_Selection"}, headers=manager)
    assert written.status_code == 200
