"""`stepstone verify` on a computer with no Stepstone data, given facility cards; and
`stepstone passport issue` / `certificate revoke` on the facility's own server."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli.main import cli
from server.core.db import Database
from server.core.settings import Settings
from server.learning import certificates
from server.records import badges, checkcodes, identity, passports
from tests.conftest import People
from tests.server.records.records_helpers import MATH, STAFF, finish, write_card
from tests.server.records.twofacilities import new_facility

pytestmark = pytest.mark.demo


def _verify(runner: CliRunner, tmp_path: Path, *args: str) -> tuple[int, str]:
    nowhere = tmp_path / "no-data-here"
    result = runner.invoke(cli, ["--data-dir", str(nowhere), "verify", *args])
    assert not nowhere.exists()  # nothing made, nothing needed
    return result.exit_code, result.output


def test_verify_needs_only_the_cards(
    tmp_path: Path, runner: CliRunner, settings: Settings, database: Database, people: People
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    passport = passports.issue(database, settings, STAFF, people.learner)
    cards = tmp_path / "cards"
    write_card(settings, cards)
    file = tmp_path / passport.filename
    file.write_bytes(passport.data)

    code, out = _verify(runner, tmp_path, str(file), "--cards", str(cards))
    assert code == 0, out
    assert out.startswith("GENUINE: This Learning Passport is genuine.")
    assert "Alex Learner" in out and cert.code in out and "Everyday Math" in out
    assert identity.own_fingerprint(settings) in out
    assert "only that facility can say whether it revoked" in out

    file.write_bytes(passport.data.replace(b'"Alex Learner"', b'"Alan Learner"', 1))
    code, out = _verify(runner, tmp_path, str(file), "--cards", str(cards))
    assert code == 1 and out.startswith("NOT VALID: Not genuine")
    assert "changed after signing" in out

    check = checkcodes.for_certificate(settings, cert)
    code, out = _verify(runner, tmp_path, check, "--cards", str(cards))
    assert code == 0 and "This certificate is genuine." in out

    token = badges.issue(settings, cert)
    badge = tmp_path / "badge.jwt"
    badge.write_text(token)
    code, out = _verify(runner, tmp_path, str(badge), "--cards", str(cards / "."))
    assert code == 0 and "This Open Badges credential is genuine." in out


def test_verify_refuses_a_facility_whose_card_it_was_not_given(
    tmp_path: Path, runner: CliRunner, settings: Settings, database: Database, people: People
) -> None:
    finish(database, settings, people.learner, MATH)
    passport = passports.issue(database, settings, STAFF, people.learner)
    south = new_facility(tmp_path / "south", "South Unit")
    try:
        south_card = write_card(south.settings, tmp_path / "south-cards")
    finally:
        south.database.close()
    file = tmp_path / passport.filename
    file.write_bytes(passport.data)
    code, out = _verify(runner, tmp_path, str(file), "--cards", str(south_card))
    assert code == 1 and "Not checked: it comes from a facility" in out
    assert "not among the facility cards given" in out
    # A card that was changed is refused before anything is checked with it.
    forged_card = tmp_path / "forged.card.json"
    forged_card.write_bytes(south_card.read_bytes().replace(b"South Unit", b"North Unit"))
    code, out = _verify(runner, tmp_path, str(file), "--cards", str(forged_card))
    assert code == 1 and "forged.card.json" in out


def test_issue_and_revoke_from_the_command_line(
    tmp_path: Path, runner: CliRunner, settings: Settings, database: Database, people: People
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    out_file = tmp_path / "stick" / "passport.stepstone-passport"
    out_file.parent.mkdir()
    data_dir = ["--data-dir", str(settings.data_dir)]
    issued = runner.invoke(cli, [*data_dir, "passport", "issue", "a100", "-o", str(out_file)])
    assert issued.exit_code == 0, issued.output
    [passport] = passports.of_learner(database, people.learner.id)
    assert out_file.read_bytes() == passport.data and passport.id in issued.output
    assert runner.invoke(cli, [*data_dir, "passport", "issue", "nobody"]).exit_code == 1

    revoke = [*data_dir, "certificate", "revoke", cert.code, "--reason", "Issued by mistake"]
    assert runner.invoke(cli, revoke).exit_code == 0
    found = certificates.find(database, settings, cert.code)
    assert found is not None and found.revoked
    again = runner.invoke(cli, revoke)
    assert again.exit_code == 1 and "already revoked" in again.output
    # Checked with the facility's own data: the revocation is known and reported.
    checked = runner.invoke(cli, [*data_dir, "verify", str(out_file)])
    assert checked.exit_code == 1
    assert f"REVOKED since by the issuing facility: Everyday Math ({cert.code})" in checked.output
