"""`stepstone facility`: this facility's card and key, and the cards of facilities it trusts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import click

from server.cli.content import CLI_ACTOR, open_data
from server.core.db import Database, refusal, write_refused
from server.core.errors import ConfigError, ValidationError
from server.core.settings import Settings
from server.records import identity


def open_identity(ctx: click.Context) -> tuple[Settings, Database]:
    """Settings and database, with the facility key and own card in place (a folder made
    before facilities had keys gets them now)."""
    settings, database = open_data(ctx)
    try:
        identity.set_up(settings, database)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except (sqlite3.Error, OSError) as exc:
        if not write_refused(exc):
            raise
        # Reading cards and trust still works on a database that refuses writes.
        click.echo(f"Warning: the database refuses writes ({refusal(exc)}).", err=True)
    return settings, database


@click.group("facility")
def facility_cli() -> None:
    """This facility's signing key and card; the facilities it trusts."""


@facility_cli.command("card")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the card to this file (default: print it).",
)
@click.pass_context
def facility_card(ctx: click.Context, output: Path | None) -> None:
    """Show this facility's card: give the file to other facilities, and read the
    fingerprint to their admin over another channel (phone, letter).

    \b
    Example:
        stepstone facility card -o /media/usb/north-unit.card.json
    """
    settings, _ = open_identity(ctx)
    card = identity.own_card(settings)
    text = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Card of {card['name']} ({card['facility_id']}) written to {output}")
    click.echo(f"Fingerprint: {identity.card_fingerprint(card)}", err=output is None)


@facility_cli.group("key")
def key_cli() -> None:
    """This facility's signing key."""


@key_cli.command("rotate")
@click.option("--yes", is_flag=True, help="Do not ask.")
@click.pass_context
def key_rotate(ctx: click.Context, yes: bool) -> None:
    """Make a new signing key. The old one stays on the card as retired: what it signed
    before still verifies. Other facilities must trust the new card (and compare its new
    fingerprint) before they accept what this facility signs from now on. Also the way to
    replace a lost or stolen key.

    \b
    Example:
        stepstone facility key rotate
        stepstone facility card -o new-card.json
    """
    # Not open_identity: a rotation is also how a lost or stolen key is replaced.
    settings, database = open_data(ctx)
    if not yes and not click.confirm("Make a new facility key now?"):
        raise click.ClickException("Nothing changed.")
    try:
        new = identity.rotate(settings, database, CLI_ACTOR)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"New facility key. Fingerprint: {new}")
    click.echo("Send the new card (stepstone facility card) to the facilities that trust you.")


@facility_cli.group("trust")
def facility_trust_cli() -> None:
    """Facilities whose signed records (transfers, passports) this facility accepts."""


@facility_trust_cli.command("add")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--fingerprint",
    default=None,
    help="The fingerprint the other facility read to you; trust only if it matches.",
)
@click.option("--yes", is_flag=True, help="Do not ask: you already compared the fingerprint.")
@click.pass_context
def trust_add(ctx: click.Context, card: Path, fingerprint: str | None, yes: bool) -> None:
    """Trust another facility's card after you compare its fingerprint with theirs.
    Adding a newer card of a trusted facility (after it rotated its key) replaces it.

    \b
    Example:
        stepstone facility trust add north-unit.card.json --fingerprint "3F2A 91C4 ..."
    """
    _, database = open_identity(ctx)
    try:
        parsed = identity.parse_card(card.read_bytes())
    except (ValidationError, identity.IdentityError) as exc:
        raise click.ClickException(exc.message) from None
    shown = identity.card_fingerprint(parsed)
    click.echo(f"Card of {parsed['name']} ({parsed['facility_id']})")
    click.echo(f"  Fingerprint: {shown}")
    for earlier in identity.list_trusted(database):
        if earlier.facility_id == parsed["facility_id"] and earlier.fingerprint != shown:
            # A new card for a trusted facility: after its key rotation, or an impostor.
            click.echo(
                f"  This replaces its card trusted since {earlier.added_at[:10]}"
                f" (fingerprint {earlier.fingerprint}): compare the new one with its admin."
            )
    if fingerprint is None and not yes and not click.confirm("Does every group match?"):
        raise click.ClickException("Not trusted: the fingerprint was not confirmed.")
    try:
        confirmed = shown if fingerprint is None else fingerprint
        identity.trust_card(database, parsed, confirmed, CLI_ACTOR)
    except (ValidationError, identity.IdentityError) as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{parsed['name']} is now trusted.")


@facility_trust_cli.command("list")
@click.pass_context
def trust_list(ctx: click.Context) -> None:
    """List trusted facilities with their fingerprints (this facility first)."""
    _, database = open_identity(ctx)
    for facility in identity.list_trusted(database):
        flag = " (this facility)" if facility.own else ""
        flag += f" REMOVED {facility.removed_at}" if facility.removed_at else ""
        click.echo(f"{facility.facility_id:<24} {facility.name}{flag}")
        click.echo(f"    {facility.fingerprint}")


@facility_trust_cli.command("remove")
@click.argument("facility_id")
@click.pass_context
def trust_remove(ctx: click.Context, facility_id: str) -> None:
    """Stop trusting a facility: its records are refused from now on.

    \b
    Example:
        stepstone facility trust remove fac-3f2a91c4d0e1b2a3
    """
    _, database = open_identity(ctx)
    try:
        identity.remove_trusted(database, facility_id, CLI_ACTOR)
    except ValidationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{facility_id} is no longer trusted.")
