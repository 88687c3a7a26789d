"""The `omnihook` command as an operator runs it: a separate process on the same database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from omnihook import __version__
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, login_headers
from tests.livechat_helpers import open_chat
from tests.receiver import Receiver
from tests.webhook_helpers import configure, settled


async def omnihook(database_url: str, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    """`omnihook <args>` in a process of its own (off the event loop, which serves the test's app)."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omnihook.cli", *args],
            env={**os.environ, "OMNIHOOK_DATABASE_URL": database_url, "OMNIHOOK_ALLOW_PRIVATE_TARGETS": "1"},
            input=stdin.decode(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    return await asyncio.to_thread(run)


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def test_version_is_printed() -> None:
    result = await omnihook("sqlite+aiosqlite:///unused.db", "--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"omnihook {__version__}")


async def test_deliveries_are_listed_with_filters_shown_and_dead_ones_replayed(
    client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver, database_url: str
) -> None:
    await configure(
        client,
        admin,
        LivechatWebhookUrl=receiver.url,
        LivechatWebhookOnVisitorMessage=True,
        LivechatWebhookRetries=0,
    )
    receiver.default_status = 500
    rid = await open_chat(client, "tok-1", "the order 1234 is late", "hello?")
    rows = await settled(database_url, 2)
    assert {r.status for r in rows} == {"dead"}

    listed = as_json(await omnihook(database_url, "deliveries", "list", "--status", "dead", "--json"))
    assert listed["total"] == 2 and {d["roomId"] for d in listed["deliveries"]} == {rid}
    table = await omnihook(database_url, "deliveries", "list", "-q", "order 1234")
    assert table.returncode == 0, table.stderr
    assert "1 of 1" in table.stdout and "Rocket.Chat CRM integration" in table.stdout
    refused = await omnihook(database_url, "deliveries", "list", "--status", "lost")
    assert refused.returncode == 2 and "status must be one of" in refused.stderr

    one = rows[0].id
    shown = as_json(await omnihook(database_url, "deliveries", "show", one, "--json"))
    assert shown["_id"] == one and [a["statusCode"] for a in shown["attemptsLog"]] == [500]

    dry = await omnihook(database_url, "deliveries", "replay", "--room", rid, "--dry-run")
    assert dry.returncode == 0 and "2 deliveries would be sent again" in dry.stdout
    assert {r.status for r in await settled(database_url, 2)} == {"dead"}  # nothing was sent

    receiver.default_status = 200
    replayed = await omnihook(database_url, "deliveries", "replay", "--room", rid, "--rate", "100")
    assert replayed.returncode == 0, replayed.stderr
    assert "2 deliveries sent again" in replayed.stdout
    again = await settled(database_url, 2)
    assert {r.status for r in again} == {"delivered"}
    assert sorted(str(r.header("webhook-id")) for r in receiver.requests[2:]) == sorted(r.id for r in rows)


async def test_endpoints_are_created_disabled_enabled_and_rotated_and_a_request_verified(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin: dict[str, str],
    receiver: Receiver,
    database_url: str,
    tmp_path: Path,
) -> None:
    await configure(client, admin, LivechatWebhookUrl=receiver.url)  # the integration: one endpoint more
    created = await omnihook(
        database_url, "endpoints", "create", "--name", "CRM", "--url", receiver.url, "-e", "Message"
    )
    assert created.returncode == 0, created.stderr
    endpoint_id = created.stdout.split()[1]
    secret = created.stdout.strip().rsplit(" ", 1)[1]
    assert secret.startswith("whsec_")
    listed = as_json(await omnihook(database_url, "endpoints", "list", "--json"))
    assert {e["_id"] for e in listed} >= {endpoint_id, "rocketchat"}
    assert secret not in json.dumps(listed)

    assert (await omnihook(database_url, "endpoints", "disable", endpoint_id)).returncode == 0
    ours = (await client.get(f"/api/v1/omnihook/endpoints/{endpoint_id}", headers=admin)).json()["endpoint"]
    assert ours["enabled"] is False
    assert (await omnihook(database_url, "endpoints", "enable", endpoint_id)).returncode == 0

    # A server sees endpoints changed by another process within its cache's time to live.
    await asyncio.sleep(app.state.webhooks.endpoints.ttl + 0.5)
    await open_chat(client, "tok-1", "signed, please")
    [request] = await receiver.arrived(1)
    body = tmp_path / "body.json"
    body.write_bytes(request.body)
    headers = [f"{n}: {request.header(n)}" for n in ("webhook-id", "webhook-timestamp", "webhook-signature")]
    flags = [part for h in headers for part in ("-H", h)]
    good = await omnihook(database_url, "verify", "--body", str(body), *flags, "--endpoint", endpoint_id)
    assert (good.returncode, good.stdout.strip()) == (0, "valid signature"), good.stderr
    body.write_bytes(request.body.replace(b"signed", b"forged"))
    forged = await omnihook(database_url, "verify", "--body", str(body), *flags, "--secret", secret)
    assert forged.returncode == 1 and "no signature matches" in forged.stderr

    rotated = await omnihook(database_url, "endpoints", "rotate-secret", endpoint_id)
    assert rotated.returncode == 0 and "whsec_" in rotated.stdout and secret not in rotated.stdout
    body.write_bytes(request.body)
    # The rotated-out secret still verifies what it signed, for a day.
    still = await omnihook(
        database_url, "verify", "--body", "-", *flags, "--endpoint", endpoint_id, stdin=request.body
    )
    assert still.returncode == 0, still.stderr
    managed = await omnihook(database_url, "endpoints", "disable", "rocketchat")
    assert managed.returncode == 2 and "error-endpoint-managed" in managed.stderr


async def test_reset_password_sets_the_password_and_ends_the_users_sessions(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    reset = await omnihook(
        database_url, "reset-password", ADMIN_USERNAME, stdin=b"a-new-password-1\na-new-password-1\n"
    )
    assert reset.returncode == 0, reset.stderr
    assert (await client.get("/api/v1/me", headers=admin)).status_code == 401  # the old session ended
    await login_headers(client, ADMIN_USERNAME, "a-new-password-1")
    old = await client.post("/api/v1/login", json={"user": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert old.status_code == 401
    weak = await omnihook(database_url, "reset-password", ADMIN_USERNAME, stdin=b"short\nshort\n")
    assert weak.returncode == 2 and "error-password-policy-not-met" in weak.stderr
    unknown = await omnihook(
        database_url, "reset-password", "nobody", stdin=b"a-new-password-1\na-new-password-1\n"
    )
    assert unknown.returncode == 2 and "error-invalid-user" in unknown.stderr
