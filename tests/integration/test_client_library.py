"""Rocket.Chat's Python client library (`rocketchat-api`, unchanged) drives a real `omnihook serve` on
loopback through its livechat calls and the REST around them, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rocketchat_API.APIExceptions.RocketExceptions import RocketApiException, RocketAuthenticationException
from rocketchat_API.rocketchat import RocketChat

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.processes import OmnihookProcess, free_port, omnihook_env

PASSWORD = "client-library-password-1"


@pytest.fixture
def server_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """`omnihook serve` (uvicorn) on a free loopback port, once /health answers."""
    port = free_port()
    server = OmnihookProcess(
        ["serve", "--port", str(port)], omnihook_env(database_url), tmp_path / "server.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.proc.poll() is not None:
                raise AssertionError(f"the server exited:\n{server.output()}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{server.output()}")
            time.sleep(0.1)
        yield url
    finally:
        server.stop()


def test_the_client_library_logs_in_manages_users_and_permissions(server_url: str) -> None:
    anonymous = RocketChat(server_url=server_url)
    assert anonymous.info() == {"version": "7.0", "success": True}
    with pytest.raises(RocketAuthenticationException):
        RocketChat(ADMIN_USERNAME, "not-the-password", server_url=server_url)
    admin = RocketChat(ADMIN_USERNAME, ADMIN_PASSWORD, server_url=server_url)
    assert admin.me()["username"] == ADMIN_USERNAME
    assert admin.info()["info"]["version"] == "7.0.0"

    # users.register, once an admin opens registration; the new user logs in with the library.
    admin.settings_update("Accounts_RegistrationForm", "Public")
    registered = anonymous.users_register(
        email="ann@example.com", name="Ann", password=PASSWORD, username="ann"
    )
    assert registered["user"]["username"] == "ann"
    ann = RocketChat("ann", PASSWORD, server_url=server_url)
    assert ann.users_info(username="ann")["user"]["name"] == "Ann"

    # The conftest of the library's own tests: users.info, else users.create; users.delete after.
    with pytest.raises(RocketApiException, match=r"User not found\."):
        admin.users_info(username="secondary")
    created = admin.users_create("secondary@example.com", "secondary", PASSWORD, "secondary")
    secondary_id = created["user"]["_id"]
    assert admin.users_info(user_id=secondary_id)["user"]["username"] == "secondary"
    assert admin.users_delete(secondary_id) == {"success": True}
    with pytest.raises(RocketApiException, match=r"User not found\."):
        admin.users_info(user_id=secondary_id)

    # permissions.update changes who may call what: ann (role "user") lists the queue only while the
    # permission is given to every user.
    with pytest.raises(RocketApiException) as refused:
        list(ann.livechat_inquiries_list())
    assert refused.value.status_code == 403
    roles = {p["_id"]: p["roles"] for p in admin.permissions_list_all()["update"]}
    admin.permissions_update(
        permissions=[{"_id": "view-livechat-manager", "roles": [*roles["view-livechat-manager"], "user"]}]
    )
    assert list(ann.livechat_inquiries_list()) == []
    admin.permissions_update(
        permissions=[{"_id": "view-livechat-manager", "roles": roles["view-livechat-manager"]}]
    )
    with pytest.raises(RocketApiException):
        list(ann.livechat_inquiries_list())
    with pytest.raises(RocketApiException, match=r"\[error-invalid-permission\]"):
        admin.permissions_update(permissions=[{"_id": "no-such-permission", "roles": ["admin"]}])
    assert ann.logout()["status"] == "success"


def test_the_client_library_runs_a_livechat_from_visitor_to_agent(server_url: str) -> None:
    admin = RocketChat(ADMIN_USERNAME, ADMIN_PASSWORD, server_url=server_url)
    # The library's `accept_chats_with_no_agents` and `livechat_inquiry` fixtures.
    assert admin.settings_get("Livechat_accept_chats_with_no_agents")["value"] is True
    admin.settings_update("Livechat_accept_chats_with_no_agents", True)
    admin.settings_update("Livechat_Routing_Method", "Manual_Selection")
    me = admin.me()["username"]
    agent = admin.livechat_create_user(user_type="agent", username=me)
    agent_id = agent["user"]["_id"]
    assert admin.users_set_status(message="working on it", status="online") == {"success": True}
    assert admin.users_info(username=me)["user"]["status"] == "online"
    assert [u["_id"] for u in admin.livechat_get_users(user_type="agent")] == [agent_id]
    assert admin.livechat_get_user(user_type="agent", user_id=agent_id)["user"]["username"] == me

    token = str(uuid.uuid1())
    name = str(uuid.uuid1())
    visitor = admin.livechat_register_visitor(token=token, visitor={"username": name})
    assert visitor["success"] is True
    assert admin.livechat_get_visitor(token=token)["visitor"]["username"] == name
    room_id = admin.livechat_room(token=token)["room"]["_id"]
    message = admin.livechat_message(token=token, rid=room_id, msg="may the 4th be with you")
    assert message["message"]["msg"] == "may the 4th be with you"
    history = list(admin.livechat_messages_history(rid=room_id, token=token))
    assert [m["msg"] for m in history] == ["may the 4th be with you"]

    inquiry = admin.livechat_inquiries_get_one(room_id=room_id)["inquiry"]
    assert inquiry["rid"] == room_id and inquiry["status"] == "queued"
    assert [i["_id"] for i in admin.livechat_inquiries_list()] == [inquiry["_id"]]
    with pytest.raises(RocketApiException) as missing:
        admin.livechat_inquiries_take(inquiry_id="NotARealThing")
    assert missing.value.error == "Inquiry not found [error-not-found]"
    assert admin.livechat_inquiries_take(inquiry_id=inquiry["_id"])["success"] is True
    rooms = list(admin.livechat_rooms())
    assert [(r["_id"], r["servedBy"]["username"]) for r in rooms] == [(room_id, me)]

    # The agent answers, corrects the answer, then withdraws it.
    sent = admin.chat_send_message({"rid": room_id, "msg": "helo"})["message"]
    edited = admin.chat_update(room_id=room_id, msg_id=sent["_id"], text="hello")
    assert edited["message"]["msg"] == "hello" and "editedAt" in edited["message"]
    assert admin.chat_delete(room_id=room_id, msg_id=sent["_id"])["_id"] == sent["_id"]
    assert [m["msg"] for m in admin.livechat_messages_history(rid=room_id, token=token)] == [
        "may the 4th be with you"
    ]

    # The widget's appearance, read and changed.
    appearance = {s["_id"]: s["value"] for s in admin.livechat_get_appearance()["appearance"]}
    assert "Livechat_title" in appearance
    assert admin.livechat_set_appearance([{"_id": "Livechat_title", "value": "Support"}])["success"] is True
    appearance = {s["_id"]: s["value"] for s in admin.livechat_get_appearance()["appearance"]}
    assert appearance["Livechat_title"] == "Support"

    assert admin.livechat_delete_user(user_type="agent", user_id=agent_id) == {"success": True}
    assert list(admin.livechat_get_users(user_type="agent")) == []
