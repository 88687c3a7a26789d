"""The scenarios, in the order `make bench` runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bench.harness import Context
from bench.results import ScenarioResult


@dataclass(frozen=True)
class Scenario:
    title: str
    run: Callable[[Context], Awaitable[ScenarioResult]]


SCENARIOS: dict[str, Scenario] = {}
