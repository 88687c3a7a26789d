"""`omnihook endpoints list|create|disable|enable|rotate-secret`: native webhook endpoints from a terminal."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from omnihook.cli.base import print_json, print_table, with_database
from omnihook.config import get_settings
from omnihook.webhooks import endpoint_service as service

group = typer.Typer(
    help="list, create, disable, enable webhook endpoints and rotate their secrets", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
EndpointId = Annotated[str, typer.Argument(help="the endpoint's id (see `omnihook endpoints list`)")]


@group.command("list")
def list_command(as_json: AsJson = False) -> None:
    """Every endpoint, the Rocket.Chat integration included; secrets masked."""
    found: list[dict[str, Any]] = with_database(service.list_endpoints)
    if as_json:
        print_json(found)
        return
    rows = [
        [
            e["_id"],
            e["name"],
            e["format"],
            "enabled"
            if e["enabled"]
            else f"disabled{': ' + e['disabledReason'] if e['disabledReason'] else ''}",
            e["url"],
            ",".join(e["eventTypes"]),
        ]
        for e in found
    ]
    print_table(rows, ["ID", "NAME", "FORMAT", "STATE", "URL", "EVENTS"])


@group.command("create")
def create_command(
    name: Annotated[str, typer.Option(help="what the endpoint is called")],
    url: Annotated[str, typer.Option(help="where deliveries are sent (http or https)")],
    event_type: Annotated[
        list[str],
        typer.Option("--event-type", "-e", help="a type to send (repeat); e.g. Message, Message.visitor"),
    ],
    format_name: Annotated[str, typer.Option("--format", help="standard or rocketchat")] = "standard",
) -> None:
    """Create an endpoint; its secret is printed this once."""
    body = {"name": name, "url": url, "eventTypes": event_type, "format": format_name}
    allow_private = get_settings().allow_private_targets
    created: dict[str, Any] = with_database(
        lambda db: service.create_endpoint(db, body, allow_private_targets=allow_private)
    )
    typer.echo(f"endpoint {created['_id']} created")
    typer.echo(f"secret (shown once): {created['secret']}")


def _set_enabled(endpoint_id: str, enabled: bool) -> dict[str, Any]:
    allow_private = get_settings().allow_private_targets
    updated: dict[str, Any] = with_database(
        lambda db: service.update_endpoint(
            db, endpoint_id, {"enabled": enabled}, allow_private_targets=allow_private
        )
    )
    return updated


@group.command("disable")
def disable_command(endpoint_id: EndpointId) -> None:
    """Stop sending to an endpoint."""
    _set_enabled(endpoint_id, False)
    typer.echo(f"endpoint {endpoint_id} disabled")


@group.command("enable")
def enable_command(endpoint_id: EndpointId) -> None:
    """Send to an endpoint again."""
    _set_enabled(endpoint_id, True)
    typer.echo(f"endpoint {endpoint_id} enabled")


@group.command("rotate-secret")
def rotate_secret_command(endpoint_id: EndpointId) -> None:
    """A new secret, printed this once; the old one still signs for a day, so receivers can switch."""
    rotated: dict[str, Any] = with_database(lambda db: service.rotate_secret(db, endpoint_id, None))
    typer.echo(f"new secret (shown once): {rotated['secret']}")
    typer.echo(f"the old secret also signs until {rotated['previousSecretExpiresAt']}")
