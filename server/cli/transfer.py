"""`stepstone transfer`: a learner's signed record, out to another facility and in from one."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.content import CLI_ACTOR
from server.cli.facility import open_identity
from server.core.errors import ValidationError
from server.records import bundle, transfer_in, transfer_out
from server.records.transfer_in import Preview

_PARTS = {
    "courses": "courses",
    "assignments": "assignments",
    "plan": "plan goals",
    "certificates": "certificates",
    "workbook": "workbook pages",
    "elsewhere": "records from other facilities",
}


@click.group("transfer")
def transfer_cli() -> None:
    """Move a learner's record between facilities as a signed file."""


@transfer_cli.command("export")
@click.argument("learner")
@click.option(
    "-o",
    "--output",
    type=click.Path(writable=True, path_type=Path),
    required=True,
    help="The file (or a folder: named after the bundle) to write, e.g. on the USB stick.",
)
@click.pass_context
def transfer_export(ctx: click.Context, learner: str, output: Path) -> None:
    """Sign LEARNER's record (progress, quiz results, assignments, plan, certificates and
    the workbook pages they chose to take) into a transfer bundle for another facility.

    \b
    Example:
        stepstone transfer export A1234 -o /media/usb/
    """
    settings, database = open_identity(ctx)
    try:
        exported = transfer_out.export_learner(
            database, settings, CLI_ACTOR, transfer_out.find_learner(database, learner)
        )
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    path = output / exported.file_name if output.is_dir() else output
    draft = path.with_name(f".{path.name}.partial")
    draft.write_bytes(exported.data)
    draft.replace(path)
    click.echo(f"Transfer bundle number {exported.sequence} for {learner}: {path}")
    counts = ", ".join(
        f"{_PARTS.get(name, name)}: {count}" for name, count in exported.summary.items()
    )
    click.echo(f"  {counts}")
    click.echo(f"  Import it before {exported.expires_at[:10]}.")


def _show(preview: Preview) -> None:
    click.echo(f"From {preview.sender.name} ({preview.sender.facility_id}),")
    click.echo(f"  fingerprint {preview.sender.fingerprint}")
    click.echo(
        f"Learner {preview.name} (id there {preview.sender_learner_id}, language"
        f" {preview.language}); bundle number {preview.sequence} of {preview.issued_at[:10]}"
    )
    if preview.already_imported:
        assert preview.account is not None
        click.echo(
            f"This bundle was imported already, into {preview.account.display_name}"
            f" ({preview.account.login}): importing it again changes nothing."
        )
        return
    if preview.account is not None:
        click.echo(f"Merges into: {preview.account.display_name} ({preview.account.login})")
    elif preview.new_login:
        click.echo(f"Makes a new account: {preview.new_login}")
    else:
        click.echo("Account here: not chosen yet (--match ID or --new ID)")
    for line in preview.courses:
        outcome = "merged into progress here" if line.held else "completed elsewhere"
        if line.held and line.certificate:
            outcome += "; certificate kept as completed elsewhere"
        elif not line.held and not line.certificate:
            outcome = "not held here: kept as a record from elsewhere"
        click.echo(
            f"  course {line.course_id} v{line.version}: {line.lessons_done}/{line.lessons}"
            f" lessons done; {outcome}"
        )
    click.echo(f"  assignments added: {len(preview.assignments_added)}")
    for course_id in preview.assignments_not_added:
        click.echo(f"  assignment not added (not offered here, or already assigned): {course_id}")
    click.echo(f"  plan goals added: {len(preview.goals_added)}")
    click.echo(f"  workbook pages: {preview.pages} ({preview.private_pages} private, stay private)")
    for record in preview.passed_on:
        click.echo(f"  record from another facility, passed on: {record}")
    for name in preview.not_understood:
        click.echo(f"  not understood, kept as evidence: {name}")


@transfer_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--match", default=None, help="Merge into this existing learner (their id here).")
@click.option("--new", "new", default=None, help="Make a new learner account with this id.")
@click.option("--yes", is_flag=True, help="Do not ask: import after showing the preview.")
@click.option("--preview", "only_preview", is_flag=True, help="Show the preview; change nothing.")
@click.pass_context
def transfer_import(
    ctx: click.Context,
    file: Path,
    match: str | None,
    new: str | None,
    yes: bool,
    only_preview: bool,
) -> None:
    """Check a transfer bundle (signature against the trusted facility cards, expiry,
    newer bundles), show what it adds, and merge it into a learner's record.

    \b
    Example:
        stepstone transfer import /media/usb/3f2a....stepstone-transfer --match A1234
        stepstone transfer import bundle.stepstone-transfer --new B5678 --yes
    """
    _, database = open_identity(ctx)
    try:
        data = bundle.read_file(file)
        shown = transfer_in.preview(database, data, match=match, new=new)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    _show(shown)
    if only_preview or shown.already_imported:
        return
    if shown.needs_account:
        raise click.ClickException("Choose the account: --match ID (existing) or --new ID.")
    if not yes and not click.confirm("Import it?"):
        raise click.ClickException("Nothing imported.")
    try:
        done = transfer_in.import_bundle(database, CLI_ACTOR, data, match=match, new=new)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Imported into {done.user.display_name} ({done.user.login}).")
    if done.one_time_pin:
        click.echo(f"  New account's one-time PIN: {done.one_time_pin}")
