"""The catalog as the learning pages read it: courses, lessons, their files and labels.

Which of these a person may see is not decided here but in `server.learning.access`,
the one place every object-level rule is written; this module reads the rows (lessons
and files of a version are cached, since a version never changes) and a learner's
assignments and enrolments, which that rule needs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from content.format.lessondata import LessonData, stored_lesson_data
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound
from server.learning import assignments
from server.learning.continuity import Continuity, Due
from server.people.accounts import User

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
LANGUAGE_LABELS = {"en": "English", "es": "Español"}  # each in its own language
# The same, in the reader's language, for sentences ("This course is in English.").
LANGUAGE_NAMES = {"en": N_("English"), "es": N_("Spanish")}


@dataclass(frozen=True)
class Assignment:
    course_id: str
    due_date: str | None
    note: str
    lesson_key: str | None
    assigned_at: str = ""  # when it was last given (ISO UTC): "new" on the home page
    moved_from: str | None = None  # the date the educator set, when a lockdown moved it


@dataclass(frozen=True)
class Cover:
    """A course's cover picture: a stored file (served like any media) and its alt text."""

    path: str
    sha256: str
    alt: str


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
    cover: Cover | None = None
    # The same course in other languages, as its publisher named them: language → id.
    editions: dict[str, str] = field(default_factory=dict)


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


def make_course(row: sqlite3.Row, assignment: Assignment | None, enrolled: bool) -> Course:
    """A course from a row of the catalog query in `server.learning.access`."""
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
        cover=Cover(row["cover"], row["cover_sha256"], row["cover_alt"])
        if row["cover"] and row["cover_sha256"]
        else None,
        editions=_editions(row["editions"]),
    )


def _editions(text: str | None) -> dict[str, str]:
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if isinstance(v, str)}


def assignments_for(
    database: Database,
    user_id: int,
    after_joining_days: int = 0,
    continuity: Continuity | Callable[[], Continuity] | None = None,
) -> dict[str, Assignment]:
    """Courses assigned to a learner, directly or through a group; the earliest due date
    wins when a course is assigned twice. With `after_joining_days`, a group's course
    assigned before the learner joined is due that many days after joining (see
    `server.learning.assignments`); with `continuity`, due dates move past lockdowns
    (`server.learning.continuity`). `continuity` may be a function that loads it: it is
    called only when an assignment has a due date (most pages have none to move)."""
    rows = database.query(
        f"SELECT a.course_id, {assignments.effective_due_sql(after_joining_days)} AS due,"
        " a.note, a.lesson_key, a.created_at FROM assignments a"
        " LEFT JOIN group_members m ON m.group_id = a.group_id AND m.user_id = :u"
        " WHERE a.user_id = :u OR m.user_id IS NOT NULL"
        " ORDER BY due IS NULL, due, a.id",
        {"u": user_id},
    )
    moves: Continuity | None = None
    member_of: frozenset[int] = frozenset()
    if continuity is not None and any(row["due"] for row in rows):
        moves = continuity if isinstance(continuity, Continuity) else continuity()
        member_of = frozenset(
            r[0]
            for r in database.query(
                "SELECT group_id FROM group_members WHERE user_id = ?", [user_id]
            )
        )
    found: dict[str, Assignment] = {}
    newest: dict[str, str] = {}
    for row in rows:
        due = Due(row["due"], row["due"])
        if moves is not None:
            due = moves.due(row["due"], member_of, row["created_at"], user_id)
        kept = found.get(row["course_id"])
        if kept is None or (
            due.effective and (kept.due_date is None or due.effective < kept.due_date)
        ):
            found[row["course_id"]] = Assignment(
                row["course_id"],
                due.effective,
                row["note"],
                row["lesson_key"],
                moved_from=due.original if due.moved else None,
            )
        newest[row["course_id"]] = max(newest.get(row["course_id"], ""), row["created_at"])
    return {cid: replace(a, assigned_at=newest[cid]) for cid, a in found.items()}


def enrolled_courses(database: Database, user_id: int) -> set[str]:
    rows = database.query("SELECT course_id FROM enrolments WHERE user_id = ?", [user_id])
    return {row["course_id"] for row in rows}


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


def enrol(database: Database, user: User, course: Course) -> None:
    """Self-enrolment: adds a course the learner may open (`server.learning.access`) to
    their own list."""
    with database.write() as db:
        db.execute(
            "INSERT OR IGNORE INTO enrolments (user_id, course_id, enrolled_at) VALUES (?, ?, ?)",
            [user.id, course.course_id, clock.iso()],
        )
