"""Assignments: a course (or one lesson of it) given to a learner or a whole group, with
an optional due date and note. A learner who joins a group later gets its assignments,
because they are read through group membership, never copied. Every change is audited.
"""

from __future__ import annotations

from datetime import date

import sqlite_utils

from server.core import clock
from server.core.errors import N_, ValidationError
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
