"""`omnihook replays list|show|cancel|backfill`, and the job a bulk `omnihook deliveries replay` creates:
followed with a progress bar until it ends (a server or worker runs it), or left to run (`--detach`)."""

from __future__ import annotations

import asyncio
import getpass
from datetime import datetime
from typing import Annotated, Any

import typer

from omnihook.cli.base import print_json, print_table, with_database
from omnihook.domain.clock import iso
from omnihook.domain.errors import DomainError
from omnihook.storage.database import Database
from omnihook.webhooks import replay_jobs as jobs

group = typer.Typer(
    help="bulk replay jobs: list, show, cancel; backfill a new endpoint", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]
Detach = Annotated[bool, typer.Option("--detach", help="start the job and return; do not follow it")]
Rate = Annotated[
    int, typer.Option(min=1, max=jobs.MAX_RATE, help="deliveries released a second, per endpoint")
]
POLL_S = 0.5
UNTAKEN_WARNING_S = 10.0  # a running server or worker takes a new job within a second


def who() -> str:
    """Who created or cancelled a job from the CLI: the system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


def describe(job: dict[str, Any]) -> str:
    what = f"backfill of {job['backfillTo']}" if job["kind"] == "backfill" else "replay"
    skipped = f", {job['skipped']} skipped" if job["skipped"] else ""
    return f"{job['_id']}  {what}, {job['status']}: {job['replayed']} of {job['total']} sent again{skipped}"


def parse_request(body: dict[str, Any]) -> jobs.JobRequest:
    """The request checked as the API checks it; a refusal is printed as the database's are."""
    try:
        return jobs.parse_request(body)
    except DomainError as exc:
        typer.echo(f"error: {exc.error}: {exc.details or exc.error}", err=True)
        raise typer.Exit(2) from exc


def start_job(request: jobs.JobRequest, *, detach: bool) -> None:
    """Create the job; unless detached, follow it to its end with a progress bar."""
    job: dict[str, Any] = with_database(lambda db: jobs.create_job(db, request, created_by=who()))
    typer.echo(f"replay job {job['_id']}: {job['total']} deliveries to send, {request.rate}/s per endpoint")
    if detach or job["status"] != "running":
        if job["status"] != "running":
            typer.echo(f"{job['replayed']} deliveries sent again")
        return
    typer.echo("a server or worker runs it (omnihook serve / omnihook worker); Ctrl-C stops following")
    final: dict[str, Any] = with_database(lambda db: _follow(db, job))
    typer.echo(f"replay job {final['_id']} {final['status']}: {final['replayed']} deliveries sent again")
    if final["skipped"]:
        typer.echo(f"{final['skipped']} skipped: sent again meanwhile, or their endpoint was deleted")


async def _follow(db: Database, job: dict[str, Any]) -> dict[str, Any]:
    shown = 0
    loop = asyncio.get_running_loop()
    warn_at: float | None = loop.time() + UNTAKEN_WARNING_S
    with typer.progressbar(length=max(1, job["total"]), label="sending again", show_pos=True) as bar:
        while True:
            job = await jobs.get_job(db, job["_id"])
            done = job["replayed"] + job["skipped"]
            bar.update(done - shown)
            shown = done
            if job["status"] != "running":
                return job
            if job["runner"] is not None:
                warn_at = None
            elif warn_at is not None and loop.time() > warn_at:
                typer.echo(
                    f"\nno server or worker has taken the job in {UNTAKEN_WARNING_S:.0f} s: is one running "
                    "on this database?",
                    err=True,
                )
                warn_at = None
            await asyncio.sleep(POLL_S)


@group.command("list")
def list_command(
    status: Annotated[str | None, typer.Option(help="running, finished or cancelled")] = None,
    count: Annotated[int, typer.Option(help="at most this many, newest first")] = 20,
    as_json: AsJson = False,
) -> None:
    """The newest replay jobs."""
    found: list[dict[str, Any]] = with_database(lambda db: jobs.list_jobs(db, count=count, status=status))
    if as_json:
        print_json(found)
        return
    rows = [
        [
            j["createdAt"],
            j["_id"],
            j["kind"],
            j["status"],
            f"{j['replayed']}/{j['total']}",
            str(j["skipped"]),
            j["createdBy"],
        ]
        for j in found
    ]
    print_table(rows, ["CREATED", "ID", "KIND", "STATUS", "SENT", "SKIPPED", "BY"])


@group.command("show")
def show_command(job_id: Annotated[str, typer.Argument()], as_json: AsJson = False) -> None:
    """One job: its filter and progress."""
    job: dict[str, Any] = with_database(lambda db: jobs.get_job(db, job_id))
    if as_json:
        print_json(job)
        return
    typer.echo(describe(job))
    typer.echo(f"filter: {job['filter'] or 'none'}; {job['ratePerSecond']}/s per endpoint")
    typer.echo(f"created {job['createdAt']} by {job['createdBy']}; in flight {job['inFlight']}")
    if job["finishedAt"]:
        by = f" by {job['cancelledBy']}" if job["cancelledBy"] else ""
        typer.echo(f"{job['status']} {job['finishedAt']}{by}")


@group.command("cancel")
def cancel_command(job_id: Annotated[str, typer.Argument()]) -> None:
    """Stop a running job (what it released already is still sent)."""
    job: dict[str, Any] = with_database(lambda db: jobs.cancel_job(db, job_id, by=who()))
    typer.echo(describe(job))


@group.command("backfill")
def backfill_command(
    endpoint: Annotated[str, typer.Argument(help="the endpoint to send the past events to")],
    since: Annotated[datetime, typer.Option(help="events created at or after (UTC if no zone)")],
    until: Annotated[datetime | None, typer.Option(help="created before (UTC if no zone)")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="an event type, e.g. Message")] = None,
    room: Annotated[str | None, typer.Option("--room", help="a room id")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count them, send nothing")] = False,
    rate: Rate = jobs.DEFAULT_RATE,
    detach: Detach = False,
) -> None:
    """Send the events stored since a time to an endpoint created after them (new deliveries)."""
    given = {"since": iso(since), "until": iso(until) if until else None, "type": event_type, "roomId": room}
    body = {"backfillTo": endpoint, "filter": given, "ratePerSecond": rate}
    request = parse_request(body)
    if dry_run:
        matching = with_database(lambda db: jobs.count_matching(db, request))
        typer.echo(f"{matching} events would be sent to {endpoint}")
        return
    start_job(request, detach=detach)
