"""`stepstone lockdown ...`: close a housing unit (any group) or the whole facility to
learners now, and open it again."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from server.cli.content import CLI_ACTOR, open_data
from server.core import clock
from server.core.errors import NotFound, ValidationError
from server.people import groups, lockdowns


@click.group("lockdown")
def lockdown_cli() -> None:
    """Lockdowns: learners covered cannot sign in and are signed out at once (their page
    saves their work first); staff are not affected. Every start and end is audited."""


@lockdown_cli.command("start")
@click.option("--group", "group_name", default="", help="The group (unit); none: the facility")
@click.option("--reason", type=click.Choice(lockdowns.REASONS), required=True)
@click.option("--hours", type=float, default=None, help="Ends by itself after this long")
@click.option("--note", default="", help="A short note for staff (no names)")
@click.pass_context
def lockdown_start(
    ctx: click.Context, group_name: str, reason: str, hours: float | None, note: str
) -> None:
    """Start a lockdown now.

    \b
    Examples:
        stepstone lockdown start --group "Unit B" --reason count --hours 2
        stepstone lockdown start --reason emergency
    """
    settings, database = open_data(ctx)
    group_id = None
    if group_name:
        group = groups.find_group(database, group_name)
        if group is None:
            raise click.ClickException(f"No group is named {group_name!r}.")
        group_id = group.id
    planned_end = clock.now() + hours * 3600 if hours is not None else None
    try:
        started = lockdowns.start(database, CLI_ACTOR, group_id, reason, planned_end, note)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Lockdown {started.id} started: {_line(started, settings.time_zone)}")


@lockdown_cli.command("end")
@click.argument("lockdown_id", type=int)
@click.pass_context
def lockdown_end(ctx: click.Context, lockdown_id: int) -> None:
    """End a lockdown now (its id is in `stepstone lockdown list`).

    \b
    Example:
        stepstone lockdown end 4
    """
    _, database = open_data(ctx)
    try:
        ended = lockdowns.end(database, CLI_ACTOR, lockdown_id)
    except NotFound:
        raise click.ClickException(f"There is no lockdown {lockdown_id}.") from None
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Lockdown {ended.id} ended.")


@lockdown_cli.command("list")
@click.pass_context
def lockdown_list(ctx: click.Context) -> None:
    """Print the latest lockdowns, newest first, one a line: id, in force or not, what it
    covers, reason, start, end (times in the facility's time zone).

    \b
    Example:
        stepstone lockdown list
    """
    settings, database = open_data(ctx)
    moment = clock.now()
    for lockdown in lockdowns.history(database):
        state = "in-force" if lockdown.active_at(moment) else "over"
        click.echo(f"{lockdown.id}\t{state}\t{_line(lockdown, settings.time_zone)}")


def _line(lockdown: lockdowns.Lockdown, zone: str) -> str:
    def when(moment: float | None) -> str:
        if moment is None:
            return "-"
        return datetime.fromtimestamp(moment, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")

    scope = lockdown.scope_name or "whole facility"
    return f"{scope}\t{lockdown.reason}\t{when(lockdown.started_at)}\t{when(lockdown.stops_at())}"
