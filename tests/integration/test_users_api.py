"""users.* and /api/info as Rocket.Chat's client libraries call them: shapes, permissions and errors."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import login_headers
from tests.livechat_helpers import AGENT_PASSWORD, create_agent, open_chat, room_info

API = "/api/v1"


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return await client.post(f"{API}/{path}", json=body, headers=headers)


async def test_api_info_gives_the_version_to_anyone_and_the_build_to_admins(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    anonymous = await client.get("/api/info")
    assert anonymous.status_code == 200
    assert anonymous.json() == {"version": "7.0", "success": True}
    wrong = await client.get("/api/info", headers={"X-User-Id": "x", "X-Auth-Token": "y"})
    assert wrong.json() == {"version": "7.0", "success": True}
    full = (await client.get("/api/info", headers=admin)).json()
    assert full["version"] == "7.0.0"
    assert full["info"]["version"] == "7.0.0" and full["info"]["build"]["cpus"] >= 1
    agent = await create_agent(client, admin, "alice")
    assert "info" not in (await client.get("/api/info", headers=agent)).json()


async def test_users_register_works_only_once_registration_is_public(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {"username": "newbie", "email": "newbie@example.com", "name": "New Bie", "pass": AGENT_PASSWORD}
    closed = await client.post(f"{API}/users.register", json=body)
    assert closed.status_code == 400  # Rocket.Chat's API.v1.failure of registerUser's Meteor.Error
    assert closed.json()["error"] == "User registration is disabled [error-user-registration-disabled]"
    assert closed.json()["errorType"] == "error-user-registration-disabled"
    admin_name = await client.post(f"{API}/users.register", json={**body, "username": "admin"})
    assert admin_name.json()["errorType"] == "error-user-registration-disabled"  # names are not probed
    await _post(client, "settings/Accounts_RegistrationForm", {"value": "Public"}, admin)
    registered = await client.post(f"{API}/users.register", json=body)
    assert registered.status_code == 200, registered.text
    user = registered.json()["user"]
    assert (user["username"], user["name"], user["roles"]) == ("newbie", "New Bie", [])
    again = await client.post(f"{API}/users.register", json={**body, "email": "other@example.com"})
    assert again.status_code == 400
    assert again.json()["error"] == "Username is already in use"
    newbie = await login_headers(client, "newbie", AGENT_PASSWORD)
    logged_in = await client.post(f"{API}/users.register", json={**body, "username": "twice"}, headers=newbie)
    assert logged_in.json()["error"] == "Logged in users can not register again."
    # A registered user has no omnichannel role: the agent's API stays closed.
    assert (await client.get(f"{API}/livechat/rooms", headers=newbie)).status_code == 403


async def test_users_info_finds_by_id_or_username_and_shows_emails_only_to_those_allowed(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    by_name = await client.get(f"{API}/users.info", params={"username": "alice"}, headers=admin)
    assert by_name.status_code == 200
    alice = by_name.json()["user"]
    assert alice["_id"] == agent["X-User-Id"]
    assert alice["emails"] == [{"address": "alice@example.com", "verified": False}]
    assert alice["status"] == "offline" and alice["roles"] == ["livechat-agent"]
    by_id = await client.get(f"{API}/users.info", params={"userId": alice["_id"]}, headers=admin)
    assert by_id.json()["user"] == alice
    # An agent sees an admin, without their e-mail address; themself with theirs.
    other = (await client.get(f"{API}/users.info", params={"username": "admin"}, headers=agent)).json()
    assert "emails" not in other["user"]
    me = (await client.get(f"{API}/users.info", params={"userId": alice["_id"]}, headers=agent)).json()
    assert me["user"]["emails"]
    missing = await client.get(f"{API}/users.info", params={"username": "nobody"}, headers=admin)
    assert missing.status_code == 400
    assert missing.json()["error"] == "User not found."
    assert (await client.get(f"{API}/users.info", params={"username": "alice"})).status_code == 401


async def test_users_list_pages_every_user_by_username(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for name in ("carol", "bob", "alice"):
        await create_agent(client, admin, name, available=False)
    first = (await client.get(f"{API}/users.list", params={"count": 2}, headers=admin)).json()
    assert [u["username"] for u in first["users"]] == ["admin", "alice"]
    assert (first["count"], first["offset"], first["total"]) == (2, 0, 4)
    rest = (await client.get(f"{API}/users.list", params={"offset": 2}, headers=admin)).json()
    assert [u["username"] for u in rest["users"]] == ["bob", "carol"]


async def _users(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> httpx.Response:
    return await client.get(f"{API}/users.list", params=params, headers=headers)


async def test_users_list_honours_rocket_chats_query_fields_and_sort(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for username, name in (("alice", "alice Liddell"), ("bob", "Bob Builder"), ("carol", "Carol Danvers")):
        agent = await create_agent(client, admin, username, available=False)
        await _post(client, "users.update", {"userId": agent["X-User-Id"], "data": {"name": name}}, admin)
    # What Rocket.Chat's admin UI sends for a search: escaped text in an $or of case-insensitive $regex.
    search = '{"$or": [{"username": {"$regex": "ca", "$options": "i"}}, {"name": {"$regex": "^BOB", "$options": "i"}}]}'
    found = (await _users(client, admin, query=search, sort='{"name": -1}')).json()
    assert [u["username"] for u in found["users"]] == ["carol", "bob"]
    assert (found["count"], found["total"], found["offset"]) == (2, 2, 0)
    # name sorts ignoring case, as Rocket.Chat's nameInsensitive.
    by_name = (await _users(client, admin, sort='{"name": 1}', count=3, offset=1)).json()
    assert [u["name"] for u in by_name["users"]] == ["alice Liddell", "Bob Builder", "Carol Danvers"]
    assert by_name["total"] == 4
    admins = (await _users(client, admin, query='{"roles": "admin"}')).json()
    assert [u["username"] for u in admins["users"]] == ["admin"]
    by_email = await _users(client, admin, query='{"emails.address": "bob@example.com"}')
    assert [u["username"] for u in by_email.json()["users"]] == ["bob"]
    trimmed = (await _users(client, admin, fields='{"name": 0, "emails": 0}', count=1)).json()["users"][0]
    assert "name" not in trimmed and "emails" not in trimmed and trimmed["username"] == "admin"
    left_out = await _users(client, admin, fields='{"name": 0}', query='{"name": "Bob Builder"}')
    assert left_out.json()["error"] == "Invalid attribute: name [error-invalid-query]"
    bob = by_email.json()["users"][0]["_id"]
    await _post(client, "users.update", {"userId": bob, "data": {"active": False}}, admin)
    inactive = (await _users(client, admin, query='{"roles": "livechat-agent", "active": false}')).json()
    assert [u["username"] for u in inactive["users"]] == ["bob"]


async def test_users_list_refuses_unsafe_or_unknown_query_operators_and_bad_parameters(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice", available=False)
    refused = {
        '{"$where": "sleep(1000)"}': "Invalid operation: $where",
        '{"username": {"$ne": "admin"}}': "Invalid operation: $ne",
        '{"username": {"$gt": ""}}': "Invalid operation: $gt",
        '{"$or": [{"services.password": {"$exists": true}}]}': "Invalid attribute: services.password",
        '{"password_hash": "x"}': "Invalid attribute: password_hash",
        '{"username": {"$regex": "(a+)+$"}}': None,  # could run for ages: only literal text is searched
        '{"username": {"$regex": "a", "$options": "x"}}': None,
        '{"$and": {"username": "alice"}}': None,
        "[1]": None,
        "{not json": None,
    }
    for query, reason in refused.items():
        response = await _users(client, admin, query=query)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["errorType"] == "error-invalid-query", query
        if reason:
            assert response.json()["error"] == f"{reason} [error-invalid-query]"
    deep = '{"$or": [' * 20 + '{"username": "a"}' + "]}" * 20
    assert (await _users(client, admin, query=deep)).json()["errorType"] == "error-invalid-query"
    for sort in ('{"username": 2}', '{"username": "asc"}', "{}", '{"$natural": 1}'):
        assert (await _users(client, admin, sort=sort)).json()["errorType"] == "error-invalid-sort", sort
    bad_fields = await _users(client, admin, fields='{"name": "yes"}')
    assert bad_fields.json()["errorType"] == "error-invalid-fields"
    # An agent does not see others' e-mail addresses, so it cannot search them either.
    hidden = await _users(client, agent, query='{"emails.address": "admin@example.com"}')
    assert hidden.json()["error"] == "Invalid attribute: emails.address [error-invalid-query]"
    assert [
        u["username"] for u in (await _users(client, agent, query='{"username": "alice"}')).json()["users"]
    ] == ["alice"]


async def test_users_update_changes_a_users_details_and_roles(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    data = {
        "name": "Alice Liddell",
        "email": "al@example.com",
        "username": "al",
        "roles": ["livechat-manager"],
    }
    updated = await _post(client, "users.update", {"userId": agent["X-User-Id"], "data": data}, admin)
    assert updated.status_code == 200, updated.text
    user = updated.json()["user"]
    assert (user["name"], user["username"], user["roles"]) == ("Alice Liddell", "al", ["livechat-manager"])
    assert user["emails"] == [{"address": "al@example.com", "verified": False}]
    assert user["statusLivechat"] == "not-available"  # no longer an agent: takes no chat
    clash = {"username": "admin", "password": "another-password-1"}
    taken = await _post(client, "users.update", {"userId": agent["X-User-Id"], "data": clash}, admin)
    assert taken.status_code == 400
    assert taken.json()["error"] == "admin is already in use :( [error-field-unavailable]"
    # A refused update changes nothing: neither the password nor the sessions.
    assert (await client.get(f"{API}/me", headers=agent)).status_code == 200
    await login_headers(client, "al", AGENT_PASSWORD)
    unknown_role = await _post(
        client, "users.update", {"userId": agent["X-User-Id"], "data": {"roles": ["boss"]}}, admin
    )
    assert unknown_role.json()["errorType"] == "error-invalid-role"
    # A manager (even of itself) holds none of the users.update permissions.
    refused = await _post(
        client, "users.update", {"userId": agent["X-User-Id"], "data": {"name": "A"}}, agent
    )
    assert refused.status_code == 403
    assert refused.json()["error"].endswith("[error-unauthorized]")


async def test_deactivating_an_agent_ends_its_sessions_and_requeues_its_chats(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1", "hello")
    assert (await room_info(client, admin, rid))["servedBy"]["username"] == "alice"
    off = await _post(
        client, "users.update", {"userId": agent["X-User-Id"], "data": {"active": False}}, admin
    )
    assert off.status_code == 200, off.text
    assert off.json()["user"]["active"] is False
    assert (await client.get(f"{API}/me", headers=agent)).status_code == 401
    room = await room_info(client, admin, rid)
    assert room["status"] == "queued" and "servedBy" not in room
    refused = await client.post(f"{API}/login", json={"user": "alice", "password": AGENT_PASSWORD})
    assert refused.status_code == 401


async def test_the_last_admin_can_be_neither_demoted_deactivated_nor_deleted(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    me = admin["X-User-Id"]
    for data in ({"roles": ["livechat-manager"]}, {"active": False}):
        refused = await _post(client, "users.update", {"userId": me, "data": data}, admin)
        assert refused.status_code == 403, refused.text
        assert (
            refused.json()["error"]
            == "Leaving the app without admins is not allowed [error-action-not-allowed]"
        )
    deleted = await _post(client, "users.delete", {"userId": me}, admin)
    assert deleted.json()["errorType"] == "error-action-not-allowed"
    assert (await client.get(f"{API}/me", headers=admin)).status_code == 200


async def test_users_delete_removes_the_user_and_puts_its_chats_back_in_the_queue(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1", "hello")
    refused = await _post(client, "users.delete", {"userId": admin["X-User-Id"]}, agent)
    assert refused.status_code == 403
    deleted = await _post(client, "users.delete", {"userId": agent["X-User-Id"]}, admin)
    assert deleted.json() == {"success": True}
    assert (await client.get(f"{API}/me", headers=agent)).status_code == 401
    gone = await client.get(f"{API}/users.info", params={"username": "alice"}, headers=admin)
    assert gone.json()["error"] == "User not found."
    assert (await room_info(client, admin, rid))["status"] == "queued"
    again = await _post(client, "users.delete", {"username": "alice"}, admin)
    assert (again.status_code, again.json()["errorType"]) == (400, "error-invalid-user")


async def test_a_user_sets_a_status_and_message_that_users_info_and_get_status_show(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    agent = await create_agent(client, admin, "alice")
    before = (await client.get(f"{API}/users.getStatus", headers=agent)).json()
    assert before == {
        "_id": agent["X-User-Id"],
        "status": "offline",
        "connectionStatus": "offline",
        "success": True,
    }
    done = await _post(client, "users.setStatus", {"message": "working on it", "status": "away"}, agent)
    assert done.json() == {"success": True}
    mine = (await client.get(f"{API}/users.getStatus", headers=agent)).json()
    assert mine["status"] == "away"
    theirs = (await client.get(f"{API}/users.getStatus", params={"username": "alice"}, headers=admin)).json()
    assert theirs == {"_id": agent["X-User-Id"], "status": "away", "success": True}
    info = (await client.get(f"{API}/users.info", params={"username": "alice"}, headers=admin)).json()
    assert (info["user"]["status"], info["user"]["statusText"]) == ("away", "working on it")
    wrong = await _post(client, "users.setStatus", {"status": "sleeping"}, agent)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == (
        "Valid status types include online, away, offline, and busy. [error-invalid-status]"
    )
    others = await _post(client, "users.setStatus", {"status": "busy", "userId": admin["X-User-Id"]}, agent)
    assert others.status_code == 403
    by_admin = await _post(client, "users.setStatus", {"status": "busy", "username": "alice"}, admin)
    assert by_admin.status_code == 200
    assert (await client.get(f"{API}/users.getStatus", headers=agent)).json()["status"] == "busy"
