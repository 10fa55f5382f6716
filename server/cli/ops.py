"""`stepstone backup`, `stepstone restore` and `stepstone check`: looking after a server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import click

from server.core.db import Database, refusal, write_refused
from server.core.errors import ConfigError
from server.core.settings import Settings, load_settings
from server.ops import backup, health, restore
from server.ops.backup import BackupError
from server.people.audit import Actor

CLI_ACTOR = Actor.system("cli")
_MARK = {health.Status.OK: "ok", health.Status.WARN: "WARN", health.Status.FAIL: "FAIL"}


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(data_dir=ctx.obj["data_dir"])
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _database(settings: Settings) -> Database:
    """The database as it is: these commands never migrate it."""
    if not settings.database_path.is_file():
        raise click.ClickException(
            f"No Stepstone data in {settings.data_dir}. Run `stepstone init` first."
        )
    return Database(settings.database_path)


def _size(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--keep",
    type=click.IntRange(1, 1000),
    default=None,
    help="Backups to keep in DEST, newest first (default: the backup_keep setting, 7).",
)
@click.pass_context
def backup_cli(ctx: click.Context, dest: Path, keep: int | None) -> None:
    """Back up the data folder into a new folder under DEST, while the server runs.

    The backup is a consistent snapshot of the database, the course files it needs,
    each publisher's signed metadata, the secret keys and stepstone.toml, with a
    manifest of every file's SHA-256. It holds secrets and learners' records: keep it
    as safe as the server. Older backups in DEST beyond --keep are removed.

    Exit status 1 when a course file could not be backed up (missing or damaged in the
    content store; the rest of the backup is still made and usable).

    \b
    Example:
        stepstone backup /var/backups/stepstone
        stepstone backup /media/usb/stepstone --keep 3
    """
    settings = _settings(ctx)
    database = _database(settings)
    try:
        made = backup.create_backup(settings, dest, keep=keep or settings.backup_keep)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        backup.record_backup(database, CLI_ACTOR, made)
    except sqlite3.Error as exc:
        if not write_refused(exc):
            raise
        raise click.ClickException(
            f"Backed up to {made.path}, but the database could not note it ({refusal(exc)}),"
            " so `stepstone check` does not know of it. Free some space on the data folder's"
            " disk."
        ) from None
    finally:
        database.close()
    click.echo(
        f"Backed up to {made.path}: {len(made.files)} files, {_size(made.size)} "
        f"({made.linked} course files hard-linked, not copied)."
    )
    if made.audit_head is not None:
        click.echo(f"Audit log head in this backup: {made.audit_head}")
    for old in made.removed:
        click.echo(f"Removed the older backup {old.name}.")
    for problem in made.problems:
        click.echo(f"problem: {problem}", err=True)
    if made.problems:
        click.echo(
            "Some course files are not in this backup. Run `stepstone content verify`.", err=True
        )
        raise SystemExit(1)


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    "target",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The data folder to restore into (new or empty).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Restore into a folder that is not empty: its contents are moved into "
    "before-restore-<time>/ inside it, not deleted. Stop the server first.",
)
def restore_cli(src: Path, target: Path, force: bool) -> None:
    """Restore the backup SRC into a data folder, and verify it.

    Every file is checked against the backup's manifest before anything is copied and
    again after; the database gets SQLite's integrity check and is put in place last.
    Start the server on the folder afterwards: it applies any migrations and rebuilds
    the search index. Run this as the user the server runs as, so it owns the files.

    \b
    Example:
        stepstone restore /var/backups/stepstone/stepstone-20250131T020000Z \\
            --data-dir /var/lib/stepstone-restored
    """
    try:
        done = restore.restore_backup(src, target, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    manifest = done.manifest
    click.echo(
        f"Restored the backup of {manifest.created_at} (Stepstone {manifest.stepstone_version}, "
        f"{len(manifest.schema)} migrations) into {done.data_dir}: {len(manifest.files)} files, "
        f"{_size(manifest.size)}. Every file matches the manifest; the database is intact."
    )
    if done.moved_aside is not None:
        click.echo(f"What the folder held before is in {done.moved_aside}.")
    for problem in manifest.problems:
        click.echo(f"noted when the backup was made: {problem}", err=True)


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (what /healthz answers).")
@click.option(
    "--quick",
    is_flag=True,
    help="Re-hash only a sample of the course files, like /healthz (default: all of them).",
)
@click.pass_context
def check_cli(ctx: click.Context, as_json: bool, quick: bool) -> None:
    """Check the server: database, disk, course files, search, sync, TLS, clock, backups.

    Exit status 0 when every check is ok, 1 when any warns or fails: fit for cron or a
    monitoring agent. Changes nothing, but for one row it writes to learn that the
    database can still save.

    \b
    Example:
        stepstone check
        stepstone check --json --quick
    """
    settings = _settings(ctx)
    database = _database(settings)
    report = health.run_checks(settings, database, full_store=not quick)
    database.close()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        width = max(len(check.title) for check in report.checks)
        for check in report.checks:
            click.echo(f"{_MARK[check.status]:<4}  {check.title:<{width}}  {check.text}")
    if report.status is not health.Status.OK:
        raise SystemExit(1)
