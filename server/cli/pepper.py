"""`stepstone pepper`: the key learner PINs are hashed with (`server.people.pepper`)."""

from __future__ import annotations

import click

from server.core.db import Database
from server.core.errors import ConfigError
from server.core.settings import load_settings
from server.people import pepper
from server.people.audit import Actor

CLI_ACTOR = Actor.system("cli")


def _database(ctx: click.Context) -> Database:
    try:
        settings = load_settings(data_dir=ctx.obj["data_dir"])
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not settings.database_path.is_file():
        raise click.ClickException(
            f"No Stepstone data in {settings.data_dir}. Run `stepstone init` first."
        )
    return Database(settings.database_path)


@click.group("pepper")
def pepper_cli() -> None:
    """The PIN pepper: a key outside the database that learner PINs are hashed with.

    Without the file DATA_DIR/pepper.key no learner can sign in: it is in every backup;
    keep it as private as secret.key.
    """


@pepper_cli.command("status")
@click.pass_context
def status_cli(ctx: click.Context) -> None:
    """How many learner PINs use each pepper.

    \b
    Example:
        stepstone pepper status
    """
    database = _database(ctx)
    try:
        found = pepper.status(database)
    except pepper.PepperMissing as exc:
        raise click.ClickException(exc.detail) from None
    finally:
        database.close()
    click.echo(f"current pepper {found.current}: {found.usage[found.current]} PIN(s)")
    for old in found.kept:
        click.echo(f"older pepper {old}: {found.usage[old]} PIN(s), re-hashed at next sign-in")
    if found.usage[None]:
        click.echo(f"not peppered yet: {found.usage[None]} PIN(s), re-hashed at next sign-in")
    if found.unknown:
        raise click.ClickException(
            f"{found.unknown} PIN(s) name a pepper that {pepper.KEY_FILE} does not hold:"
            " those learners cannot sign in. Copy the file back from the newest backup, or"
            " reset their PINs."
        )


@pepper_cli.command("rotate")
@click.pass_context
def rotate_cli(ctx: click.Context) -> None:
    """Make a new pepper for new PIN hashes, e.g. when a copy of the key file may have
    left the server. Each learner's PIN is re-hashed with it at their next sign-in; the
    old pepper stays until `stepstone pepper retire` finds no PIN that uses it.

    Back up afterwards: a backup taken before holds only the old pepper.

    \b
    Example:
        stepstone pepper rotate
    """
    database = _database(ctx)
    try:
        new = pepper.rotate(database, CLI_ACTOR)
    except pepper.PepperMissing as exc:
        raise click.ClickException(exc.detail) from None
    finally:
        database.close()
    click.echo(f"New current pepper {new.id}. PINs move to it as learners sign in.")


@pepper_cli.command("retire")
@click.pass_context
def retire_cli(ctx: click.Context) -> None:
    """Remove older peppers that no learner PIN uses any more.

    A pepper still in use is kept, and the command says how many PINs use it (those
    learners have not signed in since the rotation; a PIN reset moves them too).

    \b
    Example:
        stepstone pepper retire
    """
    database = _database(ctx)
    try:
        dropped, kept = pepper.retire(database, CLI_ACTOR)
    except pepper.PepperMissing as exc:
        raise click.ClickException(exc.detail) from None
    finally:
        database.close()
    for pepper_id in dropped:
        click.echo(f"Retired pepper {pepper_id}.")
    for pepper_id, count in kept.items():
        click.echo(f"Kept pepper {pepper_id}: {count} PIN(s) still use it.")
    if not dropped and not kept:
        click.echo("No older pepper to retire.")
