"""`stepstone search ...`: look after the full-text search index."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from search_index import UPDATE_ERRORS, SearchService
from server.catalog.search import search_indexer, search_root
from server.cli.content import open_data


@click.group("search")
def search_cli() -> None:
    """The full-text search index of published courses."""


@search_cli.command("rebuild")
@click.pass_context
def search_rebuild(ctx: click.Context) -> None:
    """Rebuild the search index from the database, then swap it in at once.

    The new index is written beside the old one, which keeps answering searches until
    the new one is complete; running servers pick it up by themselves. Run it after
    restoring a backup, or if search misbehaves.

    \b
    Example:
        stepstone search rebuild
    """
    settings, database = open_data(ctx)
    sync = search_indexer(settings, database)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as progress:
        task = progress.add_task("Indexing sections", total=sync.section_count())
        try:
            count = sync.rebuild(progress=lambda n: progress.advance(task, n))
        except UPDATE_ERRORS as exc:
            raise click.ClickException(f"The rebuild failed, nothing was changed: {exc}") from None
    try:
        versions = len(sync.service.indexed_versions() or {})
    finally:
        sync.service.close()
    click.echo(
        f"Indexed {count} sections of {versions} course versions in {search_root(settings)}."
    )


@search_cli.command("status")
@click.pass_context
def search_status(ctx: click.Context) -> None:
    """Say whether the index is usable and how many course versions it holds."""
    settings, _database = open_data(ctx)
    service = SearchService(search_root(settings))
    try:
        versions = service.indexed_versions()
    finally:
        service.close()
    if versions is None:
        click.echo(
            "No usable search index: run `stepstone search rebuild` (servers rebuild it at start)."
        )
        raise SystemExit(1)
    pending = sum(1 for meta in versions.values() if meta.pending)
    click.echo(f"{len(versions)} course versions indexed ({pending} waiting for review).")
