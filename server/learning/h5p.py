"""H5P results: the xAPI statements an H5P lesson's player sends, and what they mean.

H5P content reports what the learner did as xAPI statements. The lesson page passes each
one on as an ``h5p`` progress event, whose data keeps the statement as it came (so an
xAPI export can pass it through, with the actor replaced by the facility's pseudonym).
A statement about the content as a whole (no parent activity) with the verb "completed"
or "answered" and a result that says it is complete, or carries a score, completes the
lesson with that score, as a quiz result counts.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from server.core.errors import ValidationError
from server.learning import progress
from server.learning.progress import Event
from server.learning.visibility import Course, Lesson
from server.people.accounts import User

FINISHING_VERBS = ("/completed", "/answered")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def outcome(statement: Any) -> progress.Completion | None:
    """(score in percent, passed) when the statement finishes the content, else None."""
    if not isinstance(statement, dict):
        raise ValidationError("'statement' must be an xAPI statement object")
    verb = statement.get("verb")
    if not isinstance(verb, dict) or not isinstance(verb.get("id"), str):
        raise ValidationError("the statement needs a verb with an id")
    context = statement.get("context") if isinstance(statement.get("context"), dict) else {}
    activities = context.get("contextActivities") if isinstance(context, dict) else None
    if isinstance(activities, dict) and activities.get("parent"):
        return None  # a part of the content (one question of a set), not the whole
    result = statement.get("result") if isinstance(statement.get("result"), dict) else None
    if not verb["id"].endswith(FINISHING_VERBS) or result is None:
        return None
    score = result.get("score") if isinstance(result.get("score"), dict) else {}
    scaled = _number(score.get("scaled"))
    raw, high = _number(score.get("raw")), _number(score.get("max"))
    percent = (
        scaled * 100
        if scaled is not None
        else (raw / high * 100 if raw is not None and high else None)
    )
    if result.get("completion") is not True and percent is None:
        return None
    passed = result.get("success") if isinstance(result.get("success"), bool) else None
    return (round(max(0.0, min(100.0, percent)), 1) if percent is not None else None), passed


def apply_in(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson, event: Event, now: float
) -> progress.Completion | None:
    """An ``h5p`` event (already stored with its statement): complete the lesson when the
    statement finishes the content."""
    return outcome(event.data.get("statement"))


progress.handle_events("h5p", apply_in)
