"""Bulk replay jobs: what they send, once each, throttled per endpoint, cancelled, resumed by another
runner after a lease expires, backfills; the API and its refusals. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from omnihook.domain.clock import iso, utcnow
from omnihook.domain.errors import Conflict
from omnihook.storage.database import Database
from omnihook.webhooks import deliveries, endpoint_service, replay_jobs
from omnihook.webhooks.replay_runner import release_leases, step
from tests.livechat_helpers import agent_says, create_agent, open_chat, set_routing, take_from_queue
from tests.receiver import Receiver
from tests.replay_helpers import (
    create_endpoint,
    items,
    job_request,
    job_settled,
    rows_by_id,
    seed_deliveries,
    try_pending,
)
from tests.webhook_helpers import delivery_rows

REPLAYS = "/api/v1/omnihook/replays"
LEASE = timedelta(seconds=30)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The database alone: no dispatcher and no runner, the test takes each step."""
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


def webhook_ids(receiver: Receiver) -> Counter[str]:
    return Counter(str(r.header("webhook-id")) for r in receiver.requests)


# --- through a running server: dispatcher and runner --------------------------------------------


async def test_a_job_sends_again_exactly_the_matching_dead_deliveries_once_each(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    db: Database = app.state.db
    crm = await create_endpoint(db, receiver.url, "CRM")
    other = await create_endpoint(db, receiver.url, "Other")
    dead = await seed_deliveries(db, crm, ["dead", "dead", "delivered", "dead"], room_id="r1")
    await seed_deliveries(db, other, ["dead", "dead"], room_id="r1")  # another endpoint's

    created = await client.post(REPLAYS, json={"filter": {"endpointId": crm}}, headers=admin)
    assert created.status_code == 201, created.text
    job = created.json()["job"]
    assert (job["status"], job["total"], job["filter"]) == ("running", 3, {"endpointId": crm})
    assert job["createdBy"] == "admin" and job["endpoints"] == {crm: 3}

    finished = await job_settled(db, job["_id"])
    assert (finished["status"], finished["replayed"], finished["skipped"]) == ("finished", 3, 0)
    expected = {dead[0], dead[1], dead[3]}
    assert webhook_ids(receiver) == Counter(expected)  # those, once each, and nothing else
    after = await rows_by_id(db, [*expected, dead[2]])
    assert {after[d].status for d in expected} == {"delivered"}
    assert after[dead[2]].attempts == 1  # the delivered one was not sent again
    shown = (await client.get(f"{REPLAYS}/{job['_id']}", headers=admin)).json()["job"]
    assert shown["replayed"] == 3 and shown["finishedAt"] is not None
    listed = (await client.get(REPLAYS, headers=admin)).json()
    assert [j["_id"] for j in listed["jobs"]] == [job["_id"]]


async def test_any_status_on_request_sends_delivered_ones_too_but_never_a_pending_one(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    db: Database = app.state.db
    crm = await create_endpoint(db, receiver.url, "CRM", enabled=False)  # holds the pending one
    dead, delivered, pending = await seed_deliveries(db, crm, ["dead", "delivered", "pending"])
    dry = await client.post(REPLAYS, json={"filter": {"status": "any"}, "dryRun": True}, headers=admin)
    assert dry.status_code == 200 and dry.json()["matching"] == 2
    assert (await client.get(REPLAYS, headers=admin)).json()["jobs"] == []  # a dry run creates no job
    job = (await client.post(REPLAYS, json={"filter": {"status": "any"}}, headers=admin)).json()["job"]
    assert job["total"] == 2
    await client.patch(f"/api/v1/omnihook/endpoints/{crm}", json={"enabled": True}, headers=admin)
    finished = await job_settled(db, job["_id"])
    assert finished["replayed"] == 2
    assert webhook_ids(receiver) == Counter([dead, delivered, pending])  # the pending one went once, as due


async def test_the_throttle_keeps_at_most_the_rate_of_a_jobs_deliveries_in_flight_per_endpoint(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    db: Database = app.state.db
    receiver.delay_s = 0.3  # a slow endpoint: the job must wait for it, not fill its queue
    crm = await create_endpoint(db, receiver.url, "CRM", maxInFlight=16)
    ids = await seed_deliveries(db, crm, ["dead"] * 12)
    body = {"filter": {"endpointId": crm}, "ratePerSecond": 3}
    job = (await client.post(REPLAYS, json=body, headers=admin)).json()["job"]
    most = 0
    while (now := await replay_jobs.get_job(db, job["_id"]))["status"] == "running":
        rows = await delivery_rows(database_url)
        untried = [r for r in rows if r.status == "pending" and r.attempts == r.budget_start]
        most = max(most, len(untried), now["inFlight"])
        await asyncio.sleep(0.05)
    assert 1 <= most <= 3
    assert now["replayed"] == 12 and webhook_ids(receiver) == Counter(ids)


async def test_a_backfill_sends_the_stored_events_since_a_time_to_a_new_endpoint_in_its_format(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    db: Database = app.state.db
    changed = app.state.webhooks.endpoints_changed
    await create_endpoint(db, receiver.url, "Old CRM", on_change=changed, format="rocketchat")
    since = utcnow() - timedelta(seconds=1)
    await set_routing(client, admin, "Manual_Selection")
    alice = await create_agent(client, admin, "alice")
    rid = await open_chat(client, "tok-1", "hello", "anyone there?")
    await take_from_queue(client, alice, rid)
    await agent_says(client, alice, rid, "yes, how can I help?")
    await receiver.arrived(3)
    old = len(receiver.requests)

    new = await create_endpoint(
        db, receiver.url, "New CRM", on_change=changed, eventTypes=["Message.visitor"]
    )
    body = {"backfillTo": new, "filter": {"since": iso(since)}}
    dry = await client.post(REPLAYS, json={**body, "dryRun": True}, headers=admin)
    assert dry.json()["matching"] == 3  # every Message event; which author is checked when sent
    job = (await client.post(REPLAYS, json=body, headers=admin)).json()["job"]
    assert (job["kind"], job["backfillTo"]) == ("backfill", new)
    finished = await job_settled(db, job["_id"])
    assert (finished["replayed"], finished["skipped"]) == (2, 1)  # the agent's message is not wanted
    sent = [r.json() for r in receiver.requests[old:]]
    # The standard format's envelope around the payload stored at event time.
    assert [s["data"]["messages"][0]["msg"] for s in sent] == ["hello", "anyone there?"]
    assert all(s["type"] == "Message" and "timestamp" in s for s in sent)
    # Run again, it sends nothing twice: only the unwanted message is a candidate still.
    again = (await client.post(REPLAYS, json=body, headers=admin)).json()["job"]
    assert again["total"] == 1
    assert (await job_settled(db, again["_id"]))["replayed"] == 0
    assert len(receiver.requests) == old + 2


async def test_bad_requests_are_400s_naming_the_problem_and_create_nothing(
    app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
) -> None:
    crm = await create_endpoint(app.state.db, receiver.url)
    refusals: list[tuple[Any, str]] = [
        ({"filter": {"room": "r1"}}, "unknown filter(s) room"),
        ({"filter": {"status": "pending"}}, "filter.status must be one of dead, delivered, any"),
        ({"filter": {"status": "lost"}}, "filter.status must be one of"),
        ({"filter": {"type": "Nope"}}, "type must be one of"),
        ({"filter": {"since": "yesterday"}}, "filter.since must be an ISO 8601 time"),
        ({"filter": {"since": "2026-02-01", "until": "2026-01-01"}}, "since must be before until"),
        ({"filter": {"roomId": 5}}, "filter.roomId must be a string"),
        ({"filter": []}, "filter must be an object"),
        ({"ratePerSecond": 0}, "ratePerSecond must be a whole number from 1 to 1000"),
        ({"ratePerSecond": 2.5}, "ratePerSecond must be a whole number"),
        ({"dryRun": "yes"}, "dryRun must be true or false"),
        ({"limit": 5}, "unknown field(s) limit"),
        ([1, 2], "the body must be a JSON object"),
        ({"backfillTo": crm}, "a backfill needs filter.since"),
        (
            {"backfillTo": crm, "filter": {"since": "2026-01-01", "status": "dead"}},
            "filter.status does not apply",
        ),
    ]
    for body, message in refusals:
        response = await client.post(REPLAYS, json=body, headers=admin)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["error"], (body, response.json())
    unknown = {"backfillTo": "nope", "filter": {"since": "2026-01-01"}}
    assert (await client.post(REPLAYS, json=unknown, headers=admin)).status_code == 404
    assert (await client.get(f"{REPLAYS}?since=x", headers=admin)).status_code == 400
    assert (await client.get(f"{REPLAYS}/nope", headers=admin)).status_code == 404
    assert (await client.post(f"{REPLAYS}/nope/cancel", headers=admin)).status_code == 404
    assert (await client.get(REPLAYS, headers=admin)).json()["jobs"] == []
    assert (await client.post(REPLAYS, json={})).status_code == 401
    agent = await create_agent(client, admin, "alice")  # replays are for managers and admins
    assert (await client.post(REPLAYS, json={}, headers=agent)).status_code == 403
    assert (await client.get(REPLAYS, headers=agent)).status_code == 403


# --- step by step: the runner's guarantees -----------------------------------------------------------


async def test_each_step_releases_at_most_the_rate_per_endpoint_less_what_is_still_untried(
    db: Database,
) -> None:
    crm = await create_endpoint(db, "http://127.0.0.1:9/a", "CRM")
    other = await create_endpoint(db, "http://127.0.0.1:9/b", "Other")
    ours = await seed_deliveries(db, crm, ["dead"] * 7)
    theirs = await seed_deliveries(db, other, ["dead"] * 2)
    job = await replay_jobs.create_job(db, await job_request(ratePerSecond=3), created_by="test")
    assert job["total"] == 9 and job["endpoints"] == {crm: 7, other: 2}

    first = await step(db, job["_id"], owner="a", lease=LEASE)
    assert first is not None and first.released == 5 and first.endpoints == {crm, other}
    second = await step(db, job["_id"], owner="a", lease=LEASE)
    assert second is not None and second.released == 0  # none of them tried yet: the rate is used up
    await try_pending(db, ours[:2])
    third = await step(db, job["_id"], owner="a", lease=LEASE)
    assert third is not None and third.released == 2  # two tried: two more may go
    states = Counter(i.state for i in await items(db, job["_id"]))
    assert states == {"sent": 5, "done": 2, "waiting": 2}
    await try_pending(db, ours + theirs)
    while not (done := await step(db, job["_id"], owner="a", lease=LEASE)) or not done.finished:
        await try_pending(db, ours + theirs)
    finished = await replay_jobs.get_job(db, job["_id"])
    assert (finished["status"], finished["replayed"], finished["inFlight"]) == ("finished", 9, 0)


async def test_a_cancelled_job_releases_nothing_more(db: Database) -> None:
    crm = await create_endpoint(db, "http://127.0.0.1:9/a")
    ids = await seed_deliveries(db, crm, ["dead"] * 6)
    job = await replay_jobs.create_job(db, await job_request(ratePerSecond=2), created_by="test")
    assert (await step(db, job["_id"], owner="a", lease=LEASE)) is not None
    cancelled = await replay_jobs.cancel_job(db, job["_id"], by="admin")
    assert (cancelled["status"], cancelled["cancelledBy"], cancelled["replayed"]) == ("cancelled", "admin", 2)
    await try_pending(db, ids)
    assert await step(db, job["_id"], owner="a", lease=LEASE) is None
    assert await step(db, job["_id"], owner="b", lease=LEASE, now=utcnow() + 2 * LEASE) is None
    rows = await rows_by_id(db, ids)
    assert [rows[i].status for i in ids] == ["delivered"] * 2 + ["dead"] * 4
    with pytest.raises(Conflict):
        await replay_jobs.cancel_job(db, job["_id"], by="admin")


async def test_a_job_whose_runner_stopped_is_resumed_after_its_lease_and_sends_nothing_twice(
    db: Database,
) -> None:
    crm = await create_endpoint(db, "http://127.0.0.1:9/a")
    ids = await seed_deliveries(db, crm, ["dead"] * 7)
    job = await replay_jobs.create_job(db, await job_request(ratePerSecond=3), created_by="test")
    assert (a := await step(db, job["_id"], owner="a", lease=LEASE)) is not None and a.released == 3
    await try_pending(db, ids)
    # "a" stops without a word: nobody else takes the job while its lease runs ...
    assert await step(db, job["_id"], owner="b", lease=LEASE) is None
    # ... and "b" goes on from the cursor once it has expired.
    later = utcnow() + LEASE + timedelta(seconds=1)
    assert (
        b := await step(db, job["_id"], owner="b", lease=LEASE, now=later)
    ) is not None and b.released == 3
    # "a", back, has lost the job: it releases nothing.
    assert await step(db, job["_id"], owner="a", lease=LEASE, now=later) is None
    await try_pending(db, ids)
    while not (done := await step(db, job["_id"], owner="b", lease=LEASE, now=later)) or not done.finished:
        await try_pending(db, ids)
    rows = await rows_by_id(db, ids)
    assert [rows[i].attempts for i in ids] == [2] * 7  # the first try, and one replay each
    assert sorted(i.delivery_id for i in await items(db, job["_id"])) == sorted(ids)


async def test_a_delivery_sent_again_meanwhile_or_of_a_deleted_endpoint_is_skipped(db: Database) -> None:
    crm = await create_endpoint(db, "http://127.0.0.1:9/a", "CRM")
    gone = await create_endpoint(db, "http://127.0.0.1:9/b", "Gone")
    first, second = await seed_deliveries(db, crm, ["dead", "dead"])
    await seed_deliveries(db, gone, ["dead"] * 3)
    job = await replay_jobs.create_job(db, await job_request(), created_by="test")
    assert job["total"] == 5
    await deliveries.redeliver(db, second)  # by hand, before the job reaches it
    await endpoint_service.delete_endpoint(db, gone)
    done = await step(db, job["_id"], owner="a", lease=LEASE)
    assert done is not None and (done.released, done.skipped) == (1, 4)
    await try_pending(db, [first, second])
    assert (await step(db, job["_id"], owner="a", lease=LEASE)).finished  # type: ignore[union-attr]
    finished = await replay_jobs.get_job(db, job["_id"])
    assert (finished["replayed"], finished["skipped"]) == (1, 4)


async def test_two_runners_at_once_never_both_run_a_job_and_a_clean_stop_hands_it_over_at_once(
    db: Database, database_url: str
) -> None:
    crm = await create_endpoint(db, "http://127.0.0.1:9/a")
    await seed_deliveries(db, crm, ["dead"] * 4)
    job = await replay_jobs.create_job(db, await job_request(ratePerSecond=2), created_by="test")
    other = Database(database_url)  # another process's connections
    try:
        first = step(db, job["_id"], owner="a", lease=LEASE)
        second = step(other, job["_id"], owner="b", lease=LEASE)
        # SQLite has one writer at a time: the second waits for the first, as another process would.
        steps = [await first, await second] if db.is_sqlite else list(await asyncio.gather(first, second))
        ran = [s for s in steps if s is not None]
        assert len(ran) == 1 and ran[0].released == 2
        holder, waiting = ("a", "b") if steps[0] is not None else ("b", "a")
        assert await step(db, job["_id"], owner=waiting, lease=LEASE) is None
        await release_leases(db, holder)  # the holder stops cleanly
        taken = await step(other, job["_id"], owner=waiting, lease=LEASE)
        assert taken is not None and (await replay_jobs.get_job(db, job["_id"]))["runner"] == waiting
    finally:
        await other.dispose()
