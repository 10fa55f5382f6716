"""What a learner may see: the catalog, courses, lessons and their files.

Visibility is one rule, written once here and used by every learner page, the media
route and (through `visible_version_ids`) search:

* the course has a live version, that version is approved, the course is not pulled,
  and its publisher is still trusted (a demo publisher only in demo mode);
* and the facility lets learners open any published course (`learner_catalog = "open"`)
  or the course is assigned to the learner, directly or through one of their groups.

Staff see every live course (they assign and review them) but never another learner's
private data; that rule lives with the data (see `server.learning.workbooks`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from content.format.lessondata import LessonData, stored_lesson_data
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound
from server.core.settings import Settings
from server.people.accounts import Role, User

CATEGORIES = ("education", "vocational", "cbt", "job-skills", "reentry", "substance-use")
CATEGORY_LABELS = {
    "education": N_("Education"),
    "vocational": N_("Job training"),
    "cbt": N_("Thinking and feelings (CBT)"),
    "job-skills": N_("Job skills"),
    "reentry": N_("Going home (reentry)"),
    "substance-use": N_("Drugs and alcohol"),
}
LEVEL_LABELS = {
    "beginner": N_("Beginner"),
    "intermediate": N_("Intermediate"),
    "advanced": N_("Advanced"),
}
LANGUAGE_LABELS = {"en": "English", "es": "Español"}

_LIVE_COURSES = """
    SELECT c.id AS course_pk, c.course_id, v.id AS version_id, v.version, v.title, v.summary,
           v.category, v.language, v.level, v.estimated_hours, v.credits,
           p.display_name AS publisher,
           (SELECT count(*) FROM lessons l WHERE l.version_id = v.id) AS lesson_count
    FROM courses c
    JOIN course_versions v ON v.id = c.live_version_id
    JOIN publishers p ON p.id = c.publisher_id
    WHERE c.pulled_at IS NULL AND v.status = 'approved' AND (p.demo = 0 OR :demo)
"""


@dataclass(frozen=True)
class Assignment:
    course_id: str
    due_date: str | None
    note: str
    lesson_key: str | None


@dataclass(frozen=True)
class Course:
    """The live version of a course, as the catalog shows it."""

    course_pk: int
    course_id: str
    version_id: int
    version: int
    title: str
    summary: str
    category: str
    language: str
    level: str
    estimated_hours: float
    credits: float
    publisher: str
    lesson_count: int
    assignment: Assignment | None = None
    enrolled: bool = False


@dataclass(frozen=True)
class Lesson:
    key: str
    position: int
    title: str
    kind: str
    html_sha256: str | None
    data: LessonData

    @property
    def summary(self) -> str:
        return self.data.summary

    @property
    def minutes(self) -> int | None:
        return self.data.estimated_minutes


def _course(row: sqlite3.Row, assignment: Assignment | None, enrolled: bool) -> Course:
    return Course(
        course_pk=row["course_pk"],
        course_id=row["course_id"],
        version_id=row["version_id"],
        version=row["version"],
        title=row["title"],
        summary=row["summary"],
        category=row["category"],
        language=row["language"],
        level=row["level"],
        estimated_hours=row["estimated_hours"],
        credits=row["credits"],
        publisher=row["publisher"],
        lesson_count=row["lesson_count"],
        assignment=assignment,
        enrolled=enrolled,
    )


def assignments_for(database: Database, user_id: int) -> dict[str, Assignment]:
    """Courses assigned to a learner, directly or through a group; the earliest due date
    wins when a course is assigned twice."""
    rows = database.query(
        "SELECT course_id, due_date, note, lesson_key FROM assignments"
        " WHERE user_id = :u OR group_id IN (SELECT group_id FROM group_members WHERE user_id = :u)"
        " ORDER BY due_date IS NULL, due_date, id",
        {"u": user_id},
    )
    found: dict[str, Assignment] = {}
    for row in rows:
        found.setdefault(
            row["course_id"],
            Assignment(row["course_id"], row["due_date"], row["note"], row["lesson_key"]),
        )
    return found


def enrolled_courses(database: Database, user_id: int) -> set[str]:
    rows = database.query("SELECT course_id FROM enrolments WHERE user_id = ?", [user_id])
    return {row["course_id"] for row in rows}


def visible_courses(
    database: Database, settings: Settings, user: User, only: str | None = None
) -> list[Course]:
    """Every course this user may open now, assigned ones first (by due date); `only`
    limits the answer to one course id (a page about one course needs no more)."""
    sql, params = _LIVE_COURSES, {"demo": settings.demo, "only": only}
    if only is not None:
        sql += " AND c.course_id = :only"
    rows = database.query(sql + " ORDER BY v.title", params)
    if user.role is not Role.LEARNER:
        return [_course(row, None, False) for row in rows]
    assigned = assignments_for(database, user.id)
    enrolled = enrolled_courses(database, user.id)
    open_catalog = settings.learner_catalog == "open"
    courses = [
        _course(row, assigned.get(row["course_id"]), row["course_id"] in enrolled)
        for row in rows
        if open_catalog or row["course_id"] in assigned
    ]
    return sorted(courses, key=_assigned_first)


def _assigned_first(course: Course) -> tuple[int, str, str]:
    if course.assignment is None:
        return (1, "", course.title.casefold())
    return (0, course.assignment.due_date or "9999", course.title.casefold())


def visible_course(database: Database, settings: Settings, user: User, course_id: str) -> Course:
    """The course if this user may open it; otherwise NotFound (never "forbidden": a
    learner should not learn that a hidden course exists)."""
    for course in visible_courses(database, settings, user, only=course_id):
        if course.course_id == course_id:
            return course
    raise NotFound(N_("This course is not available."))


def visible_version_ids(database: Database, settings: Settings, user: User) -> frozenset[int]:
    """The live course versions this user may see (search filters its hits by this)."""
    return frozenset(c.version_id for c in visible_courses(database, settings, user))


class _VersionCache:
    """Lessons and files of recently shown course versions, kept in memory.

    A version's rows are written once, at import, and never change (a new package is a
    new version), so caching them is safe; it saves parsing every lesson's JSON on every
    page. Keyed by database file and version id; the newest `size` versions are kept.
    Cached values are shared: callers must treat them as read-only.
    """

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, database: Database, kind: str, version_id: int, load: Any) -> Any:
        key = (str(database.path), kind, version_id)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


_CACHE = _VersionCache()


def lessons_of(database: Database, version_id: int) -> list[Lesson]:
    """The lessons of a course version, in order (cached: see `_VersionCache`)."""

    def load() -> list[Lesson]:
        rows = database.query(
            "SELECT key, position, title, kind, html_sha256, data FROM lessons"
            " WHERE version_id = ? ORDER BY position",
            [version_id],
        )
        return [
            Lesson(
                r["key"],
                r["position"],
                r["title"],
                r["kind"],
                r["html_sha256"],
                stored_lesson_data(r["data"]),
            )
            for r in rows
        ]

    return list(_CACHE.get(database, "lessons", version_id, load))


def lesson_of(lessons: list[Lesson], key: str) -> Lesson:
    for lesson in lessons:
        if lesson.key == key:
            return lesson
    raise NotFound(N_("This lesson is not in the course."))


def assets_of(database: Database, version_id: int) -> dict[str, dict[str, Any]]:
    """Package path → {sha256, size, media_type} for one course version (cached)."""

    def load() -> dict[str, dict[str, Any]]:
        rows = database.query(
            "SELECT path, sha256, size, media_type FROM assets WHERE version_id = ?",
            [version_id],
        )
        return {row["path"]: dict(row) for row in rows}

    return dict(_CACHE.get(database, "assets", version_id, load))


def media_for(
    database: Database, settings: Settings, user: User, sha256: str
) -> dict[str, Any] | None:
    """The asset with this digest if it belongs to a course version the user may see.

    The same rule as `visible_courses`, in one query: this runs for every media request
    (each seek of a video), so it must be cheap."""
    sql = (
        "SELECT a.path, a.sha256, a.size, a.media_type FROM assets a"
        " JOIN courses c ON c.live_version_id = a.version_id"
        " JOIN course_versions v ON v.id = a.version_id"
        " JOIN publishers p ON p.id = c.publisher_id"
        " WHERE a.sha256 = :sha AND c.pulled_at IS NULL AND v.status = 'approved'"
        " AND (p.demo = 0 OR :demo)"
    )
    if user.role is Role.LEARNER and settings.learner_catalog != "open":
        sql += (
            " AND c.course_id IN (SELECT course_id FROM assignments WHERE user_id = :user"
            " OR group_id IN (SELECT group_id FROM group_members WHERE user_id = :user))"
        )
    row = database.query_one(
        sql + " LIMIT 1", {"sha": sha256, "demo": settings.demo, "user": user.id}
    )
    return dict(row) if row is not None else None


def enrol(database: Database, settings: Settings, user: User, course_id: str) -> None:
    """Self-enrolment: adds an open course to the learner's own list."""
    visible_course(database, settings, user, course_id)
    with database.write() as db:
        db.execute(
            "INSERT OR IGNORE INTO enrolments (user_id, course_id, enrolled_at) VALUES (?, ?, ?)",
            [user.id, course_id, clock.iso()],
        )
