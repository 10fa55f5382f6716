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

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.accounts import User
from server.people.audit import Actor


def check_due(due_date: str | None, past_due_ok: bool = False) -> str | None:
    """A due date as written (ISO), None when empty; a date in the past is refused
    unless `past_due_ok` (course assignments and lesson plans share this rule)."""
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
    due = check_due(due_date, past_due_ok)
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


def assign_each(
    database: Database,
    actor: Actor,
    plan: Sequence[tuple[int, str]],
    *,
    due_date: str | None = None,
    note: str = "",
    past_due_ok: bool = False,
) -> None:
    """Give each learner their own course, as (learner id, course id) pairs, all or none:
    the same course in each learner's language (see `language_mismatches`)."""
    with database.write() as db:
        for user_id, course_id in plan:
            assign_in(
                db,
                actor,
                course_id,
                user_id=user_id,
                due_date=due_date,
                note=note,
                past_due_ok=past_due_ok,
            )


@dataclass(frozen=True)
class LanguageMismatch:
    """Learners about to be given a course in a language other than their own."""

    course_language: str
    language: str  # the learners' language
    learners: tuple[User, ...]
    edition: str | None  # the course's edition in their language, if the facility has it


def language_mismatches(
    course_language: str,
    editions: Mapping[str, str],
    learners: Sequence[User],
    available: Collection[str],
) -> list[LanguageMismatch]:
    """Who would get a course they may not be able to read, by their language, with the
    edition its publisher named for that language when it is among `available` (the
    course ids the facility serves). A learner's language is the one their pages are in;
    a course's is its main language tag (`es-US` is Spanish)."""
    base = course_language.split("-")[0].lower()
    found: dict[str, list[User]] = {}
    for learner in learners:
        if learner.language != base:
            found.setdefault(learner.language, []).append(learner)
    by_base = {code.split("-")[0].lower(): cid for code, cid in editions.items()}
    return [
        LanguageMismatch(
            course_language,
            language,
            tuple(people),
            by_base[language] if by_base.get(language) in available else None,
        )
        for language, people in sorted(found.items())
    ]


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
