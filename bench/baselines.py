"""What omnihook is measured against, each run as a process of its own (`python -m bench.baselines`).

bare   the limit for one Python process: aiohttp posting the payloads from a queue with a fixed number of
       workers, no database, no retries, no bookkeeping.
naive  how Rocket.Chat sends: one asyncio task per event, fired at once, retried on a timer when the
       answer is not 200, everything in memory (a restart loses it all).
Both read the payloads from a file, one JSON document a line, and print `DONE <json>` when finished.
`--hold` keeps the naive sender alive with its pending retries (the backlog scenario).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import aiohttp
import orjson

from bench.receiver import message_ids, run_fast

HEADERS = {"Content-Type": "application/json"}


def read_payloads(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line]


def write_payloads(path: Path, payloads: list[bytes]) -> None:
    path.write_bytes(b"\n".join(orjson.dumps(orjson.loads(p)) for p in payloads) + b"\n")


async def bare_send(url: str, payloads: list[bytes], concurrency: int, request_timeout: float = 5.0) -> int:
    """Post every payload once with `concurrency` workers; returns how many got a 200."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    ok = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=request_timeout)
    ) as http:

        async def worker() -> None:
            nonlocal ok
            while not queue.empty():
                payload = queue.get_nowait()
                try:
                    async with http.post(url, data=payload, headers=HEADERS) as response:
                        await response.read()
                        ok += response.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    pass

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


class NaiveSender:
    """One task per event, retried with call_later: Rocket.Chat's sendRequest, in Python."""

    def __init__(
        self, http: aiohttp.ClientSession, url: str, *, attempts: int, retry_delay: float, timeout: float
    ) -> None:
        self.http = http
        self.url = url
        self.attempts = attempts
        self.retry_delay = retry_delay
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.delivered = 0
        self.given_up = 0
        self.pending = 0
        self.all_settled = asyncio.Event()
        self.submitting = True  # settled means nothing while payloads are still being handed in
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, payload: bytes) -> None:
        self.pending += 1
        self._spawn(payload, self.attempts)

    def _spawn(self, payload: bytes, remaining: int) -> None:
        task = asyncio.get_running_loop().create_task(self._attempt(payload, remaining))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, payload: bytes, remaining: int) -> None:
        try:
            async with self.http.post(
                self.url, data=payload, headers=HEADERS, timeout=self.timeout
            ) as response:
                await response.read()
                if response.status == 200:
                    self._settle(delivered=True)
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        if remaining <= 1:
            self._settle(delivered=False)
            return
        loop = asyncio.get_running_loop()
        loop.call_later(self.retry_delay, self._spawn, payload, remaining - 1)

    def _settle(self, *, delivered: bool) -> None:
        self.pending -= 1
        if delivered:
            self.delivered += 1
        else:
            self.given_up += 1
        if self.pending == 0 and not self.submitting:
            self.all_settled.set()

    def done_submitting(self) -> None:
        self.submitting = False
        if self.pending == 0:
            self.all_settled.set()


async def naive_send(
    url: str,
    payloads: list[bytes],
    concurrency: int,
    *,
    attempts: int = 10,
    retry_delay: float = 10.0,
    request_timeout: float = 5.0,
    hold: float = 0.0,
    rate: float = 0.0,
    submitted: dict[str, float] | None = None,
) -> dict[str, int]:
    """Send every payload; at `rate` a second when given (recording each message's submit time)."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        sender = NaiveSender(http, url, attempts=attempts, retry_delay=retry_delay, timeout=request_timeout)
        start = time.monotonic()
        for i, payload in enumerate(payloads):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if submitted is not None:
                    submitted[message_ids(payload)[1] or str(i)] = time.time()
            sender.send(payload)
        sender.done_submitting()
        if hold:
            print(f"SUBMITTED {len(payloads)}", flush=True)
            await asyncio.sleep(hold)
        else:
            await sender.all_settled.wait()
        return {"delivered": sender.delivered, "given_up": sender.given_up, "pending": sender.pending}


async def run(
    args: argparse.Namespace, payloads: list[bytes], submitted: dict[str, float]
) -> dict[str, object]:
    started = time.time()
    if args.mode == "bare":
        result: dict[str, object] = {"delivered": await bare_send(args.url, payloads, args.concurrency)}
    else:
        result = dict(
            await naive_send(
                args.url,
                payloads,
                args.concurrency,
                attempts=args.attempts,
                retry_delay=args.retry_delay,
                hold=args.hold,
                rate=args.rate,
                submitted=submitted,
            )
        )
    result["elapsed"] = time.time() - started
    result["cpu"] = time.process_time()
    return result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["bare", "naive"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--payloads", required=True, help="file with one JSON payload a line")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--attempts", type=int, default=10)
    parser.add_argument("--retry-delay", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=0.0, help="naive: submit this many payloads a second")
    parser.add_argument("--submitted", help="naive: write {message_id: submit time} to this file")
    parser.add_argument(
        "--hold", type=float, default=0.0, help="naive: stay alive this long after submitting"
    )
    args = parser.parse_args(argv)
    print("READY", flush=True)
    submitted: dict[str, float] = {}
    result = run_fast(run(args, read_payloads(Path(args.payloads)), submitted))
    if args.submitted:
        Path(args.submitted).write_bytes(orjson.dumps(submitted))
    print("DONE " + orjson.dumps(result).decode(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
