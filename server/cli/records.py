"""`stepstone verify`, `stepstone passport issue` and `stepstone certificate revoke`: a
learner's record as it leaves the facility, and checking it anywhere."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli.content import CLI_ACTOR, open_data
from server.core.errors import NotFound, ValidationError
from server.learning import certificates
from server.people import accounts
from server.people.accounts import Role
from server.records import identity, passports, verification
from server.records.identity import IdentityError
from server.records.verification import CardTrust, DatabaseTrust, Trust, Verdict

MAX_CARDS = 1000


def _card_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    if len(files) > MAX_CARDS:
        raise click.ClickException(f"At most {MAX_CARDS} facility cards, please.")
    return files


def _card_trust(paths: tuple[Path, ...]) -> CardTrust:
    cards = []
    for path in _card_files(paths):
        try:
            cards.append(identity.parse_card(path.read_bytes()))
        except (IdentityError, ValidationError) as exc:
            raise click.ClickException(f"{path}: {exc.message}") from None
    if not cards:
        raise click.ClickException("No facility card found in the files given with --cards.")
    return CardTrust(cards)


def _report(verdict: Verdict) -> None:
    state = "GENUINE" if verdict.ok and not verdict.revoked else "NOT VALID"
    click.echo(f"{state}: {verdict.headline}")
    if verdict.reason:
        click.echo(f"Reason: {verdict.reason}")
    if verdict.sender is not None:
        click.echo(f"Signed by: {verdict.sender.name} ({verdict.sender.facility_id})")
        click.echo(f"Key fingerprint: {verdict.sender.fingerprint}")
    for label, value in verdict.facts:
        click.echo(f"{label}: {value}")
    for course in verdict.courses:
        click.echo(
            f"  - {course.get('title')} ({course.get('publisher')}), {course.get('hours')} h,"
            f" finished {str(course.get('completed_at', ''))[:10]},"
            f" certificate {course.get('certificate')}"
        )
    for goal in verdict.goals:
        click.echo(f"  * goal met: {goal.get('title')}")
    for line in verdict.revoked:
        click.echo(f"REVOKED since by the issuing facility: {line}")
    if verdict.ok and not verdict.revocation_known:
        click.echo(
            "Note: the signature proves what the facility issued; only that facility can say"
            " whether it revoked something later."
        )


@click.command("verify")
@click.argument("what")
@click.option(
    "--cards",
    "card_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A facility card file, or a folder of them; repeat for more. Without it, the"
    " facilities the data folder trusts.",
)
@click.pass_context
def verify_command(ctx: click.Context, what: str, card_paths: tuple[Path, ...]) -> None:
    """Check a Learning Passport file, an Open Badges credential (.jwt) or the check code
    of a printed passport or certificate. Prints the verdict and the reason; exits 1 when
    it is not genuine, not from a trusted facility, or revoked.

    With --cards it needs no Stepstone data folder: any computer with the cards of the
    facilities it trusts can check what a learner brings.

    \b
    Examples:
        stepstone verify learning-passport-2026-12-03.stepstone-passport --cards cards/
        stepstone verify open-badge-K7QM-2XDA-PL4R-9TZE.jwt --cards north.card.json
        stepstone verify 'STEPSTONE:eyJ...' --cards cards/
    """
    trust: Trust
    lookup = None
    if card_paths:
        trust = _card_trust(card_paths)
    else:
        settings, database = open_data(ctx)
        trust = DatabaseTrust(database)

        def lookup(code: str) -> certificates.Certificate | None:
            return certificates.find(database, settings, code)

    if verification.is_text(what):
        verdict = verification.check_text(trust, what, lookup)
    else:
        try:
            with Path(what).open("rb") as handle:
                data = handle.read(passports.MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise click.ClickException(
                f"{what!r} is neither a check code nor a file that can be read ({exc.strerror})."
            ) from None
        verdict = verification.check_file(trust, data, lookup)
    _report(verdict)
    ctx.exit(verdict.exit_code)


@click.group("passport")
def passport_cli() -> None:
    """Learning Passports: what a learner achieved here, signed, to take when they leave."""


@passport_cli.command("issue")
@click.argument("learner_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the signed file (default: its own name in this folder).",
)
@click.pass_context
def passport_issue(ctx: click.Context, learner_id: str, output: Path | None) -> None:
    """Issue the learner's passport now (audited) and write its signed file. The printed
    passport is on the learner's page (staff: Learning Passport).

    \b
    Example:
        stepstone passport issue A100 -o /media/usb/learning-passport.stepstone-passport
    """
    settings, database = open_data(ctx)
    found = accounts.find_user(database, Role.LEARNER, learner_id)
    if found is None:
        raise click.ClickException(f"No learner with the facility ID {learner_id!r}.")
    passport = passports.issue(database, settings, CLI_ACTOR, found[0])
    target = output or Path(passport.filename)
    target.write_bytes(passport.data)
    summary = passport.document["totals"]
    click.echo(
        f"Issued passport {passport.id} for {found[0].display_name}: {summary['courses']}"
        f" courses, {summary['course_hours']} course hours. Written to {target}"
    )


@click.group("certificate")
def certificate_cli() -> None:
    """Course certificates issued by this facility."""


@certificate_cli.command("revoke")
@click.argument("code")
@click.option("--reason", required=True, help="Why, in a sentence (kept and shown).")
@click.pass_context
def certificate_revoke(ctx: click.Context, code: str, reason: str) -> None:
    """Revoke a certificate issued by mistake (audited). Its code then checks as revoked
    here, and it leaves the learner's record and their next passport.

    \b
    Example:
        stepstone certificate revoke K7QM-2XDA-PL4R-9TZE --reason "Issued to the wrong learner"
    """
    settings, database = open_data(ctx)
    try:
        certificates.revoke(database, settings, CLI_ACTOR, code, reason)
    except (ValidationError, NotFound) as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Revoked {certificates.normalize(code)}: {reason}")
