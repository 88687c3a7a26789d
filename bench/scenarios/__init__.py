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


def _registry() -> dict[str, Scenario]:
    from bench.scenarios import backlog, flood, ingest, isolation, postgres, steady

    modules = {
        "flood": flood,
        "steady": steady,
        "ingest": ingest,
        "isolation": isolation,
        "backlog": backlog,
        "postgres": postgres,
    }
    return {name: Scenario(m.TITLE, m.run) for name, m in modules.items()}


SCENARIOS: dict[str, Scenario] = _registry()
