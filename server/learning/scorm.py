"""SCORM runtime data: each learner's ``cmi`` values per SCO and attempt, and what they
mean for the lesson.

A SCORM package's pages talk to a runtime API (`window.API` for 1.2, `API_1484_11` for
2004). In the sandbox that API is a small adapter in the SCO's own frame
(``static/js/scorm-runtime.js``); on each commit it posts the values to the lesson page,
which checks them and sends a ``scorm`` progress event. Here such an event is applied:
its values are merged into the SCO's current attempt (only the elements listed below,
each within SCORM's own size limits), and once every SCO of the lesson is complete the
lesson is completed with their mean score, exactly as a quiz result counts. A finished
attempt stays as it was: the next launch of that SCO starts a new one, and an unfinished
one resumes (``suspend_data``, ``location``) on any tablet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from content.format.lessondata import ScormData
from server.core import clock
from server.core.db import Database
from server.core.errors import ValidationError
from server.learning import progress
from server.learning.progress import Event
from server.learning.visibility import Course, Lesson
from server.people.accounts import User

# The elements kept, with their largest size (SCORM 1.2's CMIString4096, 2004's SPM).
ELEMENTS = {
    "1.2": {
        "cmi.core.lesson_status": 20,
        "cmi.core.lesson_location": 255,
        "cmi.core.score.raw": 20,
        "cmi.core.score.min": 20,
        "cmi.core.score.max": 20,
        "cmi.core.exit": 20,
        "cmi.core.session_time": 20,
        "cmi.suspend_data": 4096,
    },
    "2004": {
        "cmi.completion_status": 20,
        "cmi.success_status": 20,
        "cmi.location": 1000,
        "cmi.score.scaled": 20,
        "cmi.score.raw": 20,
        "cmi.score.min": 20,
        "cmi.score.max": 20,
        "cmi.exit": 20,
        "cmi.session_time": 40,
        "cmi.suspend_data": 64000,
    },
}
_DONE_12 = {"passed": True, "completed": None, "failed": False}


@dataclass(frozen=True)
class ScoState:
    """Where a learner is in one SCO: the attempt to launch and the values it resumes."""

    sco_id: str
    attempt: int
    cmi: dict[str, str]
    finished: bool  # an earlier attempt was finished


def states(
    database: Database, user_id: int, course_id: str, lesson_key: str, scorm: ScormData
) -> dict[str, ScoState]:
    """Each SCO's attempt to launch now: the newest one, or a new one after a finished one."""
    rows = database.query(
        "SELECT sco_id, attempt, cmi, finished FROM scorm_attempts"
        " WHERE user_id = ? AND course_id = ? AND lesson_key = ? ORDER BY attempt",
        [user_id, course_id, lesson_key],
    )
    newest = {row["sco_id"]: row for row in rows}
    found = {}
    for sco in scorm.scos:
        row = newest.get(sco.id)
        if row is None:
            found[sco.id] = ScoState(sco.id, 1, {}, False)
        elif row["finished"]:
            found[sco.id] = ScoState(sco.id, row["attempt"] + 1, {}, True)
        else:
            found[sco.id] = ScoState(sco.id, row["attempt"], json.loads(row["cmi"]), False)
    return found


def parse_values(version: str, raw: Any) -> dict[str, str]:
    """The values of a ``scorm`` event: known elements of this version, strings, in size."""
    allowed = ELEMENTS.get(version, {})
    if not isinstance(raw, dict):
        raise ValidationError("'cmi' must be an object of element names and values")
    values = {}
    for name, value in raw.items():
        if name not in allowed or not isinstance(value, str):
            raise ValidationError(f"'{str(name)[:60]}' is not a SCORM {version} element kept here")
        if len(value) > allowed[name]:
            raise ValidationError(f"'{name}' is longer than {allowed[name]} characters")
        values[name] = value
    return values


def attempt_outcome(version: str, cmi: dict[str, str]) -> tuple[bool, float | None, bool | None]:
    """(finished, score in percent, passed) of one attempt's values."""
    if version == "1.2":
        status = cmi.get("cmi.core.lesson_status", "")
        finished = status in _DONE_12
        passed = _DONE_12.get(status)
        return finished, _percent(cmi, "cmi.core.score", None), passed
    success = cmi.get("cmi.success_status", "")
    finished = cmi.get("cmi.completion_status") == "completed" or success in ("passed", "failed")
    passed = {"passed": True, "failed": False}.get(success)
    return finished, _percent(cmi, "cmi.score", cmi.get("cmi.score.scaled")), passed


def _percent(cmi: dict[str, str], prefix: str, scaled: str | None) -> float | None:
    try:
        if scaled:
            return max(0.0, min(100.0, float(scaled) * 100))
        raw = cmi.get(f"{prefix}.raw")
        if not raw:
            return None
        low, high = float(cmi.get(f"{prefix}.min") or 0), float(cmi.get(f"{prefix}.max") or 100)
        return max(0.0, min(100.0, (float(raw) - low) / (high - low) * 100)) if high > low else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Commit:
    """A ``scorm`` event's values merged into its SCO's attempt, and what they mean."""

    sco_id: str
    attempt: int
    cmi: dict[str, str]
    finished: bool
    score: float | None
    passed: bool | None


def commit(
    scorm: ScormData, data: Mapping[str, Any], newest: tuple[int, dict[str, str], bool] | None
) -> Commit:
    """Check a ``scorm`` event's data against the SCO's newest attempt (its number, values
    and whether it is finished; None before the first) and merge its values into it (or
    into the next attempt). Raises ValidationError for a SCO, attempt or value that is
    not right; stores nothing."""
    sco_id, attempt = data.get("sco"), data.get("attempt")
    if not isinstance(sco_id, str) or sco_id not in {s.id for s in scorm.scos}:
        raise ValidationError("'sco' must name a SCO of this lesson, with its 'attempt'")
    if not isinstance(attempt, int):
        raise ValidationError("'sco' must name a SCO of this lesson, with its 'attempt'")
    values = parse_values(scorm.version, data.get("cmi"))
    number, old, done = newest if newest is not None else (0, {}, False)
    if not 1 <= attempt <= number + 1 or (attempt == number and done):
        raise ValidationError("this attempt is finished or was never started")
    cmi = {**(old if attempt == number else {}), **values}
    finished, score, passed = attempt_outcome(scorm.version, cmi)
    return Commit(sco_id, attempt, cmi, finished, score, passed)


def lesson_outcome(
    scorm: ScormData, finished: dict[str, tuple[float | None, bool]]
) -> progress.Completion | None:
    """Every SCO has a finished attempt (its best score and whether all passed, by SCO
    id): the lesson is done, with the mean of their scores (where they report one) and
    passed unless one of them failed. None while a SCO is not finished."""
    if any(sco.id not in finished for sco in scorm.scos):
        return None
    scores = [score for score, _ in finished.values() if score is not None]
    score = round(sum(scores) / len(scores), 1) if scores else None
    return score, all(passed for _, passed in finished.values())


def apply_in(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson, event: Event, now: float
) -> progress.Completion | None:
    """Merge a ``scorm`` event into its SCO's attempt; complete the lesson when all are."""
    scorm = lesson.data.scorm
    if scorm is None:
        raise ValidationError("this lesson is not a SCORM package")
    sco_id = event.data.get("sco")
    row = db.execute(
        "SELECT attempt, cmi, finished FROM scorm_attempts WHERE user_id = ? AND course_id = ?"
        " AND lesson_key = ? AND sco_id = ? ORDER BY attempt DESC LIMIT 1",
        [user.id, course.course_id, lesson.key, sco_id if isinstance(sco_id, str) else ""],
    ).fetchone()
    newest = (row[0], json.loads(row[1]), bool(row[2])) if row else None
    done = commit(scorm, event.data, newest)
    key = [user.id, course.course_id, lesson.key, done.sco_id]
    db.execute(
        "INSERT INTO scorm_attempts (user_id, course_id, lesson_key, sco_id, attempt, cmi,"
        " finished, score, passed, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (user_id, course_id, lesson_key, sco_id, attempt) DO UPDATE SET"
        " cmi = excluded.cmi, finished = excluded.finished, score = excluded.score,"
        " passed = excluded.passed, updated_at = excluded.updated_at",
        [
            *key,
            done.attempt,
            json.dumps(done.cmi, sort_keys=True),
            done.finished,
            done.score,
            done.passed,
            clock.iso(now),
        ],
    )
    return _completion_in(db, user, course, lesson, scorm) if done.finished else None


def _completion_in(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson, scorm: ScormData
) -> progress.Completion | None:
    """The lesson's outcome from the SCOs' finished attempts (`lesson_outcome`)."""
    rows = db.execute(
        "SELECT sco_id, max(score), min(coalesce(passed, 1)) FROM scorm_attempts"
        " WHERE user_id = ? AND course_id = ? AND lesson_key = ? AND finished = 1"
        " GROUP BY sco_id",
        [user.id, course.course_id, lesson.key],
    ).fetchall()
    return lesson_outcome(scorm, {row[0]: (row[1], bool(row[2])) for row in rows})


progress.handle_events("scorm", apply_in)
