"""The `stepstone` command: set up a facility server, run it, and look after it."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from content.cli import package_cli
from content.tuf.publisher_cli import publisher_cli
from server import __version__
from server.cli.content import content_cli, sync_cli, trust_cli
from server.cli.demo import SOURCE_COURSES, publish_demo_courses
from server.cli.facility import facility_cli
from server.cli.lockdown import lockdown_cli
from server.cli.ops import backup_cli, check_cli, restore_cli
from server.cli.pepper import pepper_cli
from server.cli.preview import preview
from server.cli.records import certificate_cli, passport_cli, verify_command
from server.cli.review import review_cli
from server.cli.search import search_cli
from server.cli.serving import run_server
from server.cli.teach import export_cli, report_cli
from server.cli.transfer import transfer_cli
from server.cli.watchlist import watch_list_cli
from server.core import clock, csvfiles, filemodes
from server.core.db import Database, refusal, write_refused
from server.core.errors import ConfigError, StepstoneError, ValidationError
from server.core.settings import Settings, load_settings
from server.learning import assignments
from server.learning.ledger import verify_ledger
from server.ops.backup import BackupError
from server.ops.logs import configure_logging
from server.ops.upgrade import migrate
from server.people import accounts, groups, pepper, roster
from server.people.accounts import Role
from server.people.audit import Actor, AuditKeyMissing, ensure_key, parse_head, verify_chain
from server.people.demo import DEMO_PEOPLE, create_demo_people
from server.records import identity

CLI_ACTOR = Actor.system("cli")


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(data_dir=ctx.obj["data_dir"], **overrides)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _database(settings: Settings) -> Database:
    folder = settings.data_dir
    if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
        raise click.ClickException(
            f"Cannot open the data folder {folder}: permission denied. Run the command as"
            " the user that owns it (on a server: runuser -u stepstone -- stepstone ...)."
        )
    if not settings.database_path.exists():
        raise click.ClickException(
            f"No Stepstone data in {folder} (no {settings.database_path.name} there)."
            " If the data is in another folder, name it with --data-dir before the command"
            " (stepstone --data-dir /var/lib/stepstone ...) or with STEPSTONE_DATA_DIR."
            " On a new server, run `stepstone init` first."
        )
    database = Database(settings.database_path)
    _migrate(settings, database)
    return database


def _migrate(settings: Settings, database: Database) -> None:
    """Apply pending migrations, after a backup when the database holds data."""
    try:
        migrate(settings, database)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="STEPSTONE_DATA_DIR",
    default=Path("var"),
    show_default=True,
    help="The data folder (database, keys, content).",
)
@click.version_option(__version__, prog_name="stepstone")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path) -> None:
    """Stepstone: learning content for tablets in correctional facilities.

    \b
    First start on a new server:
        stepstone init --admin admin
        stepstone serve
    Try it with demo accounts:
        stepstone demo
    """
    # Before anything is created: the data folder is the server user's alone.
    filemodes.use_private_umask()
    ctx.obj = {"data_dir": data_dir}


def initialize(settings: Settings) -> Database:
    """Make the data folder, the secret, audit, PIN pepper and facility keys (mode 0600)
    and the database.

    Idempotent. A facility made before the pepper gets one here (at `init`, `demo` or
    the upgrade `serve` runs), unless PIN hashes already name a pepper whose file is
    gone: that is refused, not papered over with a new pepper that opens nothing."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = settings.secret_key_path
    if settings.secret_key is None and not key_path.exists():
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    ensure_key(settings.database_path)
    database = Database(settings.database_path)
    _migrate(settings, database)
    _ensure_pepper(database)
    _ensure_identity(settings, database)
    return database


def _ensure_identity(settings: Settings, database: Database) -> None:
    """The facility key and card (`server.records.identity`); a folder made before
    facilities had keys gets them here, at `init`, `demo` or the upgrade `serve` runs.
    A lost key stops only transfers, not the server: a warning says what to do."""
    try:
        identity.set_up(settings, database)
    except ConfigError as exc:
        click.echo(f"Warning: {exc} Until then, transfers are refused.", err=True)
    except (sqlite3.Error, OSError) as exc:
        if not write_refused(exc):
            raise
        # A full or read-only disk must not stop a server that can still serve reads.
        click.echo(f"Warning: the facility card was not updated: {refusal(exc)}.", err=True)


def _ensure_pepper(database: Database) -> None:
    try:
        pepper.keyring_in(database.reader)
    except pepper.PepperMissing as exc:
        database.close()
        raise click.ClickException(exc.detail) from None


def _print_credential(user: accounts.User, secret: str) -> None:
    kind = "PIN" if user.role is Role.LEARNER else "password"
    click.echo(f"  {user.role.value:<9} {user.login:<12} one-time {kind}: {secret}")


@cli.command()
@click.option(
    "--admin",
    "admin_username",
    default="admin",
    show_default=True,
    help="Username of the first admin.",
)
@click.option("--name", "admin_name", default="Facility Admin", show_default=True)
@click.pass_context
def init(ctx: click.Context, admin_username: str, admin_name: str) -> None:
    """Create the data folder, secret key, database and the first admin.

    The admin's one-time password is printed once; it must be changed at first sign-in.

    \b
    Example:
        stepstone --data-dir /var/lib/stepstone init --admin jdoe --name "J. Doe"
    """
    settings = _settings(ctx)
    database = initialize(settings)
    existing = accounts.list_users(database, accounts.UserQuery(role="admin", limit=1))[1]
    click.echo(f"Data folder: {settings.data_dir.resolve()}")
    for loose in filemodes.tighten(settings.data_dir):
        click.echo(f"Made private (was {loose.octal}): {loose.path}")
    if existing:
        click.echo("An admin already exists; nothing else to do.")
        return
    try:
        user, secret = accounts.create_user(
            database, CLI_ACTOR, Role.ADMIN, admin_username, admin_name, "en"
        )
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo("First admin created:")
    _print_credential(user, secret)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 2).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the web server (uvicorn). Applies pending migrations first, after backing up
    the data folder into DATA_DIR/backups/pre-upgrade-<time>. Logs are JSON lines on
    stderr.

    \b
    Example:
        stepstone serve --host 127.0.0.1 --port 8000 --workers 2
    """
    settings = _settings(ctx, host=host, port=port, workers=workers)
    configure_logging()
    database = _database(settings)
    _ensure_pepper(database)  # a facility made before the pepper gets one at its upgrade
    _ensure_identity(settings, database)
    database.close()
    run_server(settings, settings.workers)


DEMO_ASSIGNED_COURSE = "org.stepstone.demo.workplace-safety"


def make_demo(settings: Settings, courses: Path | None = None) -> list[tuple[accounts.User, str]]:
    """Create the demo accounts and a demo class; returns their one-time credentials."""
    database = initialize(settings)
    group_id, result = create_demo_people(database, CLI_ACTOR)
    if courses is not None:
        report = publish_demo_courses(settings, database, courses)
        click.echo(f"Demo courses: {report.status}: {report.message}")
        teacher = next(user for user, _ in result if user.role is Role.EDUCATOR)
        due = datetime.fromtimestamp(clock.now() + 14 * 86400, UTC).date().isoformat()
        assignments.assign(
            database,
            teacher.actor(),
            DEMO_ASSIGNED_COURSE,
            group_id=group_id,
            due_date=due,
            note="Start with the video. Ask me if a word is new to you.",
        )
    database.close()
    return result


@cli.command()
@click.option("--port", type=int, default=None, help="Port (default STEPSTONE_PORT, else 8000).")
@click.option("--reset", is_flag=True, help="Delete the demo data folder and start over.")
@click.option("--no-serve", is_flag=True, help="Set up the demo but do not start the server.")
@click.pass_context
def demo(ctx: click.Context, port: int | None, reset: bool, no_serve: bool) -> None:
    """Set up a demo facility in the data folder and serve it on 127.0.0.1.

    Creates an admin, an educator and two learners and prints their one-time sign-ins.

    \b
    Example:
        stepstone demo            # then open http://127.0.0.1:8000
        stepstone demo --port 8100
        stepstone demo --reset    # start again with fresh accounts
    """
    settings = _settings(ctx, host="127.0.0.1", port=port, demo=True)
    if reset and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    if settings.database_path.exists():
        click.echo(f"Using the demo data already in {settings.data_dir}/.")
        _echo_lost_sign_ins(settings)
    else:
        click.echo(f"Demo data folder: {settings.data_dir}/")
        click.echo("Demo accounts (each sign-in works once, then you choose your own):")
        for user, secret in make_demo(settings, SOURCE_COURSES):
            _print_credential(user, secret)
        click.echo("Learners sign in at /signin, staff at /staff/signin.")
    if not no_serve:
        click.echo(f"Open http://127.0.0.1:{settings.port}/ in a browser. Stop with Ctrl+C.")
        run_server(settings, 1)


def _echo_lost_sign_ins(settings: Settings) -> None:
    """What to do when the one-time sign-ins printed at the demo's start are lost."""
    data_dir = shlex.quote(str(settings.data_dir))
    logins = [login for _, login, _, _ in DEMO_PEOPLE]
    click.echo("Its one-time sign-ins were printed when it was made. Lost one? Get a new one:")
    click.echo(f"  stepstone --data-dir {data_dir} user reset {logins[0]}")
    click.echo(f"  (the demo's people: {', '.join(logins)})")
    click.echo("Or start over with fresh accounts: stepstone demo --reset")


@cli.group()
def user() -> None:
    """Accounts: add a person, give a new one-time PIN or password, unlock."""


@user.command("add")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@click.argument("login")
@click.argument("name")
@click.option("--language", type=click.Choice(["en", "es"]), default="en", show_default=True)
@click.pass_context
def user_add(ctx: click.Context, role: str, login: str, name: str, language: str) -> None:
    """Add a person. LOGIN is a facility id for learners, a username for staff.

    \b
    Example:
        stepstone user add learner A123456 "Maria Lopez" --language es
        stepstone user add educator jsmith "Jo Smith"
    """
    database = _database(_settings(ctx))
    try:
        made, secret = accounts.create_user(database, CLI_ACTOR, Role(role), login, name, language)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    _print_credential(made, secret)


def _find(database: Database, login: str) -> accounts.User:
    found = accounts.find_user(database, Role.LEARNER, login) or accounts.find_user(
        database, Role.ADMIN, login
    )
    if found is None:
        raise click.ClickException(f"No account has the id or username {login!r}.")
    return found[0]


@user.command("reset")
@click.argument("login")
@click.pass_context
def user_reset(ctx: click.Context, login: str) -> None:
    """Give a new one-time PIN or password (ends the person's sessions, unlocks).

    \b
    Example:
        stepstone user reset A123456
    """
    database = _database(_settings(ctx))
    target = _find(database, login)
    _print_credential(target, accounts.reset_secret(database, CLI_ACTOR, target.id))


@user.command("unlock")
@click.argument("login")
@click.pass_context
def user_unlock(ctx: click.Context, login: str) -> None:
    """Unlock a learner locked after too many wrong PINs."""
    database = _database(_settings(ctx))
    target = _find(database, login)
    accounts.unlock(database, CLI_ACTOR, target.id)
    click.echo(f"Unlocked {target.login}.")


@cli.group("roster")
def roster_group() -> None:
    """Learner rosters from the facility's records."""


@roster_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--commit", is_flag=True, help="Import for real (without it: a dry run).")
@click.option(
    "--group-kind",
    type=click.Choice(list(groups.GROUP_KINDS)),
    default=roster.DEFAULT_GROUP_KIND,
    show_default=True,
    help="Kind of the new groups that the file's group_kind column leaves empty.",
)
@click.option(
    "--pins-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --commit: write the new one-time PINs to this CSV (mode 0600).",
)
@click.pass_context
def roster_import(
    ctx: click.Context, file: Path, commit: bool, group_kind: str, pins_out: Path | None
) -> None:
    """Import learners from a CSV: facility_id,name,language[,group][,group_kind].

    Without --commit, shows what would happen (for a learner already here: what changes,
    from what to what) and every problem, and changes nothing. With --commit, imports
    all rows in one transaction, or none if any row is wrong. Columns may be separated by
    commas, semicolons or tabs.

    \b
    Example:
        stepstone roster import roster.csv
        stepstone roster import roster.csv --commit --pins-out new-pins.csv
    """
    database = _database(_settings(ctx))
    data = file.read_bytes()
    try:
        plan = roster.plan_roster(database, data)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    _print_plan(plan)
    if not plan.ok:
        raise click.ClickException("The roster has problems. Nothing was imported.")
    if not commit:
        click.echo("Dry run: nothing was changed. Add --commit to import.")
        return
    try:
        plan = roster.apply_roster(database, CLI_ACTOR, data, default_kind=group_kind)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    created = [r for r in plan.rows if r.one_time_pin]
    click.echo(
        f"Imported: {plan.count('create')} new, {plan.count('update')} updated,"
        f" {plan.count('unchanged')} unchanged."
    )
    if pins_out is not None:
        fd = os.open(pins_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file that was already there keeps its mode otherwise
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            csvfiles.write(
                handle,
                ["facility_id", "name", "one_time_pin"],
                ([r.facility_id, r.name, r.one_time_pin] for r in created),
            )
        click.echo(f"One-time PINs written to {pins_out}.")
    else:
        for row in created:
            click.echo(f"  {row.facility_id:<12} {row.name:<30} one-time PIN: {row.one_time_pin}")


def _print_plan(plan: roster.RosterPlan) -> None:
    if plan.delimiter != ",":
        click.echo(f"The columns are separated by {plan.delimiter_name}; read that way.")
    for problem in plan.problems:
        click.echo(f"problem: {problem.message.format(**problem.params)}", err=True)
    for row in plan.rows:
        if row.problems:
            text = " ".join(p.message.format(**p.params) for p in row.problems)
            click.echo(f"line {row.line}: {row.facility_id or '?'}: {text}", err=True)
        elif row.changes:
            text = "; ".join(f"{c.field}: {c.old or '-'} -> {c.new}" for c in row.changes)
            click.echo(f"line {row.line}: {row.facility_id}: {text}")
    for name in plan.new_groups:
        click.echo(f"new group: {name} ({plan.group_kinds.get(name, 'kind from --group-kind')})")
    click.echo(
        f"{plan.count('create')} new, {plan.count('update')} to update, "
        f"{plan.count('unchanged')} unchanged, {len(plan.new_groups)} new groups."
    )


@cli.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option(
    "--against",
    "saved_head",
    metavar="ENTRY:HASH",
    help="A head noted earlier (audit page, backup manifest); it must still be in the log.",
)
@click.pass_context
def audit_verify(ctx: click.Context, saved_head: str | None) -> None:
    """Check the keyed hash chain of the audit log, and every credit ledger entry against
    the digest the log recorded for it; exit 1 at the first broken link or entry.

    \b
    Also check that a head you wrote down earlier is still in the log:
        stepstone audit verify --against 1234:9f86d081884c7d65...
    """
    try:
        against = parse_head(saved_head) if saved_head else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--against") from None
    try:
        database = _database(_settings(ctx))
        report = verify_chain(database, against)
    except AuditKeyMissing as exc:
        raise click.ClickException(str(exc)) from None
    if report.first_broken_id is not None:
        click.echo(
            f"Audit log BROKEN at entry {report.first_broken_id}: it {report.problem}. "
            f"{report.checked} entries before it are intact.",
            err=True,
        )
        sys.exit(1)
    if report.against is not None and not report.against_found:
        click.echo(
            f"Audit log REWRITTEN: entry {report.against.id} with the saved hash is not in "
            "the log any more, so the history up to it was replaced.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Audit log OK: {report.checked} entries, every link intact.")
    credit = verify_ledger(database)
    if not credit.ok:
        click.echo(
            f"Credit ledger BROKEN at entry {credit.entry_id}: it {credit.problem}. "
            f"{credit.checked} entries before it match the audit log.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"Credit ledger OK: {credit.checked} entries, each matches the audit log.")
    if report.against is not None:
        click.echo(f"The saved head (entry {report.against.id}) is still in the log.")
    if report.head is not None:
        click.echo(f"Head now: {report.head}  (note it down to check against later)")


@cli.command("settings")
def show_settings() -> None:
    """List every setting, its environment variable and default."""
    for name, default, help_text in Settings().help_rows():
        click.echo(f"{name:<34} {default:<22} {help_text}")


# The preview serves learner pages, so it lives in the server; the rest of `package` does not.
package_cli.add_command(preview)
cli.add_command(package_cli)
cli.add_command(publisher_cli)
cli.add_command(trust_cli)
cli.add_command(sync_cli)
cli.add_command(search_cli)
content_cli.add_command(watch_list_cli)
cli.add_command(content_cli)
cli.add_command(backup_cli)
cli.add_command(restore_cli)
cli.add_command(check_cli)
cli.add_command(pepper_cli)
cli.add_command(export_cli)
cli.add_command(report_cli)
cli.add_command(review_cli)
cli.add_command(lockdown_cli)
cli.add_command(facility_cli)
cli.add_command(verify_command)
cli.add_command(passport_cli)
cli.add_command(certificate_cli)
cli.add_command(transfer_cli)


def main() -> None:
    """Entry point of the `stepstone` console script."""
    try:
        cli(standalone_mode=True)
    except StepstoneError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except (OSError, sqlite3.Error) as exc:
        # A full disk or a read-only file system can stop any command: say so plainly.
        if not write_refused(exc):
            raise
        click.echo(
            f"Error: the disk refused a write: {refusal(exc)}. Free some space on it (or"
            " check it: `stepstone check`) and try again.",
            err=True,
        )
        sys.exit(1)
