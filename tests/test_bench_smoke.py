"""The benchmark stays runnable: every scenario at the tiny scale produces its figures and its checks hold.

No timing is asserted here; speed is what `make bench` measures.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.harness import Context
from bench.results import ScenarioResult, render_markdown, table
from bench.scale import TINY
from bench.scenarios import SCENARIOS

from tests.conftest import SKIP_POSTGRES
from tests.databases import POSTGRES_ADMIN_URL


def _params() -> list[object]:
    marks = {"postgres": [pytest.mark.postgres]}
    return [pytest.param(name, marks=marks.get(name, [])) for name in SCENARIOS]


@pytest.mark.parametrize("name", _params())
async def test_scenario_runs_at_tiny_scale_and_every_delivery_is_accounted_for(
    name: str, tmp_path: Path
) -> None:
    if name == "postgres" and SKIP_POSTGRES:
        pytest.skip("OMNIHOOK_SKIP_POSTGRES=1")
    ctx = Context(scale=TINY, workdir=tmp_path, postgres_url=POSTGRES_ADMIN_URL)
    result = await SCENARIOS[name].run(ctx)
    assert result.error is None
    assert result.figures, "the scenario reported no figure"
    for figure in result.figures:
        assert not math.isnan(figure.value), f"{figure.name} was not measured"
        if figure.baseline_name:
            assert figure.baseline is not None and not math.isnan(figure.baseline), figure.name
    assert result.checks
    failed = {k: v for k, v in result.checks.items() if v[0] != v[1]}
    assert not failed, f"expected vs observed: {failed}"
    markdown = render_markdown([result], scale="tiny", started=_now(), info=_info(), notes=[])
    assert result.figures[0].name in markdown
    assert result.figures[0].name in table([result])


def test_a_failed_scenario_shows_in_the_table_instead_of_figures() -> None:
    failed = ScenarioResult("flood", "t", error="RuntimeError: receiver down")
    assert "FAILED" in table([failed])


def _now() -> datetime:
    return datetime.now(UTC)


def _info() -> dict[str, str]:
    return {"cores": "2", "memory": "1 GiB", "python": "3", "system": "x", "load": "0", "commit": "c"}
