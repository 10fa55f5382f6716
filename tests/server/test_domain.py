"""Unit tests for the domain rules, called without HTTP."""

from __future__ import annotations

import re
import sqlite3
import stat
from pathlib import Path

import pytest

from server.core.db import Database
from server.core.errors import ConfigError, ValidationError
from server.core.settings import Secret, load_settings
from server.ops.migrations import apply_migrations, migrations
from server.people import audit, passwords, roster
from server.people.audit import Actor, record, verify_chain
from tests.conftest import add_migration, audit_link, rewrite_audit_log


@pytest.mark.real_kdf
def test_hashes_are_argon2id_with_recorded_parameters() -> None:
    stored = passwords.hash_secret("a secret pin")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_secret(stored, "a secret pin")
    assert not passwords.verify_secret(stored, "another")
    assert not passwords.verify_secret(None, "anything")
    assert not passwords.verify_secret("not a hash", "anything")
    assert passwords.hash_secret("same") != passwords.hash_secret("same")  # salted


@pytest.mark.parametrize(
    "bad", ["short", "password123", "Stepstone2026", "aaaaaaaaaaaa", "teacher-is-me-x"]
)
def test_password_policy_refuses_weak_ones(bad: str) -> None:
    with pytest.raises(ValidationError):
        passwords.check_password(bad, username="teacher")


def test_password_policy_accepts_a_passphrase() -> None:
    passwords.check_password("river stone lamp 42", username="teacher")


@pytest.mark.parametrize("bad", ["123", "123456789", "12a4", "1111", "1234", "9876", "٣٣٣٤"])
def test_pin_policy(bad: str) -> None:
    with pytest.raises(ValidationError):
        passwords.check_pin(bad)


def test_one_time_secrets_are_valid_and_random() -> None:
    pins = {passwords.one_time_pin() for _ in range(50)}
    assert len(pins) > 45
    for pin in pins:
        passwords.check_pin(pin)
    assert len(passwords.one_time_password()) == 14


def test_settings_from_environment_and_toml(tmp_path: Path) -> None:
    config = tmp_path / "stepstone.toml"
    config.write_text('facility_name = "North Unit"\nlearner_idle_minutes = 10\n')
    settings = load_settings(
        environ={
            "STEPSTONE_CONFIG": str(config),
            "STEPSTONE_HTTPS": "yes",
            "STEPSTONE_TRUSTED_PROXIES": "127.0.0.1, ::1",
            "STEPSTONE_SECRET_KEY": "k" * 40,
        },
        data_dir=tmp_path,
    )
    assert settings.facility_name == "North Unit"
    assert settings.learner_idle_minutes == 10 and settings.https
    assert settings.trusted_proxies == ("127.0.0.1", "::1")
    assert "kkkk" not in repr(settings) and isinstance(settings.secret_key, Secret)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"STEPSTONE_PORT": "eighty"}, "not a valid int"),
        ({"STEPSTONE_DEFAULT_LANGUAGE": "fr"}, "default_language"),
        ({"STEPSTONE_LEARNER_IDLE_MINUTES": "0"}, "at least 1"),
        ({"STEPSTONE_HTTPS": "maybe"}, "not a valid bool"),
    ],
)
def test_bad_settings_name_the_problem(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ, data_dir=tmp_path)


def test_unknown_key_in_config_file(tmp_path: Path) -> None:
    (tmp_path / "stepstone.toml").write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="Unknown setting 'colour'"):
        load_settings(environ={}, data_dir=tmp_path)


def test_missing_secret_key_says_run_init(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="stepstone init"):
        settings.signing_key()


def test_database_uses_wal_and_foreign_keys(database: Database) -> None:
    assert database.query("PRAGMA journal_mode")[0][0] == "wal"
    assert database.query("PRAGMA foreign_keys")[0][0] == 1


def test_write_rolls_back_everything_on_error(database: Database) -> None:
    with pytest.raises(RuntimeError), database.write() as db:
        record(db, Actor.system(), "test.one")
        raise RuntimeError("crash in the middle")
    assert database.query("SELECT count(*) FROM audit_log")[0][0] == 0


def test_a_failed_migration_leaves_the_database_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(tmp_path / "m.db")

    def explode(db: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    add_migration(monkeypatch, "9999_broken", explode)
    with pytest.raises(sqlite3.OperationalError):
        apply_migrations(database)
    assert database.query("SELECT name FROM sqlite_master WHERE type = 'table'") == []


def test_audit_log_is_append_only_and_chained(database: Database) -> None:
    with database.write() as db:
        for n in range(5):
            record(db, Actor(1, "admin:boss", "10.0.0.9"), "thing.done", f"t{n}", n=n)
    assert verify_chain(database).ok and verify_chain(database).checked == 5
    with pytest.raises(sqlite3.IntegrityError), database.write() as db:
        db.execute("UPDATE audit_log SET target = 'x' WHERE id = 2")
    with pytest.raises(sqlite3.IntegrityError), database.write() as db:
        db.execute("DELETE FROM audit_log WHERE id = 2")


def test_audit_verify_finds_the_first_changed_entry(database: Database) -> None:
    with database.write() as db:
        for n in range(5):
            record(db, Actor.system(), "thing.done", f"t{n}")
    # Someone with file access drops the guard and edits entry 3.
    with database.write() as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET target = 'edited' WHERE id = 3")
    report = verify_chain(database)
    assert not report.ok and report.first_broken_id == 3 and report.checked == 2


def test_a_chain_rewritten_without_the_audit_key_does_not_verify(database: Database) -> None:
    with database.write() as db:
        for n in range(5):
            record(db, Actor.system(), "thing.done", f"t{n}")
    # Someone who can write the database edits entry 3 and links every entry again.
    rewrite_audit_log(database, 3, audit_link)
    report = verify_chain(database)
    assert not report.ok and report.first_broken_id == 1
    assert report.problem == "was changed after it was written"


def test_the_audit_key_lives_outside_the_database(database: Database) -> None:
    with database.write() as db:
        record(db, Actor.system(), "thing.done")
    key_file = database.path.parent / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert key.encode() not in database.path.read_bytes()
    row = database.query_one("SELECT * FROM audit_log")
    assert row is not None and row["hash"] == audit_link(audit.GENESIS, row, bytes.fromhex(key))


def test_upgrade_reseals_an_intact_plain_chain_and_leaves_a_broken_one(tmp_path: Path) -> None:
    for broken in (False, True):
        database = Database(tmp_path / f"old-{broken}" / "stepstone.db")
        database.path.parent.mkdir()
        with database.write() as db:
            migrations.apply(db, stop_before="0008_audit_seal")
            prev_hash = audit.GENESIS
            for n in range(3):
                row = {"at": f"2026-01-0{n + 1}T00:00:00Z", "actor_id": None, "actor": "cli"}
                row |= {"action": "thing.done", "target": f"t{n}", "detail": "{}"}
                row |= {"client_address": "", "prev_hash": prev_hash}
                digest = audit_link(prev_hash, row)
                row["hash"] = digest
                db.table("audit_log").insert(row)
                prev_hash = digest
            if broken:
                db.execute("DROP TRIGGER audit_log_no_update")
                db.execute("UPDATE audit_log SET target = 'edited' WHERE id = 2")
        # 0008 and whatever came after it (later migrations do not touch the log).
        assert apply_migrations(database)[0] == "0008_audit_seal"
        report = verify_chain(database)
        assert (report.ok, report.checked) == ((False, 0) if broken else (True, 3))
        database.close()


def test_roster_plan_reports_every_problem(database: Database) -> None:
    data = "facility_id,name,language,group\nH1,Ann,es,Unit Q\nbad id!,Bo,en,\nH1,Cy,xx,\n"
    plan = roster.plan_roster(database, data.encode())
    assert not plan.ok and plan.new_groups == ["Unit Q"]
    problems = {row.line: [p.message for p in row.problems] for row in plan.rows}
    assert any("used twice" in m for m in problems[2])
    assert any("facility id is 1 to 20" in m for m in problems[3])
    assert any("language" in m for m in problems[4])


def test_roster_apply_is_all_or_nothing(database: Database) -> None:
    with pytest.raises(ValidationError):
        roster.apply_roster(
            database, Actor.system(), b"facility_id,name,language\nJ1,Jo,en\nJ2,,en\n"
        )
    assert database.query("SELECT count(*) FROM users")[0][0] == 0
    plan = roster.apply_roster(
        database, Actor.system(), b"\xef\xbb\xbffacility_id,name,language\nj1,Jo,en\n"
    )
    assert plan.rows[0].one_time_pin and plan.rows[0].facility_id == "J1"
