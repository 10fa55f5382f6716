"""A learner's absences that staff record: court, medical, transfer.

Like a lockdown of one learner, an absence does not count against them: their due dates
move past it and reports can leave its days out (``learning.continuity``). It does not
stop them signing in (they are away; if they are back early, let them work). Days are
the facility's calendar days, first and last included. Every record and removal is
audited; the reason is a category only, never the details.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.accounts import Role, get_user_in
from server.people.audit import Actor

REASONS = ("court", "medical", "transfer", "other")
MAX_DAYS = 90


@dataclass(frozen=True)
class Absence:
    id: int
    user_id: int
    reason: str
    first_day: str
    last_day: str
    recorded_by: str
    recorded_at: str


def _absence(row: sqlite3.Row) -> Absence:
    return Absence(**dict(row))


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(N_("Write the date like 2026-12-31."), field) from None


def record(
    database: Database, actor: Actor, learner_id: int, reason: str, first_day: str, last_day: str
) -> Absence:
    """Record that a learner was (or will be) away from `first_day` to `last_day`."""
    if reason not in REASONS:
        raise ValidationError(N_("Choose why the learner is away."), "reason")
    first = _day(first_day, "first_day")
    last = _day(last_day or first_day, "last_day")
    if last < first:
        raise ValidationError(N_("The last day cannot be before the first."), "last_day")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationError(N_("An absence is at most 90 days."), "last_day")
    with database.write() as db:
        learner = get_user_in(db, learner_id)
        if learner.role is not Role.LEARNER:
            raise NotFound()
        cursor = db.execute(
            "INSERT INTO learner_absences (user_id, reason, first_day, last_day, recorded_by,"
            " recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            [learner_id, reason, first.isoformat(), last.isoformat(), actor.label, clock.iso()],
        )
        audit.record(
            db,
            actor,
            "absence.record",
            learner.label,
            reason=reason,
            days=f"{first.isoformat()}..{last.isoformat()}",
        )
        absence_id = int(cursor.lastrowid or 0)
    found = database.query_one("SELECT * FROM learner_absences WHERE id = ?", [absence_id])
    assert found is not None
    return _absence(found)


def remove(database: Database, actor: Actor, learner_id: int, absence_id: int) -> None:
    """Remove a learner's absence recorded by mistake (NotFound if it is not theirs)."""
    with database.write() as db:
        row = db.execute(
            "SELECT * FROM learner_absences WHERE id = ? AND user_id = ?", [absence_id, learner_id]
        ).fetchone()
        if row is None:
            raise NotFound()
        db.execute("DELETE FROM learner_absences WHERE id = ?", [absence_id])
        absence = _absence(row)
        audit.record(
            db,
            actor,
            "absence.remove",
            get_user_in(db, learner_id).label,
            reason=absence.reason,
            days=f"{absence.first_day}..{absence.last_day}",
        )


def of_learner(database: Database, learner_id: int) -> list[Absence]:
    rows = database.query(
        "SELECT * FROM learner_absences WHERE user_id = ? ORDER BY first_day DESC, id DESC",
        [learner_id],
    )
    return [_absence(r) for r in rows]


def every(database: Database) -> list[Absence]:
    rows = database.query("SELECT * FROM learner_absences ORDER BY first_day, id")
    return [_absence(r) for r in rows]
