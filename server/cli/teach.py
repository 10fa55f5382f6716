"""`stepstone export ...` and `stepstone report impact`: the same exports as the
educator pages, for scripts and for the admin at the console (whole-facility scope).
Every export is audited, like in the pages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from server.cli.content import CLI_ACTOR, open_data
from server.core.errors import NotFound, ValidationError
from server.learning.access import Scope
from server.learning.continuity import Continuity
from server.people import groups
from server.people.accounts import Role, find_user
from server.teaching import credit_reports, exports, impact

# The console is run by the facility's admin: it sees the whole facility.
_CONSOLE = Scope.whole_facility()


def _write(data: bytes, out: Path | None) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        click.echo(f"Wrote {out} ({len(data):,} bytes).", err=True)


def _group_id(ctx: click.Context, name: str) -> str:
    if not name:
        return ""
    _, database = open_data(ctx)
    group = groups.find_group(database, name)
    if group is None:
        raise click.ClickException(f"No group is called {name!r}.")
    return str(group.id)


def _filter_options(function: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(
        [
            click.option("--group", default="", help="Only this group (its name)."),
            click.option("--course", default="", help="Only this course id."),
            click.option("--from", "start", default="", help="First day, e.g. 2026-09-01."),
            click.option("--to", "end", default="", help="Last day, e.g. 2026-12-31."),
            click.option(
                "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None
            ),
        ]
    ):
        function = option(function)
    return function


@click.group("export")
def export_cli() -> None:
    """Progress, completions, xAPI statements and earned credit (names and ID numbers:
    keep them safe)."""


def _export(ctx: click.Context, kind: str, group: str, course: str, start: str, end: str) -> bytes:
    """Rows of one export kind for the console's (whole-facility) scope, audited, as the
    bytes of the file: CSV (with a byte order mark, for spreadsheet programs) for progress
    and completions, JSON for xAPI."""
    settings, database = open_data(ctx)
    try:
        flt = exports.Filter.parse(start, end, _group_id(ctx, group), course)
        if kind == "xapi":
            rows = exports.xapi_statements(database, settings, _CONSOLE, flt, settings.xapi_actor)
            data = json.dumps(rows, indent=2, ensure_ascii=False).encode("utf-8")
        elif kind == "progress":
            moves = Continuity.load(database, settings)
            rows = exports.progress_rows(
                database, _CONSOLE, flt, settings.due_after_joining_days, moves
            )
            data = exports.csv_bytes(rows, exports.PROGRESS_COLUMNS)
        else:
            rows = exports.completion_rows(database, _CONSOLE, flt)
            data = exports.csv_bytes(rows, exports.COMPLETION_COLUMNS)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    exports.record_export(database, CLI_ACTOR, kind, flt, len(rows))
    return data


def _export_command(kind: str, help_text: str) -> None:
    """Register `stepstone export KIND` with the shared filter options."""

    def command(
        ctx: click.Context, group: str, course: str, start: str, end: str, out: Path | None
    ) -> None:
        _write(_export(ctx, kind, group, course, start, end), out)

    command.__doc__ = help_text
    export_cli.command(kind)(click.pass_context(_filter_options(command)))


_export_command("progress", "CSV: one row per learner and course with activity in the dates.")
_export_command(
    "completions", "CSV: certificates issued in the dates (for credit and earned-time paperwork)."
)
_export_command("xapi", "JSON: xAPI statements (learners named as the xapi_actor setting says).")


@click.group("report")
def report_cli() -> None:
    """Reports that leave the facility."""


@report_cli.command("impact")
@click.argument("publisher")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--sign", is_flag=True, help="Also write OUT.sig and the facility's public key.")
@click.option(
    "--exclude-disrupted",
    is_flag=True,
    help="Leave the days a learner was locked down out of their days to complete.",
)
@click.pass_context
def report_impact(
    ctx: click.Context,
    publisher: str,
    fmt: str,
    out: Path | None,
    sign: bool,
    exclude_disrupted: bool,
) -> None:
    """De-identified outcomes per course and month for PUBLISHER (small cells hidden);
    each month says its lockdown days.

    \b
    Example:
        stepstone report impact reentry-ngo --format csv -o impact.csv --sign
        stepstone report impact reentry-ngo --exclude-disrupted
    """
    settings, database = open_data(ctx)
    try:
        report = impact.build(database, settings, publisher, exclude_disrupted)
    except NotFound:
        raise click.ClickException(f"No trusted publisher is called {publisher!r}.") from None
    data = impact.to_csv(report) if fmt == "csv" else impact.to_json(report)
    if sign and out is None:
        raise click.ClickException("--sign needs --out (the signature goes next to the file).")
    _write(data, out)
    if sign and out is not None:
        signature = out.with_name(out.name + ".sig")
        signature.write_text(impact.sign(settings, data) + "\n", encoding="ascii")
        key = out.with_name("facility-report-key.pub.pem")
        key.write_bytes(impact.public_key_pem(settings))
        click.echo(f"Signed: {signature} (Ed25519, base64); public key: {key}", err=True)
    exports.record_export(
        database,
        CLI_ACTOR,
        "impact",
        exports.Filter("2000-01-01", "9999-12-31", None, None),
        len(report["rows"]),
        publisher=publisher,
        format=fmt,
    )


@export_cli.command("credit")
@click.option("--group", default="", help="Only this group's members (its name).")
@click.option("--learner", default="", help="Only this learner (their facility ID).")
@click.option("--format", "fmt", type=click.Choice(["csv", "signed-json"]), default="csv")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def export_credit(ctx: click.Context, group: str, learner: str, fmt: str, out: Path | None) -> None:
    """The earned-credit ledger: CSV, or JSON signed with the facility's key for a
    case-management system. Every entry, corrected ones included and marked.

    \b
    Examples:
        stepstone export credit --group "Unit B" -o credit.csv
        stepstone export credit --learner A1234 --format signed-json -o a1234.json
    """
    settings, database = open_data(ctx)
    group_id = int(_group_id(ctx, group)) if group else None
    learner_id = None
    if learner:
        found = find_user(database, Role.LEARNER, learner)
        if found is None:
            raise click.ClickException(f"No learner has the facility ID {learner!r}.")
        learner_id = found[0].id
    lines = credit_reports.lines(database, _CONSOLE, group_id, learner_id)
    if fmt == "csv":
        data = credit_reports.to_csv(lines)
    else:
        data = credit_reports.signed_json(settings, lines)
    target = f"group:{group_id}" if group_id else f"user:{learner_id}" if learner_id else "all"
    credit_reports.record_export(database, CLI_ACTOR, fmt, target, len(lines))
    _write(data, out)
