"""`omnihook deliveries list|show|replay`: the delivery log from a terminal, with the API's filters."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import typer

from omnihook.cli.base import print_json, print_table, with_database
from omnihook.cli.replays import parse_request, start_job
from omnihook.storage.database import Database
from omnihook.webhooks import deliveries as log
from omnihook.webhooks import replay_jobs
from omnihook.webhooks.deliveries import DeliveryFilter

group = typer.Typer(help="list, show and send again webhook deliveries", no_args_is_help=True)

Status = Annotated[str | None, typer.Option(help="pending, delivered or dead")]
EventTypeOption = Annotated[str | None, typer.Option("--type", help="an event type, e.g. Message")]
Endpoint = Annotated[
    str | None, typer.Option("--endpoint", help="an endpoint id (rocketchat: the integration)")
]
Room = Annotated[str | None, typer.Option("--room", help="a room id")]
Since = Annotated[datetime | None, typer.Option(help="created at or after (UTC if no zone)")]
Until = Annotated[datetime | None, typer.Option(help="created before (UTC if no zone)")]
Search = Annotated[
    str | None, typer.Option("--search", "-q", help="a delivery id, a room id or payload text")
]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _filter(
    status: str | None,
    event_type: str | None,
    endpoint: str | None,
    room: str | None,
    since: datetime | None,
    until: datetime | None,
    search: str | None,
) -> DeliveryFilter:
    return DeliveryFilter(
        status=status,
        event_type=event_type,
        endpoint_id=endpoint,
        room_id=room,
        since=since,
        until=until,
        search=search,
    )


@group.command("list")
def list_command(
    status: Status = None,
    event_type: EventTypeOption = None,
    endpoint: Endpoint = None,
    room: Room = None,
    since: Since = None,
    until: Until = None,
    search: Search = None,
    count: Annotated[int, typer.Option(help="at most this many, newest first")] = 50,
    as_json: AsJson = False,
) -> None:
    """The newest deliveries matching the filters."""
    # The filter is built inside: its refusals are printed like the database's.
    found: dict[str, Any] = with_database(
        lambda db: log.list_deliveries(
            db, _filter(status, event_type, endpoint, room, since, until, search), count=count
        )
    )
    if as_json:
        print_json(found)
        return
    rows = [
        [
            d["createdAt"],
            d["_id"],
            d["endpointName"],
            d["type"],
            d["roomId"] or "-",
            d["status"],
            str(d["attempts"]),
            str(d["lastStatusCode"] or d["lastError"] or "-")[:40],
        ]
        for d in found["deliveries"]
    ]
    print_table(rows, ["CREATED", "ID", "ENDPOINT", "TYPE", "ROOM", "STATUS", "ATTEMPTS", "LAST ANSWER"])
    typer.echo(f"{found['count']} of {found['total']}{'+' if found.get('totalCapped') else ''}")


@group.command("show")
def show_command(delivery_id: Annotated[str, typer.Argument()], as_json: AsJson = False) -> None:
    """One delivery: its payload and every attempt with the answer it got."""
    delivery: dict[str, Any] = with_database(lambda db: log.get_delivery(db, delivery_id))
    if as_json:
        print_json(delivery)
        return
    typer.echo(
        f"{delivery['_id']}  {delivery['type']} to {delivery['endpointName']} ({delivery['endpointUrl']})"
    )
    typer.echo(
        f"status {delivery['status']}, {delivery['attempts']} attempt(s), created {delivery['createdAt']}"
    )
    for attempt in delivery["attemptsLog"]:
        answer = attempt["statusCode"] if attempt["statusCode"] is not None else attempt["error"]
        typer.echo(f"  #{attempt['attempt']} {attempt['startedAt']}  {answer}  {attempt['durationMs']} ms")
    typer.echo("payload:")
    print_json(delivery["payload"])


@group.command("replay")
def replay_command(
    delivery_ids: Annotated[list[str] | None, typer.Argument(help="delivery ids; or give filters")] = None,
    status: Annotated[
        str, typer.Option(help="which deliveries a filter replays: dead, delivered or any")
    ] = "dead",
    event_type: EventTypeOption = None,
    endpoint: Endpoint = None,
    room: Room = None,
    since: Since = None,
    until: Until = None,
    search: Search = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be sent, send nothing")] = False,
    rate: Annotated[
        int, typer.Option(min=1, max=replay_jobs.MAX_RATE, help="deliveries released a second, per endpoint")
    ] = replay_jobs.DEFAULT_RATE,
    detach: Annotated[bool, typer.Option("--detach", help="start the replay job and return")] = False,
) -> None:
    """Send deliveries again (same id, a fresh retry budget): the ones named, or every one that matches
    the filters, as a replay job (recorded, throttled per endpoint, resumed after a restart)."""
    ids = list(delivery_ids or [])
    if ids:
        if dry_run:
            typer.echo(f"{len(ids)} deliveries would be sent again")
            return
        sent = with_database(lambda db: _replay(db, ids, rate))
        typer.echo(f"{sent} deliveries sent again")
        return
    given = {
        "status": status,
        "type": event_type,
        "endpointId": endpoint,
        "roomId": room,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "q": search,
    }
    request = parse_request({"filter": given, "ratePerSecond": rate})
    if dry_run:
        matching = with_database(lambda db: replay_jobs.count_matching(db, request))
        typer.echo(f"{matching} deliveries would be sent again")
        return
    start_job(request, detach=detach)


async def _replay(db: Database, ids: list[str], rate: float) -> int:
    """Release them at `rate` a second, so a large replay does not crowd out live traffic."""
    with typer.progressbar(ids, label="sending again", show_pos=True) as progress:
        for delivery_id in progress:
            await log.redeliver(db, delivery_id)
            await asyncio.sleep(1 / rate)
    return len(ids)
