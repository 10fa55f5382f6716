"""The Learning Passport at release: what it says, signed and kept; checked at home, at a
facility that trusts the issuer (and not at one that does not), with revocation reported
where it is known and said to be unknown elsewhere; a changed byte fails it."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.learning import certificates
from server.ops.migrations import apply_migrations, migrations
from server.records import badges, checkcodes, identity, passports, verification
from server.records.verification import CardTrust, DatabaseTrust
from tests.conftest import FakeClock, People
from tests.server.records.records_helpers import MATH, SAFETY, STAFF, finish, goal_met
from tests.server.records.twofacilities import new_facility

pytestmark = pytest.mark.demo


def _changed(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


def test_a_passport_says_what_the_learner_achieved_and_is_kept_as_signed(
    settings: Settings, database: Database, people: People
) -> None:
    learner = people.learner
    math = finish(database, settings, learner, MATH, score=90.0)
    finish(database, settings, learner, SAFETY, score=70.0)
    goal_met(database, learner, "Open a bank account")
    passport = passports.issue(database, settings, STAFF, learner)

    doc = passport.document
    assert doc["type"] == "stepstone-learning-passport" and doc["language"] == "en"
    assert doc["learner"] == {"name": "Alex Learner", "facility_id": "A100"}
    assert doc["facility"] == {"id": identity.facility_id(settings), "name": "Stepstone"}
    assert [c["course_id"] for c in doc["courses"]] == [MATH, SAFETY]
    first = doc["courses"][0]
    assert first["certificate"] == math.code and first["quiz_score"] == 90.0
    assert first["hours"] == round(math.hours, 1) and first["title"] == math.course_title
    assert doc["totals"]["courses"] == 2
    assert doc["totals"]["course_hours"] == round(sum(c["hours"] for c in doc["courses"]), 1)
    assert [g["title"] for g in doc["goals_met"]] == ["Open a bank account"]
    # Signed by this facility's key, kept byte for byte, and audited.
    assert identity.verify_document(database, doc).own
    assert passports.of_learner(database, learner.id)[0].data == passport.data
    assert passports.find(database, passport.id) == passport
    entry = database.query_one("SELECT * FROM audit_log WHERE action = 'passport.issue'")
    assert entry is not None and entry["target"] == learner.label
    assert passports.of_learner(database, people.other_learner.id) == []


def test_it_verifies_at_home_and_a_changed_byte_fails_it(
    settings: Settings, database: Database, people: People
) -> None:
    finish(database, settings, people.learner, MATH)
    passport = passports.issue(database, settings, STAFF, people.learner)
    trust = DatabaseTrust(database)
    verdict = verification.check_file(trust, passport.data)
    assert verdict.ok and verdict.kind == "passport" and verdict.exit_code == 0
    assert verdict.sender is not None and verdict.sender.own
    assert dict(verdict.facts)["Passport number"] == passport.id
    # The layout of the file does not matter, its contents do.
    compact = identity.canonical(passport.document)
    assert verification.check_file(trust, compact).ok
    for forged in (
        _changed(passport.data, b'"Alex Learner"', b'"Alex Learnes"'),
        _changed(passport.data, b'"courses": 1', b'"courses": 9'),
        _changed(passport.data, b'"quiz_score": 80.0', b'"quiz_score": 100.0'),
    ):
        refused = verification.check_file(trust, forged)
        assert not refused.ok and refused.exit_code == 1
        assert refused.headline == verification.NOT_GENUINE
        assert "changed after signing" in refused.reason
    for junk in (b"", b"{}", b"{not json", b"[1, 2]", b"x" * 100):
        assert not verification.check_file(trust, junk).ok


def test_another_facility_checks_it_only_once_it_trusts_the_card(
    tmp_path: Path, settings: Settings, database: Database, people: People
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    passport = passports.issue(database, settings, STAFF, people.learner)
    south = new_facility(tmp_path / "south", "South Unit")
    try:
        untrusted = verification.check_file(DatabaseTrust(south.database), passport.data)
        assert not untrusted.ok and untrusted.headline == verification.NOT_TRUSTED
        assert "not a trusted facility" in untrusted.reason
        card = identity.own_card(settings)
        with south.database.write() as db:
            identity.trust_card_in(db, card, identity.card_fingerprint(card), STAFF)
        verdict = verification.check_file(DatabaseTrust(south.database), passport.data)
        assert verdict.ok and verdict.sender is not None and not verdict.sender.own
        # The south cannot know of a later revocation, and says so.
        assert not verdict.revocation_known
        certificates.revoke(database, settings, STAFF, cert.code, "Issued to the wrong learner")
        lookup = lambda code: certificates.find(database, settings, code)  # noqa: E731
        at_home = verification.check_file(DatabaseTrust(database), passport.data, lookup)
        assert at_home.revocation_known and at_home.exit_code == 1
        assert at_home.revoked == (
            f"{cert.course_title} ({cert.code}): Issued to the wrong learner",
        )
        elsewhere = verification.check_file(DatabaseTrust(south.database), passport.data)
        assert elsewhere.ok and not elsewhere.revoked and not elsewhere.revocation_known
        # Once the south stops trusting the north, the passport is refused there.
        with south.database.write() as db:
            identity.remove_trusted_in(db, identity.facility_id(settings), STAFF)
        removed = verification.check_file(DatabaseTrust(south.database), passport.data)
        assert not removed.ok and "removed from the trusted facilities" in removed.reason
    finally:
        south.database.close()


def test_a_card_given_as_a_file_is_enough_and_the_same_rules_hold(
    settings: Settings, database: Database, people: People
) -> None:
    finish(database, settings, people.learner, MATH)
    passport = passports.issue(database, settings, STAFF, people.learner)
    trust = CardTrust([identity.own_card(settings)])
    assert verification.check_file(trust, passport.data).ok
    forged = _changed(passport.data, b'"Alex Learner"', b'"Alex Learnes"')
    assert "changed after signing" in verification.check_file(trust, forged).reason
    # A signature by a key the card lacks, or a document dated before the key existed.
    other = dict(passport.document)
    other["signature"] = {**other["signature"], "keyid": "0" * 64}
    assert "does not hold" in verification.check_passport(trust, other, None).reason
    early = {k: v for k, v in passport.document.items() if k != "signature"}
    early["issued_at"] = "2001-01-01T00:00:00+00:00"
    signed_early = identity.sign_document(settings, early)
    assert "not valid at its date" in verification.check_passport(trust, signed_early, None).reason
    # The same answers as the server's own check of a signed document.
    with pytest.raises(identity.BadSignature):
        identity.verify_document(database, signed_early)
    with pytest.raises(identity.NotTrusted):
        identity.verify_document(database, other)


def test_the_check_code_on_the_paper_verifies_offline(
    settings: Settings, database: Database, people: People
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    passport = passports.issue(database, settings, STAFF, people.learner)
    trust = CardTrust([identity.own_card(settings)])
    code = checkcodes.for_passport(settings, passport)
    assert code.startswith("STEPSTONE:") and len(code) < 700  # fits a printed QR code
    verdict = verification.check_text(trust, code)
    assert verdict.ok and verdict.kind == "passport"
    assert dict(verdict.facts)["Passport number"] == passport.id
    on_certificate = verification.check_text(trust, checkcodes.for_certificate(settings, cert))
    assert on_certificate.ok and dict(on_certificate.facts)["Code"] == cert.code
    # A scanner that splits the code over lines changes nothing; a changed character does.
    assert verification.check_text(trust, code[:100] + "\n" + code[100:]).ok
    body = json.loads(identity.unb64(code[len(checkcodes.PREFIX) :]))
    body["learner"] = "Someone Else"
    forged = checkcodes.PREFIX + identity.b64(identity.canonical(body))
    assert "changed after signing" in verification.check_text(trust, forged).reason
    assert not verification.check_text(trust, "STEPSTONE:!!!").ok
    assert not verification.check_text(trust, "K7QM-2XDA-PL4R-9TZE").ok


def test_a_revoked_certificate_leaves_the_record_and_checks_as_revoked(
    settings: Settings, database: Database, people: People
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    with pytest.raises(ValidationError):
        certificates.revoke(database, settings, STAFF, cert.code, "no")
    certificates.revoke(database, settings, STAFF, cert.code.lower(), "Issued by mistake")
    found = certificates.find(database, settings, cert.code)
    assert found is not None and found.revoked and found.revoke_reason == "Issued by mistake"
    assert certificates.of_learner(database, people.learner.id) == []
    assert passports.contents(database, settings, people.learner)["courses"] == []
    with pytest.raises(ValidationError, match="already revoked"):
        certificates.revoke(database, settings, STAFF, cert.code, "Again")
    entry = database.query_one("SELECT * FROM audit_log WHERE action = 'certificate.revoke'")
    assert entry is not None and entry["target"] == cert.code
    trust = DatabaseTrust(database)
    lookup = lambda code: certificates.find(database, settings, code)  # noqa: E731
    verdict = verification.check_text(trust, checkcodes.for_certificate(settings, cert), lookup)
    assert verdict.headline == verification.REVOKED and verdict.exit_code == 1


def test_the_migration_keeps_certificates_and_adds_passports(tmp_path: Path) -> None:
    database = Database(tmp_path / "old" / "stepstone.db")
    database.path.parent.mkdir()
    with database.write() as db:
        migrations.apply(db, stop_before="0016_passports")
    # A certificate of an older release, written as it was (its course version is not
    # needed here: the plain connection does not check foreign keys).
    with contextlib.closing(sqlite3.connect(database.path)) as conn, conn:
        conn.execute(
            "INSERT INTO users (id, role, facility_id, display_name, secret_hash, created_at,"
            " updated_at) VALUES (1, 'learner', 'A1', 'Al', 'x', 'now', 'now')"
        )
        conn.execute(
            "INSERT INTO certificates (code, user_id, course_id, version_id, learner_name,"
            " facility_id, course_title, publisher, hours, facility, completed_at, issued_at)"
            " VALUES ('AAAA-BBBB-CCCC-DDDD', 1, 'c', 1, 'Al', 'A1', 'C', 'P', 2, 'F', 'd', 'd')"
        )
    assert "0016_passports" in apply_migrations(database)
    row = database.query_one("SELECT * FROM certificates")
    assert row is not None and row["revoked_at"] is None and row["revoke_reason"] == ""
    assert "passports" in database.reader.table_names()
    assert certificates.of_learner(database, 1)[0].code == "AAAA-BBBB-CCCC-DDDD"
    database.close()


def test_after_a_key_rotation_old_and_new_documents_verify(
    settings: Settings, database: Database, people: People, fake_clock: FakeClock
) -> None:
    cert = finish(database, settings, people.learner, MATH)
    before = passports.issue(database, settings, STAFF, people.learner)
    old_badge = _badge(settings, cert)
    fake_clock.advance(3600)
    identity.rotate(settings, database, STAFF)
    fake_clock.advance(60)
    trust = CardTrust([identity.own_card(settings)])  # the new card, old key retired
    assert verification.check_file(trust, before.data).ok
    assert verification.check_text(trust, old_badge).ok
    # Printed or downloaded again after the rotation: signed by the new key, still good.
    assert verification.check_text(trust, checkcodes.for_passport(settings, before)).ok
    assert verification.check_text(trust, _badge(settings, cert)).ok
    after = passports.issue(database, settings, STAFF, people.learner)
    assert verification.check_file(DatabaseTrust(database), after.data).ok


def _badge(settings: Settings, cert: certificates.Certificate) -> str:
    return badges.issue(settings, cert)
