"""The live events and the pages' streams: who hears which committed event, and how a stream starts,
idles and ends."""

from __future__ import annotations

import json

from omnihook.domain.events import MessageSent, OfflineMessageReceived, RoomClosed, RoomTaken, TokensRevoked
from omnihook.livechat.live_events import QUEUE_SIZE, RESYNC, Broker, typing_note
from omnihook.web.live import event_stream


def drain(queue_owner: object) -> list[dict[str, object]]:
    queue = queue_owner.queue  # type: ignore[attr-defined]
    notes = []
    while not queue.empty():
        notes.append(queue.get_nowait())
    return notes


async def test_a_room_subscription_hears_its_room_only() -> None:
    broker = Broker()
    with broker.subscribe("room-a") as visitor_a:
        broker.publish(
            [
                MessageSent(room_id="room-a", message_id="m1", by_visitor=True),
                MessageSent(room_id="room-b", message_id="m2", by_visitor=True),
                RoomClosed(room_id="room-b"),
            ]
        )
        assert [n["messageId"] for n in drain(visitor_a)] == ["m1"]


async def test_a_staff_subscription_hears_every_room() -> None:
    broker = Broker()
    with broker.subscribe() as staff:
        broker.publish([RoomTaken(room_id="room-a", agent_id="agent-1"), RoomClosed(room_id="room-b")])
        assert drain(staff) == [
            {"kind": "room.taken", "roomId": "room-a", "agentId": "agent-1"},
            {"kind": "room.closed", "roomId": "room-b"},
        ]


async def test_notes_carry_ids_never_message_text_or_offline_visitor_details() -> None:
    broker = Broker()
    with broker.subscribe() as staff:
        broker.publish(
            [
                OfflineMessageReceived(
                    offline_message_id="o1", name="Ann", email="ann@example.com", message="call me"
                )
            ]
        )
        assert drain(staff) == [{"kind": "offline_message.received", "roomId": None}]


async def test_leaving_a_subscription_unsubscribes() -> None:
    broker = Broker()
    with broker.subscribe("room-a"):
        assert broker.subscriber_count == 1
    assert broker.subscriber_count == 0
    broker.publish([RoomClosed(room_id="room-a")])  # nobody left to tell: no error


async def test_a_stream_says_hello_then_relays_notes_and_ends_when_the_broker_closes() -> None:
    broker = Broker()
    stream = event_stream(broker, "room-a")
    hello = await anext(stream)
    assert hello.startswith(b"retry: 2000\n")
    assert json.loads(hello.split(b"data: ", 1)[1]) == {"kind": "hello", "roomId": "room-a"}
    broker.publish([MessageSent(room_id="room-a", message_id="m1", by_visitor=False)])
    note = await anext(stream)
    assert json.loads(note.removeprefix(b"data: ")) == {
        "kind": "message.sent",
        "roomId": "room-a",
        "messageId": "m1",
        "byVisitor": False,
    }
    broker.close()
    assert [chunk async for chunk in stream] == []
    assert broker.subscriber_count == 0


async def test_an_idle_stream_sends_heartbeat_comments() -> None:
    broker = Broker()
    stream = event_stream(broker, None, heartbeat=0.01)
    await anext(stream)
    assert await anext(stream) == b": heartbeat\n\n"
    await stream.aclose()
    assert broker.subscriber_count == 0


async def test_a_reader_that_falls_behind_is_told_to_reload() -> None:
    broker = Broker()
    stream = event_stream(broker, None)
    await anext(stream)
    broker.publish(
        [MessageSent(room_id="r", message_id=f"m{i}", by_visitor=True) for i in range(QUEUE_SIZE + 5)]
    )
    first = await anext(stream)
    assert json.loads(first.removeprefix(b"data: "))["kind"] == "resync"
    await stream.aclose()


async def test_a_stream_opened_after_close_ends_at_once() -> None:
    broker = Broker()
    broker.close()
    chunks = [chunk async for chunk in event_stream(broker, None)]
    assert len(chunks) == 1  # the hello, then the end


async def test_a_resync_reaches_every_stream_at_once_whatever_its_room() -> None:
    broker = Broker()
    with broker.subscribe("room-a") as visitor_a, broker.subscribe() as staff:
        broker.fanout([RESYNC])
        assert drain(visitor_a) == [RESYNC]
        assert drain(staff) == [RESYNC]


async def test_a_revoked_login_is_told_to_that_users_connections_and_the_hubs_only() -> None:
    broker = Broker()
    with (
        broker.subscribe(user_id="u1") as own,
        broker.subscribe(user_id="u2") as other_user,
        broker.subscribe("room-a") as visitor,
        broker.subscribe() as hub,
    ):
        broker.publish([TokensRevoked(user_id="u1")])
        note = {"kind": "tokens.revoked", "roomId": None, "userId": "u1"}
        assert drain(own) == drain(hub) == [note]
        assert drain(other_user) == drain(visitor) == []


async def test_typing_is_sent_at_once_to_the_rooms_subscribers_without_a_transaction() -> None:
    broker = Broker()
    with broker.subscribe("room-a") as visitor, broker.subscribe("room-b") as elsewhere:
        await broker.publish_now([typing_note("room-a", "agent.smith", True, origin="session-1")])
        assert drain(visitor) == [
            {
                "kind": "typing",
                "roomId": "room-a",
                "username": "agent.smith",
                "typing": True,
                "origin": "session-1",
            }
        ]
        assert drain(elsewhere) == []


async def test_a_page_stream_skips_typing_and_ends_when_its_login_is_revoked() -> None:
    broker = Broker()
    checks: list[str] = []

    async def still_valid() -> bool:
        checks.append("checked")
        return len(checks) == 1  # valid the first time it is asked, revoked the second

    stream = event_stream(broker, None, user_id="u1", still_valid=still_valid)
    await anext(stream)
    await broker.publish_now([typing_note("room-a", "ann", True, origin="s")])
    broker.publish([TokensRevoked(user_id="u1"), RoomClosed(room_id="room-a")])
    note = json.loads((await anext(stream)).removeprefix(b"data: "))
    assert note["kind"] == "room.closed"  # typing skipped, the revocation checked and survived
    assert checks == ["checked"]
    broker.publish([TokensRevoked(user_id="u1"), RoomClosed(room_id="room-b")])
    assert [chunk async for chunk in stream] == []
    assert checks == ["checked", "checked"]


async def test_an_idle_page_stream_ends_once_its_login_has_expired() -> None:
    broker = Broker()

    async def still_valid() -> bool:
        return False  # expired: nobody announced it

    stream = event_stream(broker, None, heartbeat=0.01, user_id="u1", still_valid=still_valid)
    await anext(stream)
    assert [chunk async for chunk in stream] == []
