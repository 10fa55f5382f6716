"""Individual learning plans: goals an educator sets with a learner, across categories,
tied to courses where that helps, with target dates. The learner sees their plan and
their progress toward each goal; every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.learning.visibility import CATEGORIES
from server.people import audit
from server.people.accounts import User
from server.people.audit import Actor

STATUSES = ("active", "met", "dropped")


@dataclass(frozen=True)
class Goal:
    id: int
    category: str
    title: str
    course_id: str | None
    target_date: str | None
    note: str
    status: str
    updated_at: str


def goals_of(database: Database, learner_id: int, include_dropped: bool = False) -> list[Goal]:
    rows = database.query(
        "SELECT id, category, title, course_id, target_date, note, status, updated_at"
        " FROM plan_goals WHERE learner_id = ?"
        + ("" if include_dropped else " AND status != 'dropped'")
        + " ORDER BY status != 'active', target_date IS NULL, target_date, id",
        [learner_id],
    )
    return [Goal(*row) for row in rows]


def _clean(category: str, title: str, target_date: str) -> tuple[str, str, str | None]:
    if category not in CATEGORIES:
        raise ValidationError(N_("Choose a category."), "category")
    title = " ".join(title.split())
    if not 1 <= len(title) <= 200:
        raise ValidationError(N_("Write the goal in 1 to 200 characters."), "title")
    due = None
    if target_date.strip():
        try:
            due = date.fromisoformat(target_date.strip()).isoformat()
        except ValueError:
            raise ValidationError(N_("Write the date like 2026-12-31."), "target_date") from None
    return category, title, due


def add_goal(
    database: Database,
    actor: Actor,
    learner: User,
    category: str,
    title: str,
    course_id: str = "",
    target_date: str = "",
    note: str = "",
) -> int:
    category, title, due = _clean(category, title, target_date)
    now = clock.iso()
    with database.write() as db:
        cursor = db.execute(
            "INSERT INTO plan_goals (learner_id, category, title, course_id, target_date, note,"
            " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                learner.id,
                category,
                title,
                course_id or None,
                due,
                note.strip()[:1000],
                actor.id,
                now,
                now,
            ],
        )
        audit.record(db, actor, "plan.add-goal", learner.label, category=category)
    return int(cursor.lastrowid or 0)


def set_status(database: Database, actor: Actor, learner: User, goal_id: int, status: str) -> None:
    if status not in STATUSES:
        raise ValidationError(N_("Choose a status."))
    with database.write() as db:
        cursor = db.execute(
            "UPDATE plan_goals SET status = ?, updated_at = ? WHERE id = ? AND learner_id = ?",
            [status, clock.iso(), goal_id, learner.id],
        )
        if not cursor.rowcount:
            raise NotFound()
        audit.record(db, actor, "plan.goal-status", learner.label, goal=goal_id, status=status)
