"""`stepstone content watch-list ...`: the words and phrases reviewers are shown in packages."""

from __future__ import annotations

import click

from server.catalog import watchlist
from server.cli.content import CLI_ACTOR, open_data
from server.core.errors import NotFound, ValidationError


@click.group("watch-list")
def watch_list_cli() -> None:
    """Words and phrases flagged in every course a reviewer opens (case and accents do
    not matter; whole words only)."""


@watch_list_cli.command("list")
@click.pass_context
def watch_list_show(ctx: click.Context) -> None:
    """Print the list, one entry a line, with who added it and when.

    \b
    Example:
        stepstone content watch-list list
    """
    _, database = open_data(ctx)
    for word in watchlist.words(database):
        click.echo(f"{word.phrase}\t{word.added_by}\t{word.added_at}")


@watch_list_cli.command("add")
@click.argument("phrase", nargs=-1, required=True)
@click.pass_context
def watch_list_add(ctx: click.Context, phrase: tuple[str, ...]) -> None:
    """Add a word or phrase (audited).

    \b
    Example:
        stepstone content watch-list add "la eme"
    """
    _, database = open_data(ctx)
    try:
        word = watchlist.add(database, CLI_ACTOR, " ".join(phrase))
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Added: {word.phrase}")


@watch_list_cli.command("remove")
@click.argument("phrase", nargs=-1, required=True)
@click.pass_context
def watch_list_remove(ctx: click.Context, phrase: tuple[str, ...]) -> None:
    """Remove a word or phrase (audited; case and accents do not matter).

    \b
    Example:
        stepstone content watch-list remove "la eme"
    """
    _, database = open_data(ctx)
    text = " ".join(phrase)
    try:
        watchlist.remove(database, CLI_ACTOR, text)
    except NotFound:
        raise click.ClickException(f"'{text}' is not on the watch list.") from None
    click.echo(f"Removed: {text}")
