"""The scheduler alone: what each endpoint is claimed for, how its slots are filled, a room's chain."""

from __future__ import annotations

from omnihook.webhooks.endpoints import EndpointConfig
from omnihook.webhooks.queue_store import Claimed
from omnihook.webhooks.scheduler import EXTEND_AT, Scheduler
from tests.unit.engine_parts import claimed, endpoint


def scheduler(*endpoints: EndpointConfig, prefetch: int = 2, global_cap: int = 1024) -> Scheduler:
    s = Scheduler(prefetch=prefetch, global_cap=global_cap)
    s.endpoints = {e.id: e for e in endpoints}
    return s


def test_a_first_round_asks_every_enabled_endpoint_for_its_slots_times_the_prefetch() -> None:
    s = scheduler(
        endpoint("a", max_in_flight=4), endpoint("b", max_in_flight=1), endpoint("off", enabled=False)
    )
    plan = s.plan_claim()
    assert plan.wants == {"a": 8, "b": 2}


def test_an_endpoint_is_asked_again_only_when_it_has_news() -> None:
    s = scheduler(endpoint("a"), endpoint("b"))
    s.claimed(s.plan_claim(), [])  # both came back short
    assert s.plan_claim().wants == {}
    s.mark(["b"])
    assert set(s.plan_claim().wants) == {"b"}
    s.mark()
    assert set(s.plan_claim().wants) == {"a", "b"}


def test_a_claim_that_came_back_full_is_repeated_and_marks_the_endpoint_backlogged() -> None:
    s = scheduler(endpoint("a", max_in_flight=1), prefetch=2)
    plan = s.plan_claim()
    full = s.claimed(plan, [claimed(1, endpoint_id="a", room="r1"), claimed(2, endpoint_id="a", room="r2")])
    assert full == {"a"} and s.slots["a"].backlogged
    assert len(s.slots["a"].queue) == 2
    assert s.plan_claim().wants == {}  # its queue is full: nothing more until it runs low


def test_the_global_budget_is_shared_fairly_and_unmet_asks_stay_for_the_next_round() -> None:
    s = scheduler(*(endpoint(f"e{i}", max_in_flight=8) for i in range(4)), prefetch=1, global_cap=10)
    plan = s.plan_claim()
    assert sorted(plan.wants.values()) == [2, 2, 2, 2]
    assert plan.asked == {"e0", "e1", "e2", "e3"}
    assert set(plan.wants) == {"e0", "e1", "e2", "e3"}


def test_senders_never_exceed_an_endpoints_slots_and_items_leave_the_queue_in_order() -> None:
    s = scheduler(endpoint("a", max_in_flight=2), prefetch=4)
    s.enqueue(claimed(n, endpoint_id="a", room=f"r{n}") for n in range(1, 6))
    assert s.senders_wanted("a") == 2
    s.slots["a"].senders = 2
    assert s.senders_wanted("a") == 0
    taken = [s.next_run("a") for _ in range(2)]
    assert [[i.seq for i in run] for _, run in filter(None, taken)] == [[1], [2]]
    assert s.in_flight() == 2


def test_a_disabled_endpoint_gets_no_item_and_its_queue_is_given_back() -> None:
    s = scheduler(endpoint("a"))
    s.enqueue([claimed(1, endpoint_id="a")])
    s.endpoints = {"a": endpoint("a", enabled=False)}
    assert s.next_run("a") is None and s.senders_wanted("a") == 0
    assert [i.seq for i in s.drain_disabled()] == [1]
    assert not s.slots["a"].queue


def test_a_finished_head_chains_its_rooms_next_delivery_where_there_is_room() -> None:
    s = scheduler(endpoint("a", max_in_flight=1), prefetch=2)
    s.plan_claim()
    finished = [claimed(n, endpoint_id="a", room=f"r{n}") for n in (1, 2, 3)]
    plan = s.chain(finished)
    assert plan.keys == {"a": ["r1", "r2"]} and plan.wants == {"a": 2}  # room for two
    assert s.slots["a"].backlogged  # the third waits for a claim round


def test_an_unordered_delivery_has_no_chain() -> None:
    s = scheduler(endpoint("a"))
    s.plan_claim()
    assert s.chain([claimed(1, endpoint_id="a", room=None)]).keys == {}


def test_a_run_is_one_sender_s_work_counted_by_its_deliveries_and_chains_only_at_its_end() -> None:
    s = scheduler(endpoint("a", max_in_flight=2), prefetch=4)  # room for 8
    head = claimed(1, endpoint_id="a")
    head.followers = [claimed(n, endpoint_id="a") for n in (2, 3, 4)]
    head.ends_run = False
    for item in head.followers[:-1]:
        item.ends_run = False
    s.claimed(s.plan_claim(), [head])
    assert s.senders_wanted("a") == 1  # one room, one sender
    taken = s.next_run("a")
    assert taken is not None and [i.seq for i in taken[1]] == [1, 2, 3, 4]
    assert s.in_flight() == 4
    assert s.chain(head.run[:3]).keys == {}  # the run goes on
    assert s.chain(head.run[3:]).keys == {"a": ["r1"]}
    assert s.chain(head.run[3:]).wants == {"a": 4}


def test_the_end_of_a_send_asks_for_a_claim_when_a_backlogged_queue_runs_low() -> None:
    s = scheduler(endpoint("a", max_in_flight=2), prefetch=2)
    plan = s.plan_claim()
    s.claimed(plan, [claimed(n, endpoint_id="a", room=f"r{n}") for n in range(1, 5)])
    runs = [s.next_run("a") for _ in range(3)]
    first = runs[0]
    assert first is not None
    assert s.sent("a", first[1]) is True  # one left in the queue, fewer than the slots


def _sending(s: Scheduler, length: int) -> list[Claimed]:
    """A run of `length` deliveries of room r1 to endpoint a, taken by a sender."""
    head = claimed(1, endpoint_id="a")
    head.followers = [claimed(n, endpoint_id="a") for n in range(2, length + 1)]
    for item in head.run[:-1]:
        item.ends_run = False
    s.claimed(s.plan_claim(), [head])
    taken = s.next_run("a")
    assert taken is not None
    return taken[1]


def test_a_run_being_sent_asks_for_the_rows_behind_it_and_they_join_it() -> None:
    s = scheduler(endpoint("a", max_in_flight=2), prefetch=4)  # room for 8
    run = _sending(s, 3)
    extension = s.extend("a", run, sent=1)
    assert extension is not None and s.take_extensions() == [extension]
    assert not run[-1].ends_run  # until answered, its last row does not chain the room
    assert s.extension_room(extension) == 5  # the endpoint's room, the run's 3 in flight
    behind = [claimed(n, endpoint_id="a") for n in (4, 5)]
    assert s.extended(extension, behind) == []
    assert [i.seq for i in run] == [1, 2, 3, 4, 5] and extension.found == 2
    assert extension.answered.is_set()
    assert s.in_flight() == 5
    assert s.chain(run[:3]).keys == {}  # the run goes on past its old end
    s.sent("a", run)
    assert s.in_flight() == 0


def test_an_extension_that_finds_nothing_lets_the_run_end_and_chain() -> None:
    s = scheduler(endpoint("a", max_in_flight=2), prefetch=4)
    run = _sending(s, 2)
    extension = s.extend("a", run, sent=1)
    assert extension is not None
    assert s.extended(extension, []) == []
    assert run[-1].ends_run and extension.found == 0
    assert s.chain(run[1:]).keys == {"a": ["r1"]}


def test_rows_taken_for_a_run_that_has_ended_are_given_back() -> None:
    s = scheduler(endpoint("a", max_in_flight=2), prefetch=4)
    run = _sending(s, 2)
    extension = s.extend("a", run, sent=1)
    assert extension is not None
    extension.open = False  # its sender stopped (a failure, or the dispatcher stopping)
    assert s.extension_room(extension) == 0
    behind = [claimed(3, endpoint_id="a")]
    assert s.extended(extension, behind) == behind
    assert [i.seq for i in run] == [1, 2] and s.in_flight() == 2


def test_an_unordered_delivery_or_a_long_way_from_its_end_asks_for_nothing() -> None:
    s = scheduler(endpoint("a", max_in_flight=2), prefetch=4)
    lone = claimed(9, endpoint_id="a", room=None)
    assert s.extend("a", [lone], sent=0) is None
    run = _sending(s, 3)
    assert s.extend("a", run, sent=-EXTEND_AT) is None  # more than EXTEND_AT left to send
    assert s.take_extensions() == []
