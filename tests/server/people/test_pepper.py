"""The PIN pepper: a leaked database alone opens no PIN; rotation re-hashes at the next
sign-in and the old pepper can then be retired; PINs hashed before the pepper still sign in
and are upgraded; a lost key file is a clear error, never a wrong try counted."""

from __future__ import annotations

import stat

import argon2
import click
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from server.cli.main import cli, initialize
from server.core.db import Database
from server.core.settings import Settings
from server.ops import health
from server.people import accounts, passwords, pepper, signin
from server.people.accounts import Role, User
from server.people.audit import Actor
from tests.conftest import PASSWORD, PIN, People, csrf_from

ADMIN = Actor.system("test")


def _stored(database: Database, user: User) -> str:
    found = accounts.find_user(database, user.role, user.login)
    assert found is not None and found[1] is not None
    return found[1]


def _sign_in(database: Database, settings: Settings, user: User, secret: str = PIN) -> None:
    attempt = signin.Attempt(user.role, user.login, secret, "10.0.0.7")
    signed, _ = signin.sign_in(database, settings, attempt)
    assert signed.id == user.id


def _ring(database: Database) -> pepper.Keyring:
    return pepper.read_keyring(database.path)


def test_the_pepper_file_is_private_and_every_new_pin_hash_names_it(
    database: Database, people: People
) -> None:
    path = pepper.key_path(database.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = _stored(database, people.learner)
    assert stored.startswith(f"$pepper${_ring(database).current.id}$argon2id$")
    assert not _stored(database, people.admin).startswith("$pepper$")  # staff: no pepper
    accounts.reset_secret(database, ADMIN, people.other_learner.id)
    assert pepper.pepper_id(_stored(database, people.other_learner)) == _ring(database).current.id


def test_a_leaked_database_alone_does_not_open_a_pin(database: Database, people: People) -> None:
    stored = _stored(database, people.learner)
    argon = stored.split("$", 3)[3]
    ring = _ring(database)
    # With the key file, the right PIN opens it.
    assert passwords.verify_secret(*passwords.to_check(stored, PIN, ring))
    # Whoever has only the database can try every PIN as it is, and none matches ...
    assert not any(passwords.verify_secret("$" + argon, pin) for pin in (PIN, "493817", ""))
    # ... nor does a pepper they guess, even under the right id.
    other = pepper.Keyring((pepper.Pepper(ring.current.id, bytes(32)),))
    assert not passwords.verify_secret(*passwords.to_check(stored, PIN, other))


def test_rotation_rehashes_at_the_next_sign_in_then_the_old_pepper_retires(
    settings: Settings, database: Database, people: People
) -> None:
    old = _ring(database).current.id
    new = pepper.rotate(database, ADMIN)
    assert [p.id for p in _ring(database).peppers] == [new.id, old]
    assert stat.S_IMODE(pepper.key_path(database.path).stat().st_mode) == 0o600
    # Nobody has signed in since: every PIN still names the old pepper, which is kept.
    dropped, kept = pepper.retire(database, ADMIN)
    assert dropped == [] and kept == {old: 2}
    _sign_in(database, settings, people.learner)  # the old pepper still opens it
    assert pepper.pepper_id(_stored(database, people.learner)) == new.id
    _sign_in(database, settings, people.other_learner)
    dropped, kept = pepper.retire(database, ADMIN)
    assert dropped == [old] and kept == {}
    assert [p.id for p in _ring(database).peppers] == [new.id]
    _sign_in(database, settings, people.learner)  # the new hash opens without the old pepper
    actions = [r["action"] for r in database.query("SELECT action FROM audit_log")]
    assert "pepper.rotate" in actions and "pepper.retire" in actions


def test_a_pin_hashed_before_the_pepper_signs_in_and_is_upgraded(
    settings: Settings, database: Database, people: People
) -> None:
    with database.write() as db:
        db.execute(
            "UPDATE users SET secret_hash = ? WHERE id = ?",
            [passwords.hash_secret(PIN), people.learner.id],
        )
    _sign_in(database, settings, people.learner)
    assert pepper.pepper_id(_stored(database, people.learner)) == _ring(database).current.id
    _sign_in(database, settings, people.learner)


def test_a_facility_made_before_the_pepper_gets_one_at_its_next_start(
    settings: Settings, database: Database, people: People
) -> None:
    with database.write() as db:  # as a release before the pepper left it
        db.execute("UPDATE users SET secret_hash = ?", [passwords.hash_secret(PIN)])
    pepper.key_path(database.path).unlink()
    assert health.check_pepper(database).status is health.Status.WARN
    initialize(settings).close()  # what `stepstone serve` and `init` run
    assert health.check_pepper(database).status is health.Status.OK
    _sign_in(database, settings, people.learner)
    assert pepper.pepper_id(_stored(database, people.learner)) == _ring(database).current.id


def test_a_lost_pepper_is_a_clear_error_and_counts_no_wrong_try(
    settings: Settings, database: Database, people: People, client: TestClient
) -> None:
    path = pepper.key_path(database.path)
    saved = path.read_bytes()
    path.unlink()
    for _ in range(settings.learner_lock_after + 2):
        token = csrf_from(client, "/signin")
        page = client.post("/signin", data={"facility_id": "A100", "pin": PIN, "csrf_token": token})
        assert page.status_code == 503
        assert "a key file is missing" in page.text
    assert signin.wrong_tries(database, settings, people.learner) == (0, False)
    assert not path.exists()  # not replaced by a new pepper that would open nothing
    check = health.check_pepper(database)
    assert check.status is health.Status.FAIL and "2 learner(s)" in check.text
    with pytest.raises(click.ClickException, match=r"pepper\.key"):
        initialize(settings)
    result = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "pepper", "status"])
    assert result.exit_code == 1 and "backup" in result.output
    # Staff still sign in: their passwords do not use the pepper.
    _sign_in(database, settings, people.admin, PASSWORD)

    # A key file from elsewhere (another server's, or one older than a rotation) holds
    # no pepper these PINs name: the same error, still no try counted.
    pepper.ensure_key(database.path)
    with pytest.raises(pepper.PepperMissing):
        _sign_in(database, settings, people.learner)
    assert signin.wrong_tries(database, settings, people.learner) == (0, False)
    assert health.check_pepper(database).status is health.Status.FAIL

    path.write_bytes(saved)  # copied back from the backup
    path.chmod(0o600)
    _sign_in(database, settings, people.learner)
    assert health.check_pepper(database).status is health.Status.OK


@pytest.mark.real_kdf
def test_an_unknown_id_costs_what_a_real_check_costs(database: Database) -> None:
    ring = _ring(database)
    with database.write() as db:
        learner = accounts.secret_hash_in(db, Role.LEARNER, PIN)
        staff = accounts.secret_hash_in(db, Role.EDUCATOR, PASSWORD)
    real_pin = passwords.to_check(learner, PIN, ring)[0]
    dummy_pin = passwords.to_check(None, PIN, ring)[0]
    assert real_pin is not None and dummy_pin is not None
    pin_cost = argon2.extract_parameters(real_pin)
    assert argon2.extract_parameters(dummy_pin) == pin_cost
    assert (pin_cost.memory_cost, pin_cost.time_cost) == (8 * 1024, 1)
    staff_cost = argon2.extract_parameters(staff)
    assert (staff_cost.memory_cost, staff_cost.time_cost) == (19 * 1024, 2)
    assert not passwords.verify_secret(dummy_pin, _ring_key(ring, PIN))  # never a match


def _ring_key(ring: pepper.Keyring, pin: str) -> str:
    return passwords.to_check(None, pin, ring)[1]


def test_pepper_commands(settings: Settings, database: Database, people: People) -> None:
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["--data-dir", str(settings.data_dir), "pepper", *args])
        assert result.exit_code == 0, result.output
        return result.output

    old = _ring(database).current.id
    assert f"current pepper {old}: 2 PIN(s)" in run("status")
    new = run("rotate").split()[3].rstrip(".")
    assert f"older pepper {old}: 2 PIN(s)" in run("status")
    assert f"Kept pepper {old}: 2 PIN(s) still use it." in run("retire")
    _sign_in(database, settings, people.learner)
    _sign_in(database, settings, people.other_learner)
    assert f"Retired pepper {old}." in run("retire")
    assert run("status").strip() == f"current pepper {new}: 2 PIN(s)"
    assert "No older pepper to retire." in run("retire")
