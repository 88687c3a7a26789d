"""The CRM integration settings and Send Test, as Rocket.Chat's Webhooks page uses them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from omnihook.config import Settings
from omnihook.webhooks.catalog import BY_SETTING_ID
from tests.conftest import login_headers
from tests.receiver import Receiver

INTEGRATIONS = "/api/v1/omnichannel/integrations"
READ = "/api/v1/livechat/integrations.settings"
TEST = "/api/v1/livechat/webhook.test"


async def read_settings(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(READ, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return {s["_id"]: s["value"] for s in body["settings"]}


async def test_settings_start_at_rocket_chat_defaults_plus_ours(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    values = await read_settings(client, admin)
    assert values == {
        "Livechat_webhookUrl": "",
        "Livechat_secret_token": "",
        "Livechat_http_timeout": 5000,
        "Livechat_webhook_on_start": False,
        "Livechat_webhook_on_close": False,
        "Livechat_webhook_on_chat_taken": False,
        "Livechat_webhook_on_chat_queued": False,
        "Livechat_webhook_on_forward": False,
        "Livechat_webhook_on_offline_msg": False,
        "Livechat_webhook_on_visitor_message": False,
        "Livechat_webhook_on_agent_message": False,
        "Livechat_webhook_on_capture": False,
        "Send_visitor_navigation_history_livechat_webhook_request": False,
        "Livechat_webhook_retries": 10,
        "Livechat_webhook_retry_delay": 10000,
    }


async def test_saved_settings_are_read_back_under_rocket_chat_ids(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = {
        "LivechatWebhookUrl": "  http://127.0.0.1:9/crm  ",
        "LivechatSecretToken": "s3cret",
        "LivechatHttpTimeout": 2500,
        "LivechatWebhookOnStart": True,
        "LivechatWebhookOnClose": True,
        "LivechatWebhookOnChatTaken": True,
        "LivechatWebhookOnChatQueued": True,
        "LivechatWebhookOnForward": True,
        "LivechatWebhookOnOfflineMsg": True,
        "LivechatWebhookOnVisitorMessage": True,
        "LivechatWebhookOnAgentMessage": True,
        "LivechatWebhookOnCapture": True,
        "LivechatWebhookRetries": 3,
        "LivechatWebhookRetryDelay": 250,
    }
    response = await client.post(INTEGRATIONS, json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    values = await read_settings(client, admin)
    assert values["Livechat_webhookUrl"] == "http://127.0.0.1:9/crm"  # trimmed, as Rocket.Chat does
    assert values["Livechat_secret_token"] == "********"  # write-only; too short to show any of it
    assert values["Livechat_http_timeout"] == 2500
    assert all(values[k] is True for k in values if k.startswith("Livechat_webhook_on_"))
    assert values["Livechat_webhook_retries"] == 3
    assert values["Livechat_webhook_retry_delay"] == 250


async def test_only_the_keys_sent_are_changed(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await client.post(INTEGRATIONS, json={"LivechatWebhookOnClose": True}, headers=admin)
    await client.post(INTEGRATIONS, json={"LivechatHttpTimeout": 1000}, headers=admin)
    values = await read_settings(client, admin)
    assert values["Livechat_webhook_on_close"] is True
    assert values["Livechat_http_timeout"] == 1000


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"LivechatWebhook_url": "http://x.example"}, "LivechatWebhook_url"),
        ({"LivechatWebhookUrl": "ftp://crm.example/hook"}, "http"),
        ({"LivechatWebhookUrl": "crm.example/hook"}, "http"),
        ({"LivechatHttpTimeout": 0}, "LivechatHttpTimeout"),
        ({"LivechatHttpTimeout": 10_000_000}, "LivechatHttpTimeout"),
        ({"LivechatWebhookRetries": -1}, "LivechatWebhookRetries"),
        ({"LivechatWebhookRetries": 1000}, "LivechatWebhookRetries"),
        ({"LivechatWebhookRetryDelay": 1}, "LivechatWebhookRetryDelay"),
        ({"LivechatWebhookOnStart": "yes"}, "LivechatWebhookOnStart"),
        ({"LivechatHttpTimeout": "fast"}, "LivechatHttpTimeout"),
    ],
)
async def test_bad_settings_get_a_400_that_says_what_is_wrong_and_change_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any], says: str
) -> None:
    before = await read_settings(client, admin)
    # A valid key sent alongside the bad one is not saved either.
    response = await client.post(INTEGRATIONS, json={"LivechatWebhookOnClose": True, **body}, headers=admin)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["success"] is False
    assert says in error["error"]
    assert await read_settings(client, admin) == before


async def test_a_body_that_is_not_an_object_is_a_400(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(INTEGRATIONS, json=["LivechatWebhookUrl"], headers=admin)
    assert response.status_code == 400
    assert response.json()["success"] is False


async def test_agents_may_not_read_or_change_the_settings(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    user = {
        "username": "agent1",
        "email": "agent1@example.com",
        "name": "Agent",
        "password": "agent-password",
        "roles": ["livechat-agent"],
    }
    assert (await client.post("/api/v1/users.create", json=user, headers=admin)).status_code == 200
    agent = await login_headers(client, "agent1", "agent-password")
    assert (await client.get(READ, headers=agent)).status_code == 403
    assert (
        await client.post(INTEGRATIONS, json={"LivechatWebhookOnClose": True}, headers=agent)
    ).status_code == 403
    assert (await client.post(TEST, headers=agent)).status_code == 403
    assert (await client.get(READ)).status_code == 401


async def test_managers_may_change_the_settings(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    user = {
        "username": "manager1",
        "email": "m1@example.com",
        "name": "Manager",
        "password": "manager-password",
        "roles": ["livechat-manager"],
    }
    assert (await client.post("/api/v1/users.create", json=user, headers=admin)).status_code == 200
    manager = await login_headers(client, "manager1", "manager-password")
    response = await client.post(INTEGRATIONS, json={"LivechatWebhookOnClose": True}, headers=manager)
    assert response.status_code == 200
    assert (await read_settings(client, manager))["Livechat_webhook_on_close"] is True


SECRET = "crm-token-0123456789"


async def manager_headers(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, str]:
    user = {
        "username": "manager2",
        "email": "m2@example.com",
        "name": "Manager",
        "password": "manager-password",
        "roles": ["livechat-manager"],
    }
    assert (await client.post("/api/v1/users.create", json=user, headers=admin)).status_code == 200
    return await login_headers(client, "manager2", "manager-password")


async def token_sent(client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver) -> str | None:
    """The token that Send Test sends now: the secret as stored."""
    receiver.requests.clear()
    response = await client.post(TEST, headers=admin)
    assert response.status_code == 200, response.text
    [request] = receiver.requests
    return request.header("X-RocketChat-Livechat-Token")


async def test_the_secret_token_is_never_read_back_by_a_manager_or_an_admin(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    manager = await manager_headers(client, admin)
    for saver in (admin, manager):
        body = {"LivechatWebhookUrl": "https://crm.example.com/hook", "LivechatSecretToken": SECRET}
        assert (await client.post(INTEGRATIONS, json=body, headers=saver)).status_code == 200
        for reader in (admin, manager):
            response = await client.get(READ, headers=reader)
            assert SECRET not in response.text and "crm-token" not in response.text
            values = await read_settings(client, reader)
            assert values["Livechat_secret_token"] == "********6789"  # the last four at most
        # nor by an admin through Rocket.Chat's generic settings API
        one = await client.get("/api/v1/settings/Livechat_secret_token", headers=admin)
        assert one.status_code == 200 and one.json()["value"] == "********6789", one.text


async def test_saving_without_the_secret_or_with_its_mask_keeps_it(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    body = {"LivechatWebhookUrl": receiver.url, "LivechatSecretToken": SECRET}
    assert (await client.post(INTEGRATIONS, json=body, headers=admin)).status_code == 200
    masked = (await read_settings(client, admin))["Livechat_secret_token"]
    for again in (
        {"LivechatWebhookOnClose": True},  # a client that does not send the secret
        {"LivechatSecretToken": None, "LivechatHttpTimeout": 3000},
        {"LivechatSecretToken": masked, "LivechatWebhookOnStart": True},  # what it read, sent back
    ):
        assert (await client.post(INTEGRATIONS, json=again, headers=admin)).status_code == 200
        assert await token_sent(client, admin, receiver) == SECRET
    # Everything the page reads, saved back unchanged (as Rocket.Chat's admin page does), keeps it too.
    read_back = await read_settings(client, admin)
    whole = {BY_SETTING_ID[setting_id].field: value for setting_id, value in read_back.items()}
    assert (await client.post(INTEGRATIONS, json=whole, headers=admin)).status_code == 200
    assert await token_sent(client, admin, receiver) == SECRET
    # A new value replaces it and an empty one clears it.
    changed = {"LivechatSecretToken": "another-token-abcd"}
    assert (await client.post(INTEGRATIONS, json=changed, headers=admin)).status_code == 200
    assert await token_sent(client, admin, receiver) == "another-token-abcd"
    assert (
        await client.post(INTEGRATIONS, json={"LivechatSecretToken": ""}, headers=admin)
    ).status_code == 200
    assert await token_sent(client, admin, receiver) is None
    assert (await read_settings(client, admin))["Livechat_secret_token"] == ""


async def test_send_test_posts_the_sample_session_with_the_token(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    body = {"LivechatWebhookUrl": receiver.url, "LivechatSecretToken": "tok-1"}
    assert (await client.post(INTEGRATIONS, json=body, headers=admin)).status_code == 200
    response = await client.post(TEST, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.header("X-RocketChat-Livechat-Token") == "tok-1"
    assert request.header("Content-Type") == "application/json"
    payload = request.json()
    assert payload["type"] == "LivechatSession"
    assert {"_id", "label", "createdAt", "visitor", "agent", "messages"} <= payload.keys()


async def test_send_test_fails_with_error_invalid_webhook_response_unless_200(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    await client.post(INTEGRATIONS, json={"LivechatWebhookUrl": receiver.url}, headers=admin)
    receiver.default_status = 201
    response = await client.post(TEST, headers=admin)
    assert response.status_code == 400
    assert response.json()["error"] == "error-invalid-webhook-response"
    assert len(receiver.requests) == 1  # Send Test is never retried
    assert receiver.requests[0].header("X-RocketChat-Livechat-Token") is None  # no secret, no header


async def test_send_test_without_a_url_is_webhook_url_not_set(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(TEST, headers=admin)
    assert response.status_code == 400
    assert response.json()["error"] == "Webhook_URL_not_set"


async def test_send_test_to_a_closed_port_is_error_invalid_webhook_response(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    url = receiver.url
    receiver.stop()
    await client.post(INTEGRATIONS, json={"LivechatWebhookUrl": url}, headers=admin)
    response = await client.post(TEST, headers=admin)
    assert response.status_code == 400
    assert response.json()["error"] == "error-invalid-webhook-response"


@pytest.fixture
async def guarded_client(database_url: str) -> Any:
    """An app with the default private-target guard on."""
    from omnihook.app import create_app

    settings = Settings(database_url=database_url, admin_username="admin", admin_password="admin-password-1")
    application: FastAPI = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://omnihook.test") as http:
            yield http


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
async def test_private_targets_are_refused_at_save_time_by_default(
    guarded_client: httpx.AsyncClient, url: str
) -> None:
    headers = await login_headers(guarded_client, "admin", "admin-password-1")
    response = await guarded_client.post(INTEGRATIONS, json={"LivechatWebhookUrl": url}, headers=headers)
    assert response.status_code == 400, response.text
    assert "OMNIHOOK_ALLOW_PRIVATE_TARGETS" in response.json()["error"]
    assert (await read_settings(guarded_client, headers))["Livechat_webhookUrl"] == ""
