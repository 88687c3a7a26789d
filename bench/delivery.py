"""Timing a drain: how fast omnihook workers, or a baseline sender, get a known set of deliveries to the receiver."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.baselines import write_payloads
from bench.harness import Receiver
from bench.proc import Children, python_argv
from bench.server import start_worker

DRAIN_LIMIT_S = 300.0


@dataclass(frozen=True)
class Drain:
    delivered: int
    seconds: float  # from the sender being ready to the last arrival
    cpu_seconds: float  # of the sending processes from then on (their start-up left out)

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


async def _last_arrival(receiver: Receiver, name: str, prefix: bool = False) -> float:
    arrivals = await receiver.arrivals()
    return max(
        (a[0] for a in arrivals if (a[1].startswith(name) if prefix else a[1] == name)), default=time.time()
    )


async def drain_with_workers(
    group: Children,
    receiver: Receiver,
    database_url: str,
    *,
    name: str,
    total: int,
    workers: int = 1,
    prefix: bool = False,
) -> Drain:
    """Start `workers` omnihook workers on a database whose `total` deliveries to /hook/`name` are pending
    (with `prefix`, to every name that starts with `name`)."""
    started: list[float] = []
    procs = []
    cpu_at_start = 0.0
    for i in range(workers):
        child, ready = await start_worker(group, database_url, name=f"worker{i}")
        cpu_at_start += child.usage().cpu_seconds
        procs.append(child)
        started.append(ready)
    got = await receiver.wait_for(total, within=DRAIN_LIMIT_S, name=name, prefix=prefix)
    end = await _last_arrival(receiver, name, prefix)
    cpu = sum(p.usage().cpu_seconds for p in procs) - cpu_at_start
    for p in procs:
        await p.stop()
    if got < total:
        raise RuntimeError(f"only {got} of {total} deliveries arrived in {DRAIN_LIMIT_S:.0f} s")
    return Drain(got, end - min(started), cpu)


async def drain_with_baseline(
    group: Children,
    receiver: Receiver,
    workdir: Path,
    *,
    mode: str,
    payloads: list[bytes],
    concurrency: int,
) -> Drain:
    """Run the `bare` or `naive` sender over `payloads` to /hook/<mode>."""
    path = workdir / f"payloads-{mode}-{len(payloads)}.jsonl"
    write_payloads(path, payloads)
    child, _ = await group.start(
        mode,
        python_argv(
            "bench.baselines",
            mode,
            "--url",
            receiver.url(mode),
            "--payloads",
            str(path),
            "--concurrency",
            str(concurrency),
        ),
        ready_line="READY",
    )
    ready = time.time()
    usage = child.usage()
    await child.wait(within=DRAIN_LIMIT_S)
    got = (await receiver.count())["by_name"].get(mode, 0)
    end = await _last_arrival(receiver, mode)
    if got < len(payloads):
        raise RuntimeError(f"{mode} sender: only {got} of {len(payloads)} arrived:\n{child.tail()}")
    # the process is gone: its CPU time is what it reported just before exiting, less its start-up
    reported = _reported_cpu(child.line("DONE"))
    return Drain(got, end - ready, reported - usage.cpu_seconds if reported is not None else 0.0)


def _reported_cpu(line: str | None) -> float | None:
    if not line:
        return None
    value = orjson.loads(line).get("cpu")
    return float(value) if value is not None else None
