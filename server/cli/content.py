"""`stepstone trust ...`, `stepstone sync` and `stepstone content ...`: the facility side
of signed content."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from content.progress_bar import open_progress
from server.catalog import integrity, trust
from server.catalog.search import search_hooks
from server.catalog.sync import content_store, sync_all
from server.core.db import Database
from server.core.errors import ConfigError, ValidationError
from server.core.settings import Settings, load_settings
from server.ops.backup import BackupError
from server.ops.upgrade import migrate
from server.people.audit import Actor

CLI_ACTOR = Actor.system("cli")


def open_data(ctx: click.Context) -> tuple[Settings, Database]:
    """Settings and database of the data folder a command was given (migrated, after a
    backup when this is an upgrade); a clear error when there is none."""
    try:
        settings = load_settings(data_dir=ctx.obj["data_dir"])
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not settings.database_path.exists():
        raise click.ClickException(
            f"No Stepstone data in {settings.data_dir}. Run `stepstone init` first."
        )
    database = Database(settings.database_path)
    try:
        migrate(settings, database)  # after a backup, as at `serve`: the timer may run first
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    return settings, database


@click.group("trust")
def trust_cli() -> None:
    """Publishers this facility trusts: their pinned TUF root and namespace."""


@trust_cli.command("add")
@click.argument("name")
@click.argument("root", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--namespace", required=True, help="Course ids it may publish, e.g. org.example")
@click.option("--folder", "folders", multiple=True, help="A folder source (USB mount, inbox).")
@click.option("--mirror", "mirrors", multiple=True, help="An http(s) mirror on your network.")
@click.option("--auto-publish", is_flag=True, help="Skip review for this publisher.")
@click.option("--display-name", default="", help="Name shown to staff.")
@click.option(
    "--fingerprint",
    default=None,
    help="The root fingerprint the NGO gave you; trust only if it matches (for scripts).",
)
@click.option("--yes", is_flag=True, help="Do not ask: you already compared the fingerprint.")
@click.pass_context
def trust_add(
    ctx: click.Context,
    name: str,
    root: Path,
    namespace: str,
    folders: tuple[str, ...],
    mirrors: tuple[str, ...],
    auto_publish: bool,
    display_name: str,
    fingerprint: str | None,
    yes: bool,
) -> None:
    """Pin a publisher's root.json after you compare its fingerprint with the NGO's.

    Shows the root's fingerprint (SHA-256 of the file and of each root key id) and asks
    whether it matches what the NGO read to you by phone or gave you on paper. Nothing is
    trusted unless you say yes, or pass --fingerprint with the NGO's value.

    \b
    Example:
        stepstone trust add literacy-ngo /media/usb/metadata/1.root.json \\
            --namespace org.literacyngo --folder /media/usb
        stepstone trust add literacy-ngo root.json --namespace org.literacyngo \\
            --fingerprint "3F2A 91C4 ..."
    """
    _, database = open_data(ctx)
    root_json = root.read_bytes()
    try:
        trust.check_new_publisher(database, name, namespace)
        seen = trust.fingerprint_of(root_json)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo("Fingerprint of this root (compare every group with what the NGO sent you):")
    for line in seen.lines():
        click.echo(f"  {line}")
    if fingerprint is None and not yes and not click.confirm("Does every group match?"):
        raise click.ClickException("Not trusted: the fingerprint was not confirmed.")
    try:
        publisher = trust.add_publisher(
            database,
            CLI_ACTOR,
            name,
            namespace,
            root_json,
            confirmed=seen.root if fingerprint is None else fingerprint,
            display_name=display_name,
            auto_publish=auto_publish,
        )
        for folder in folders:
            trust.add_source(database, CLI_ACTOR, publisher, "folder", folder)
        for mirror in mirrors:
            trust.add_source(database, CLI_ACTOR, publisher, "mirror", mirror)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Trusted {publisher.name} for {publisher.namespace}.*")


@trust_cli.command("source")
@click.argument("name")
@click.option("--folder", default=None, help="A folder source.")
@click.option("--mirror", default=None, help="An http(s) mirror.")
@click.pass_context
def trust_source(ctx: click.Context, name: str, folder: str | None, mirror: str | None) -> None:
    """Add a sync source to a trusted publisher.

    \b
    Example:
        stepstone trust source literacy-ngo --mirror http://10.1.2.3/literacy/
    """
    _, database = open_data(ctx)
    publisher = trust.find_publisher(database, name)
    if publisher is None:
        raise click.ClickException(f"No trusted publisher named {name}.")
    try:
        if folder:
            trust.add_source(database, CLI_ACTOR, publisher, "folder", folder)
        if mirror:
            trust.add_source(database, CLI_ACTOR, publisher, "mirror", mirror)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None


@trust_cli.command("list")
@click.pass_context
def trust_list(ctx: click.Context) -> None:
    """List trusted publishers with their namespaces, root fingerprints and sources."""
    settings, database = open_data(ctx)
    for publisher in trust.list_publishers(database, settings):
        flags = " auto-publish" if publisher.auto_publish else ""
        flags += " DEMO" if publisher.demo else ""
        click.echo(f"{publisher.name:<24} {publisher.namespace}.*{flags}")
        click.echo(f"    {trust.publisher_fingerprint(database, publisher).lines()[0]}")
        for source in trust.sources(database, publisher):
            click.echo(f"    {source.kind:<7} {source.location}")


@trust_cli.command("remove")
@click.argument("name")
@click.pass_context
def trust_remove(ctx: click.Context, name: str) -> None:
    """Stop trusting a publisher (refused while its courses are here)."""
    settings, database = open_data(ctx)
    publisher = trust.find_publisher(database, name)
    if publisher is None:
        raise click.ClickException(f"No trusted publisher named {name}.")
    try:
        trust.remove_publisher(database, settings, CLI_ACTOR, publisher)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{name} is no longer trusted.")


@click.command("sync")
@click.option("--publisher", default=None, help="Only this publisher.")
@click.option(
    "--timer",
    is_flag=True,
    help="Record the run as the sync timer's (stepstone-sync.service passes it); the"
    " publishers page shows the next timed sync only once the timer has run.",
)
@click.pass_context
def sync_cli(ctx: click.Context, publisher: str | None, timer: bool) -> None:
    """Fetch, verify and import new content from every trusted publisher's sources.

    Exit status 1 if a publisher's sync failed or refused something. Installed content
    keeps being served either way.

    \b
    Example:
        stepstone sync
        stepstone sync --publisher literacy-ngo
    """
    settings, database = open_data(ctx)
    sweep_staging(settings)
    hooks = search_hooks(settings, database)  # what the sync publishes is searchable at once
    trigger = "timer" if timer else "cli"
    reports = sync_all(database, settings, hooks, CLI_ACTOR, only=publisher, trigger=trigger)
    if publisher and not reports:
        raise click.ClickException(f"No trusted publisher named {publisher}.")
    for report in reports:
        click.echo(f"{report.publisher}: {report.status}: {report.message}")
    if any(r.status != "ok" for r in reports):
        raise SystemExit(1)


def sweep_staging(settings: Settings) -> None:
    """Remove staging folders left by an import that was killed, before importing again.

    Folders of an import still running in another process are locked and kept.
    """
    swept = content_store(settings).sweep_staging()
    if swept:
        click.echo(f"Removed {swept} staging folder(s) left by an interrupted import.")


@click.group("content")
def content_cli() -> None:
    """The content store: check that every course file is whole."""


@content_cli.command("verify")
@click.option(
    "--all-blobs",
    is_flag=True,
    help="Also re-hash files no course refers to, and list them.",
)
@click.option(
    "--gc",
    is_flag=True,
    help="Remove files no course refers to that are older than an hour (implies --all-blobs).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: only on a terminal).",
)
@click.pass_context
def content_verify(ctx: click.Context, all_blobs: bool, gc: bool, progress: bool | None) -> None:
    """Re-hash every file the courses need and report any that is missing or changed.

    Checks lesson HTML and media of every course version still recorded (live, pending,
    approved for roll-back, retired). Exit status 1 when a file is missing, has the wrong
    size or changed bytes; each line names the course, version, file and blob, so you can
    restore the blob from a backup (see docs/content-store.md).

    \b
    Example:
        stepstone content verify
        stepstone content verify --all-blobs --gc
    """
    settings, database = open_data(ctx)
    store = content_store(settings)
    check = integrity.StoreCheck(database, store, all_blobs=all_blobs or gc)
    show = sys.stdout.isatty() if progress is None else progress
    with open_progress(show, check.total_bytes, "checking content") as bar:
        report = check.run(bar.advance)
    integrity.record_check(database, CLI_ACTOR, report)
    _print_report(report)
    if gc:
        _collect_garbage(database, settings)
    if not report.ok:
        raise SystemExit(1)


def _print_report(report: integrity.StoreReport) -> None:
    for label, problems in report.drift_by_version().items():
        for item in problems:
            click.echo(f"{label}: {item.ref.path}: {item.message}")
    for orphan in report.orphans or []:
        state = "unreferenced" if orphan.intact else "unreferenced and DAMAGED"
        click.echo(f"{state}: blob {orphan.sha256} ({orphan.size:,} bytes)")
    checked = (
        f"{report.blobs} file(s), {report.bytes_checked:,} bytes, of "
        f"{report.versions} course version(s)"
    )
    if report.drift:
        versions = len(report.drift_by_version())
        click.echo(
            f"Content store DAMAGED: {len(report.drift)} problem(s) in {versions} course "
            f"version(s). Checked {checked}."
        )
    else:
        click.echo(f"Every course file is whole: checked {checked}.")
    if report.orphans is not None:
        size = sum(o.size for o in report.orphans)
        damaged = len(report.damaged_orphans)
        click.echo(
            f"{len(report.orphans)} unreferenced file(s), {size:,} bytes"
            + (f"; {damaged} of them DAMAGED (check the disk)." if damaged else ".")
        )


def _collect_garbage(database: Database, settings: Settings) -> None:
    try:
        done = integrity.collect_garbage(database, content_store(settings), CLI_ACTOR)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Removed {done.removed} unreferenced file(s), {done.removed_bytes:,} bytes; "
        f"kept {done.kept_young} younger than an hour."
    )
