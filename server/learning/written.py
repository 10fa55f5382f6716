"""Written tasks: a learner's own words on a prompt, graded by an educator with a rubric.

A written lesson holds one task (`content.format` kind ``written``): a prompt, a word
guide (shown with a live count, never a wall), a rubric of criteria × levels with points,
a pass mark in points, and whether the course needs it passed.

Each try is an *attempt* (`written_attempts`): a draft that autosaves the way workbook
drafts do (JavaScript posts a ``draft`` event every few seconds; without it the form's
"Save for later"), then sent. An educator of the learner's groups grades it
(`server.teaching.grading`): a level per criterion, the total, written feedback, and a
decision: **graded** (final) or **revise** (the learner writes a new attempt, starting
from the words they sent; earlier attempts stay as they were, read-only).

The lesson is done — and so counts toward the course and its certificate, which
`server.learning.progress` and `certificates` decide in one place — when the attempt is
sent, or, for a task the course requires (``required: true``), only once an attempt is
graded as passed (total ≥ pass mark). The grade's percent and pass go on the lesson's
progress like a quiz score.

An attempt belongs to one *owner* (`Owner`): a course's written lesson, or a writing task
an educator made inside a lesson plan (`learning.plan_writing`); drafts, sending, grading,
revise and resubmit and the thread are the same code for both. A plan task's attempt
touches no course progress: the plan reads its attempts to mark the item done.

Comments: each attempt has a thread between the learner and the educators of their
groups; text only, at most `MAX_COMMENT` characters, each one in the audit log. The
setting ``written_threads`` turns new comments off; those written stay readable to both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from content.format.lessondata import WrittenData
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import Settings
from server.learning import progress
from server.learning.access import Scope
from server.learning.visibility import Course, Lesson
from server.people import audit
from server.people.accounts import Role, User

MAX_TEXT = 20_000
MAX_COMMENT = 1_000
DRAFT, SUBMITTED, GRADED, REVISE = "draft", "submitted", "graded", "revise"
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def count_words(text: str) -> int:
    """Words as a reader counts them: "don't" and "part-time" are one word each."""
    return len(_WORD.findall(text))


def task_of(lesson: Lesson) -> WrittenData:
    if lesson.kind != "written" or lesson.data.written is None:
        raise NotFound()
    return lesson.data.written


@dataclass(frozen=True)
class Owner:
    """What an attempt answers: a course's written lesson, or a lesson plan's writing task
    (``task_id``); exactly one of the two, as the table's CHECK says."""

    course_id: str | None = None
    lesson_key: str | None = None
    task_id: int | None = None

    @staticmethod
    def lesson(course_id: str, lesson_key: str) -> Owner:
        return Owner(course_id=course_id, lesson_key=lesson_key)

    @staticmethod
    def plan_task(task_id: int) -> Owner:
        return Owner(task_id=task_id)

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition (and its parameters) that picks this owner's attempts."""
        if self.task_id is not None:
            return "task_id = ?", [self.task_id]
        return "course_id = ? AND lesson_key = ?", [self.course_id, self.lesson_key]


@dataclass
class Comment:
    id: int
    author: str
    staff: bool
    body: str
    created_at: str


@dataclass
class Attempt:
    id: int
    user_id: int
    course_id: str | None
    lesson_key: str | None
    version_id: int | None
    attempt: int
    status: str
    text: str
    words: int
    created_at: str
    updated_at: str
    submitted_at: str | None
    graded_at: str | None
    scores: dict[str, float]
    total: float | None
    max_points: float | None
    passed: bool | None
    feedback: str
    task_id: int | None = None  # a lesson plan's writing task (course and lesson None)
    comments: list[Comment] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.status == DRAFT

    @property
    def owner(self) -> Owner:
        if self.task_id is not None:
            return Owner.plan_task(self.task_id)
        return Owner.lesson(self.course_id or "", self.lesson_key or "")


def _attempt(row: Any) -> Attempt:
    return Attempt(
        id=row["id"],
        user_id=row["user_id"],
        course_id=row["course_id"],
        lesson_key=row["lesson_key"],
        version_id=row["version_id"],
        task_id=row["task_id"],
        attempt=row["attempt"],
        status=row["status"],
        text=row["text"],
        words=row["words"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        submitted_at=row["submitted_at"],
        graded_at=row["graded_at"],
        scores={str(k): float(v) for k, v in json.loads(row["scores"] or "{}").items()},
        total=row["total"],
        max_points=row["max_points"],
        passed=None if row["passed"] is None else bool(row["passed"]),
        feedback=row["feedback"],
    )


def comments_of(database: Database, attempt_ids: list[int]) -> dict[int, list[Comment]]:
    if not attempt_ids:
        return {}
    rows = database.query(
        "SELECT c.id, c.attempt_id, c.author_role, c.body, c.created_at,"
        " coalesce(u.display_name, '') AS author FROM written_comments c"
        " LEFT JOIN users u ON u.id = c.author_id"
        " WHERE c.attempt_id IN (SELECT value FROM json_each(?)) ORDER BY c.id",
        [json.dumps(attempt_ids)],
    )
    found: dict[int, list[Comment]] = {}
    for r in rows:
        found.setdefault(r["attempt_id"], []).append(
            Comment(r["id"], r["author"], r["author_role"] == "staff", r["body"], r["created_at"])
        )
    return found


def own_attempts(
    database: Database, user_id: int, course_id: str, lesson_key: str
) -> list[Attempt]:
    """The learner's attempts at a course's written lesson, newest first."""
    return attempts_of(database, user_id, Owner.lesson(course_id, lesson_key))


def attempts_of(database: Database, user_id: int, owner: Owner) -> list[Attempt]:
    """The learner's attempts at this task, newest first, each with its comments."""
    where, params = owner.where()
    rows = database.query(
        f"SELECT * FROM written_attempts WHERE user_id = ? AND {where}"  # noqa: S608 (fixed)
        " ORDER BY attempt DESC",
        [user_id, *params],
    )
    attempts = [_attempt(r) for r in rows]
    threads = comments_of(database, [a.id for a in attempts])
    for a in attempts:
        a.comments = threads.get(a.id, [])
    return attempts


def get(database: Database, attempt_id: int) -> Attempt:
    row = database.query_one("SELECT * FROM written_attempts WHERE id = ?", [attempt_id])
    if row is None:
        raise NotFound()
    found = _attempt(row)
    found.comments = comments_of(database, [found.id]).get(found.id, [])
    return found


def may_write(attempts: list[Attempt]) -> bool:
    """A new draft may be written: nothing yet, a draft open, or the educator asked for a
    revision of the newest attempt."""
    return not attempts or attempts[0].status in (DRAFT, REVISE)


def starting_text(attempts: list[Attempt]) -> str:
    """What the form shows: the open draft, or the words sent when a revision was asked."""
    if not attempts:
        return ""
    return attempts[0].text if attempts[0].status in (DRAFT, REVISE) else ""


def clean_text(raw: Any) -> str:
    text = raw if isinstance(raw, str) else ""
    if len(text) > MAX_TEXT:
        raise ValidationError(N_("Your writing can be at most 20,000 characters."))
    return text.replace("\r\n", "\n")


def save_draft_in(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson, raw: Any, now: float
) -> int:
    """Write the learner's draft of a course's written lesson (see `draft_in`)."""
    task_of(lesson)
    owner = Owner.lesson(course.course_id, lesson.key)
    return draft_in(db, user.id, owner, course.version_id, raw, now)


def draft_in(
    db: sqlite_utils.Database,
    user_id: int,
    owner: Owner,
    version_id: int | None,
    raw: Any,
    now: float,
) -> int:
    """Write the learner's draft (a new attempt when there is none open). Refused once the
    newest attempt is sent and no revision was asked. Returns the attempt id."""
    text = clean_text(raw)
    where, params = owner.where()
    row = db.execute(
        f"SELECT id, status, attempt FROM written_attempts WHERE user_id = ? AND {where}"  # noqa: S608 (fixed)
        " ORDER BY attempt DESC LIMIT 1",
        [user_id, *params],
    ).fetchone()
    stamp = clock.iso(now)
    if row is not None and row[1] == DRAFT:
        db.execute(
            "UPDATE written_attempts SET text = ?, words = ?,"
            " version_id = coalesce(?, version_id), updated_at = ? WHERE id = ?",
            [text, count_words(text), version_id, stamp, row[0]],
        )
        return int(row[0])
    if row is not None and row[1] != REVISE:
        raise ValidationError(N_("You already sent this. Wait for your teacher's answer."))
    cursor = db.execute(
        "INSERT INTO written_attempts (user_id, course_id, lesson_key, version_id, task_id,"
        " attempt, text, words, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            user_id,
            owner.course_id,
            owner.lesson_key,
            version_id,
            owner.task_id,
            (row[2] if row is not None else 0) + 1,
            text,
            count_words(text),
            stamp,
            stamp,
        ],
    )
    return int(cursor.lastrowid or 0)


def send_in(
    db: sqlite_utils.Database,
    user_id: int,
    owner: Owner,
    version_id: int | None,
    text: str,
    now: float,
) -> int:
    """Save the words and send them to be graded (an empty answer is refused)."""
    attempt_id = draft_in(db, user_id, owner, version_id, text, now)
    if not text.strip():
        raise ValidationError(N_("Write your answer before you send it."))
    db.execute(
        "UPDATE written_attempts SET status = 'submitted', submitted_at = ? WHERE id = ?",
        [clock.iso(now), attempt_id],
    )
    return attempt_id


def _apply_draft_in(
    db: sqlite_utils.Database,
    user: User,
    course: Course,
    lesson: Lesson,
    event: progress.Event,
    now: float,
) -> None:
    """An autosave: the lesson page sends the text as ``answers.text``, as workbook
    pages send their answers (the event keeps no copy of the words)."""
    answers = event.data.get("answers")
    if not isinstance(answers, dict):
        raise ValidationError("'data.answers' must be an object")
    save_draft_in(db, user, course, lesson, answers.get("text"), now)


progress.handle_events("draft", _apply_draft_in, kind="written")


def save(
    database: Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    text: str,
    event_id: str,
    submit: bool,
) -> None:
    """The plain form: save the draft, and send it when asked (once, however often the
    form is sent). Sending a task the course does not require completes the lesson."""
    task = task_of(lesson)
    now = clock.now()
    with database.write() as db:
        if not submit:
            event = progress.Event(
                event_id, "draft", course.course_id, lesson.key, data={"answers": {"text": text}}
            )
            progress.record_in(db, settings, user, course, lesson, event)
            return
        event = progress.Event(event_id, "submitted", course.course_id, lesson.key)
        if not progress.record_in(db, settings, user, course, lesson, event):
            return
        owner = Owner.lesson(course.course_id, lesson.key)
        send_in(db, user.id, owner, course.version_id, text, now)
        if not task.required:
            progress.complete_in(db, settings, user, course, lesson.key, now)


def record_grade_in(
    db: sqlite_utils.Database,
    settings: Settings,
    attempt: Attempt,
    learner: User,
    course: Course | None,
    task: WrittenData,
    scores: dict[str, float],
    feedback: str,
    revise: bool,
    grader_id: int | None,
) -> None:
    """Store an educator's grade on a sent attempt (checked by the caller against the
    rubric); a pass, or any grade of a task the course does not require, goes on the
    lesson's progress (``course`` None: a plan's task, or the course is no longer
    served, so only the grade is kept)."""
    total = round(sum(scores.values()), 2)
    passed = total >= task.pass_mark
    now = clock.now()
    changed = db.execute(
        "UPDATE written_attempts SET status = ?, scores = ?, total = ?, max_points = ?,"
        " passed = ?, feedback = ?, graded_at = ?, graded_by = ? WHERE id = ? AND status = ?",
        [
            REVISE if revise else GRADED,
            json.dumps(scores, sort_keys=True),
            total,
            task.max_points,
            passed,
            feedback,
            clock.iso(now),
            grader_id,
            attempt.id,
            SUBMITTED,
        ],
    ).rowcount
    if not changed:
        raise ValidationError(N_("This was graded already."))
    if course is None or revise or attempt.lesson_key is None:
        return
    percent = round(100 * total / task.max_points, 1) if task.max_points else 0.0
    if passed or not task.required:
        progress.complete_in(
            db, settings, learner, course, attempt.lesson_key, now, percent, passed
        )


# ---- Comments -------------------------------------------------------------------------


def comment(
    database: Database, settings: Settings, author: User, attempt_id: int, body: str, address: str
) -> Attempt:
    """Add a comment to an attempt's thread: by its learner, or by staff who may see the
    learner (an educator of one of their groups, an admin). Audited with the attempt."""
    if not settings.written_threads:
        raise ValidationError(N_("Comments are turned off at this facility."))
    attempt = get(database, attempt_id)
    if author.role is Role.LEARNER:
        if attempt.user_id != author.id:
            raise NotFound()
        learner = author
    else:
        learner = Scope.of(author).learner(database, attempt.user_id)
        if attempt.status == DRAFT:
            raise NotFound()
    text = body.strip()
    if not text:
        raise ValidationError(N_("Write a comment first."), "comment")
    if len(text) > MAX_COMMENT:
        raise ValidationError(N_("A comment can be at most 1,000 characters."), "comment")
    with database.write() as db:
        db.execute(
            "INSERT INTO written_comments (attempt_id, author_id, author_role, body, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                attempt.id,
                author.id,
                "learner" if author.role is Role.LEARNER else "staff",
                text,
                clock.iso(),
            ],
        )
        audit.record(
            db,
            author.actor(address),
            "written.comment",
            learner.label,
            attempt=attempt.id,
            **where_of(attempt),
        )
    return attempt


def where_of(attempt: Attempt) -> dict[str, Any]:
    """What an attempt answers, for the audit log: the course and lesson, or the plan's
    task."""
    if attempt.task_id is not None:
        return {"task": attempt.task_id}
    return {"course": attempt.course_id, "lesson": attempt.lesson_key}
