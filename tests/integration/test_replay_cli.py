"""Replay jobs from a terminal (`omnihook deliveries replay`, `omnihook replays ...`) as separate
processes on the same database, and a job that goes on after the worker running it is SIGKILLed."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from omnihook.storage.database import Database
from omnihook.webhooks import endpoint_service, replay_jobs
from tests.integration.test_cli import omnihook
from tests.processes import omnihook_env, start_worker
from tests.receiver import Receiver
from tests.replay_helpers import create_endpoint, job_settled, seed_deliveries


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def test_a_bulk_replay_is_a_job_followed_to_its_end_with_a_progress_bar(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver, database_url: str
) -> None:
    db: Database = app.state.db  # the app runs the job; the command creates and follows it
    crm = await create_endpoint(db, receiver.url)
    ids = await seed_deliveries(db, crm, ["dead", "dead", "delivered"])
    dry = await omnihook(database_url, "deliveries", "replay", "--endpoint", crm, "--dry-run")
    assert dry.returncode == 0 and "2 deliveries would be sent again" in dry.stdout, dry.stderr
    assert await replay_jobs.list_jobs(db) == []

    done = await omnihook(database_url, "deliveries", "replay", "--endpoint", crm, "--rate", "10")
    assert done.returncode == 0, done.stderr
    assert "2 deliveries to send, 10/s per endpoint" in done.stdout
    assert "finished: 2 deliveries sent again" in done.stdout
    assert "sending again" in done.stdout  # the progress bar
    assert Counter(str(r.header("webhook-id")) for r in receiver.requests) == Counter(ids[:2])
    [job] = await replay_jobs.list_jobs(db)
    assert job["createdBy"].startswith("cli") and job["filter"] == {"status": "dead", "endpointId": crm}


async def test_replays_are_listed_shown_and_cancelled_and_bad_filters_refused(
    db: Database, database_url: str
) -> None:
    crm = await create_endpoint(db, "http://127.0.0.1:9/hook", enabled=False)
    await seed_deliveries(db, crm, ["dead"] * 4)
    started = await omnihook(database_url, "deliveries", "replay", "--status", "any", "--detach")
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.split()[2].rstrip(":")
    assert "4 deliveries to send" in started.stdout

    listed = await omnihook(database_url, "replays", "list", "--json")
    assert [j["_id"] for j in json.loads(listed.stdout)] == [job_id]
    shown = await omnihook(database_url, "replays", "show", job_id)
    assert shown.returncode == 0 and "replay, running: 0 of 4 sent again" in shown.stdout
    cancelled = await omnihook(database_url, "replays", "cancel", job_id)
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout, cancelled.stderr
    job = await replay_jobs.get_job(db, job_id)
    assert job["status"] == "cancelled" and str(job["cancelledBy"]).startswith("cli")
    again = await omnihook(database_url, "replays", "cancel", job_id)
    assert again.returncode == 2 and "error-replay-not-running" in again.stderr

    for args, message in [
        (
            ["deliveries", "replay", "--status", "pending"],
            "filter.status must be one of dead, delivered, any",
        ),
        (["deliveries", "replay", "--rate", "0"], "--rate"),
        (["replays", "backfill", "nope", "--since", "2026-01-01"], "no webhook endpoint 'nope'"),
        (["replays", "show", "nope"], "no replay job 'nope'"),
    ]:
        refused = await omnihook(database_url, *args)
        assert refused.returncode == 2 and message in refused.stderr, (args, refused.stderr)
    backfill = await omnihook(database_url, "replays", "backfill", crm, "--since", "2026-01-01", "--dry-run")
    assert backfill.returncode == 2 and "disabled" in backfill.stderr  # a disabled endpoint is refused
    assert len(await replay_jobs.list_jobs(db)) == 1


async def test_a_job_whose_worker_is_killed_goes_on_in_the_next_worker_and_sends_nothing_twice(
    db: Database, database_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    # The endpoint is disabled while the first worker runs the job: what it released waits, unsent,
    # so the kill interrupts the job and no request.
    crm = await create_endpoint(db, receiver.url, enabled=False)
    ids = await seed_deliveries(db, crm, ["dead"] * 9)
    started = await omnihook(database_url, "deliveries", "replay", "--rate", "3", "--detach")
    job_id = started.stdout.split()[2].rstrip(":")
    env = omnihook_env(database_url, OMNIHOOK_DISPATCHER_LEASE_SECONDS="2")
    first = await start_worker(env, tmp_path / "worker-1.log")
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (job := await replay_jobs.get_job(db, job_id))["replayed"] < 3:
            assert loop.time() < deadline, first.output()
            await asyncio.sleep(0.1)
    finally:
        first.kill()
    assert (job["status"], job["replayed"], job["inFlight"]) == ("running", 3, 3)  # the throttle holds
    await endpoint_service.update_endpoint(db, crm, {"enabled": True}, allow_private_targets=True)

    second = await start_worker(env, tmp_path / "worker-2.log")
    try:
        finished = await job_settled(db, job_id, within=60)
    finally:
        second.stop()
    assert (finished["status"], finished["replayed"], finished["skipped"]) == ("finished", 9, 0)
    assert Counter(str(r.header("webhook-id")) for r in receiver.requests) == Counter(ids)
