"""Fields of a payload follow Rocket.Chat's code where the seed shows none: present when there is a value."""

from __future__ import annotations

import httpx

from tests.livechat_helpers import (
    create_agent,
    create_department,
    open_room,
    register_visitor,
    set_routing,
    take_from_queue,
)
from tests.receiver import Receiver
from tests.webhook_helpers import configure, settled

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.109 Safari/537.36"
)


async def test_the_visitor_carries_os_and_browser_parsed_from_the_user_agent(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnStart=True)
    browsing = await client.post(
        "/api/v1/livechat/visitor",
        json={"visitor": {"token": "tok-1", "name": "Ann"}},
        headers={"User-Agent": CHROME_ON_WINDOWS},
    )
    assert browsing.status_code == 200, browsing.text
    await open_room(client, "tok-1")
    scripted = await client.post(
        "/api/v1/livechat/visitor",
        json={"visitor": {"token": "tok-2", "name": "Bob"}},
        headers={"User-Agent": ""},
    )
    assert scripted.status_code == 200, scripted.text
    await open_room(client, "tok-2")
    await settled(database_url, 2)
    by_name = {r.json()["visitor"]["name"]: r.json()["visitor"] for r in receiver.requests}
    assert (by_name["Ann"]["os"], by_name["Ann"]["browser"]) == ("Windows 10", "Chrome 120.0.6099.109")
    assert not {"os", "browser"} & set(by_name["Bob"])


async def test_a_visitor_without_contacts_has_no_email_and_a_null_phone_as_in_the_seed(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnStart=True)
    await register_visitor(client, "tok-1", "Ann")
    await open_room(client, "tok-1")
    await settled(database_url, 1)
    visitor = receiver.requests[0].json()["visitor"]
    assert "email" not in visitor
    assert visitor["phone"] is None
    assert "host" not in visitor  # Rocket.Chat keeps the host on the visitor, not in the payload


async def test_a_forward_to_a_department_names_the_old_department_and_not_the_old_agent(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    bob = await create_agent(client, admin, "bob")
    sales = await create_department(client, admin, "Sales", alice)
    billing = await create_department(client, admin, "Billing", bob)
    await register_visitor(client, "tok-1", department=sales)
    rid = (await open_room(client, "tok-1"))["_id"]
    await take_from_queue(client, alice, rid)
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnForward=True)
    moved = await client.post(
        "/api/v1/livechat/room.forward", json={"roomId": rid, "departmentId": billing}, headers=alice
    )
    assert moved.status_code == 200, moved.text
    await settled(database_url, 1)
    forwarded = receiver.requests[0].json()  # under manual selection it waits in Billing's queue
    assert forwarded["type"] == "LivechatSessionForwarded"
    assert (forwarded["departmentId"], forwarded["oldDepartmentId"]) == (billing, sales)
    assert "oldServedBy" not in forwarded


async def _browse_and_close(client: httpx.AsyncClient, token: str) -> None:
    rid = (await open_room(client, token))["_id"]
    page = {"title": "Pricing", "change": "url", "location": {"href": "https://shop.example/pricing"}}
    visited = await client.post(
        "/api/v1/livechat/page.visited", json={"token": token, "rid": rid, "pageInfo": page}
    )
    assert visited.status_code == 200, visited.text
    closed = await client.post("/api/v1/livechat/room.close", json={"token": token, "rid": rid})
    assert closed.status_code == 200, closed.text


async def test_transcripts_carry_the_visitors_navigation_when_both_navigation_settings_are_on(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    on = await client.post(
        "/api/v1/settings/Livechat_Visitor_navigation_as_a_message", json={"value": True}, headers=admin
    )
    assert on.status_code == 200, on.text
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatWebhookOnClose=True)
    await register_visitor(client, "tok-1", "Ann")
    await _browse_and_close(client, "tok-1")
    await configure(client, admin, LivechatWebhookSendNavigation=True)
    await register_visitor(client, "tok-2", "Bob")
    await _browse_and_close(client, "tok-2")
    await settled(database_url, 2)
    without, with_navigation = (r.json()["messages"] for r in receiver.requests)
    assert [m for m in without if "navigation" in m] == []
    [page] = [m for m in with_navigation if "navigation" in m]
    assert page["navigation"]["page"]["location"]["href"] == "https://shop.example/pricing"
    assert page["msg"] == "Pricing - https://shop.example/pricing"
