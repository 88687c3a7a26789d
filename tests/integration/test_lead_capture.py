"""Lead capture: contacts a visitor writes are kept on the visitor and sent to the CRM as LeadCapture."""

from __future__ import annotations

import httpx

from tests.livechat_helpers import open_room, register_visitor, visitor_says
from tests.receiver import Receiver
from tests.webhook_helpers import configure, settled


async def _visitor(client: httpx.AsyncClient, admin: dict[str, str], visitor_id: str) -> dict[str, object]:
    response = await client.get(
        "/api/v1/livechat/visitors.info", params={"visitorId": visitor_id}, headers=admin
    )
    assert response.status_code == 200, response.text
    visitor: dict[str, object] = response.json()["visitor"]
    return visitor


async def test_an_email_and_a_phone_in_a_visitor_message_become_a_lead_sent_without_the_transcript(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnCapture=True)
    visitor = await register_visitor(client, "tok-1", "Ann")
    rid = (await open_room(client, "tok-1"))["_id"]
    await visitor_says(client, "tok-1", rid, "Write to Ann.Lee@Example.com or call 11 98765-4321 please")
    [row] = await settled(database_url, 1)
    assert row.event_type == "LeadCapture"
    lead = receiver.requests[0].json()
    assert lead["type"] == "LeadCapture"
    assert lead["messages"] == []
    assert lead["visitor"]["email"] == [{"address": "Ann.Lee@Example.com"}]
    assert lead["visitor"]["phone"] == [{"phoneNumber": "11 98765-4321"}]
    stored = await _visitor(client, admin, visitor["_id"])
    assert stored["visitorEmails"] == [{"address": "Ann.Lee@Example.com"}]
    assert stored["phone"] == [{"phoneNumber": "11 98765-4321"}]


async def test_a_message_without_new_contacts_sends_no_lead(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnCapture=True)
    await register_visitor(client, "tok-1", "Ann", email="ann@example.com")
    rid = (await open_room(client, "tok-1"))["_id"]
    await visitor_says(client, "tok-1", rid, "hello, no contacts here")
    await visitor_says(client, "tok-1", rid, "my address is still ANN@example.com")
    await visitor_says(client, "tok-1", rid, "now bob@example.org")
    [only] = await settled(database_url, 1)  # the first two messages brought nothing new
    assert only.event_type == "LeadCapture"
    assert receiver.requests[0].json()["visitor"]["email"] == [
        {"address": "ann@example.com"},
        {"address": "bob@example.org"},
    ]


async def test_lead_patterns_are_settings_and_a_pattern_python_cannot_read_captures_nothing(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnCapture=True)
    custom = await client.post(
        "/api/v1/settings/Livechat_lead_phone_regex", json={"value": r"\+49[0-9]{6,}"}, headers=admin
    )
    assert custom.status_code == 200, custom.text
    broken = await client.post(
        "/api/v1/settings/Livechat_lead_email_regex", json={"value": "([unclosed"}, headers=admin
    )
    assert broken.status_code == 400, broken.text  # refused when saved
    await register_visitor(client, "tok-1", "Ann")
    rid = (await open_room(client, "tok-1"))["_id"]
    await visitor_says(client, "tok-1", rid, "11 98765-4321 or +4930123456, ann@example.com")
    await settled(database_url, 1)
    lead = receiver.requests[0].json()
    assert lead["visitor"]["phone"] == [{"phoneNumber": "+4930123456"}]
    assert lead["visitor"]["email"] == [{"address": "ann@example.com"}]


async def test_leads_are_not_sent_unless_the_toggle_is_on(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnVisitorMessage=True)
    await register_visitor(client, "tok-1", "Ann")
    rid = (await open_room(client, "tok-1"))["_id"]
    await visitor_says(client, "tok-1", rid, "ann@example.com")
    [row] = await settled(database_url, 1)
    assert row.event_type == "Message"
    # The contact is kept on the visitor all the same, as Rocket.Chat does.
    assert receiver.requests[0].json()["visitor"]["email"] == [{"address": "ann@example.com"}]
