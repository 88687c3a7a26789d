"""No receiver, whatever it answers, can break delivery: the specification the delivery engine must meet.

A real `omnihook serve` runs for the whole module, on SQLite and on PostgreSQL, with two healthy
endpoints: the Rocket.Chat integration and a native Standard Webhooks endpoint, each with its own
well-behaved receiver. Each test adds one hostile endpoint (Standard Webhooks format with a short
`retrySchedule`, or Rocket.Chat format with a short `maxRetries`/`retryDelayMs`) pointing at a receiver
that misbehaves (tests/hostile/receivers.py), opens a chat and writes a few messages, then holds the
engine to this:

- every healthy delivery arrives exactly once (by `webhook-id`) and is recorded delivered at once;
- every attempt at the hostile endpoint is recorded, and its delivery ends `dead` on schedule (or
  `delivered` once, for the hostile 200s);
- the hostile receiver gets exactly as many requests as there were attempts: no retry storm;
- the server is idle between retries, and its log stays short.

A last test, on PostgreSQL, takes the database away in the middle of a load: nothing is duplicated or lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests import databases
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, SKIP_POSTGRES, login_headers
from tests.hostile.receivers import (
    RETRY_AFTER_VALUES,
    Behaviour,
    HostileReceiver,
    running_hostile_receiver,
)
from tests.livechat_helpers import open_chat, open_room, register_visitor
from tests.processes import OmnihookProcess, free_port, omnihook_env, start_server
from tests.receiver import Received, Receiver, running_receiver

ENDPOINTS = "/api/v1/omnihook/endpoints"
DELIVERIES = "/api/v1/omnihook/deliveries"
# A short lease: a result that is not recorded shows up as a second request within seconds, not minutes.
LEASE = {"OMNIHOOK_DISPATCHER_LEASE_SECONDS": "2"}
HEALTHY_TIMEOUT_MS = 2000

MESSAGES = 3  # per test: several deliveries at once, so that hostile and healthy results share batches
TIMEOUT_MS = 500  # of the hostile endpoints: what the hanging receiver costs per attempt
RETRY_DELAY_S = 1
ATTEMPTS = 3  # the first and two retries, one second apart
FORMATS = ("standard", "rocketchat")
HOSTILE_FIELDS: dict[str, dict[str, Any]] = {
    "standard": {"retrySchedule": [RETRY_DELAY_S] * (ATTEMPTS - 1)},
    "rocketchat": {"format": "rocketchat", "maxRetries": ATTEMPTS - 1, "retryDelayMs": RETRY_DELAY_S * 1000},
}
JITTER = 0.1  # the standard schedule's; Rocket.Chat's delay has none
SLACK_S = 1.5  # how late a retry may go out after it falls due, on a busy machine

IDLE_WINDOW_S = 0.8
IDLE_CPU_SHARE = 0.2  # of one core: loose, it catches a busy loop, not a slow query
LOG_LINES = 30  # what the server may log during one test: once per delivery, not once per try


# --- the server, its healthy endpoints and the hostile receivers, once per module and database ----


@dataclass
class Server:
    base_url: str
    admin: dict[str, str]
    process: OmnihookProcess
    integration: Receiver  # behind the Rocket.Chat integration
    native: Receiver  # behind a native Standard Webhooks endpoint
    native_id: str

    @property
    def healthy(self) -> dict[str, Receiver]:
        """Endpoint id → receiver."""
        return {"rocketchat": self.integration, self.native_id: self.native}


def login(http: httpx.Client) -> dict[str, str]:
    response = http.post("/api/v1/login", json={"user": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}


def integration_settings(receiver: Receiver) -> dict[str, Any]:
    return {
        "LivechatWebhookUrl": receiver.url,
        "LivechatSecretToken": "crm-token",
        "LivechatWebhookOnVisitorMessage": True,
        "LivechatHttpTimeout": HEALTHY_TIMEOUT_MS,
    }


def healthy_native_endpoint(receiver: Receiver) -> dict[str, Any]:
    return {
        "name": "healthy",
        "url": receiver.url,
        "eventTypes": ["Message"],
        "timeoutMs": HEALTHY_TIMEOUT_MS,
    }


@contextlib.contextmanager
def module_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the module's own: nothing else truncates it under the running server."""
    if request.param == "sqlite":
        yield databases.copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    if SKIP_POSTGRES:
        pytest.skip("OMNIHOOK_SKIP_POSTGRES=1")
    url = asyncio.run(databases.create_postgres_database())
    try:
        yield url
    finally:
        asyncio.run(databases.drop_postgres_database(url))


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileReceiver]:
    with running_hostile_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp(f"hostile-{request.param}")
    with (
        module_database(request, tmp_path) as url,
        running_receiver() as integration,
        running_receiver() as native,
    ):
        port = free_port()
        process = asyncio.run(start_server(omnihook_env(url, **LEASE), port, tmp_path / "server.log"))
        try:
            base_url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base_url, timeout=30) as http:
                admin = login(http)
                configured = http.post(
                    "/api/v1/omnichannel/integrations", json=integration_settings(integration), headers=admin
                )
                assert configured.status_code == 200, configured.text
                created = http.post(ENDPOINTS, json=healthy_native_endpoint(native), headers=admin)
                assert created.status_code == 200, created.text
            yield Server(base_url, admin, process, integration, native, created.json()["endpoint"]["_id"])
        finally:
            process.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        yield http


@dataclass
class Run:
    """One test's hostile endpoint and the chat whose messages it was sent."""

    url: str
    endpoint: dict[str, Any]
    room_id: str


@pytest.fixture
async def hostile_endpoints(server: Server) -> AsyncIterator[list[dict[str, Any]]]:
    """The endpoints a test creates, deleted afterwards so that later tests' events do not reach them."""
    created: list[dict[str, Any]] = []
    yield created
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        for endpoint in created:
            await http.delete(f"{ENDPOINTS}/{endpoint['_id']}", headers=server.admin)


# --- reading what happened --------------------------------------------------------------------------


def room_of(request: Received) -> str:
    payload: dict[str, Any] = request.json()
    room: str = payload["data"]["_id"] if "data" in payload else payload["_id"]
    return room


def by_webhook_id(requests: list[Received]) -> dict[str, list[Received]]:
    grouped: dict[str, list[Received]] = defaultdict(list)
    for request in requests:
        grouped[request.header("webhook-id") or ""].append(request)
    return grouped


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def peak_memory_bytes(pid: int) -> int:
    """The process's peak resident size (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def log_lines(process: OmnihookProcess) -> int:
    return len(process.log_path.read_bytes().splitlines())


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def deliveries_of_room(api: httpx.AsyncClient, server: Server, room_id: str) -> list[dict[str, Any]]:
    response = await api.get(DELIVERIES, params={"roomId": room_id, "count": 200}, headers=server.admin)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


async def delivery_detail(api: httpx.AsyncClient, server: Server, delivery_id: str) -> dict[str, Any]:
    response = await api.get(f"{DELIVERIES}/{delivery_id}", headers=server.admin)
    assert response.status_code == 200, f"the delivery log cannot be read: {response.text}"
    detail: dict[str, Any] = response.json()["delivery"]
    return detail


async def room_requests(receiver: Receiver, room_id: str, count: int, within: float) -> list[Received]:
    """The requests of one room at a healthy receiver, once `count` of them arrived."""
    deadline = time.monotonic() + within
    while True:
        found = [r for r in list(receiver.requests) if room_of(r) == room_id]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} healthy deliveries of room {room_id} arrived")
        await asyncio.sleep(0.02)


# --- the steps every hostile test takes ------------------------------------------------------------


async def chat_beside(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    created: list[dict[str, Any]],
    url: str,
    fields: dict[str, Any],
) -> Run:
    """Create the hostile endpoint, write MESSAGES messages in a new chat, wait for the first attempts."""
    body = {"name": "hostile", "url": url, "eventTypes": ["Message"], "timeoutMs": TIMEOUT_MS}
    # Unordered: the room's deliveries go to the hostile receiver together, not one after another's death.
    response = await api.post(ENDPOINTS, json={**body, "ordered": False, **fields}, headers=server.admin)
    assert response.status_code == 200, f"the hostile endpoint was refused: {response.text}"
    endpoint: dict[str, Any] = response.json()["endpoint"]
    created.append(endpoint)
    for name, value in fields.items():
        assert endpoint.get(name) == value, f"{name} is {endpoint.get(name)!r}, was given {value!r}"
    token = f"hostile-{uuid.uuid4().hex[:12]}"
    room_id = await open_chat(api, token, *(f"message {n}" for n in range(MESSAGES)))
    await hostile.arrived(url, MESSAGES, within=10)
    return Run(url=url, endpoint=endpoint, room_id=room_id)


async def assert_idle_and_no_storm(server: Server, hostile: HostileReceiver, run: Run) -> None:
    """Between retries the server does nothing: little CPU, and no request beyond the schedule."""
    await asyncio.sleep(0.2)  # the first results are being recorded
    before_cpu, before_requests = cpu_seconds(server.process.proc.pid), len(hostile.received(run.url))
    started = time.monotonic()
    await asyncio.sleep(IDLE_WINDOW_S)
    elapsed = time.monotonic() - started
    used = cpu_seconds(server.process.proc.pid) - before_cpu
    during = len(hostile.received(run.url)) - before_requests
    # At most the first retry of each delivery falls into the window; a storm is hundreds.
    assert during <= MESSAGES, f"retry storm: {during} requests in {elapsed:.1f} s"
    assert used / elapsed < IDLE_CPU_SHARE, (
        f"the server used {used / elapsed:.0%} of a core while waiting to retry"
    )


async def assert_healthy_delivered_once(api: httpx.AsyncClient, server: Server, room_id: str) -> None:
    """Each healthy endpoint got every message of the room once, and each is recorded delivered at once."""
    for endpoint_id, receiver in server.healthy.items():
        arrived = await room_requests(receiver, room_id, MESSAGES, within=10)
        repeats = {k: len(v) for k, v in by_webhook_id(arrived).items() if len(v) > 1}
        assert repeats == {}, f"healthy endpoint {endpoint_id} got deliveries more than once: {repeats}"
        assert len(arrived) == MESSAGES, f"healthy endpoint {endpoint_id} got {len(arrived)} requests"
    deadline = time.monotonic() + 5
    while True:
        rows = [
            r for r in await deliveries_of_room(api, server, room_id) if r["endpointId"] in server.healthy
        ]
        if len(rows) == 2 * MESSAGES and all(r["status"] == "delivered" for r in rows):
            assert all(r["attempts"] == 1 for r in rows), [(r["endpointId"], r["attempts"]) for r in rows]
            return
        if time.monotonic() > deadline:
            states = [(r["endpointId"], r["status"], r["attempts"]) for r in rows]
            raise AssertionError(f"healthy deliveries that arrived were not recorded delivered: {states}")
        await asyncio.sleep(0.1)


async def settled(api: httpx.AsyncClient, server: Server, run: Run, *, within: float) -> list[dict[str, Any]]:
    """The hostile endpoint's deliveries of the room, with their attempts, once none is pending."""
    deadline = time.monotonic() + within
    while True:
        rows = [
            r
            for r in await deliveries_of_room(api, server, run.room_id)
            if r["endpointId"] == run.endpoint["_id"]
        ]
        if len(rows) == MESSAGES and all(r["status"] != "pending" for r in rows):
            return [await delivery_detail(api, server, r["_id"]) for r in rows]
        if time.monotonic() > deadline:
            states = [(r["status"], r["attempts"], r["lastError"]) for r in rows]
            raise AssertionError(f"hostile deliveries did not settle within {within:.0f} s: {states}")
        await asyncio.sleep(0.2)


def assert_requests_match_attempts(
    hostile: HostileReceiver, run: Run, details: list[dict[str, Any]], *, attempt_s: float = 0.0
) -> None:
    """The receiver got exactly one request per recorded attempt, each retry on schedule."""
    arrived = by_webhook_id(hostile.received(run.url))
    assert sorted(arrived) == sorted(d["_id"] for d in details), "requests carry the deliveries' webhook-ids"
    for detail in details:
        requests = arrived[detail["_id"]]
        assert len(requests) == detail["attempts"] == len(detail["attemptsLog"]), (
            f"{len(requests)} requests, {detail['attempts']} attempts counted, "
            f"{len(detail['attemptsLog'])} recorded"
        )
        times = [r.arrived_at for r in requests]
        gaps = [later - earlier for earlier, later in pairwise(times)]
        shortest, longest = (
            RETRY_DELAY_S * (1 - JITTER) - 0.05,
            RETRY_DELAY_S * (1 + JITTER) + attempt_s + SLACK_S,
        )
        assert all(shortest <= gap <= longest for gap in gaps), (
            f"retries {[round(g, 2) for g in gaps]} s apart; the schedule says {RETRY_DELAY_S} s"
        )


async def assert_dead_on_schedule(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    run: Run,
    *,
    status_code: int | None,
    attempt_s: float = 0.0,
) -> list[dict[str, Any]]:
    """Every delivery ends dead after ATTEMPTS attempts, each recorded with `status_code` (None: an error)."""
    budget = (ATTEMPTS - 1) * RETRY_DELAY_S * (1 + JITTER) + ATTEMPTS * (attempt_s + SLACK_S)
    details = await settled(api, server, run, within=budget)
    for detail in details:
        assert detail["status"] == "dead", (detail["status"], detail["lastError"])
        assert detail["attempts"] == ATTEMPTS, detail["attempts"]
        log = detail["attemptsLog"]
        assert [a["attempt"] for a in log] == list(range(1, ATTEMPTS + 1))
        assert [a["statusCode"] for a in log] == [status_code] * ATTEMPTS
        if status_code is None:
            assert all(a["error"] for a in log), "a failure without a status says what went wrong"
    assert_requests_match_attempts(hostile, run, details, attempt_s=attempt_s)
    return details


async def assert_delivered_once(
    api: httpx.AsyncClient, server: Server, hostile: HostileReceiver, run: Run
) -> list[dict[str, Any]]:
    details = await settled(api, server, run, within=5)
    for detail in details:
        assert (detail["status"], detail["attempts"]) == ("delivered", 1), (
            detail["status"],
            detail["attempts"],
            detail["lastError"],
        )
        assert [a["statusCode"] for a in detail["attemptsLog"]] == [200]
    assert_requests_match_attempts(hostile, run, details)
    return details


@contextlib.contextmanager
def quiet_log(server: Server) -> Iterator[None]:
    before = log_lines(server.process)
    yield
    written = log_lines(server.process) - before
    assert written <= LOG_LINES, f"the server logged {written} lines:\n{server.process.output()}"


# --- failures: every attempt recorded, dead on schedule, nothing else disturbed -------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_500_with_undecodable_header_bytes_is_recorded_and_dies_on_schedule_beside_healthy_endpoints(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
    fmt: str,
) -> None:
    url = hostile.url(Behaviour.BAD_HEADER_500, fmt, uuid.uuid4().hex[:8])
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS[fmt])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        details = await assert_dead_on_schedule(api, server, hostile, run, status_code=500)
    for attempt in (a for d in details for a in d["attemptsLog"]):
        headers = {k.lower(): v for k, v in (attempt["responseHeaders"] or {}).items()}
        # Kept, made storable: the bytes \xff\xfe are not UTF-8 and reach no SQL as they are.
        assert "x-bad" in headers, attempt["responseHeaders"]
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in headers["x-bad"]), repr(headers["x-bad"])
        assert attempt["responseBody"] == "error"
    await assert_healthy_delivered_once(api, server, run.room_id)  # and not a second time since


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("behaviour", "status_code"),
    [
        pytest.param(Behaviour.HANG, None, id="hang"),
        pytest.param(Behaviour.RESET, None, id="reset"),
        pytest.param(Behaviour.BAD_STATUS_LINE, None, id="bad-status-line"),
        pytest.param(Behaviour.HTTP10_CLOSE_500, 500, id="http10-close-500"),
    ],
)
async def test_a_receiver_that_hangs_resets_or_breaks_http_has_each_attempt_recorded_and_dies_on_schedule(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
    fmt: str,
    behaviour: Behaviour,
    status_code: int | None,
) -> None:
    url = hostile.url(behaviour, fmt, uuid.uuid4().hex[:8])
    attempt_s = TIMEOUT_MS / 1000 if behaviour is Behaviour.HANG else 0.0
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS[fmt])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        details = await assert_dead_on_schedule(
            api, server, hostile, run, status_code=status_code, attempt_s=attempt_s
        )
    if behaviour is Behaviour.HANG:
        for attempt in (a for d in details for a in d["attemptsLog"]):
            assert "timeout" in attempt["error"], attempt["error"]
            assert TIMEOUT_MS * 0.9 <= attempt["durationMs"] <= TIMEOUT_MS + 1000, attempt["durationMs"]
    await assert_healthy_delivered_once(api, server, run.room_id)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_redirect_is_never_followed_and_counts_as_a_failed_attempt(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
    fmt: str,
) -> None:
    label = (fmt, uuid.uuid4().hex[:8])
    url = hostile.url(Behaviour.REDIRECT_302, *label)
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS[fmt])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        await assert_dead_on_schedule(api, server, hostile, run, status_code=302)
    assert hostile.received(hostile.url(Behaviour.REDIRECT_TARGET, *label)) == []
    await assert_healthy_delivered_once(api, server, run.room_id)


# --- hostile 200s: delivered once, what was read of them storable and capped ----------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_200_with_a_nul_byte_in_its_body_is_delivered_once_and_recorded_without_the_nul(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
    fmt: str,
) -> None:
    url = hostile.url(Behaviour.NUL_BODY_200, fmt, uuid.uuid4().hex[:8])
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS[fmt])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        details = await assert_delivered_once(api, server, hostile, run)
    for detail in details:
        body = detail["attemptsLog"][0]["responseBody"]
        # PostgreSQL text holds no NUL: the body is kept without it.
        assert "\x00" not in body and body.startswith("ok") and body.endswith("then"), repr(body)
    await assert_healthy_delivered_once(api, server, run.room_id)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_endless_200_body_is_read_only_up_to_a_cap_and_delivered_once(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
    fmt: str,
) -> None:
    url = hostile.url(Behaviour.ENDLESS_BODY_200, fmt, uuid.uuid4().hex[:8])
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS[fmt])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        details = await assert_delivered_once(api, server, hostile, run)
    for detail in details:
        assert 0 < len(detail["attemptsLog"][0]["responseBody"]) <= 64 * 1024
    sent = hostile.sent(url)
    await asyncio.sleep(0.5)
    assert hostile.sent(url) == sent, "the endless body is still being read"
    await assert_healthy_delivered_once(api, server, run.room_id)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_50_mb_200_body_is_not_read_whole_and_is_delivered_once(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
    fmt: str,
) -> None:
    url = hostile.url(Behaviour.HUGE_BODY_200, fmt, uuid.uuid4().hex[:8])
    peak_before = peak_memory_bytes(server.process.proc.pid)
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS[fmt])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        details = await assert_delivered_once(api, server, hostile, run)
    for detail in details:
        assert 0 < len(detail["attemptsLog"][0]["responseBody"]) <= 64 * 1024
    grown = peak_memory_bytes(server.process.proc.pid) - peak_before
    assert grown < 32 * 1024 * 1024, f"the server's peak memory grew by {grown / 2**20:.0f} MiB"
    await assert_healthy_delivered_once(api, server, run.room_id)


# --- Retry-After: honoured only as RFC 9110 spells it, never a storm ------------------------------

UNUSABLE_RETRY_AFTER = [
    "negative",
    "fractional",
    "superscript-two",
    "arabic-indic-three",
    "garbage-date",
    "zoneless-date",
]


@pytest.mark.parametrize("value", UNUSABLE_RETRY_AFTER)
async def test_a_retry_after_that_is_neither_ascii_seconds_nor_an_http_date_is_ignored_and_the_schedule_holds(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
    value: str,
) -> None:
    url = hostile.url(Behaviour.RETRY_AFTER_429, value, uuid.uuid4().hex[:8])
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS["standard"])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        # On schedule: "٣" read as 3 s, or -5 as "now", would put the retries off the 1 s schedule.
        details = await assert_dead_on_schedule(api, server, hostile, run, status_code=429)
    for attempt in (a for d in details for a in d["attemptsLog"]):
        headers = {k.lower(): v for k, v in (attempt["responseHeaders"] or {}).items()}
        assert headers.get("retry-after") == RETRY_AFTER_VALUES[value].decode(), headers
    await assert_healthy_delivered_once(api, server, run.room_id)


async def test_an_enormous_retry_after_is_clamped_to_an_hour_without_a_retry_storm(
    api: httpx.AsyncClient,
    server: Server,
    hostile: HostileReceiver,
    hostile_endpoints: list[dict[str, Any]],
) -> None:
    url = hostile.url(Behaviour.RETRY_AFTER_429, "huge", uuid.uuid4().hex[:8])
    with quiet_log(server):
        run = await chat_beside(api, server, hostile, hostile_endpoints, url, HOSTILE_FIELDS["standard"])
        await assert_idle_and_no_storm(server, hostile, run)
        await assert_healthy_delivered_once(api, server, run.room_id)
        await asyncio.sleep(RETRY_DELAY_S + SLACK_S)  # past the schedule's first retry
    rows = [
        r
        for r in await deliveries_of_room(api, server, run.room_id)
        if r["endpointId"] == run.endpoint["_id"]
    ]
    assert [(r["status"], r["attempts"], r["lastStatusCode"]) for r in rows] == [
        ("pending", 1, 429)
    ] * MESSAGES
    for row in rows:
        [attempt] = (await delivery_detail(api, server, row["_id"]))["attemptsLog"]
        wait = parse_time(row["nextAttemptAt"]) - parse_time(attempt["startedAt"])
        # Honoured as far as the policy's bound, one hour: not ignored, not 3 trillion years.
        assert timedelta(minutes=59) <= wait <= timedelta(hours=1, minutes=1), wait
    assert len(hostile.received(url)) == MESSAGES, "one request per delivery, no retry yet"
    await assert_healthy_delivered_once(api, server, run.room_id)


# --- over the whole module ----------------------------------------------------------------------


async def test_no_healthy_delivery_arrived_twice_over_all_the_hostile_runs(
    api: httpx.AsyncClient, server: Server
) -> None:
    # A result that was dropped leaves its delivery pending until its lease runs out; then it goes again.
    deadline = time.monotonic() + 30
    while True:
        response = await api.get(DELIVERIES, params={"status": "pending", "count": 200}, headers=server.admin)
        pending = [d for d in response.json()["deliveries"] if d["endpointId"] in server.healthy]
        if not pending:
            break
        assert time.monotonic() < deadline, f"{len(pending)} healthy deliveries still pending"
        await asyncio.sleep(0.2)
    if not server.integration.requests:
        pytest.skip("no hostile test ran before this one")
    for endpoint_id, receiver in server.healthy.items():
        counts = Counter(r.header("webhook-id") for r in list(receiver.requests))
        repeats = {k: n for k, n in counts.items() if n > 1}
        assert repeats == {}, f"{len(repeats)} deliveries reached healthy endpoint {endpoint_id} twice"


# --- a database outage in the middle of a load (PostgreSQL) ----------------------------------------

OUTAGE_S = 3.0
VISITORS = 6


class Load:
    """Visitors writing through the REST API; a write the server did not answer 200 for is not counted."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.acknowledged: list[str] = []
        self.refused = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            rooms = []
            for n in range(VISITORS):
                token = f"outage-{n}-{uuid.uuid4().hex[:8]}"
                await register_visitor(http, token)
                rooms.append((token, (await open_room(http, token))["_id"]))
        self._tasks = [asyncio.create_task(self._visitor(token, rid)) for token, rid in rooms]

    async def _visitor(self, token: str, rid: str) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            n = 0
            while not self._stop.is_set():
                n += 1
                body = {"token": token, "rid": rid, "msg": f"message {n}"}
                try:
                    response = await http.post("/api/v1/livechat/message", json=body)
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 200:
                    self.acknowledged.append(response.json()["message"]["_id"])
                else:
                    self.refused += 1
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)


def message_of(request: Received) -> str:
    payload: dict[str, Any] = request.json()
    data: dict[str, Any] = payload.get("data", payload)
    message: str = data["messages"][0]["_id"]
    return message


@contextlib.asynccontextmanager
async def outage(database_url: str) -> AsyncIterator[None]:
    """The test's database refuses connections and loses every one it had; the cluster stays up."""
    name = database_url.rpartition("/")[2]
    admin = await asyncpg.connect(databases.POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()


@pytest.mark.postgres
async def test_a_database_outage_in_the_middle_of_a_load_neither_duplicates_nor_loses_a_delivery(
    tmp_path: Path,
) -> None:
    if SKIP_POSTGRES:
        pytest.skip("OMNIHOOK_SKIP_POSTGRES=1")
    url = await databases.create_postgres_database()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process: OmnihookProcess | None = None
    try:
        with running_receiver() as integration, running_receiver() as native:
            # A slow CRM: deliveries are in flight, their results unrecorded, when the database goes.
            integration.delay_s = native.delay_s = 0.05
            process = await start_server(omnihook_env(url, **LEASE), port, tmp_path / "server.log")
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                admin = await login_headers(http, ADMIN_USERNAME, ADMIN_PASSWORD)
                configured = await http.post(
                    "/api/v1/omnichannel/integrations", json=integration_settings(integration), headers=admin
                )
                assert configured.status_code == 200, configured.text
                created = await http.post(ENDPOINTS, json=healthy_native_endpoint(native), headers=admin)
                assert created.status_code == 200, created.text

            load = Load(base_url)
            await load.start()
            try:
                await integration.arrived(40, within=30)
                async with outage(url):
                    await asyncio.sleep(OUTAGE_S)
                refused_during_outage = load.refused
                await asyncio.sleep(2)  # the load goes on after the database is back
            finally:
                await load.stop()
            assert refused_during_outage > 0, "the outage was not felt: the test tested nothing"
            assert len(load.acknowledged) > 40

            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                deadline = time.monotonic() + 60
                while True:
                    arrived = {
                        name: {message_of(r) for r in list(receiver.requests)}
                        for name, receiver in (("integration", integration), ("native", native))
                    }
                    missing = {n: len(set(load.acknowledged) - got) for n, got in arrived.items()}
                    listing = await http.get(DELIVERIES, params={"status": "pending"}, headers=admin)
                    pending = listing.json()["total"] if listing.status_code == 200 else -1
                    if pending == 0 and not any(missing.values()):
                        break
                    assert time.monotonic() < deadline, f"never settled: {pending} pending, missing {missing}"
                    await asyncio.sleep(0.5)
        for name, receiver in (("integration", integration), ("native", native)):
            counts = Counter(r.header("webhook-id") for r in list(receiver.requests))
            repeats = {k: n for k, n in counts.items() if n > 1}
            assert repeats == {}, (
                f"{len(repeats)} of {len(counts)} deliveries reached the {name} receiver twice"
            )
    finally:
        if process is not None:
            process.stop()
        await databases.drop_postgres_database(url)
