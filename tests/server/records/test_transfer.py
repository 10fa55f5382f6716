"""A learner moves from facility A to facility B and back: what travels, how it merges,
that a second import changes nothing, and every refusal leaves both facilities as they were."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from server.cli.main import cli
from server.core.db import Database
from server.core.errors import ValidationError
from server.learning import access, credit_rules, ledger
from server.learning.credit_rules import NewRule
from server.people.accounts import Role
from server.records import bundle, identity, merge, passports, transfer_in, transfer_out
from tests.conftest import FakeClock, make_user
from tests.server.records.conftest import JOBS, MATH, SAFETY, Pair, export, lesson, live
from tests.server.records.twofacilities import ADMIN, new_facility, trust_each_other


def _state(database: Database) -> list[Any]:
    """Everything an import may touch, to compare before and after."""
    tables = (
        "users",
        "lesson_progress",
        "quiz_attempts",
        "assignments",
        "plan_goals",
        "enrolments",
        "from_elsewhere",
        "carried_pages",
        "transfers",
        "audit_log",
    )
    state = []
    for table in tables:
        sql = f"SELECT * FROM {table} ORDER BY 1, 2"  # noqa: S608 - names from the list above
        state.append([tuple(row) for row in database.query(sql)])
    return state


def test_a_learner_moves_from_a_to_b_and_back(pair: Pair) -> None:
    a, b = pair.a, pair.b
    data = export(a, pair.alex)
    shown = transfer_in.preview(b.database, data, match="S-77")
    assert (shown.sender.name, shown.name, shown.language) == ("North Unit", "Alex Rivera", "es")
    assert shown.account is not None and shown.account.id == pair.bea.id
    lines = {line.course_id: line for line in shown.courses}
    assert lines[SAFETY].held and not lines[MATH].held
    assert [line.course_id for line in shown.completed_elsewhere] == [MATH]
    assert (shown.pages, shown.private_pages) == (2, 1)
    assert shown.assignments_added == [JOBS] and shown.goals_added == ["Write my resume"]

    done = transfer_in.import_bundle(b.database, ADMIN, data, match="S-77")
    assert done.user.id == pair.bea.id and done.one_time_pin is None
    safety = {
        r["lesson_key"]: r
        for r in b.database.query(
            "SELECT * FROM lesson_progress WHERE user_id = ? AND course_id = ?",
            [pair.bea.id, SAFETY],
        )
    }
    first = min(safety, key=lambda k: safety[k]["started_at"])
    assert len(safety) == 2  # B's own lesson merged with A's, A's second one added
    # Done at A wins over in progress at B; B's longer time is kept.
    assert any(r["status"] == "done" and r["seconds_spent"] == 1500.0 for r in safety.values())
    assert safety[first]["started_at"] == "2026-10-01T09:00:00+00:00"
    assert safety[first]["passed"] is None  # a reading has no pass mark, here or there
    attempts = b.database.query("SELECT score FROM quiz_attempts WHERE user_id = ?", [pair.bea.id])
    assert [r["score"] for r in attempts] == [0.8]
    goals = [
        r["title"]
        for r in b.database.query(
            "SELECT title FROM plan_goals WHERE learner_id = ? ORDER BY id", [pair.bea.id]
        )
    ]
    assert goals == ["Finish my GED", "Write my resume"]  # B's own goal kept
    due = b.database.query_one(
        "SELECT due_date, note FROM assignments WHERE user_id = ?", [pair.bea.id]
    )
    assert due is not None and due["due_date"] == "2027-01-15" and "North Unit" in due["note"]
    (math,) = merge.from_elsewhere_of(b.database, pair.bea.id)
    assert (math.course_id, math.version, math.status) == (MATH, 1, "completed")
    assert (math.facility_name, math.certificate_code) == ("North Unit", "ABCD-EFGH-JKLM")
    assert math.score == pytest.approx(0.9)
    row = b.database.query_one("SELECT evidence FROM from_elsewhere")
    assert row is not None
    evidence = json.loads(row["evidence"])
    assert evidence["certificate"]["code"] == "ABCD-EFGH-JKLM"
    assert len(evidence["course"]["lessons"]) == 6
    own_view = merge.carried_pages_of(b.database, pair.bea.id, own=True)
    staff_view = merge.carried_pages_of(b.database, pair.bea.id, own=False)
    answers = {a["prompt"]: a for p in own_view for a in p.answers}
    assert sorted(answers) == ["hazard", "my-conviction-answer"]
    # The question's own words came along (the course's prompt), so the page reads whole.
    assert answers["my-conviction-answer"]["question"].startswith("Draft your answer to")
    assert [a["prompt"] for p in staff_view for a in p.answers] == ["hazard"]
    assert sum(p.private_hidden for p in staff_view) == 1
    received = b.database.query_one("SELECT received FROM transfers")
    assert received is not None
    kept = json.loads(received[0])["sections"]
    assert "workbook.v1" not in kept  # private words live only in carried_pages
    assert {c["course_id"] for c in kept["courses.v1"]} == {SAFETY, MATH}  # A's history

    # The same bundle again: nothing changes, not even the audit log.
    before = _state(b.database)
    again = transfer_in.import_bundle(b.database, ADMIN, data, match="S-77")
    assert again.preview.already_imported
    assert _state(b.database) == before

    # Back to A: Alex finished another safety lesson at B.
    _, _, keys = live(b.database, SAFETY)
    lesson(
        b.database,
        pair.bea,
        SAFETY,
        keys[3],
        status="done",
        completed_at="2026-11-01T09:00:00+00:00",
    )
    back = export(b, pair.bea)
    assert transfer_in.preview(a.database, back, match="A100").account == pair.alex
    transfer_in.import_bundle(a.database, ADMIN, back, match="A100")
    rows = {
        r["lesson_key"]: r["status"]
        for r in a.database.query(
            "SELECT lesson_key, status FROM lesson_progress WHERE user_id = ? AND course_id = ?",
            [pair.alex.id, SAFETY],
        )
    }
    assert rows[keys[3]] == "done" and rows[keys[0]] == "done"
    # A's own attempt came back from B unchanged: it is not doubled.
    assert (
        len(a.database.query("SELECT 1 FROM quiz_attempts WHERE user_id = ?", [pair.alex.id])) == 1
    )
    assert a.database.query_one("SELECT count(*) FROM certificates")[0] == 1  # type: ignore[index]
    # A's own Everyday Math record came back through B: A keeps its original, no copy.
    assert merge.from_elsewhere_of(a.database, pair.alex.id) == []


def test_on_a_second_move_the_records_from_the_first_facility_travel_on(
    pair: Pair, tmp_path: Path
) -> None:
    transfer_in.import_bundle(pair.b.database, ADMIN, export(pair.a, pair.alex), match="S-77")
    c = new_facility(tmp_path / "c", "East Unit", demo=True)
    trust_each_other(pair.b, c)
    onward = export(pair.b, pair.bea)
    shown = transfer_in.preview(c.database, onward, new="E-1")
    assert shown.passed_on == ["Everyday Math (North Unit)"]
    done = transfer_in.import_bundle(c.database, ADMIN, onward, new="E-1")
    (math,) = merge.from_elsewhere_of(c.database, done.user.id)
    assert (math.facility_name, math.certificate_code) == ("North Unit", "ABCD-EFGH-JKLM")
    row = c.database.query_one("SELECT facility_id, evidence FROM from_elsewhere")
    assert row is not None and row["facility_id"] == pair.a.facility_id
    assert json.loads(row["evidence"])["passed_on_by"] == pair.b.facility_id


def test_a_later_bundle_finds_the_account_and_an_older_one_is_refused(pair: Pair) -> None:
    first, second = export(pair.a, pair.alex), export(pair.a, pair.alex)
    transfer_in.import_bundle(pair.b.database, ADMIN, second, new="N-1")
    before = _state(pair.b.database)
    with pytest.raises(bundle.BundleRefused, match="bundle of this learner at least as new"):
        transfer_in.import_bundle(pair.b.database, ADMIN, first, match="N-1")
    assert _state(pair.b.database) == before
    third = export(pair.a, pair.alex)
    shown = transfer_in.preview(pair.b.database, third)  # no account named: the same as before
    assert shown.account is not None and shown.account.login == "N-1"


def test_a_new_account_gets_the_profile_and_a_one_time_pin(pair: Pair) -> None:
    data = export(pair.a, pair.alex)
    assert transfer_in.preview(pair.b.database, data).needs_account
    with pytest.raises(ValidationError, match="Choose the learner's account"):
        transfer_in.import_bundle(pair.b.database, ADMIN, data)
    done = transfer_in.import_bundle(pair.b.database, ADMIN, export(pair.a, pair.alex), new="N-2")
    assert (done.user.display_name, done.user.language) == ("Alex Rivera", "es")
    assert done.one_time_pin and done.user.must_change_secret
    with pytest.raises(ValidationError, match="already used"):
        transfer_in.preview(pair.b.database, export(pair.a, pair.alex), new="S-77")


def _resigned(pair: Pair, change: Any) -> bytes:
    """A bundle from A, changed by ``change`` and then signed again by A (well signed,
    badly made)."""
    document = json.loads(gzip.decompress(export(pair.a, pair.alex)))
    change(document)
    return bundle.encode(identity.sign_document(pair.a.settings, document))


def _tampered(pair: Pair) -> bytes:
    document = json.loads(gzip.decompress(export(pair.a, pair.alex)))
    document["sections"]["courses.v1"][0]["lessons"][0]["score"] = 1.0
    return bundle.encode(document)


def _deep(pair: Pair) -> bytes:
    nested: Any = "x"
    for _ in range(40):
        nested = [nested]
    return _resigned(pair, lambda d: d["sections"].update({"ledger.v1": nested}))


REFUSALS: dict[str, tuple[Any, str]] = {
    "tampered": (_tampered, "changed after signing"),
    "malformed": (
        lambda p: _resigned(
            p, lambda d: d["sections"]["courses.v1"][0]["lessons"][0].update(status="maybe")
        ),
        r"courses.v1\[0\].lessons\[0\].status must be one of",
    ),
    "deep": (_deep, "nested deeper"),
    "oversized": (lambda p: b"\x1f\x8b" + bytes(bundle.MAX_BYTES), "larger than"),
    "not json": (lambda p: b'{"type": ', "not JSON"),
    "gzip bomb": (lambda p: gzip.compress(b" " * (bundle.MAX_BYTES + 10)), "larger than"),
    "another kind": (lambda p: json.dumps({"type": "x"}).encode(), "not a Stepstone transfer"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_bad_bundle_is_refused_and_nothing_changes(pair: Pair, case: str) -> None:
    make, message = REFUSALS[case]
    data = make(pair)
    before = _state(pair.b.database)
    with pytest.raises(bundle.BundleRefused, match=message):
        transfer_in.preview(pair.b.database, data, match="S-77")
    with pytest.raises(bundle.BundleRefused, match=message):
        transfer_in.import_bundle(pair.b.database, ADMIN, data, match="S-77")
    assert _state(pair.b.database) == before


def test_unknown_revoked_and_expired_senders_are_refused(
    pair: Pair, tmp_path: Path, fake_clock: FakeClock
) -> None:
    stranger = new_facility(tmp_path / "c", "Elsewhere", demo=True)
    outsider = make_user(stranger.database, Role.LEARNER, "Z1", "Zed")
    before = _state(pair.b.database)
    with pytest.raises(bundle.BundleRefused, match="not a trusted facility"):
        transfer_in.import_bundle(pair.b.database, ADMIN, export(stranger, outsider), new="Z1")
    data = export(pair.a, pair.alex)
    with pytest.raises(bundle.BundleRefused, match="made here"):
        transfer_in.import_bundle(pair.a.database, ADMIN, data, match="A100")
    fake_clock.advance(91 * 86400)
    with pytest.raises(bundle.BundleRefused, match="expired on"):
        transfer_in.import_bundle(pair.b.database, ADMIN, data, match="S-77")
    fake_clock.advance(-91 * 86400)
    with pair.b.database.write() as db:
        identity.remove_trusted_in(db, pair.a.facility_id, ADMIN)
    before = _state(pair.b.database)
    with pytest.raises(bundle.BundleRefused, match="removed from the trusted facilities"):
        transfer_in.import_bundle(pair.b.database, ADMIN, data, match="S-77")
    assert _state(pair.b.database) == before


def test_an_unknown_section_is_listed_and_kept(pair: Pair) -> None:
    data = _resigned(pair, lambda d: d["sections"].update({"ledger.v1": [{"credits": 3}]}))
    assert transfer_in.preview(pair.b.database, data, match="S-77").not_understood == ["ledger.v1"]
    transfer_in.import_bundle(pair.b.database, ADMIN, data, match="S-77")
    kept = pair.b.database.query_one("SELECT extra_sections FROM transfers")
    assert kept is not None and json.loads(kept[0]) == {"ledger.v1": [{"credits": 3}]}


def test_only_chosen_pages_travel_and_only_own_pages_can_be_chosen(pair: Pair) -> None:
    choices = transfer_out.page_choices(pair.a.database, pair.alex.id)
    assert [(c.chosen, c.private) for c in choices].count((True, True)) == 1
    assert sum(c.chosen for c in choices) == 2
    other = make_user(pair.a.database, Role.LEARNER, "A200", "Other")
    with pytest.raises(ValidationError, match="your own"):
        transfer_out.choose_pages(pair.a.database, other, [choices[0].entry_id])
    transfer_out.choose_pages(pair.a.database, pair.alex, [])
    document = json.loads(gzip.decompress(export(pair.a, pair.alex)))
    assert document["sections"]["workbook.v1"] == []


def test_the_cli_exports_and_imports_with_a_preview(
    pair: Pair, tmp_path: Path, runner: CliRunner
) -> None:
    stick = tmp_path / "usb"
    stick.mkdir()
    out = runner.invoke(
        cli,
        [
            "--data-dir",
            str(pair.a.settings.data_dir),
            "transfer",
            "export",
            "A100",
            "-o",
            str(stick),
        ],
    )
    assert out.exit_code == 0, out.output
    (file,) = stick.iterdir()
    assert file.name.endswith(bundle.SUFFIX)
    into_b = ["--data-dir", str(pair.b.settings.data_dir), "transfer", "import", str(file)]
    looked = runner.invoke(cli, [*into_b, "--new", "N-9", "--preview"])
    assert looked.exit_code == 0, looked.output
    assert f"course {MATH} v1" in looked.output and "completed elsewhere" in looked.output
    assert "1 private, stay private" in looked.output
    assert _state(pair.b.database)[-2] == []  # a preview imports nothing
    done = runner.invoke(cli, [*into_b, "--new", "N-9", "--yes"])
    assert done.exit_code == 0, done.output
    assert "one-time PIN" in done.output
    again = runner.invoke(cli, into_b)
    assert again.exit_code == 0 and "imported already" in again.output
    nobody = runner.invoke(
        cli,
        [
            "--data-dir",
            str(pair.a.settings.data_dir),
            "transfer",
            "export",
            "nobody",
            "-o",
            str(stick),
        ],
    )
    assert nobody.exit_code == 1 and "No learner" in nobody.output


def test_earned_credit_travels_and_shows_on_the_record_and_the_passport(pair: Pair) -> None:
    """Credit A's rules gave Alex comes to B as A wrote it: on Alex's record at B, on the
    Learning Passport B issues at release, and on to a third facility with the next move."""
    credit_rules.add_rule(
        pair.a.database,
        ADMIN,
        NewRule("course", MATH, "earned-time", "nominal", "2026-01-01"),
    )
    math = access.visible_course(pair.a.database, pair.a.settings, pair.alex, MATH)
    with pair.a.database.write() as db:
        earned = ledger.earn_in(db, pair.alex, math, "ABCD-EFGH-JKLM", "2026-10-20T10:00:00+00:00")
    assert earned is not None
    data = export(pair.a, pair.alex)
    done = transfer_in.import_bundle(pair.b.database, ADMIN, data, match="S-77")
    (entry,) = transfer_out.credit_elsewhere_of(pair.b.database, pair.b.settings, done.user.id)
    assert (entry["facility_name"], entry["course_id"], entry["credit_type"]) == (
        "North Unit",
        MATH,
        "earned-time",
    )
    assert entry["hours"] == earned.hours and entry["digest"] == earned.digest
    assert ledger.entries_of(pair.b.database, done.user.id) == []  # B's own ledger untouched
    body = passports.contents(pair.b.database, pair.b.settings, done.user)
    assert body["earned_credit"] == [
        {
            "course_title": earned.course_title,
            "credit_type": "earned-time",
            "hours": earned.hours,
            "completed_at": earned.completed_at,
            "facility": "North Unit",
        }
    ]
    # A bundle whose credit entry was changed after signing is refused like any other.
    document = json.loads(gzip.decompress(data))
    document["sections"]["credit.v1"][0]["hours"] = 999
    with pytest.raises(bundle.BundleRefused):
        transfer_in.preview(pair.b.database, bundle.encode(document))
