"""Assignments: a course (or one lesson of it) given to a learner or a whole group, with
an optional due date and note. A learner who joins a group later gets its assignments,
because they are read through group membership, never copied. Every change is audited.
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


def _check_due(due_date: str | None) -> str | None:
    if not due_date:
        return None
    try:
        return date.fromisoformat(due_date.strip()).isoformat()
    except ValueError:
        raise ValidationError(N_("Write the date like 2026-12-31."), "due_date") from None


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
) -> int:
    """Record one assignment inside the caller's transaction; returns its id."""
    if (user_id is None) == (group_id is None):
        raise ValueError("assign to exactly one learner or one group")
    due = _check_due(due_date)
    cursor = db.execute(
        "INSERT INTO assignments (course_id, lesson_key, user_id, group_id, due_date, note,"
        " assigned_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [course_id, lesson_key, user_id, group_id, due, note.strip()[:500], actor.id, clock.iso()],
    )
    target = f"user:{user_id}" if user_id is not None else f"group:{group_id}"
    audit.record(db, actor, "assignment.add", target, course=course_id, due=due, lesson=lesson_key)
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
) -> None:
    """Assign the course to each of ``learners`` or, when none is named, to the group:
    all of them or none."""
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
