"""Learners' ratings of courses and lessons: three faces and, when it was hard, what was.

A learner rates a course or one of its lessons with a face (hard, okay, good) and may tick
what was hard from a fixed list; never free text, so nothing a learner writes leaves the
facility this way. One rating per learner and course or lesson: rating again replaces it.
The NGO sees only counts per course, with small cells suppressed
(``server.teaching.impact``). Not audited: a rating changes no one's record or rights, and
the audit log would only repeat who rated what.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.people.accounts import User

FACES = ("hard", "okay", "good")
HARD_REASONS = ("words", "long", "media", "quiz", "unclear")


@dataclass(frozen=True)
class Rating:
    face: str
    reasons: tuple[str, ...]


def rate(
    database: Database,
    learner: User,
    course_id: str,
    lesson_key: str,
    face: str,
    reasons: list[str],
) -> Rating:
    """Keep the learner's rating of the course (``lesson_key`` empty) or of one lesson."""
    if face not in FACES:
        raise ValidationError(N_("Choose a face."), "face")
    unknown = [r for r in reasons if r not in HARD_REASONS]
    if unknown:
        raise ValidationError(N_("Choose from the list."), "reasons")
    chosen = tuple(r for r in HARD_REASONS if r in reasons) if face != "good" else ()
    with database.write() as db:
        db.execute(
            "INSERT INTO ratings (user_id, course_id, lesson_key, face, reasons, rated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, course_id, lesson_key)"
            " DO UPDATE SET face = excluded.face, reasons = excluded.reasons,"
            " rated_at = excluded.rated_at",
            [learner.id, course_id, lesson_key, face, json.dumps(list(chosen)), clock.iso()],
        )
    return Rating(face, chosen)


def rating_of(database: Database, user_id: int, course_id: str, lesson_key: str) -> Rating | None:
    row = database.query_one(
        "SELECT face, reasons FROM ratings WHERE user_id = ? AND course_id = ? AND lesson_key = ?",
        [user_id, course_id, lesson_key],
    )
    return None if row is None else Rating(row["face"], tuple(json.loads(row["reasons"])))


@dataclass(frozen=True)
class CourseRatings:
    """How one course was rated: learners who rated it or a lesson of it, faces (a
    learner's course rating counts once; lesson ratings are counted per lesson rating),
    and how often each hard part was ticked."""

    course_id: str
    raters: int
    faces: dict[str, int]
    reasons: dict[str, int]
    lesson_faces: dict[str, int]


def summary(database: Database, course_id: str) -> CourseRatings:
    rows = database.query(
        "SELECT user_id, lesson_key, face, reasons FROM ratings WHERE course_id = ?", [course_id]
    )
    faces: Counter[str] = Counter()
    lesson_faces: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for row in rows:
        (lesson_faces if row["lesson_key"] else faces)[row["face"]] += 1
        reasons.update(json.loads(row["reasons"]))
    return CourseRatings(
        course_id,
        len({row["user_id"] for row in rows}),
        {face: faces[face] for face in FACES},
        {reason: reasons[reason] for reason in HARD_REASONS},
        {face: lesson_faces[face] for face in FACES},
    )
