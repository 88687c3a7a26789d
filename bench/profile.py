"""Profile omnihook's hot paths: `python -m bench.profile ingest|flood [--seconds N] [--out DIR]`.

ingest: `omnihook serve` under pyinstrument while closed-loop clients post visitor messages with the
Rocket.Chat webhook on (the request path, the outbox and the in-server dispatcher).
flood: `omnihook worker` under pyinstrument draining a full outbox (the dispatcher alone).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import aiohttp

from bench.__main__ import DEFAULT_POSTGRES
from bench.harness import Context, start_receiver
from bench.load import closed_loop
from bench.populate import populate
from bench.proc import children, free_port, python_argv
from bench.scale import FULL
from bench.server import Api, fresh_database, omnihook_env


async def profile_ingest(ctx: Context, out: Path, seconds: float) -> None:
    async with (
        aiohttp.ClientSession() as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "sqlite", "profile") as url,
    ):
        receiver = await start_receiver(group, http)
        port = free_port()
        child, _ = await group.start(
            "serve",
            python_argv("bench.profiled", str(out / "ingest.txt"), "--", "serve", "--port", str(port)),
            env=omnihook_env(url),
        )
        api = Api(f"http://127.0.0.1:{port}", http, child)
        for _ in range(300):
            try:
                await api.login()
                break
            except (aiohttp.ClientError, RuntimeError):
                await asyncio.sleep(0.2)
        await api.rocketchat_webhook(receiver.url("profile"), LivechatWebhookOnVisitorMessage=True)
        rooms = await api.open_rooms(32)
        sent = await closed_loop(api, rooms, clients=32, seconds=seconds)
        await receiver.wait_for(len(sent), within=60, name="profile")
        await child.stop(grace=30)
        print(f"{len(sent)} messages in {seconds:.0f} s; profile in {out / 'ingest.txt'}")


async def profile_flood(ctx: Context, out: Path, events: int) -> None:
    async with (
        aiohttp.ClientSession() as http,
        children(ctx.workdir / "logs") as group,
        fresh_database(ctx, "sqlite", "profile") as url,
    ):
        receiver = await start_receiver(group, http)
        await populate(url, receiver.url("profile"), rooms=max(1, events // 20), events=events)
        child, _ = await group.start(
            "worker",
            python_argv("bench.profiled", str(out / "flood.txt"), "--", "worker"),
            env=omnihook_env(url),
        )
        await receiver.wait_for(events, within=300, name="profile")
        await child.stop(grace=30)
        print(f"{events} deliveries; profile in {out / 'flood.txt'}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("path", choices=["ingest", "flood"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    ctx = Context(
        scale=FULL, workdir=Path(tempfile.mkdtemp(prefix="omnihook-profile-")), postgres_url=DEFAULT_POSTGRES
    )
    args.out.mkdir(parents=True, exist_ok=True)
    if args.path == "ingest":
        asyncio.run(profile_ingest(ctx, args.out.resolve(), args.seconds))
    else:
        asyncio.run(profile_flood(ctx, args.out.resolve(), args.events))


if __name__ == "__main__":
    main(sys.argv[1:])
