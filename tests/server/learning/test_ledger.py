"""The earned-credit ledger: rules with effective dates, the entry a completion writes
(with nominal and measured hours), corrections that never edit, and the check of every
entry against the audit log. The clock is moved through `server.core.clock`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from server.cli.main import cli
from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.learning import access, certificates, credit_rules, ledger, progress, visibility
from server.learning.credit_rules import NewRule
from server.learning.ledger import Correction
from server.ops.migrations import apply_migrations, migrations
from server.people.accounts import User
from server.people.audit import Actor, verify_chain
from tests.conftest import FakeClock, People, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"  # vocational, 3 nominal hours, 7 lessons
ADMIN = Actor(None, "admin:test")


def at(day: str) -> float:
    return datetime.fromisoformat(day + "T09:00:00").replace(tzinfo=UTC).timestamp()


def finish(
    database: Database,
    settings: Settings,
    moment: FakeClock,
    learner: User,
    minutes_per_lesson: int = 2,
) -> None:
    """The learner works through every lesson of the course, a heartbeat a minute, and
    finishes it."""
    course = access.visible_course(database, settings, learner, SAFETY)
    for lesson in visibility.lessons_of(database, course.version_id):
        for n in range(minutes_per_lesson + 1):
            event = progress.parse_event(
                {
                    "id": f"beat-{learner.id}-{lesson.key}-{n}"[:64],
                    "type": "heartbeat" if n else "started",
                    "course": SAFETY,
                    "lesson": lesson.key,
                    "seconds": 60 if n else None,
                }
            )
            progress.record(database, settings, learner, course, lesson, event)
            moment.advance(60)
        with database.write() as db:
            progress.complete_in(db, settings, learner, course, lesson.key, moment.now())


def test_a_completion_earns_the_entry_of_the_rule_in_force_that_day(
    database: Database, settings: Settings, people: People, fake_clock: FakeClock
) -> None:
    fake_clock.moment = at("2027-03-01")
    credit_rules.add_rule(
        database, ADMIN, NewRule("category", "vocational", "earned-time", "measured", "2027-01-01")
    )
    # A newer version for the course itself, from the 10th: it wins from that day on.
    credit_rules.add_rule(
        database, ADMIN, NewRule("course", SAFETY, "program-completion", "nominal", "2027-03-10")
    )
    finish(database, settings, fake_clock, people.learner)
    fake_clock.moment = at("2027-03-12")
    finish(database, settings, fake_clock, people.other_learner, minutes_per_lesson=1)

    [first] = ledger.entries_of(database, people.learner.id)
    assert (first.credit_type, first.hours_basis) == ("earned-time", "measured")
    assert first.nominal_hours == 3.0
    spent = progress.progress_by_course(database, people.learner.id)[SAFETY][1]
    assert spent >= 7 * 2 * 60  # every heartbeat, and the minutes between lessons
    assert first.measured_hours == round(spent / 3600, 2) == first.hours
    assert first.completed_at.startswith("2027-03-01") and first.started_at is not None
    assert first.course_version >= 1 and first.certificate_code
    [second] = ledger.entries_of(database, people.other_learner.id)
    assert (second.credit_type, second.hours) == ("program-completion", 3.0)
    spent_by_second = progress.progress_by_course(database, people.other_learner.id)[SAFETY][1]
    assert second.measured_hours == round(spent_by_second / 3600, 2) < first.measured_hours

    # The certificate shows both kinds of hours too.
    [cert] = certificates.of_learner(database, people.learner.id)
    assert (cert.hours, cert.measured_seconds) == (3.0, spent)
    assert ledger.verify_ledger(database).checked == 2
    assert verify_chain(database).ok


def test_no_rule_or_a_none_rule_earns_nothing(
    database: Database, settings: Settings, people: People, fake_clock: FakeClock
) -> None:
    fake_clock.moment = at("2027-03-01")
    credit_rules.add_rule(
        database, ADMIN, NewRule("category", "vocational", "earned-time", "nominal", "2027-04-01")
    )
    finish(database, settings, fake_clock, people.learner, minutes_per_lesson=0)
    assert ledger.entries_of(database, people.learner.id) == []  # the rule starts later
    credit_rules.add_rule(
        database, ADMIN, NewRule("course", SAFETY, "none", "nominal", "2027-01-01")
    )
    fake_clock.moment = at("2027-05-01")
    finish(database, settings, fake_clock, people.other_learner, minutes_per_lesson=0)
    assert ledger.entries_of(database, people.other_learner.id) == []  # the course's own


def test_a_correction_is_a_new_entry_that_stands_in_place_of_the_old_one(
    database: Database, settings: Settings, people: People, fake_clock: FakeClock
) -> None:
    fake_clock.moment = at("2027-03-01")
    credit_rules.add_rule(
        database, ADMIN, NewRule("course", SAFETY, "earned-time", "nominal", "2027-01-01")
    )
    finish(database, settings, fake_clock, people.learner, minutes_per_lesson=0)
    [original] = ledger.entries_of(database, people.learner.id)
    fake_clock.advance(86400)
    fixed = ledger.correct(
        database, ADMIN, Correction(original.id, "2,5", "college-credit", "Registrar's hours")
    )
    assert (fixed.corrects_id, fixed.hours, fixed.credit_type) == (
        original.id,
        2.5,
        "college-credit",
    )
    assert (fixed.nominal_hours, fixed.completed_at) == (
        original.nominal_hours,
        original.completed_at,
    )
    assert fixed.recorded_by == "admin:test" and fixed.recorded_at.startswith("2027-03-02")
    entries = ledger.entries_of(database, people.learner.id)
    assert entries[0] == original  # never edited
    assert ledger.standing(entries) == [fixed]
    assert ledger.totals(entries) == {"college-credit": 2.5}
    with pytest.raises(ValidationError, match="already corrected"):
        ledger.correct(database, ADMIN, Correction(original.id, "1", "earned-time", "again"))
    for bad in (
        Correction(fixed.id, "-1", "earned-time", "x"),
        Correction(fixed.id, "1", "x", "x"),
    ):
        with pytest.raises(ValidationError):
            ledger.correct(database, ADMIN, bad)
    with pytest.raises(ValidationError, match="why"):
        ledger.correct(database, ADMIN, Correction(fixed.id, "1", "earned-time", "  "))
    voided = ledger.correct(database, ADMIN, Correction(fixed.id, "0", "none", "Wrong learner"))
    assert ledger.totals(ledger.entries_of(database, people.learner.id)) == {}
    assert [e["id"] for e in ledger.ledger_of(database, people.learner.id)] == [
        original.id,
        fixed.id,
        voided.id,
    ]
    assert ledger.verify_ledger(database).checked == 3

    # The console's export has the whole history, each entry marked.
    data = ["--data-dir", str(settings.data_dir), "export", "credit", "--learner", "a100"]
    exported = CliRunner().invoke(cli, data)
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.stdout.removeprefix("\ufeff"))))
    assert [(r["entry"], r["status"], r["credit_type"]) for r in rows] == [
        (str(original.id), "corrected", "earned-time"),
        (str(fixed.id), "corrected", "college-credit"),
        (str(voided.id), "in force", "none"),
    ]
    missing = CliRunner().invoke(cli, [*data[:-1], "Z999"])
    assert missing.exit_code == 1 and "No learner has the facility ID 'Z999'" in missing.output


def test_an_entry_edited_or_removed_behind_the_triggers_is_found(
    client: TestClient,
    database: Database,
    settings: Settings,
    people: People,
    fake_clock: FakeClock,
) -> None:
    fake_clock.moment = at("2027-03-01")
    credit_rules.add_rule(
        database, ADMIN, NewRule("course", SAFETY, "earned-time", "nominal", "2027-01-01")
    )
    finish(database, settings, fake_clock, people.learner, minutes_per_lesson=0)
    finish(database, settings, fake_clock, people.other_learner, minutes_per_lesson=0)
    with database.write() as db, pytest.raises(Exception, match="append-only"):
        db.execute("UPDATE credit_ledger SET hours = 30")
    checked = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "audit", "verify"])
    assert checked.exit_code == 0 and "Credit ledger OK: 2 entries" in checked.output
    with database.write() as db:
        db.execute("DROP TRIGGER credit_ledger_no_update")
        db.execute("UPDATE credit_ledger SET hours = 30 WHERE user_id = ?", [people.learner.id])
    report = ledger.verify_ledger(database)
    assert not report.ok and report.problem == "was changed after it was written"
    checked = CliRunner().invoke(cli, ["--data-dir", str(settings.data_dir), "audit", "verify"])
    assert checked.exit_code == 1
    assert f"Credit ledger BROKEN at entry {report.entry_id}" in checked.output
    sign_in(client, people.admin)
    page = client.get("/admin/audit", params={"verify": "1"}).text
    assert f"The credit ledger was changed! Entry {report.entry_id} does not match" in page
    assert "The log is whole" in page
    with database.write() as db:
        db.execute("DROP TRIGGER credit_ledger_no_delete")
        db.execute("DELETE FROM credit_ledger WHERE user_id = ?", [people.learner.id])
    report = ledger.verify_ledger(database)
    assert not report.ok and report.problem == "is in the audit log but was removed"
    assert verify_chain(database).ok  # the audit log itself was not touched


def test_rules_are_checked_and_never_edited(database: Database, fake_clock: FakeClock) -> None:
    fake_clock.moment = at("2027-03-01")
    for bad, field in [
        (NewRule("course", "org.example.none", "earned-time", "nominal", "2027-01-01"), "target"),
        (NewRule("category", "cooking", "earned-time", "nominal", "2027-01-01"), "target"),
        (NewRule("course", SAFETY, "days", "nominal", "2027-01-01"), "credit_type"),
        (NewRule("course", SAFETY, "earned-time", "guessed", "2027-01-01"), "hours_basis"),
        (NewRule("course", SAFETY, "earned-time", "nominal", "1/2/2027"), "effective_from"),
        (NewRule("course", SAFETY, "earned-time", "nominal", "2027-02-30"), "effective_from"),
    ]:
        with pytest.raises(ValidationError) as raised:
            credit_rules.add_rule(database, ADMIN, bad)
        assert raised.value.field == field
    old = credit_rules.add_rule(
        database, ADMIN, NewRule("course", SAFETY, "earned-time", "nominal", "2027-01-01")
    )
    new = credit_rules.add_rule(
        database, ADMIN, NewRule("course", SAFETY, "earned-time", "measured", "2027-04-01")
    )
    every = credit_rules.rules(database)
    today = credit_rules.today()
    assert credit_rules.status_of(old, every, today) == "current"
    assert credit_rules.status_of(new, every, today) == "future"
    assert credit_rules.status_of(old, every, "2027-04-01") == "superseded"
    with database.write() as db, pytest.raises(Exception, match="never edited"):
        db.execute("UPDATE credit_rules SET hours_basis = 'measured'")


def test_migration_0014_adds_the_tables_to_a_database_that_lacks_them(
    settings: Settings,
) -> None:
    database = Database(settings.data_dir / "old" / "stepstone.db")
    database.path.parent.mkdir(parents=True)
    with database.write() as db:
        migrations.apply(db, stop_before="0014_credit_ledger")
    assert database.query_one("SELECT 1 FROM sqlite_master WHERE name = 'credit_ledger'") is None
    assert apply_migrations(database)[0] == "0014_credit_ledger"
    names = {r[0] for r in database.query("SELECT name FROM sqlite_master")}
    assert {"offers", "offer_groups", "credit_rules", "credit_ledger"} <= names
    columns = {r[1] for r in database.query("PRAGMA table_info(certificates)")}
    assert "measured_seconds" in columns
    database.close()
