"""Facility identity: the key, the card, trusting cards, signing and verifying records."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from server.cli.main import cli
from server.core import clock
from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.ops.backup import create_backup
from server.ops.migrations import apply_migrations, migrations
from server.records import identity
from tests.conftest import FakeClock
from tests.server.records.twofacilities import ADMIN, new_facility, trust_each_other


def test_init_makes_a_private_ed25519_key_and_a_stable_id(
    settings: Settings, database: Database
) -> None:
    key_file = settings.data_dir / identity.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE((settings.data_dir / identity.STATE_FILE).stat().st_mode) == 0o600
    first = identity.facility_id(settings)
    assert identity.FACILITY_ID.fullmatch(first)
    identity.ensure_identity(settings)  # again, as every start does
    assert identity.facility_id(settings) == first
    assert identity.load_signing_key(settings).private_bytes_raw() not in database.path.read_bytes()


def test_the_card_is_self_signed_and_its_fingerprint_is_the_key_id(
    settings: Settings, database: Database
) -> None:
    card = identity.own_card(settings)
    assert identity.check_card(card) is card
    (key,) = card["keys"]
    assert key["status"] == "active" and key["valid_until"] is None
    assert len(identity.unb64(key["public_key"])) == 32
    assert identity.card_fingerprint(card).replace(" ", "") == key["keyid"].upper()
    assert card["name"] == settings.facility_name
    changed = {**card, "name": "Somewhere else"}
    with pytest.raises(identity.BadSignature, match="changed"):
        identity.check_card(changed)


def test_a_setting_names_the_facility(tmp_path: Path) -> None:
    facility = new_facility(tmp_path / "a", "North Unit", facility_id="tx.north-unit")
    assert identity.own_card(facility.settings)["facility_id"] == "tx.north-unit"
    assert identity.list_trusted(facility.database)[0].facility_id == "tx.north-unit"


def test_a_signed_document_verifies_at_home_and_at_a_facility_that_trusts_it(
    tmp_path: Path,
) -> None:
    a = new_facility(tmp_path / "a", "North Unit")
    b = new_facility(tmp_path / "b", "South Unit")
    doc = identity.sign_document(a.settings, {"issued_at": clock.iso(), "n": 1})
    assert identity.verify_document(a.database, doc).own
    with pytest.raises(identity.NotTrusted, match="not a trusted facility"):
        identity.verify_document(b.database, doc)
    trust_each_other(a, b)
    sender = identity.verify_document(b.database, doc)
    assert (sender.facility_id, sender.name, sender.own) == (a.facility_id, "North Unit", False)
    tampered: dict[str, Any] = json.loads(json.dumps(doc))
    tampered["n"] = 2
    with pytest.raises(identity.BadSignature, match="changed after signing"):
        identity.verify_document(b.database, tampered)
    with b.database.write() as db:
        identity.remove_trusted_in(db, a.facility_id, ADMIN)
    with pytest.raises(identity.Revoked, match="removed"):
        identity.verify_document(b.database, doc)
    entries = b.database.query(
        "SELECT action FROM audit_log WHERE action LIKE 'facility.%' ORDER BY id"
    )
    assert [row["action"] for row in entries] == ["facility.trust", "facility.remove"]


def test_a_card_is_trusted_only_with_its_own_fingerprint(tmp_path: Path) -> None:
    a = new_facility(tmp_path / "a", "North Unit")
    b = new_facility(tmp_path / "b", "South Unit")
    card = identity.own_card(a.settings)
    with pytest.raises(ValidationError, match="fingerprint"), b.database.write() as db:
        identity.trust_card_in(db, card, "3F2A 91C4", ADMIN)
    assert [f.own for f in identity.list_trusted(b.database)] == [True]
    with b.database.write() as db:
        trusted = identity.trust_card_in(db, card, identity.card_fingerprint(card).lower(), ADMIN)
    assert trusted.name == "North Unit"


def test_a_rotated_key_still_verifies_what_it_signed_before(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    a = new_facility(tmp_path / "a", "North Unit")
    b = new_facility(tmp_path / "b", "South Unit")
    trust_each_other(a, b)
    before = identity.sign_document(a.settings, {"issued_at": clock.iso()})
    fake_clock.advance(60)
    identity.rotate_key(a.settings)
    fake_clock.advance(60)
    after = identity.sign_document(a.settings, {"issued_at": clock.iso()})
    assert identity.verify_document(b.database, before).facility_id == a.facility_id
    with pytest.raises(identity.NotTrusted, match="new card"):
        identity.verify_document(b.database, after)  # b still holds the old card
    card = identity.own_card(a.settings)
    assert [k["status"] for k in card["keys"]] == ["retired", "active"]
    with b.database.write() as db:
        identity.trust_card_in(db, card, identity.card_fingerprint(card), ADMIN)
    assert identity.verify_document(b.database, after).keyid == card["keys"][1]["keyid"]
    assert identity.verify_document(b.database, before).keyid == card["keys"][0]["keyid"]
    # The retired key cannot sign anything dated after its rotation.
    old_key_doc = dict(before)
    old_key_doc["issued_at"] = clock.iso()
    with pytest.raises(identity.BadSignature, match="not valid at its date"):
        identity.verify_document(b.database, old_key_doc)


def test_the_facility_key_is_in_every_backup(settings: Settings, database: Database) -> None:
    result = create_backup(settings, settings.data_dir.parent / "backups")
    names = {entry.path for entry in result.files}
    assert {identity.KEY_FILE, identity.STATE_FILE} <= names


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.update(type="something"),
        lambda c: c.update(version=2),
        lambda c: c.update(facility_id="../etc"),
        lambda c: c["keys"].append(dict(c["keys"][0], keyid="0" * 64)),
        lambda c: c["keys"][0].update(status="revoked"),
        lambda c: c.pop("signatures"),
    ],
)
def test_a_malformed_card_is_refused(settings: Settings, database: Database, change: Any) -> None:
    card = identity.own_card(settings)
    change(card)
    with pytest.raises((ValidationError, identity.IdentityError)):
        identity.check_card(card)
    with pytest.raises(ValidationError, match="not JSON"):
        identity.parse_card(b"\xff{")


def test_the_cli_exchanges_cards_and_rotates(tmp_path: Path, runner: CliRunner) -> None:
    a = new_facility(tmp_path / "a", "North Unit")
    b = new_facility(tmp_path / "b", "South Unit")
    card_file = tmp_path / "north.card.json"
    shown = runner.invoke(
        cli, ["--data-dir", str(a.settings.data_dir), "facility", "card", "-o", str(card_file)]
    )
    assert shown.exit_code == 0, shown.output
    fingerprint = identity.own_fingerprint(a.settings)
    assert fingerprint in shown.output
    add = ["--data-dir", str(b.settings.data_dir), "facility", "trust", "add", str(card_file)]
    wrong = runner.invoke(cli, [*add, "--fingerprint", "0000 1111"])
    assert wrong.exit_code == 1 and "does not have the fingerprint" in wrong.output
    refused = runner.invoke(cli, add, input="n\n")
    assert refused.exit_code == 1 and "not confirmed" in refused.output
    added = runner.invoke(cli, [*add, "--fingerprint", fingerprint])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(
        cli, ["--data-dir", str(b.settings.data_dir), "facility", "trust", "list"]
    )
    assert "North Unit" in listed.output and fingerprint in listed.output
    removed = runner.invoke(
        cli, ["--data-dir", str(b.settings.data_dir), "facility", "trust", "remove", a.facility_id]
    )
    assert removed.exit_code == 0, removed.output
    rotated = runner.invoke(
        cli, ["--data-dir", str(a.settings.data_dir), "facility", "key", "rotate", "--yes"]
    )
    assert rotated.exit_code == 0, rotated.output
    assert identity.own_fingerprint(a.settings) != fingerprint
    assert identity.own_fingerprint(a.settings) in rotated.output
    runner.invoke(
        cli, ["--data-dir", str(a.settings.data_dir), "facility", "card", "-o", str(card_file)]
    )
    again = runner.invoke(cli, [*add, "--fingerprint", identity.own_fingerprint(a.settings)])
    assert again.exit_code == 0 and "This replaces its card trusted since" in again.output


def test_the_migration_adds_the_tables_to_a_facility_with_learners(tmp_path: Path) -> None:
    database = Database(tmp_path / "old" / "stepstone.db")
    database.path.parent.mkdir()
    with database.write() as db:
        migrations.apply(db, stop_before="0015_facility_trust")
        db.execute(
            "INSERT INTO users (role, facility_id, display_name, secret_hash, created_at,"
            " updated_at) VALUES ('learner', 'A1', 'Al', 'x', 'now', 'now')"
        )
    assert "0015_facility_trust" in apply_migrations(database)
    tables = set(database.reader.table_names())
    assert {"trusted_facilities", "transfers", "from_elsewhere", "carried_pages"} <= tables
    assert {"transfer_choices"} <= tables
    row = database.query_one("SELECT display_name FROM users")
    assert row is not None and row["display_name"] == "Al"
    database.close()


def test_a_lost_key_stops_only_transfers_and_a_rotation_replaces_it(
    tmp_path: Path, runner: CliRunner
) -> None:
    a = new_facility(tmp_path / "a", "North Unit")
    old = identity.own_card(a.settings)
    (a.settings.data_dir / identity.KEY_FILE).unlink()
    data_dir = ["--data-dir", str(a.settings.data_dir)]
    refused = runner.invoke(cli, [*data_dir, "facility", "card"])
    assert refused.exit_code == 1 and "facility key" in refused.output
    started = runner.invoke(cli, [*data_dir, "init"])  # as every start does: a warning
    assert started.exit_code == 0 and "transfers are refused" in started.output
    rotated = runner.invoke(cli, [*data_dir, "facility", "key", "rotate", "--yes"])
    assert rotated.exit_code == 0, rotated.output
    card = identity.own_card(a.settings)
    assert card["keys"][0]["keyid"] == old["keys"][0]["keyid"]
    assert [k["status"] for k in card["keys"]] == ["retired", "active"]


def test_a_database_that_refuses_writes_does_not_stop_a_start_or_a_look(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = new_facility(tmp_path / "a", "North Unit")

    def refuse(*_: object) -> None:
        exc = sqlite3.OperationalError("attempt to write a readonly database")
        exc.sqlite_errorcode = sqlite3.SQLITE_READONLY
        raise exc

    monkeypatch.setattr(identity, "record_own_card_in", refuse)
    data_dir = ["--data-dir", str(a.settings.data_dir)]
    listed = runner.invoke(cli, [*data_dir, "facility", "trust", "list"])
    assert listed.exit_code == 0 and "North Unit" in listed.output
    assert "refuses writes" in listed.output
    started = runner.invoke(cli, [*data_dir, "init"])
    assert started.exit_code == 0 and "facility card was not updated" in started.output
