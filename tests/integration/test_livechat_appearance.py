"""livechat/appearance (Rocket.Chat's shapes, for managers) and what livechat/config shows the widget."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import login_headers
from tests.livechat_helpers import AGENT_PASSWORD, create_agent, open_chat

API = "/api/v1/livechat"


async def _config(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(f"{API}/config", params=params)
    assert response.status_code == 200, response.text
    config: dict[str, Any] = response.json()["config"]
    return config


async def _appearance(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"{API}/appearance", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    return {s["_id"]: s for s in response.json()["appearance"]}


async def _post(client: httpx.AsyncClient, headers: dict[str, str], body: Any) -> httpx.Response:
    return await client.post(f"{API}/appearance", json=body, headers=headers)


async def test_config_has_rocket_chats_shape_with_its_defaults(client: httpx.AsyncClient) -> None:
    config = await _config(client)
    assert config["enabled"] is True
    assert config["online"] is True  # Livechat_accept_chats_with_no_agents is on: the chat waits in the queue
    assert config["settings"] == {
        "registrationForm": True,
        "allowSwitchingDepartments": True,
        "nameFieldRegistrationForm": True,
        "emailFieldRegistrationForm": True,
        "displayOfflineForm": True,
        "videoCall": False,
        "fileUpload": False,
        "language": "en",
        "transcript": False,
        "historyMonitorType": "url",
        "forceAcceptDataProcessingConsent": False,
        "showConnecting": False,
        "agentHiddenInfo": False,
        "clearLocalStorageWhenChatEnded": False,
        "limitTextLength": False,
        "hiddenSystemMessages": [],
        "hideWatermark": False,
        "hideExpandChat": False,
        "visitorsCanCloseChat": True,
    }
    assert config["theme"] == {
        "title": "Rocket.Chat",
        "color": "#C1272D",
        "offlineTitle": "Leave a message",
        "offlineColor": "#666666",
        "position": "right",
        "background": "",
        "actionLinks": [],
    }
    assert set(config["messages"]) == {
        "offlineMessage",
        "offlineSuccessMessage",
        "offlineUnavailableMessage",
        "conversationFinishedMessage",
        "conversationFinishedText",
        "transcriptMessage",
        "registrationFormMessage",
        "dataProcessingConsentText",
    }
    assert config["departments"] == []
    assert config["triggers"] == []
    # No notification sound: the widget reads `resources.sound` as an address and plays none without it.
    assert "sound" not in config["resources"]


async def test_get_appearance_lists_rocket_chats_settings_with_types_and_values(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    settings = await _appearance(client, admin)
    assert list(settings)[:3] == [
        "Livechat_title",
        "Livechat_title_color",
        "Livechat_enable_message_character_limit",
    ]
    assert len(settings) == 25
    assert settings["Livechat_title"]["value"] == "Rocket.Chat"
    assert settings["Livechat_title"]["type"] == "string"
    assert settings["Livechat_title_color"]["type"] == "color"
    assert settings["Livechat_registration_form"]["type"] == "boolean"
    assert settings["Livechat_message_character_limit"] == {
        "_id": "Livechat_message_character_limit",
        "value": 0,
        "type": "int",
        "packageValue": 0,
        "public": True,
        "group": "Omnichannel",
        "section": "Livechat",
    }
    assert settings["Livechat_widget_position"]["type"] == "select"
    assert [v["key"] for v in settings["Livechat_widget_position"]["values"]] == ["left", "right"]
    assert settings["Livechat_hide_system_messages"]["type"] == "multiSelect"
    assert settings["Livechat_hide_system_messages"]["value"] == []


async def test_post_appearance_changes_what_the_widget_is_configured_with(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    body = [
        {"_id": "Livechat_title", "value": "Acme support"},
        {"_id": "Livechat_title_color", "value": "#0055AA"},
        {"_id": "Livechat_offline_title", "value": "We are away"},
        {"_id": "Livechat_offline_title_color", "value": "#333333"},
        {"_id": "Livechat_offline_message", "value": "Leave us a note"},
        {"_id": "Livechat_offline_success_message", "value": "Thanks, we will write back"},
        {"_id": "Livechat_offline_form_unavailable", "value": "Closed for the night"},
        {"_id": "Livechat_display_offline_form", "value": False},
        {"_id": "Livechat_registration_form", "value": False},
        {"_id": "Livechat_name_field_registration_form", "value": False},
        {"_id": "Livechat_email_field_registration_form", "value": "false"},
        {"_id": "Livechat_registration_form_message", "value": "Tell us who you are"},
        {"_id": "Livechat_conversation_finished_message", "value": "Bye!"},
        {"_id": "Livechat_conversation_finished_text", "value": "Come back any time"},
        {"_id": "Livechat_widget_position", "value": "left"},
        {"_id": "Livechat_background", "value": "#FAFAFA"},
        {"_id": "Livechat_hide_watermark", "value": True},
        {"_id": "Livechat_hide_system_messages", "value": ["uj", "livechat-close"]},
        {"_id": "Omnichannel_allow_visitors_to_close_conversation", "value": False},
    ]
    response = await _post(client, admin, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}

    config = await _config(client)
    assert config["theme"]["title"] == "Acme support"
    assert config["theme"]["color"] == "#0055AA"
    assert config["theme"]["offlineTitle"] == "We are away"
    assert config["theme"]["offlineColor"] == "#333333"
    assert config["theme"]["position"] == "left"
    assert config["theme"]["background"] == "#FAFAFA"
    assert config["messages"]["offlineMessage"] == "Leave us a note"
    assert config["messages"]["offlineSuccessMessage"] == "Thanks, we will write back"
    assert config["messages"]["offlineUnavailableMessage"] == "Closed for the night"
    assert config["messages"]["registrationFormMessage"] == "Tell us who you are"
    assert config["messages"]["conversationFinishedMessage"] == "Bye!"
    assert config["messages"]["conversationFinishedText"] == "Come back any time"
    assert config["settings"]["displayOfflineForm"] is False
    assert config["settings"]["registrationForm"] is False
    assert config["settings"]["nameFieldRegistrationForm"] is False
    assert config["settings"]["emailFieldRegistrationForm"] is False
    assert config["settings"]["hideWatermark"] is True
    assert config["settings"]["hiddenSystemMessages"] == ["uj", "livechat-close"]
    assert config["settings"]["visitorsCanCloseChat"] is False
    settings = await _appearance(client, admin)
    assert settings["Livechat_title"]["value"] == "Acme support"
    assert settings["Livechat_title"]["packageValue"] == "Rocket.Chat"
    assert settings["Livechat_email_field_registration_form"]["value"] is False


async def test_post_appearance_coerces_values_as_rocket_chat_does(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    async def limit_after(*body: dict[str, Any]) -> Any:
        assert (await _post(client, admin, list(body))).status_code == 200
        return (await _config(client))["settings"]["limitTextLength"]

    on = {"_id": "Livechat_enable_message_character_limit", "value": True}
    assert await limit_after(on, {"_id": "Livechat_message_character_limit", "value": 100}) == 100
    assert await limit_after({"_id": "Livechat_message_character_limit", "value": "250"}) == 250
    # Not a number: 0, and the widget falls back to the message size limit.
    assert await limit_after({"_id": "Livechat_message_character_limit", "value": "xxxx"}) == 5000
    assert await limit_after({"_id": "Livechat_message_character_limit", "value": True}) == 5000
    assert await limit_after({"_id": "Livechat_message_character_limit", "value": 80}) == 80
    # A boolean setting takes true or "true"; anything else is false.
    assert await limit_after({"_id": "Livechat_enable_message_character_limit", "value": "xxxx"}) is False
    assert await limit_after({"_id": "Livechat_enable_message_character_limit", "value": "true"}) == 80

    # A multi-select takes only a list of its own values; anything else leaves it as it was.
    hidden = "Livechat_hide_system_messages"
    assert (await _post(client, admin, [{"_id": hidden, "value": ["uj", "ul"]}])).status_code == 200
    for value in ("uj", ["uj", "invalid"], [1]):
        assert (await _post(client, admin, [{"_id": hidden, "value": value}])).status_code == 200
        assert (await _config(client))["settings"]["hiddenSystemMessages"] == ["uj", "ul"]


async def test_post_appearance_refuses_bad_bodies_and_other_settings_and_saves_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    bodies: list[Any] = [
        dict[str, Any](),
        list[Any](),
        [{"name": "Livechat_title"}],
        [{"value": "x"}],
        ["Livechat_title"],
        "x",
    ]
    for body in bodies:
        response = await _post(client, admin, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["success"] is False
    mixed = [{"_id": "Livechat_title", "value": "Changed"}, {"_id": "Livechat_Routing_Method", "value": "x"}]
    refused = await _post(client, admin, mixed)
    assert refused.status_code == 400
    assert refused.json()["errorType"] == "invalid-setting"
    for bad in (
        {"_id": "Livechat_title", "value": 12},
        {"_id": "Livechat_title", "value": "x" * 5001},
        {"_id": "Livechat_widget_position", "value": "middle"},
    ):
        assert (await _post(client, admin, [bad])).status_code == 400, bad
    assert (await _config(client))["theme"]["title"] == "Rocket.Chat"
    assert (await _config(client))["theme"]["position"] == "right"


async def test_appearance_is_for_managers(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    agent = await create_agent(client, admin, "alice")
    body = [{"_id": "Livechat_title", "value": "Hacked"}]
    assert (await client.get(f"{API}/appearance")).status_code == 401
    assert (await _post(client, {}, body)).status_code == 401
    assert (await client.get(f"{API}/appearance", headers=agent)).status_code == 403
    assert (await _post(client, agent, body)).status_code == 403
    user = {"username": "mia", "email": "mia@example.com", "name": "Mia", "password": AGENT_PASSWORD}
    assert (await client.post("/api/v1/users.create", json=user, headers=admin)).status_code == 200
    added = await client.post(f"{API}/users/manager", json={"username": "mia"}, headers=admin)
    assert added.status_code == 200, added.text
    manager = await login_headers(client, "mia", AGENT_PASSWORD)
    assert (await _post(client, manager, [{"_id": "Livechat_title", "value": "Mia's"}])).status_code == 200
    assert (await _appearance(client, manager))["Livechat_title"]["value"] == "Mia's"
    assert (await _config(client))["theme"]["title"] == "Mia's"


async def test_agent_info_display_follows_the_show_agent_settings(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1", "hello")
    config = await _config(client, token="tok-1")
    assert config["agent"] == {
        "_id": config["agent"]["_id"],
        "username": "alice",
        "name": "Alice",
        "emails": [{"address": "alice@example.com", "verified": False}],
    }
    off = [{"_id": "Livechat_show_agent_email", "value": False}]
    assert (await _post(client, admin, off)).status_code == 200
    config = await _config(client, token="tok-1")
    assert "emails" not in config["agent"]
    assert config["agent"]["username"] == "alice"
    info = (await client.get(f"{API}/agent.info/{rid}/tok-1")).json()["agent"]
    assert "emails" not in info

    hidden = [{"_id": "Livechat_show_agent_info", "value": False}]
    assert (await _post(client, admin, hidden)).status_code == 200
    config = await _config(client, token="tok-1")
    assert config["agent"] == {"hiddenInfo": True}
    assert config["settings"]["agentHiddenInfo"] is True
    assert (await client.get(f"{API}/agent.info/{rid}/tok-1")).json()["agent"] == {"hiddenInfo": True}
    assert (await client.get(f"{API}/agent.next/tok-1")).json()["agent"] == {"hiddenInfo": True}


async def test_when_the_livechat_is_off_config_says_only_that(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    off = await client.post("/api/v1/settings/Livechat_enabled", json={"value": False}, headers=admin)
    assert off.status_code == 200
    assert (await client.get(f"{API}/config")).json() == {"config": {"enabled": False}, "success": True}
