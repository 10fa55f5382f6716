"""The educator's dashboards: a group, a course, a learner.

Each is drawn for a `Scope` (`server.learning.access`): an educator works with the
groups they belong to and the learners in those groups; an admin sees everyone. Queries
filter by `Scope.learners_sql`, so a board over thousands of learners filters inside
SQLite instead of in Python.

Dashboards read the pre-aggregated tables (`lesson_progress`, `weekly_time`,
`certificates`, `quiz_attempts`), never the raw event log, so they stay fast with
millions of events. A learner's private workbook answers are not reachable from here:
workbook entries are read through `server.learning.workbooks.shared_answers` only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import mean
from typing import Any

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound
from server.learning import visibility, workbooks
from server.learning.access import Scope
from server.learning.continuity import Continuity, Disruption, Due
from server.people.accounts import User
from server.people.groups import Group, groups_of


def group_learners(database: Database, group_id: int) -> list[User]:
    rows = database.query(
        "SELECT u.* FROM users u JOIN group_members m ON m.user_id = u.id"
        " WHERE m.group_id = ? AND u.role = 'learner' ORDER BY u.display_name",
        [group_id],
    )
    return [User.from_row(r) for r in rows]


def live_lesson_counts(database: Database, course_ids: list[str] | None = None) -> dict[str, int]:
    sql = (
        "SELECT c.course_id, count(l.id) FROM courses c"
        " JOIN lessons l ON l.version_id = c.live_version_id"
    )
    params: list[Any] = []
    if course_ids is not None:
        if not course_ids:
            return {}
        sql += f" WHERE c.course_id IN ({','.join('?' * len(course_ids))})"
        params = list(course_ids)
    rows = database.query(sql + " GROUP BY c.course_id", params)
    return {row[0]: int(row[1]) for row in rows}


def course_titles(database: Database) -> dict[str, str]:
    rows = database.query(
        "SELECT c.course_id, v.title FROM courses c JOIN course_versions v"
        " ON v.id = c.live_version_id"
    )
    return {row[0]: row[1] for row in rows}


# ---- Group dashboard ----------------------------------------------------------------


@dataclass
class Cell:
    """One learner × one assigned course."""

    done: int
    total: int
    due_date: str | None
    completed: bool
    started: bool
    moved_from: str | None = None  # the date the educator set, when a lockdown moved it

    @property
    def status(self) -> str:
        if self.completed:
            return "done"
        if self.due_date and self.due_date < clock.iso()[:10]:
            return "overdue"
        return "started" if self.started else "not-started"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


DISRUPTIONS_SHOWN_DAYS = 60

STATUS_LABELS = {
    "done": N_("Done"),
    "overdue": N_("Late"),
    "started": N_("Started"),
    "not-started": N_("Not started"),
}


@dataclass
class GroupBoard:
    group: Group
    courses: list[tuple[str, str]]  # (course id, title), in column order
    rows: list[tuple[User, dict[str, Cell]]]
    assignments: list[dict[str, Any]]
    # Lockdowns of this group or the facility in the last DISRUPTIONS_SHOWN_DAYS days.
    disruptions: list[Disruption] = field(default_factory=list)

    def overdue_count(self, user: User) -> int:
        cells = dict(self.rows).get(user, {})
        return sum(1 for c in cells.values() if c.status == "overdue")


def group_board(
    database: Database,
    scope: Scope,
    group_id: int,
    sort: str = "",
    only: str = "",
    after_joining_days: int = 0,
    continuity: Continuity | None = None,
) -> GroupBoard:
    """The board of one group; `sort` by "name" or "progress" (default: late first),
    `only` a status ("overdue", "not-started", "started", "done") to keep learners with
    at least one course in that state. With `after_joining_days`, a learner who joined
    after a course was assigned to the group has that long from joining (the setting
    `due_after_joining_days`, see `server.learning.assignments`)."""
    group = scope.group(database, group_id)
    learners = group_learners(database, group.id)
    joined = {
        r["user_id"]: r["added_at"]
        for r in database.query(
            "SELECT user_id, added_at FROM group_members WHERE group_id = ?", [group.id]
        )
    }
    ids = [u.id for u in learners]
    marks = ",".join("?" * len(ids)) or "NULL"
    member_of: dict[int, frozenset[int]] = {}
    for r in database.query(
        f"SELECT user_id, group_concat(group_id) FROM group_members WHERE user_id IN ({marks})"
        " GROUP BY user_id",
        ids,
    ):
        member_of[r[0]] = frozenset(int(g) for g in str(r[1]).split(","))
    assigned = database.query(
        "SELECT a.id, a.course_id, a.user_id, a.group_id, a.due_date, a.note, a.lesson_key,"
        " a.created_at, u.display_name AS learner_name FROM assignments a"
        " LEFT JOIN users u ON u.id = a.user_id"
        f" WHERE a.group_id = ? OR a.user_id IN ({marks}) ORDER BY a.due_date IS NULL,"
        " a.due_date, a.id",
        [group.id, *ids],
    )
    titles = course_titles(database)
    course_ids: list[str] = []
    for row in assigned:
        if row["course_id"] not in course_ids and row["course_id"] in titles:
            course_ids.append(row["course_id"])
    totals = live_lesson_counts(database, course_ids)
    done = _done_counts(database, ids, course_ids)
    finished = _finished(database, ids, course_ids)
    rows = []
    for learner in learners:
        cells = {}
        for course_id in course_ids:
            joined_at = joined.get(learner.id)
            moves = (continuity, member_of.get(learner.id, frozenset())) if continuity else None
            due = _due_for(
                assigned, learner.id, group.id, course_id, joined_at, after_joining_days, moves
            )
            if not isinstance(due, Due):
                continue
            count, started = done.get((learner.id, course_id), (0, False))
            cells[course_id] = Cell(
                count,
                totals.get(course_id, 0),
                due.effective,
                (learner.id, course_id) in finished,
                started,
                due.original if due.moved else None,
            )
        rows.append((learner, cells))
    rows = _sorted_rows(rows, sort)
    if only in STATUS_LABELS:
        rows = [row for row in rows if any(c.status == only for c in row[1].values())]
    recent = []
    if continuity is not None:
        today = date.fromisoformat(clock.iso()[:10])
        since = today - timedelta(days=DISRUPTIONS_SHOWN_DAYS)
        recent = [d for d in continuity.touching(since, today) if d.covers(frozenset({group.id}))]
    return GroupBoard(
        group, [(c, titles[c]) for c in course_ids], rows, [dict(r) for r in assigned], recent
    )


_NOT_ASSIGNED = object()


def _due_for(
    assigned: list[Any],
    learner_id: int,
    group_id: int,
    course_id: str,
    joined_at: str | None = None,
    after_joining_days: int = 0,
    moves: tuple[Continuity, frozenset[int]] | None = None,
) -> Due | object:
    """The learner's earliest due date of a course, as a `Due` (moved by lockdowns when
    `moves` gives the facility's lockdowns and the learner's groups)."""
    found: object = _NOT_ASSIGNED
    for row in assigned:
        if row["course_id"] != course_id:
            continue
        if row["group_id"] == group_id or row["user_id"] == learner_id:
            due = row["due_date"]
            if due and row["group_id"] == group_id and joined_at and after_joining_days > 0:
                due = _due_after_joining(due, row["created_at"], joined_at, after_joining_days)
            moved = (
                moves[0].due(due, moves[1], row["created_at"], learner_id)
                if moves
                else Due(due, due)
            )
            best = found if isinstance(found, Due) else None
            if best is None or (
                moved.effective and (best.effective is None or moved.effective < best.effective)
            ):
                found = moved
    return found


def _due_after_joining(due: str, assigned_at: str, joined_at: str, days: int) -> str:
    """The same rule as `assignments.effective_due_sql`, for one learner."""
    if joined_at <= assigned_at:
        return due
    return max(due, (date.fromisoformat(joined_at[:10]) + timedelta(days=days)).isoformat())


def _sorted_rows(
    rows: list[tuple[User, dict[str, Cell]]], sort: str
) -> list[tuple[User, dict[str, Cell]]]:
    def overdue(row: tuple[User, dict[str, Cell]]) -> int:
        return -sum(1 for c in row[1].values() if c.status == "overdue")

    def progress(row: tuple[User, dict[str, Cell]]) -> float:
        cells = row[1].values()
        return mean(c.percent for c in cells) if cells else 0.0

    if sort == "name":
        return sorted(rows, key=lambda r: r[0].display_name.casefold())
    if sort == "progress":
        return sorted(rows, key=progress)
    return sorted(rows, key=lambda r: (overdue(r), r[0].display_name.casefold()))


def _done_counts(
    database: Database, user_ids: list[int], course_ids: list[str]
) -> dict[tuple[int, str], tuple[int, bool]]:
    if not user_ids or not course_ids:
        return {}
    rows = database.query(
        "SELECT user_id, course_id, sum(status = 'done'), count(*) FROM lesson_progress"
        f" WHERE user_id IN ({','.join('?' * len(user_ids))})"
        f" AND course_id IN ({','.join('?' * len(course_ids))}) GROUP BY user_id, course_id",
        [*user_ids, *course_ids],
    )
    return {(r[0], r[1]): (int(r[2]), r[3] > 0) for r in rows}


def _finished(
    database: Database, user_ids: list[int], course_ids: list[str]
) -> set[tuple[int, str]]:
    if not user_ids or not course_ids:
        return set()
    rows = database.query(
        "SELECT user_id, course_id FROM certificates WHERE revoked_at IS NULL"
        f" AND user_id IN ({','.join('?' * len(user_ids))})"
        f" AND course_id IN ({','.join('?' * len(course_ids))})",
        [*user_ids, *course_ids],
    )
    return {(r[0], r[1]) for r in rows}


# ---- Course dashboard ---------------------------------------------------------------


@dataclass
class LessonFunnel:
    key: str
    title: str
    kind: str
    started: int
    done: int


@dataclass
class CourseBoard:
    course_id: str
    title: str
    learners: int
    finished: int
    funnel: list[LessonFunnel]
    score_buckets: list[int]  # ten buckets: 0-9 … 90-100, best score per learner and quiz
    pre_post: dict[str, Any] | None


def course_board(database: Database, scope: Scope, course_id: str) -> CourseBoard:
    row = database.query_one(
        "SELECT c.live_version_id, v.title FROM courses c JOIN course_versions v"
        " ON v.id = c.live_version_id WHERE c.course_id = ?",
        [course_id],
    )
    if row is None:
        raise NotFound()
    lessons = visibility.lessons_of(database, row["live_version_id"])
    where, params = scope.learners_sql("p.user_id")
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for r in database.query(
        "SELECT p.lesson_key, p.status, count(*) FROM lesson_progress p"
        f" WHERE p.course_id = :course AND {where} GROUP BY p.lesson_key, p.status",
        {"course": course_id, **params},
    ):
        counts[r[0]][r[1]] = int(r[2])
    funnel = [
        LessonFunnel(
            x.key,
            x.title,
            x.kind,
            counts[x.key].get("in_progress", 0) + counts[x.key].get("done", 0),
            counts[x.key].get("done", 0),
        )
        for x in lessons
    ]
    learners = database.query_one(
        "SELECT count(DISTINCT p.user_id) FROM lesson_progress p"
        f" WHERE p.course_id = :course AND {where}",
        {"course": course_id, **params},
    )
    cwhere, cparams = scope.learners_sql("c.user_id")
    finished = database.query_one(
        "SELECT count(*) FROM certificates c WHERE c.course_id = :course"
        f" AND c.revoked_at IS NULL AND {cwhere}",
        {"course": course_id, **cparams},
    )
    best = _best_scores(database, scope, course_id)
    buckets = [0] * 10
    for score in (s for scores in best.values() for s in scores.values()):
        buckets[min(int(score // 10), 9)] += 1
    return CourseBoard(
        course_id,
        row["title"],
        int(learners[0]) if learners else 0,
        int(finished[0]) if finished else 0,
        funnel,
        buckets,
        _pre_post(lessons, best),
    )


def _best_scores(database: Database, scope: Scope, course_id: str) -> dict[str, dict[int, float]]:
    """lesson key → learner → best submitted score."""
    where, params = scope.learners_sql("a.user_id")
    rows = database.query(
        "SELECT a.lesson_key, a.user_id, max(a.score) FROM quiz_attempts a"
        f" WHERE a.course_id = :course AND a.submitted_at IS NOT NULL AND {where}"
        " GROUP BY a.lesson_key, a.user_id",
        {"course": course_id, **params},
    )
    best: dict[str, dict[int, float]] = defaultdict(dict)
    for r in rows:
        best[r[0]][r[1]] = float(r[2])
    return best


def _pre_post(
    lessons: list[visibility.Lesson], best: dict[str, dict[int, float]]
) -> dict[str, Any] | None:
    pre = next((x.key for x in lessons if x.data.assessment == "pre"), None)
    post = next((x.key for x in lessons if x.data.assessment == "post"), None)
    if pre is None or post is None:
        return None
    both = set(best.get(pre, {})) & set(best.get(post, {}))
    if not both:
        return {"learners": 0, "pre": None, "post": None, "change": None}
    before = mean(best[pre][u] for u in both)
    after = mean(best[post][u] for u in both)
    return {
        "learners": len(both),
        "pre": round(before, 1),
        "post": round(after, 1),
        "change": round(after - before, 1),
    }


# ---- Learner dashboard --------------------------------------------------------------

TIMELINE_TYPES = ("started", "completed", "passed", "failed", "submitted")


@dataclass
class LearnerBoard:
    learner: User
    groups: list[Group]
    courses: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    weeks: list[tuple[str, float]]
    attempts: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    certificates: list[dict[str, Any]]
    activities: list[dict[str, Any]]


def learner_board(
    database: Database,
    scope: Scope,
    learner_id: int,
    after_joining_days: int = 0,
    continuity: Continuity | None = None,
) -> LearnerBoard:
    """One learner's page: their courses (those they started, then those assigned and
    not started yet, with due dates), activity, quiz tries, shared workbook pages and
    certificates."""
    learner = scope.learner(database, learner_id)
    titles = course_titles(database)
    progress_rows = database.query(
        "SELECT course_id, sum(status = 'done') AS done, sum(seconds_spent) AS seconds,"
        " max(updated_at) AS last FROM lesson_progress WHERE user_id = ? GROUP BY course_id"
        " ORDER BY last DESC",
        [learner.id],
    )
    # Every lesson a learner has an event, try or page in has a progress row too.
    lessons_by_course = _lesson_titles(database, [r["course_id"] for r in progress_rows])
    totals = live_lesson_counts(database, [r["course_id"] for r in progress_rows])
    assigned = visibility.assignments_for(database, learner.id, after_joining_days, continuity)
    finished = {
        r[0]
        for r in database.query(
            "SELECT course_id FROM certificates WHERE user_id = ? AND revoked_at IS NULL",
            [learner.id],
        )
    }
    courses = [
        {
            "course_id": r["course_id"],
            "title": titles.get(r["course_id"], r["course_id"]),
            "started": True,
            "done": int(r["done"]),
            "total": totals.get(r["course_id"], 0),
            "minutes": round(float(r["seconds"]) / 60),
            "last": r["last"],
            **_due(assigned.get(r["course_id"]), r["course_id"] in finished),
        }
        for r in progress_rows
    ]
    started = {c["course_id"] for c in courses}
    not_started = [a for a in assigned.values() if a.course_id not in started]
    totals |= live_lesson_counts(database, [a.course_id for a in not_started])
    courses += [
        {
            "course_id": a.course_id,
            "title": titles.get(a.course_id, a.course_id),
            "started": False,
            "done": 0,
            "total": totals.get(a.course_id, 0),
            "minutes": 0,
            "last": "",
            **_due(a, a.course_id in finished),
        }
        for a in not_started
        if a.course_id in titles
    ]
    marks = ",".join("?" * len(TIMELINE_TYPES))
    timeline = [
        {
            "at": r["received_at"],
            "type": r["type"],
            "course": titles.get(r["course_id"], r["course_id"]),
            "lesson": lessons_by_course.get((r["course_id"], r["lesson_key"]), r["lesson_key"]),
            "score": json.loads(r["data"]).get("score"),
        }
        for r in database.query(
            "SELECT received_at, type, course_id, lesson_key, data FROM progress_events"
            f" WHERE user_id = ? AND type IN ({marks}) ORDER BY id DESC LIMIT 40",
            [learner.id, *TIMELINE_TYPES],
        )
    ]
    weeks = [
        (r["week"], round(float(r["seconds"]) / 60, 1))
        for r in database.query(
            "SELECT week, seconds FROM weekly_time WHERE user_id = ? ORDER BY week DESC LIMIT 12",
            [learner.id],
        )
    ][::-1]
    attempts = [
        {
            "course": titles.get(r["course_id"], r["course_id"]),
            "lesson": lessons_by_course.get((r["course_id"], r["lesson_key"]), r["lesson_key"]),
            "score": r["score"],
            "passed": bool(r["passed"]),
            "at": r["submitted_at"],
        }
        for r in database.query(
            "SELECT course_id, lesson_key, score, passed, submitted_at FROM quiz_attempts"
            " WHERE user_id = ? AND submitted_at IS NOT NULL ORDER BY id DESC LIMIT 50",
            [learner.id],
        )
    ]
    entries = []
    for r in database.query(
        "SELECT id, course_id, lesson_key, version_id, status, submitted_at FROM workbook_entries"
        " WHERE user_id = ? AND status != 'draft' ORDER BY id DESC LIMIT 50",
        [learner.id],
    ):
        shared = workbooks.shared_answers(database, r["id"])
        if shared is None or not shared.answers:
            continue  # only private answers: nothing here for staff
        entries.append(
            {
                "id": r["id"],
                "course": titles.get(r["course_id"], r["course_id"]),
                "lesson": lessons_by_course.get((r["course_id"], r["lesson_key"]), r["lesson_key"]),
                "status": r["status"],
                "submitted_at": r["submitted_at"],
            }
        )
    certs = [
        dict(r)
        for r in database.query(
            "SELECT code, course_title, completed_at, hours FROM certificates"
            " WHERE user_id = ? AND revoked_at IS NULL ORDER BY completed_at DESC",
            [learner.id],
        )
    ]
    return LearnerBoard(
        learner,
        groups_of(database, learner.id),
        courses,
        timeline,
        weeks,
        attempts,
        entries,
        certs,
        _activities(database, learner.id),
    )


# Lessons whose result the learner's tablet reports from the content itself: an
# activity's "done", a SCORM package's status and score, H5P's statements.
INTERACTIVE_KINDS = ("html5", "scorm", "h5p")


def _activities(database: Database, learner_id: int) -> list[dict[str, Any]]:
    """The learner's interactive lessons in the live versions of their courses: done or
    not, the score and whether it passed (as the content reported it), newest first."""
    titles = course_titles(database)
    marks = ",".join("?" * len(INTERACTIVE_KINDS))
    return [
        {
            "course": titles.get(r["course_id"], r["course_id"]),
            "lesson": r["title"],
            "done": r["status"] == "done",
            "score": r["score"],
            "passed": None if r["passed"] is None else bool(r["passed"]),
            "at": r["completed_at"] or r["updated_at"],
        }
        for r in database.query(
            "SELECT p.course_id, l.title, p.status, p.score, p.passed, p.completed_at,"
            " p.updated_at FROM lesson_progress p"
            " JOIN courses c ON c.course_id = p.course_id"
            " JOIN lessons l ON l.version_id = c.live_version_id AND l.key = p.lesson_key"
            f" WHERE p.user_id = ? AND l.kind IN ({marks}) ORDER BY p.updated_at DESC LIMIT 50",
            [learner_id, *INTERACTIVE_KINDS],
        )
    ]


def _due(assignment: visibility.Assignment | None, finished: bool) -> dict[str, Any]:
    """The due date and, when it has passed with the course not finished, the days late."""
    due = assignment.due_date if assignment is not None else None
    today = clock.iso()[:10]
    late = 0
    if due and not finished and due < today:
        late = (date.fromisoformat(today) - date.fromisoformat(due)).days
    moved_from = assignment.moved_from if assignment is not None else None
    return {"due": due or "", "days_late": late, "moved_from": moved_from or ""}


def _lesson_titles(database: Database, course_ids: list[str]) -> dict[tuple[str, str], str]:
    """Lesson titles of the live versions of these courses (a learner's own, not all)."""
    if not course_ids:
        return {}
    rows = database.query(
        "SELECT c.course_id, l.key, l.title FROM courses c"
        " JOIN lessons l ON l.version_id = c.live_version_id"
        f" WHERE c.course_id IN ({','.join('?' * len(course_ids))})",
        course_ids,
    )
    return {(r[0], r[1]): r[2] for r in rows}
