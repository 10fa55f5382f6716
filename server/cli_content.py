"""`stepstone trust ...` and `stepstone sync`: the facility side of signed content."""

from __future__ import annotations

from pathlib import Path

import click

from server import trust
from server.audit import Actor
from server.catalog import CatalogHooks
from server.db import Database
from server.errors import ConfigError, ValidationError
from server.migrations import apply_migrations
from server.settings import Settings, load_settings
from server.sync import sync_all

CLI_ACTOR = Actor.system("cli")


def _open(ctx: click.Context) -> tuple[Settings, Database]:
    try:
        settings = load_settings(data_dir=ctx.obj["data_dir"])
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not settings.database_path.exists():
        raise click.ClickException(
            f"No Stepstone data in {settings.data_dir}. Run `stepstone init` first."
        )
    database = Database(settings.database_path)
    apply_migrations(database)
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
) -> None:
    """Pin a publisher's root.json (given to you by the NGO, checked by phone or in person).

    \b
    Example:
        stepstone trust add literacy-ngo /media/usb/metadata/1.root.json \\
            --namespace org.literacyngo --folder /media/usb
    """
    _, database = _open(ctx)
    try:
        publisher = trust.add_publisher(
            database,
            CLI_ACTOR,
            name,
            namespace,
            root.read_bytes(),
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
    _, database = _open(ctx)
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
    """List trusted publishers with their namespaces and sources."""
    settings, database = _open(ctx)
    for publisher in trust.list_publishers(database, settings):
        flags = " auto-publish" if publisher.auto_publish else ""
        flags += " DEMO" if publisher.demo else ""
        click.echo(f"{publisher.name:<24} {publisher.namespace}.*{flags}")
        for source in trust.sources(database, publisher):
            click.echo(f"    {source.kind:<7} {source.location}")


@trust_cli.command("remove")
@click.argument("name")
@click.pass_context
def trust_remove(ctx: click.Context, name: str) -> None:
    """Stop trusting a publisher (refused while its courses are here)."""
    settings, database = _open(ctx)
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
@click.pass_context
def sync_cli(ctx: click.Context, publisher: str | None) -> None:
    """Fetch, verify and import new content from every trusted publisher's sources.

    Exit status 1 if a publisher's sync failed or refused something. Installed content
    keeps being served either way.

    \b
    Example:
        stepstone sync
        stepstone sync --publisher literacy-ngo
    """
    settings, database = _open(ctx)
    reports = sync_all(database, settings, CatalogHooks(), CLI_ACTOR, only=publisher)
    if publisher and not reports:
        raise click.ClickException(f"No trusted publisher named {publisher}.")
    for report in reports:
        click.echo(f"{report.publisher}: {report.status}: {report.message}")
    if any(r.status != "ok" for r in reports):
        raise SystemExit(1)
