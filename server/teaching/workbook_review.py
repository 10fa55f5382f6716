"""Workbook review: the queue of sent workbook pages an educator may read, and their
written feedback. Only answers the learner wrote for "you and your teacher" ever appear;
a page with only private answers is not in the queue at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.learning import visibility, workbooks
from server.learning.access import Scope
from server.people import audit
from server.people.accounts import User
from server.people.audit import Actor


@dataclass
class QueueItem:
    entry_id: int
    learner: str
    facility_id: str
    course_id: str
    lesson_title: str
    submitted_at: str
    status: str


def queue(database: Database, scope: Scope, include_reviewed: bool = False) -> list[QueueItem]:
    where, params = scope.learners_sql("e.user_id")
    statuses = "('submitted', 'reviewed')" if include_reviewed else "('submitted')"
    rows = database.query(
        "SELECT e.id, u.display_name, u.facility_id, e.course_id, e.lesson_key, e.version_id,"
        " e.submitted_at, e.status FROM workbook_entries e JOIN users u ON u.id = e.user_id"
        f" WHERE e.status IN {statuses} AND {where}"
        " AND EXISTS (SELECT 1 FROM workbook_answers a WHERE a.entry_id = e.id"
        " AND a.visibility = 'educator') ORDER BY e.status = 'reviewed', e.submitted_at",
        params,
    )
    titles = {
        (r[0], r[1]): r[2]
        for r in database.query(
            "SELECT version_id, key, title FROM lessons WHERE kind = 'workbook'"
        )
    }
    return [
        QueueItem(
            r["id"],
            r["display_name"],
            r["facility_id"] or "",
            r["course_id"],
            titles.get((r["version_id"], r["lesson_key"]), r["lesson_key"]),
            r["submitted_at"],
            r["status"],
        )
        for r in rows
    ]


@dataclass
class ReviewPage:
    entry_id: int
    learner: User
    course_id: str
    lesson_title: str
    submitted_at: str
    status: str
    feedback: str
    answers: list[tuple[workbooks.Prompt, Any]]


def load(database: Database, scope: Scope, entry_id: int) -> ReviewPage:
    row = database.query_one(
        "SELECT user_id, course_id, lesson_key, version_id, submitted_at, status, feedback"
        " FROM workbook_entries WHERE id = ? AND status != 'draft'",
        [entry_id],
    )
    if row is None:
        raise NotFound()
    learner = scope.learner(database, row["user_id"])
    shared = workbooks.shared_answers(database, entry_id)
    if shared is None or not shared.answers:
        raise NotFound()
    lessons = visibility.lessons_of(database, row["version_id"])
    lesson = visibility.lesson_of(lessons, row["lesson_key"])
    answers = [
        (prompt, shared.answers[prompt.key])
        for prompt in workbooks.prompts_of(lesson)
        if prompt.key in shared.answers
    ]
    return ReviewPage(
        entry_id,
        learner,
        row["course_id"],
        lesson.title,
        row["submitted_at"],
        row["status"],
        row["feedback"],
        answers,
    )


def give_feedback(
    database: Database, scope: Scope, actor: Actor, entry_id: int, feedback: str
) -> None:
    page = load(database, scope, entry_id)  # scope and privacy checks
    text = feedback.strip()
    if not text:
        raise ValidationError(N_("Write some feedback for the learner first."), "feedback")
    if len(text) > 5000:
        raise ValidationError(N_("Feedback can be at most 5,000 characters."), "feedback")
    with database.write() as db:
        db.execute(
            "UPDATE workbook_entries SET status = 'reviewed', feedback = ?, reviewed_at = ?,"
            " reviewed_by = ? WHERE id = ?",
            [text, clock.iso(), actor.id, entry_id],
        )
        audit.record(db, actor, "workbook.review", page.learner.label, entry=entry_id)
