"""The event catalog: every payload omnihook sends is valid against its type's published JSON Schema."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from omnihook.domain.clock import utcnow
from omnihook.webhooks.catalog import SUBSCRIPTION_KEYS, EventType
from omnihook.webhooks.payloads import standard_body
from omnihook.webhooks.schemas import rocketchat_schema, schema_for, standard_schema
from tests.contract.test_rocketchat_payloads import GOLDEN, TYPES, scripted_chat
from tests.receiver import Receiver, running_receiver
from tests.webhook_helpers import settled

CATALOG = "/api/v1/omnihook/event-types"
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # jsonschema checks date-time only with an extra package; Python's parser is strict enough here.
    return not isinstance(value, str) or datetime.fromisoformat(value.replace("Z", "+00:00")) is not None


def validate(body: Any, schema: dict[str, Any]) -> None:
    Draft202012Validator(schema, format_checker=FORMATS).validate(body)


def golden(kind: str) -> Any:
    return json.loads((GOLDEN / f"{kind}.json").read_text())


def test_every_schema_is_a_valid_json_schema() -> None:
    for kind in EventType:
        for format_name in ("rocketchat", "standard"):
            Draft202012Validator.check_schema(schema_for(kind, format_name))


@pytest.mark.parametrize("fixture", TYPES)
def test_every_golden_fixture_is_valid_against_its_types_schema_in_both_formats(fixture: str) -> None:
    payload = golden(fixture)
    kind = EventType(payload["type"])
    validate(payload, rocketchat_schema(kind))
    envelope = json.loads(standard_body(kind.value, utcnow(), json.dumps(payload)))
    validate(envelope, standard_schema(kind))


def test_a_key_the_catalog_does_not_list_makes_a_payload_invalid() -> None:
    payload = golden("LivechatSession")
    payload["visitor"]["host"] = "shop.example"
    with pytest.raises(ValidationError, match="host"):
        validate(payload, rocketchat_schema(EventType.SESSION))
    message = golden("Message.visitor")
    message["messages"].append(message["messages"][0])
    with pytest.raises(ValidationError):
        validate(message, rocketchat_schema(EventType.MESSAGE))  # a Message carries exactly one


async def test_every_delivery_of_a_whole_chat_matches_the_schema_of_its_format(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    with running_receiver() as standard_receiver:
        created = await client.post(
            "/api/v1/omnihook/endpoints",
            json={"name": "CRM", "url": standard_receiver.url, "eventTypes": sorted(SUBSCRIPTION_KEYS)},
            headers=admin,
        )
        assert created.status_code == 200, created.text
        rocketchat = await scripted_chat(client, admin, receiver)
        # Both endpoints receive the 11 events of the chat (LivechatEdit included).
        await settled(database_url, 22)
        standard = [r.json() for r in await standard_receiver.arrived(11)]
    for payload in rocketchat.values():
        validate(payload, rocketchat_schema(EventType(payload["type"])))
    assert len({body["type"] for body in standard}) == len(EventType) - 1  # all but LeadCapture
    for body in standard:
        validate(body, standard_schema(EventType(body["type"])))


async def test_the_catalog_lists_every_type_with_its_settings_and_both_schemas_without_a_login(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(CATALOG)
    assert response.status_code == 200, response.text
    entries = {e["type"]: e for e in response.json()["eventTypes"]}
    assert sorted(entries) == sorted(t.value for t in EventType)
    assert entries["Message"]["rocketChatSettings"] == [
        "Livechat_webhook_on_visitor_message",
        "Livechat_webhook_on_agent_message",
    ]
    assert entries["LivechatEdit"]["rocketChatSettings"] == []  # sent whenever a URL is set
    assert entries["LeadCapture"]["schemas"]["standard"] == standard_schema(EventType.LEAD_CAPTURE)
    one = await client.get(f"{CATALOG}/LivechatSession/schema", params={"format": "standard"})
    assert one.json() == standard_schema(EventType.SESSION)


async def test_an_unknown_type_is_404_and_an_unknown_format_400(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{CATALOG}/Nope/schema")).status_code == 404
    bad = await client.get(f"{CATALOG}/Message/schema", params={"format": "xml"})
    assert bad.status_code == 400
    assert "format" in bad.json()["error"]


async def test_openapi_publishes_every_type_in_both_formats_as_webhooks(app: FastAPI) -> None:
    webhooks = app.openapi()["webhooks"]
    for kind in EventType:
        body = webhooks[kind.value]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == rocketchat_schema(kind)
        assert f"{kind.value} (Standard Webhooks)" in webhooks
