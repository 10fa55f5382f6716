"""Due dates and what educators take away: assigned-but-not-started courses in the
progress export and on the learner page, lateness, the byte order mark, the completion
report's period, past due dates, the due date of a learner who joins later, and the
notice that a redirect to a `#fragment` keeps."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date, timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.core import clock
from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.learning import assignments, visibility
from server.learning.access import Scope
from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from server.teaching import dashboards, exports
from server.web import dates
from server.web.app import create_app
from tests.conftest import CSRF_RE, FakeClock, People, make_user, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"
TRAPS = "org.stepstone.demo.thinking-traps"
SYSTEM = Actor.system("test")
DAY = 86400


@pytest.fixture
def group_a(database: Database, people: People) -> int:
    a = groups.create_group(database, SYSTEM, "Class A", "class")
    groups.add_member(database, SYSTEM, a.id, people.educator.id)
    groups.add_member(database, SYSTEM, a.id, people.learner.id)
    return a.id


def day(offset: int) -> str:
    return (date.fromisoformat(clock.iso()[:10]) + timedelta(days=offset)).isoformat()


def written(iso_day: str) -> str:
    """A date as the pages write it, in English ("Thursday, 17 December")."""
    return dates.long_date(iso_day, "UTC")


def token(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, path
    return match.group(1)


def test_progress_export_has_assigned_courses_not_started_with_lateness(
    app: Starlette, database: Database, people: People, group_a: int, fake_clock: FakeClock
) -> None:
    sneaky = make_user(database, Role.LEARNER, "C300", "=HYPERLINK(1)")
    groups.add_member(database, SYSTEM, group_a, sneaky.id)
    assignments.assign(database, SYSTEM, SAFETY, group_id=group_a, due_date=day(3))
    assignments.assign(database, SYSTEM, TRAPS, learners=[people.learner.id])
    learner = TestClient(app, base_url="http://testserver")
    sign_in(learner, people.learner)
    opened = visibility.lessons_of(database, _live(database, SAFETY))[0].key
    assert learner.get(f"/learn/courses/{SAFETY}/lessons/{opened}").status_code == 200
    fake_clock.advance(5 * DAY)  # two days past the due date

    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    body = teacher.get("/teach/exports/progress.csv").content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    got = {
        (r["name"], r["course_id"]): (r["lessons_done"], r["due_date"], r["late"], r["days_late"])
        for r in rows
    }
    assert got == {
        ("Alex Learner", SAFETY): ("0", day(-2), "yes", "2"),  # started, not finished
        ("Alex Learner", TRAPS): ("", "", "", ""),  # assigned with no due date, not started
        ("'=HYPERLINK(1)", SAFETY): ("", day(-2), "yes", "2"),  # not started: empty progress
    }
    # A range that ends before the course was assigned leaves the not-started rows out.
    early = teacher.get(f"/teach/exports/progress.csv?end={day(-30)}").content
    assert "HYPERLINK" not in early.decode("utf-8-sig")

    page = teacher.get(f"/teach/learners/{sneaky.id}").text
    assert "Not started" in page and written(day(-2)) in page and "Yes, 2 days" in page


def _live(database: Database, course_id: str) -> int:
    row = database.query_one("SELECT live_version_id FROM courses WHERE course_id = ?", [course_id])
    assert row is not None
    return int(row[0])


def test_lateness_counts_to_the_day_of_finishing() -> None:
    assert exports._lateness("2026-03-01", "2026-03-04", "2026-05-01")["days_late"] == 3
    assert exports._lateness("2026-03-01", "2026-02-20", "2026-05-01")["late"] == "no"
    assert exports._lateness("2026-03-01", "", "2026-03-01")["late"] == "no"
    assert exports._lateness(None, "", "2026-03-01")["late"] == ""


def test_completion_report_names_its_period(app: Starlette, people: People, group_a: int) -> None:
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    page = teacher.get("/teach/exports/completions?format=print").text
    assert "All time" in page and "2000-01-01" not in page and "9999" not in page
    ranged = teacher.get("/teach/exports/completions?format=print&start=2026-01-01&end=2026-06-30")
    assert "From 2026-01-01 to 2026-06-30" in ranged.text
    assert (
        "From 2026-01-01 on"
        in teacher.get("/teach/exports/completions?format=print&start=2026-01-01").text
    )
    assert teacher.get("/teach/exports/completions.csv").content.startswith(b"\xef\xbb\xbf")


def test_a_past_due_date_needs_the_tick(
    app: Starlette, database: Database, people: People, group_a: int
) -> None:
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    page = f"/teach/groups/{group_a}"
    form = {"course_id": SAFETY, "due_date": day(-1)}
    refused = teacher.post(page + "/assign", data={**form, "csrf_token": token(teacher, page)})
    assert refused.status_code == 400 and "in the past" in refused.text
    # What was typed stays in the form: ticking the box is all that is left to do.
    assert f'value="{day(-1)}"' in refused.text
    assert f'value="{SAFETY}" selected' in refused.text
    assert database.query("SELECT * FROM assignments") == []
    ticked = teacher.post(
        page + "/assign",
        data={**form, "past_due_ok": "yes", "csrf_token": token(teacher, page)},
        follow_redirects=False,
    )
    assert ticked.status_code == 303
    rows = database.query("SELECT detail FROM audit_log WHERE action = 'assignment.add'")
    assert [json.loads(r[0]).get("past_due") for r in rows] == [True]
    # Today and later need no tick.
    assignments.assign(database, SYSTEM, TRAPS, group_id=group_a, due_date=day(0))
    with pytest.raises(ValidationError):
        assignments.assign(database, SYSTEM, TRAPS, group_id=group_a, due_date=day(-400))


@pytest.mark.parametrize(("after_joining", "expected"), [(0, 2), (10, 15)])
def test_a_learner_who_joins_later_is_due_after_joining(
    settings: Settings,
    database: Database,
    people: People,
    group_a: int,
    fake_clock: FakeClock,
    after_joining: int,
    expected: int,
) -> None:
    """Assigned today, due in 2 days; Cam joins in 5 days. Without the setting Cam is
    late at once; with 10 days, Cam is due 10 days after joining."""
    assignments.assign(database, SYSTEM, SAFETY, group_id=group_a, due_date=day(2))
    fake_clock.advance(5 * DAY)
    cam = make_user(database, Role.LEARNER, "C300", "Cam Late")
    groups.add_member(database, SYSTEM, group_a, cam.id)
    due = day(expected - 5)
    assert visibility.assignments_for(database, cam.id, after_joining)[SAFETY].due_date == due
    # Alex was there when it was assigned: the group's date.
    alex = visibility.assignments_for(database, people.learner.id, after_joining)
    assert alex[SAFETY].due_date == day(-3)
    board = dashboards.group_board(
        database, Scope.of(people.admin), group_a, after_joining_days=after_joining
    )
    cells = {user.display_name: row[SAFETY] for user, row in board.rows}
    assert cells["Cam Late"].due_date == due and cells["Alex Learner"].due_date == day(-3)
    assert cells["Cam Late"].status == ("overdue" if after_joining == 0 else "not-started")
    # The learner's own page shows the same date.
    app = create_app(dataclasses.replace(settings, due_after_joining_days=after_joining))
    client = TestClient(app, base_url="http://testserver")
    sign_in(client, cam)
    assert written(due) in client.get("/learn").text
    flt = exports.Filter.parse("", "")
    rows = exports.progress_rows(database, Scope.whole_facility(), flt, after_joining)
    assert {r["name"]: r["due_date"] for r in rows}["Cam Late"] == due


def test_the_goal_redirect_keeps_its_notice(app: Starlette, people: People, group_a: int) -> None:
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    me = f"/teach/learners/{people.learner.id}"
    added = teacher.post(
        me + "/goals",
        data={"csrf_token": token(teacher, me), "title": "Read more", "category": "education"},
        follow_redirects=False,
    )
    assert added.headers["location"] == f"{me}?notice=saved#plan"


def test_chart_labels_are_not_cut_short(
    app: Starlette, database: Database, people: People, group_a: int
) -> None:
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    page = teacher.get(f"/teach/courses/{SAFETY}").text
    for lesson in visibility.lessons_of(database, _live(database, SAFETY)):
        assert f"<title>{lesson.title}</title>" in page.replace("&#39;", "'")
        if len(lesson.title) <= 72:
            assert f"</title>{lesson.title}</text>" in page.replace("&#39;", "'")
