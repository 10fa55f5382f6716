"""`stepstone review ...`: the facility's reasons for refusing content, and the export of
review decisions for other facilities of the department."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from server.catalog import decisions
from server.cli.content import CLI_ACTOR, open_data
from server.core.errors import NotFound, ValidationError


@click.group("review")
def review_cli() -> None:
    """Reasons for rejecting content, and the decisions made here."""


@review_cli.command("reasons")
@click.pass_context
def review_reasons(ctx: click.Context) -> None:
    """List the reasons an admin can choose from when rejecting a course version."""
    _, database = open_data(ctx)
    for reason in decisions.reasons(database):
        click.echo(f"{reason.code:<24} {reason.label}")


@review_cli.command("add-reason")
@click.argument("label")
@click.pass_context
def review_add_reason(ctx: click.Context, label: str) -> None:
    """Add a reason to the list (it appears before "Other").

    \b
    Example:
        stepstone review add-reason "Violent images"
    """
    _, database = open_data(ctx)
    try:
        reason = decisions.add_reason(database, CLI_ACTOR, label)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Added {reason.code}: {reason.label}")


@review_cli.command("remove-reason")
@click.argument("code")
@click.pass_context
def review_remove_reason(ctx: click.Context, code: str) -> None:
    """Take the reason CODE off the list; past decisions keep it.

    \b
    Example:
        stepstone review remove-reason outside-links
    """
    _, database = open_data(ctx)
    try:
        decisions.remove_reason(database, CLI_ACTOR, code)
    except NotFound:
        raise click.ClickException(f"No reason has the code {code!r}.") from None
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Removed {code}.")


@review_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def review_export(ctx: click.Context, fmt: str, out: Path | None) -> None:
    """Every approval and rejection made here, with reasons, for another facility.

    Each row names the package by its SHA-256, so a facility that receives the same
    package knows what was found in it. No staff names.

    \b
    Example:
        stepstone review export --format csv -o decisions.csv
    """
    settings, database = open_data(ctx)
    rows = decisions.decisions(database)
    if fmt == "csv":
        data = decisions.to_csv(rows)
    else:
        data = decisions.to_json(rows, settings.facility_name)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        click.echo(f"Wrote {out} ({len(rows)} decision(s)).", err=True)
    decisions.record_export(database, CLI_ACTOR, fmt, len(rows))
