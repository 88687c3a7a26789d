"""`omnihook verify`: does a captured request carry a valid Standard Webhooks signature?"""

from __future__ import annotations

import base64
import binascii
import hmac
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from omnihook.cli.base import app, with_database
from omnihook.domain.clock import utcnow
from omnihook.storage.database import Database
from omnihook.storage.tables import webhook_endpoints

TOLERANCE_SECONDS = 300  # what Standard Webhooks' libraries accept, either way


@app.command("verify")
def verify(
    body: Annotated[Path, typer.Option(help="the request's body, byte for byte (- for standard input)")],
    header: Annotated[
        list[str],
        typer.Option(
            "--header", "-H", help="'name: value' of webhook-id, webhook-timestamp, webhook-signature"
        ),
    ],
    endpoint: Annotated[str | None, typer.Option(help="check with this endpoint's secrets")] = None,
    secret: Annotated[str | None, typer.Option(help="check with this secret (whsec_...)")] = None,
) -> None:
    """Exit 0 when a signature matches a secret (the endpoint's current or rotated-out one), 1 when none does."""
    if (endpoint is None) == (secret is None):
        _fail("give --endpoint or --secret", status=2)
    headers = _headers(header)
    data = sys.stdin.buffer.read() if str(body) == "-" else body.read_bytes()
    secrets = [secret] if secret is not None else with_database(lambda db: _secrets_of(db, str(endpoint)))
    try:
        timestamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        message_id = headers["webhook-id"]
        signatures = headers["webhook-signature"].split()
    except (KeyError, ValueError, OverflowError):
        _fail("the webhook-id, webhook-timestamp and webhook-signature headers are needed", status=2)
    for candidate in secrets:
        try:
            expected = Webhook(candidate).sign(message_id, timestamp, data.decode()).split(",", 1)[1]
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            _fail(f"cannot sign with this secret: {exc}", status=2)
        if any(_matches(expected, given) for given in signatures):
            age = (utcnow() - timestamp).total_seconds()
            typer.echo("valid signature")
            if abs(age) > TOLERANCE_SECONDS:
                typer.echo(f"note: signed {age:.0f} s ago; a receiver would refuse it as a replay", err=True)
            return
    _fail("no signature matches", status=1)


def _matches(expected: str, given: str) -> bool:
    version, _, signature = given.partition(",")
    try:
        return version == "v1" and hmac.compare_digest(
            base64.b64decode(expected), base64.b64decode(signature)
        )
    except binascii.Error:
        return False


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, separator, value = line.partition(":")
        if not separator:
            _fail(f"--header {line!r}: expected 'name: value'", status=2)
        headers[name.strip().lower()] = value.strip()
    return headers


async def _secrets_of(db: Database, endpoint_id: str) -> list[str]:
    async with db.engine.connect() as conn:
        row = (
            await conn.execute(
                select(
                    webhook_endpoints.c.secret,
                    webhook_endpoints.c.previous_secret,
                    webhook_endpoints.c.previous_secret_expires_at,
                ).where(webhook_endpoints.c.id == endpoint_id)
            )
        ).first()
    if row is None:
        _fail(f"no endpoint {endpoint_id!r}", status=2)
    secrets = (row.secret or "").split()
    if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > utcnow():
        secrets.extend(row.previous_secret.split())
    if not secrets:
        _fail(f"endpoint {endpoint_id!r} has no secret", status=2)
    return secrets


def _fail(message: str, *, status: int) -> NoReturn:
    typer.echo(f"error: {message}" if status == 2 else message, err=True)
    raise typer.Exit(status)
