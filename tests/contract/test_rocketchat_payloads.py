"""Payloads keep Rocket.Chat's shape: the seed's two samples and a golden fixture for every type.

A scripted chat runs through the API with every toggle on; each payload that reaches the receiver
must have exactly the shape (keys, nesting, JSON types) of its golden fixture in fixtures/golden/,
and every golden fixture must contain the seed's samples' keys with the same types. Set
OMNIHOOK_UPDATE_GOLDEN=1 to rewrite the golden fixtures from a run (then review the diff).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.livechat_helpers import (
    agent_says,
    create_agent,
    open_room,
    set_routing,
    take_from_queue,
    visitor_says,
)
from tests.receiver import Receiver
from tests.webhook_helpers import ALL_TOGGLES, configure, settled

FIXTURES = Path(__file__).parent / "fixtures"
GOLDEN = FIXTURES / "golden"
# One golden fixture per type; messages have two, the visitor's and the agent's.
TYPES = [
    "LivechatSessionStart",
    "LivechatSessionQueued",
    "LivechatSessionTaken",
    "LivechatSessionForwarded",
    "LivechatSession",
    "LivechatEdit",
    "Message.visitor",
    "Message.agent",
    "LivechatOfflineMessage",
]
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36"
ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and nesting kept, scalars replaced by their JSON type."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


def missing_from(sample: Any, actual: Any, where: str = "$") -> list[str]:
    """Where `actual` lacks a key of `sample` or has another type (a null in the sample allows a list)."""
    if isinstance(sample, dict):
        if not isinstance(actual, dict):
            return [f"{where}: object expected"]
        problems = []
        for key, value in sample.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems.extend(missing_from(value, actual[key], f"{where}.{key}"))
        return problems
    if isinstance(sample, list):
        if not isinstance(actual, list):
            return [f"{where}: array expected"]
        if len(actual) < len(sample):
            return [f"{where}: {len(sample)} items expected, got {len(actual)}"]
        return [p for i, s in enumerate(sample) for p in missing_from(s, actual[i], f"{where}[{i}]")]
    if sample is None:
        return [] if actual is None or isinstance(actual, list) else [f"{where}: null or array expected"]
    if shape(sample) != shape(actual):
        return [f"{where}: {shape(sample)} expected, got {shape(actual)}"]
    return []


def timestamps(value: Any, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in timestamps(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in timestamps(v, key)]
    if key in ("createdAt", "lastMessageAt", "ts", "closedAt", "sentAt", "_updatedAt") and value is not None:
        return [value]
    return []


async def scripted_chat(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> dict[str, Any]:
    """The seed's conversation, plus a forward, an edit after closing and an offline message."""
    await set_routing(client, admin, "Manual_Selection")
    await configure(client, admin, LivechatWebhookUrl=receiver.url, LivechatSecretToken="t", **ALL_TOGGLES)
    user1 = await create_agent(client, admin, "user1")
    user2 = await create_agent(client, admin, "user2")
    sales = await client.post(
        "/api/v1/livechat/department",
        json={
            "department": {"name": "Sales"},
            "agents": [{"agentId": u["X-User-Id"]} for u in (user1, user2)],
        },
        headers=admin,
    )
    assert sales.status_code == 200, sales.text
    registered = await client.post(
        "/api/v1/livechat/visitor",
        json={
            "visitor": {
                "token": "e36e352c742eee48",
                "name": "James",
                "email": "abc.xyz+local-on@rocket.chat",
                "department": sales.json()["department"]["_id"],
            }
        },
        headers={"User-Agent": BROWSER},
    )
    assert registered.status_code == 200, registered.text
    visitor = registered.json()["visitor"]
    rid = (await open_room(client, "e36e352c742eee48"))["_id"]
    await visitor_says(client, "e36e352c742eee48", rid, "Hi")
    await take_from_queue(client, user1, rid)
    await agent_says(client, user1, rid, "How can I help you today?")
    await visitor_says(client, "e36e352c742eee48", rid, "don't worry,thank you")
    forward = {"roomId": rid, "userId": user2["X-User-Id"], "comment": "handing over"}
    assert (
        await client.post("/api/v1/livechat/room.forward", json=forward, headers=user1)
    ).status_code == 200
    close = {"rid": rid, "comment": "Thank you for visiting", "tags": ["self"]}
    assert (
        await client.post("/api/v1/livechat/room.closeByUser", json=close, headers=user2)
    ).status_code == 200
    edit = {"guestData": {"_id": visitor["_id"]}, "roomData": {"_id": rid, "topic": "billing"}}
    assert (await client.post("/api/v1/livechat/room.saveInfo", json=edit, headers=admin)).status_code == 200
    offline = {"name": "James", "email": "james@example.com", "message": "Please call me"}
    assert (await client.post("/api/v1/livechat/offline.message", json=offline)).status_code == 200
    # Start, Queued, Message, Taken, Message, Message, Forwarded, Taken, Session, Edit, Offline
    arrived = await receiver.arrived(11)
    by_type: dict[str, Any] = {}
    for request in arrived:
        payload = request.json()
        kind = payload["type"]
        if kind == "Message":
            kind += ".agent" if "agentId" in payload["messages"][0] else ".visitor"
        by_type[kind] = payload  # the last of each type: the visitor's last message has an agent
    return by_type


@pytest.fixture
async def payloads(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> dict[str, Any]:
    by_type = await scripted_chat(client, admin, receiver)
    await settled(database_url, 11)
    if os.environ.get("OMNIHOOK_UPDATE_GOLDEN") == "1" and "sqlite" in database_url:
        for kind, payload in by_type.items():
            (GOLDEN / f"{kind}.json").write_text(json.dumps(payload, indent=2) + "\n")
    return by_type


async def test_every_type_is_sent_with_exactly_its_golden_shape(payloads: dict[str, Any]) -> None:
    assert sorted(payloads) == sorted(TYPES)
    for kind in TYPES:
        golden = json.loads((GOLDEN / f"{kind}.json").read_text())
        # crmData appears once the CRM's first 200 has been recorded: timing, not shape.
        golden.pop("crmData", None)
        actual = {k: v for k, v in payloads[kind].items() if k != "crmData"}
        assert shape(actual) == shape(golden), kind


async def test_timestamps_are_iso_8601_utc_with_milliseconds(payloads: dict[str, Any]) -> None:
    found = [t for payload in payloads.values() for t in timestamps(payload)]
    assert found
    assert [t for t in found if not ISO_MS_Z.match(t)] == []


def test_the_closed_session_golden_has_every_key_of_the_seed_sample() -> None:
    golden = json.loads((GOLDEN / "LivechatSession.json").read_text())
    assert missing_from(load("seed_livechat_session.json"), golden) == []


def test_the_agent_message_golden_has_every_key_of_the_seed_sample() -> None:
    golden = json.loads((GOLDEN / "Message.agent.json").read_text())
    assert missing_from(load("seed_message.json"), golden) == []


def test_the_visitor_message_golden_has_the_seed_keys_but_no_agent_id() -> None:
    golden = json.loads((GOLDEN / "Message.visitor.json").read_text())
    seed = load("seed_message.json")
    seed["messages"] = [load("seed_livechat_session.json")["messages"][0]]  # the seed's visitor message
    assert missing_from(seed, golden) == []
    assert "agentId" not in golden["messages"][0]


@pytest.mark.parametrize("kind", [t for t in TYPES if t != "LivechatOfflineMessage"])
def test_every_room_golden_carries_the_seed_room_envelope(kind: str) -> None:
    """Room, visitor, agent, type and messages as in the seed (transcripts differ in length)."""
    seed = load("seed_livechat_session.json")
    envelope = {k: v for k, v in seed.items() if k in ENVELOPE_KEYS}
    envelope["messages"] = []
    golden = json.loads((GOLDEN / f"{kind}.json").read_text())
    if kind not in ("LivechatSession", "LivechatEdit"):  # tags are given when the chat closes
        assert "tags" not in golden
        del envelope["tags"]
    if "agent" not in golden:  # not served yet
        assert kind in ("LivechatSessionStart", "LivechatSessionQueued")
        del envelope["agent"]
    assert missing_from(envelope, golden) == []
    visitor_sample, agent_sample = seed["messages"][0], seed["messages"][1]
    for message in golden["messages"]:
        sample = agent_sample if "agentId" in message else visitor_sample
        assert missing_from(sample, message) == []


ENVELOPE_KEYS = ("_id", "label", "createdAt", "tags", "visitor", "agent", "type", "messages")


@pytest.mark.parametrize("kind", ["LivechatSessionTaken", "LivechatSessionForwarded", "LivechatSession"])
def test_served_sessions_carry_served_by_and_the_department(kind: str) -> None:
    golden = json.loads((GOLDEN / f"{kind}.json").read_text())
    assert missing_from(load("seed_livechat_session.json")["servedBy"], golden["servedBy"]) == []
    assert "departmentId" in golden


def test_the_forward_golden_names_the_previous_agent() -> None:
    golden = json.loads((GOLDEN / "LivechatSessionForwarded.json").read_text())
    assert set(golden["oldServedBy"]) == {"_id", "username", "ts"}


def test_the_offline_message_golden_is_rocket_chats_offline_shape() -> None:
    golden = json.loads((GOLDEN / "LivechatOfflineMessage.json").read_text())
    assert shape({k: golden[k] for k in ("type", "sentAt", "visitor", "message")}) == {
        "type": "string",
        "sentAt": "string",
        "visitor": {"name": "string", "email": "string"},
        "message": "string",
    }
