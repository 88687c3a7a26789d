"""How one claim round splits the global budget between endpoints (found by the isolation benchmark:
with more endpoints than the budget covers, the last ones were never claimed for)."""

from __future__ import annotations

from omnihook.webhooks.scheduler import fair_share


def test_every_endpoint_gets_a_share_when_the_asks_exceed_the_budget() -> None:
    asks = {f"endpoint{i}": 64 for i in range(40)}
    shares = fair_share(asks, 1024)
    assert set(shares) == set(asks)
    assert all(share == 25 for share in shares.values())
    assert sum(shares.values()) <= 1024


def test_small_asks_are_met_in_full_and_the_rest_share_what_is_left() -> None:
    assert fair_share({"big": 64, "other": 64, "small": 3}, 100) == {"small": 3, "big": 48, "other": 48}


def test_asks_within_the_budget_are_met_in_full() -> None:
    assert fair_share({"a": 5, "b": 7}, 100) == {"a": 5, "b": 7}


def test_no_budget_claims_nothing_and_a_tiny_one_gives_one_each_as_far_as_it_goes() -> None:
    assert fair_share({"a": 5}, 0) == {}
    assert fair_share({"a": 5, "b": 5, "c": 5}, 2) == {"a": 1, "b": 1}
