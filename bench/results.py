"""Figures, their baselines from the same run, and the one table printed and written to RESULTS.md."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its baseline; `higher_is_better` decides how the ratio reads."""

    scenario: str
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    target: str = ""
    met: bool | None = None  # None: no target for this figure
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class ScenarioResult:
    name: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # extra facts: counts, order checks, set-up
    # what must hold for the figures to mean anything: name -> (expected, observed)
    checks: dict[str, tuple[int, int]] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure


def fmt(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def table(results: list[ScenarioResult]) -> str:
    header = ["scenario", "figure", "omnihook", "baseline (same run)", "ratio", "target", "met"]
    rows: list[list[str]] = []
    for result in results:
        if result.error:
            rows.append([result.name, "FAILED", result.error.splitlines()[0][:80], "", "", "", "no"])
            continue
        for fig in result.figures:
            baseline = f"{fig.baseline_name}: {fmt(fig.baseline, fig.unit)}" if fig.baseline_name else "-"
            ratio = f"{fig.ratio:.2f}x" if fig.ratio is not None else "-"
            met = {None: "", True: "yes", False: "NO"}[fig.met]
            rows.append([fig.scenario, fig.name, fmt(fig.value, fig.unit), baseline, ratio, fig.target, met])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def machine() -> dict[str, str]:
    mem_kb = 0
    try:
        for raw in Path("/proc/meminfo").read_text().splitlines():
            if raw.startswith("MemTotal:"):
                mem_kb = int(raw.split()[1])
    except OSError:
        pass
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "?",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "load": load_average(),
        "commit": _commit(),
    }


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def render_markdown(
    results: list[ScenarioResult], *, scale: str, started: datetime, info: dict[str, str], notes: list[str]
) -> str:
    took = sum(r.seconds for r in results)
    lines = [
        "# Benchmark results",
        "",
        f"`make bench` (scale `{scale}`), {started.astimezone(UTC):%Y-%m-%d %H:%M} UTC, commit `{info['commit']}`.",
        f"Machine: {info['cores']} cores, {info['memory']} memory, {info['python']}, {info['system']}. "
        f"Load average (1, 5, 15 min) at the start {info['load']}, at the end {load_average()}. "
        f"The whole run took {took:.0f} s.",
        "",
        "Every figure has its baseline measured in the same run on the same machine; the ratio is "
        "omnihook ÷ baseline. See bench/README.md for what each scenario does.",
        "",
        table(results),
        "",
    ]
    if notes:
        lines += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    lines += ["## Details", ""]
    for result in results:
        lines.append(f"### {result.name}: {result.title}")
        lines.append("")
        if result.error:
            lines += ["```", result.error.strip(), "```"]
        lines += [f"- {d}" for d in result.details]
        failed = [f"{k}: expected {e}, got {o}" for k, (e, o) in result.checks.items() if e != o]
        if failed:
            lines.append("- CHECKS FAILED: " + "; ".join(failed))
        lines.append(f"- took {result.seconds:.0f} s")
        lines.append("")
    return "\n".join(lines)
