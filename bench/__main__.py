"""`python -m bench`: run the scenarios, print one table, write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import Context
from bench.results import ScenarioResult, machine, render_markdown, table
from bench.scale import SCALES
from bench.scenarios import SCENARIOS

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).with_name("RESULTS.md")


async def run_all(names: list[str], ctx: Context) -> list[ScenarioResult]:
    results = []
    for name in names:
        scenario = SCENARIOS[name]
        print(f"[bench] {name}: {scenario.title} …", flush=True)
        started = time.monotonic()
        try:
            result = await scenario.run(ctx)
        except Exception as exc:
            result = ScenarioResult(name, scenario.title, error=f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
        result.seconds = time.monotonic() - started
        print(f"[bench] {name} done in {result.seconds:.0f} s", flush=True)
        results.append(result)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated, among {','.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="where the bench creates its databases"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="results file (default bench/RESULTS.md at full scale)"
    )
    parser.add_argument("--note", action="append", default=[], help="a line for the Notes section")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios {unknown}")
    info = machine()
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="omnihook-bench-"))
    ctx = Context(scale=SCALES[args.scale], workdir=workdir, postgres_url=args.postgres_url)
    try:
        results = asyncio.run(run_all(names, ctx))
    finally:
        if args.keep:
            print(f"[bench] work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(table(results))
    out = args.out if args.out is not None else (RESULTS if args.scale == "full" else None)
    if out is not None:
        out.write_text(
            render_markdown(results, scale=args.scale, started=started, info=info, notes=args.note)
        )
        print(f"\n[bench] written to {out}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
