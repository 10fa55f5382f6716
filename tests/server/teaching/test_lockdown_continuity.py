"""A lockdown over a due date: no learner is late for it, and every page, export and
report shows the period (the learner's courses, the group board, the learner page, the
progress export, the NGO impact report)."""

from __future__ import annotations

import csv
import io
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.core import clock
from server.core.db import Database
from server.core.settings import Settings
from server.learning import access, assignments
from server.learning.continuity import Continuity
from server.learning.visibility import assignments_for
from server.people import absences, groups, lockdowns
from server.people.accounts import Role
from server.people.audit import Actor
from server.teaching import impact
from server.web import dates
from tests.conftest import FakeClock, People, make_user, post, sign_in
from tests.server.teaching.test_teach import _fake_outcomes

pytestmark = pytest.mark.demo

SAFETY = "org.stepstone.demo.workplace-safety"
SYSTEM = Actor.system("test")
DAY = 86400


def day(offset: int) -> str:
    return (date.fromisoformat(clock.iso()[:10]) + timedelta(days=offset)).isoformat()


@pytest.fixture
def unit(database: Database, people: People, fake_clock: FakeClock) -> int:
    """Unit A with the educator and the learner; the clock at noon (UTC, the facility's)."""
    noon = datetime.fromtimestamp(clock.now(), UTC).replace(hour=12, minute=0, second=0)
    fake_clock.moment = noon.timestamp()
    group = groups.create_group(database, SYSTEM, "Unit A", "housing").id
    groups.add_member(database, SYSTEM, group, people.educator.id)
    groups.add_member(database, SYSTEM, group, people.learner.id)
    return group


def test_a_lockdown_over_a_due_date_moves_it_and_nobody_is_late(
    app: Starlette, database: Database, people: People, unit: int, fake_clock: FakeClock
) -> None:
    due, start = day(3), day(0)
    assignments.assign(database, SYSTEM, SAFETY, group_id=unit, due_date=due)
    fake_clock.advance(2 * DAY)  # noon, two days on: a day's lockdown, as an admin starts it
    admin = TestClient(app)
    sign_in(admin, people.admin)
    post(
        admin,
        "/admin/lockdowns",
        {"group": str(unit), "reason": "search", "hours": "24"},
        token_from="/admin/lockdowns",
    )
    fake_clock.advance(2 * DAY)  # a day past the date the educator set
    moved = (date.fromisoformat(start) + timedelta(days=5)).isoformat()  # two days touched

    learner = TestClient(app)
    sign_in(learner, people.learner)
    home = learner.get("/learn").text
    assert dates.long_date(moved, "UTC") in home and "Late" not in home

    teacher = TestClient(app)
    sign_in(teacher, people.educator)
    board = teacher.get(f"/teach/groups/{unit}").text
    assert f"Due {dates.long_date(moved, 'UTC')}" in board
    assert f"Moved from {dates.long_date(due, 'UTC')}: days lost to a lockdown" in board
    assert "cell-overdue" not in board and "2 days" in board  # the lockdowns section
    page = teacher.get(f"/teach/learners/{people.learner.id}").text
    assert "Moved from" in page and "Yes, 1 day" not in page
    rows = list(
        csv.DictReader(
            io.StringIO(teacher.get("/teach/exports/progress.csv").text.lstrip("\ufeff"))
        )
    )
    (row,) = [r for r in rows if r["course_id"] == SAFETY]
    assert (row["due_date"], row["due_date_set"], row["lockdown_days"], row["late"]) == (
        moved,
        due,
        "2",
        "no",
    )


def test_a_lockdown_ended_early_moves_the_date_only_by_what_really_happened(
    database: Database, people: People, unit: int, fake_clock: FakeClock, settings: Settings
) -> None:
    assignments.assign(database, SYSTEM, SAFETY, group_id=unit, due_date=day(1))
    fake_clock.advance(DAY)
    planned = lockdowns.start(database, SYSTEM, unit, "security", clock.now() + 3 * DAY)
    fake_clock.advance(3600)
    lockdowns.end(database, SYSTEM, planned.id)
    found = assignments_for(database, people.learner.id, 0, Continuity.load(database, settings))
    assert (found[SAFETY].due_date, found[SAFETY].moved_from) == (day(1), day(0))


def test_the_impact_report_marks_lockdown_days_and_can_leave_them_out(
    client: TestClient,
    people: People,
    database: Database,
    settings: Settings,
    fake_clock: FakeClock,
) -> None:
    _fake_outcomes(database, SAFETY, "2026-09", 12)  # started on the 1st, finished the 5th
    fake_clock.moment = datetime(2026, 9, 2, 12, tzinfo=UTC).timestamp()
    lockdowns.start(database, SYSTEM, None, "emergency", clock.now() + DAY)  # the 2nd and 3rd
    fake_clock.moment = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    plain = impact.build(database, settings, "stepstone-demo")
    september = next(r for r in plain["rows"] if r["month"] == "2026-09")
    assert (september["median_days_to_complete"], september["lockdown_days"]) == (4.0, 2)
    assert plain["disrupted_days_excluded"] is False
    fair = impact.build(database, settings, "stepstone-demo", exclude_disrupted=True)
    september = next(r for r in fair["rows"] if r["month"] == "2026-09")
    assert september["median_days_to_complete"] == 2.0
    assert "leave out the days" in fair["lockdowns"]
    assert impact.to_csv(fair).decode().splitlines()[0].endswith(",lockdown_days")
    sign_in(client, people.admin)
    page = client.get("/admin/reports/impact?publisher=stepstone-demo&exclude_disrupted=yes").text
    assert "Leave lockdown days out of days to complete" in page
    assert "impact.csv?publisher=stepstone-demo&amp;exclude_disrupted=yes" in page


def test_time_away_that_staff_record_moves_that_learners_due_date_only(
    app: Starlette,
    database: Database,
    settings: Settings,
    people: People,
    unit: int,
    fake_clock: FakeClock,
) -> None:
    other = make_user(database, Role.LEARNER, "C300", "Cy Learner")
    groups.add_member(database, SYSTEM, unit, other.id)
    due = day(2)
    assignments.assign(database, SYSTEM, SAFETY, group_id=unit, due_date=due)
    teacher = TestClient(app)
    sign_in(teacher, people.educator)
    page = f"/teach/learners/{people.learner.id}"
    refused = post(
        teacher,
        f"{page}/absences",
        {"reason": "court", "first_day": day(3), "last_day": day(1)},
        token_from=page,
    )
    assert "cannot be before the first" in refused.text
    post(
        teacher,
        f"{page}/absences",
        {"reason": "court", "first_day": day(1), "last_day": day(2)},
        token_from=page,
    )
    fake_clock.advance(3 * DAY)  # a day past the date the educator set
    sign_in(teacher, people.educator)  # again: three days is past the idle sign-out
    board = teacher.get(f"/teach/groups/{unit}").text
    moved_from = f"Moved from {dates.long_date(due, 'UTC')}: days lost to a lockdown or time away"
    assert moved_from in board  # in court
    assert board.count("cell-overdue") == 1  # Cy was not away: Cy is late
    learner_page = teacher.get(page).text
    assert "Court" in learner_page and "Moved from" in learner_page
    # The learners' own pages read only their own absences: the date moves for the one
    # who was in court, and not for Cy.
    (away,) = access.visible_courses(database, settings, people.learner, only=SAFETY)
    (stayed,) = access.visible_courses(database, settings, other, only=SAFETY)
    assert away.assignment is not None and stayed.assignment is not None
    two_days_later = (date.fromisoformat(due) + timedelta(days=2)).isoformat()
    assert away.assignment.due_date == two_days_later and away.assignment.moved_from == due
    assert stayed.assignment.due_date == due and stayed.assignment.moved_from is None
    (absence,) = absences.of_learner(database, people.learner.id)
    post(teacher, f"{page}/absences/{absence.id}/remove", token_from=page)
    assert "cell-overdue" in teacher.get(f"/teach/groups/{unit}").text
    assert teacher.get(f"/teach/groups/{unit}").text.count("cell-overdue") == 2
    audited = database.query(
        "SELECT action FROM audit_log WHERE action LIKE 'absence.%' ORDER BY id"
    )
    assert [r[0] for r in audited] == ["absence.record", "absence.remove"]


def test_a_learners_page_reads_only_their_own_time_away(
    app: Starlette,
    database: Database,
    people: People,
    unit: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The facility's absence rows grow with its history; a learner's page that moves a
    due date reads that learner's rows, not everyone's."""
    assignments.assign(database, SYSTEM, SAFETY, group_id=unit, due_date=day(5))
    absences.record(database, SYSTEM, people.other_learner.id, "medical", day(4), day(5))
    statements: list[str] = []
    query = Database.query

    def recorded(self: Database, sql: str, params: object = ()) -> list[sqlite3.Row]:
        statements.append(" ".join(sql.split()))
        return query(self, sql, params)

    learner = TestClient(app)
    sign_in(learner, people.learner)
    monkeypatch.setattr(Database, "query", recorded)
    page = learner.get(f"/learn/courses/{SAFETY}")
    assert page.status_code == 200 and "Due" in page.text
    read = [s for s in statements if "FROM learner_absences" in s]
    assert read and all("WHERE user_id = ?" in s for s in read), read
