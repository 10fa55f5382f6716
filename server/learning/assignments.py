"""Assignments: a course (or one lesson of it) given to a learner or a whole group, with
an optional due date and note. A learner who joins a group later gets its assignments,
because they are read through group membership, never copied. Every change is audited.

A due date in the past is refused unless the educator confirms it (`past_due_ok`): it is
almost always a typo of the year, and it makes every learner late at once.

A learner who joins a group after one of its courses was assigned would be late at once,
or soon, through no fault of theirs. With the setting `due_after_joining_days` (N > 0),
their due date is N days after they joined, and never earlier than the group's date.
That date is worked out when read (`effective_due_sql`), never stored, so changing the
setting or the assignment changes every learner's date at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.audit import Actor


def _check_due(due_date: str | None, past_due_ok: bool = False) -> str | None:
    if not due_date:
        return None
    try:
        due = date.fromisoformat(due_date.strip()).isoformat()
    except ValueError:
        raise ValidationError(N_("Write the date like 2026-12-31."), "due_date") from None
    if due < clock.iso()[:10] and not past_due_ok:
        raise ValidationError(
            N_(
                "That due date is in the past, so learners would be late at once. Choose a"
                ' later date, or tick "Yes, set a date in the past".'
            ),
            "due_date",
        )
    return due


def effective_due_sql(after_joining_days: int) -> str:
    """The due date of an assignment `a` for a member `m` of its group, in SQL: the
    group's date, or, with `after_joining_days`, at least that many days after a member
    joined once the course was already assigned."""
    if after_joining_days <= 0:
        return "a.due_date"
    return (
        "CASE WHEN a.due_date IS NOT NULL AND m.added_at > a.created_at THEN"
        f" max(a.due_date, date(m.added_at, '+{int(after_joining_days)} days'))"
        " ELSE a.due_date END"
    )


def learner_courses_sql(after_joining_days: int) -> str:
    """Every (user_id, course_id, due_date, assigned_at) a learner has to do, directly or
    through a group, in SQL: one row per assignment, to be grouped by the caller (the
    earliest due date wins; `min` skips a missing one)."""
    return (
        "SELECT a.user_id, a.course_id, a.due_date, a.created_at AS assigned_at"
        " FROM assignments a WHERE a.user_id IS NOT NULL"
        " UNION ALL"
        f" SELECT m.user_id, a.course_id, {effective_due_sql(after_joining_days)},"
        " a.created_at FROM assignments a JOIN group_members m ON m.group_id = a.group_id"
    )


def assign_in(
    db: sqlite_utils.Database,
    actor: Actor,
    course_id: str,
    *,
    user_id: int | None = None,
    group_id: int | None = None,
    due_date: str | None = None,
    note: str = "",
    lesson_key: str | None = None,
    past_due_ok: bool = False,
) -> int:
    """Record one assignment inside the caller's transaction; returns its id."""
    if (user_id is None) == (group_id is None):
        raise ValueError("assign to exactly one learner or one group")
    due = _check_due(due_date, past_due_ok)
    cursor = db.execute(
        "INSERT INTO assignments (course_id, lesson_key, user_id, group_id, due_date, note,"
        " assigned_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [course_id, lesson_key, user_id, group_id, due, note.strip()[:500], actor.id, clock.iso()],
    )
    target = f"user:{user_id}" if user_id is not None else f"group:{group_id}"
    past = {"past_due": True} if due is not None and due < clock.iso()[:10] else {}
    audit.record(
        db, actor, "assignment.add", target, course=course_id, due=due, lesson=lesson_key, **past
    )
    return int(cursor.lastrowid or 0)


def assign(
    database: Database,
    actor: Actor,
    course_id: str,
    *,
    learners: Sequence[int] = (),
    group_id: int | None = None,
    due_date: str | None = None,
    note: str = "",
    lesson_key: str | None = None,
    past_due_ok: bool = False,
) -> None:
    """Assign the course to each of ``learners`` or, when none is named, to the group:
    all of them or none. A due date in the past needs ``past_due_ok``."""
    targets: list[tuple[int | None, int | None]] = [(lid, None) for lid in learners]
    with database.write() as db:
        for user_id, to_group in targets or [(None, group_id)]:
            assign_in(
                db,
                actor,
                course_id,
                user_id=user_id,
                group_id=to_group,
                due_date=due_date,
                note=note,
                lesson_key=lesson_key,
                past_due_ok=past_due_ok,
            )


@dataclass(frozen=True)
class Assignment:
    id: int
    course_id: str
    user_id: int | None
    group_id: int | None

    @property
    def target(self) -> str:
        """Who it is for, as the audit log names it."""
        return f"group:{self.group_id}" if self.group_id else f"user:{self.user_id}"


def get(database: Database, assignment_id: int) -> Assignment:
    row = database.query_one(
        "SELECT id, course_id, user_id, group_id FROM assignments WHERE id = ?", [assignment_id]
    )
    if row is None:
        raise NotFound()
    return Assignment(row["id"], row["course_id"], row["user_id"], row["group_id"])


def remove(database: Database, actor: Actor, assignment: Assignment) -> None:
    """Take the assignment back (progress made on the course stays)."""
    with database.write() as db:
        db.execute("DELETE FROM assignments WHERE id = ?", [assignment.id])
        audit.record(db, actor, "assignment.remove", assignment.target, course=assignment.course_id)
