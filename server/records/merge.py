"""Merging a checked transfer bundle into a learner's record here, and reading back what
came with a learner (the rules are in ``transfer_in``'s docstring).

Every write keeps what this facility already had: lesson states only move forward, rows
are added only when no equal one is there, and records of course versions this facility
does not hold are kept apart ("from elsewhere") with their evidence. Each step is
idempotent, so a newer bundle of the same learner merges over an older one cleanly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.people.accounts import User
from server.records.identity import VerifiedSender


@dataclass(frozen=True)
class FromElsewhere:
    """A course record that came with a learner, for a version this facility lacks or with
    a certificate another facility issued."""

    facility_name: str
    course_id: str
    course_title: str
    version: int
    status: str  # completed | in_progress
    started_at: str | None
    completed_at: str | None
    score: float | None
    hours: float
    certificate_code: str | None


@dataclass(frozen=True)
class CarriedPage:
    """A workbook page a learner brought; ``answers`` holds only what the viewer may read."""

    facility_id: str
    course_title: str
    lesson_title: str
    status: str
    written_at: str
    answers: list[dict[str, Any]]
    feedback: str
    private_hidden: int  # answers left out because only the learner may read them


def merge_in(
    db: sqlite_utils.Database, document: dict[str, Any], sender: VerifiedSender, learner: User
) -> None:
    """Merge every section this version knows into ``learner``'s record."""
    sections = document["sections"]
    certificates = {c["course_id"]: c for c in sections.get("certificates.v1", [])}
    context = (db, document["bundle_id"], sender, learner)
    seen = set()
    for course in sections.get("courses.v1", []):
        seen.add(course["course_id"])
        version_id = held_version(db, course["course_id"], course["version"])
        if version_id is not None:
            _merge_course(db, learner.id, course)
        cert = certificates.get(course["course_id"])
        if version_id is None or cert is not None:
            _elsewhere(context, course, cert)
    for course_id, cert in certificates.items():
        if course_id not in seen:
            _elsewhere(context, None, cert)
    for item in sections.get("assignments.v1", []):
        _assignment(db, learner.id, sender, item)
    for goal in sections.get("plan.v1", []):
        _goal(db, learner.id, goal)
    for page in sections.get("workbook.v1", []):
        _page(context, page)
    here = db.execute("SELECT facility_id FROM trusted_facilities WHERE own = 1").fetchone()
    for found in sections.get("elsewhere.v1", []):
        if here is None or found["facility_id"] != here[0]:  # our own came back: we have it
            _passed_on(context, found)


def held_version(db: sqlite_utils.Database, course_id: str, version: float) -> int | None:
    """The id of ``version`` of ``course_id`` when this facility holds it (approved or
    retired: a learner's record of it is kept here)."""
    row = db.execute(
        "SELECT v.id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = ? AND v.version = ? AND v.status IN ('approved', 'retired')",
        [course_id, int(version)],
    ).fetchone()
    return int(row[0]) if row else None


def _merge_course(db: sqlite_utils.Database, user_id: int, course: dict[str, Any]) -> None:
    now = clock.iso()
    for lesson in course["lessons"]:
        db.execute(
            "INSERT INTO lesson_progress (user_id, course_id, lesson_key, status, seconds_spent,"
            " score, passed, started_at, completed_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, course_id, lesson_key) DO UPDATE SET"
            " status = CASE WHEN excluded.status = 'done' THEN 'done' ELSE status END,"
            " seconds_spent = max(seconds_spent, excluded.seconds_spent),"
            " score = CASE WHEN score IS NULL OR excluded.score > score"
            "   THEN coalesce(excluded.score, score) ELSE score END,"
            " passed = CASE WHEN passed IS NULL THEN excluded.passed"
            "   WHEN excluded.passed IS NULL THEN passed ELSE max(passed, excluded.passed) END,"
            " started_at = min(started_at, excluded.started_at),"
            " completed_at = CASE WHEN completed_at IS NULL THEN excluded.completed_at"
            "   WHEN excluded.completed_at IS NULL THEN completed_at"
            "   ELSE min(completed_at, excluded.completed_at) END,"
            " updated_at = excluded.updated_at",
            [
                user_id,
                course["course_id"],
                lesson["key"],
                lesson["status"],
                lesson["seconds_spent"],
                lesson.get("score"),
                lesson.get("passed"),
                lesson["started_at"],
                lesson.get("completed_at"),
                now,
            ],
        )
    for attempt in course["attempts"]:
        version_id = held_version(db, course["course_id"], attempt["version"])
        if (
            version_id is None
            or db.execute(
                "SELECT 1 FROM quiz_attempts WHERE user_id = ? AND course_id = ? AND lesson_key = ?"
                " AND started_at = ?",
                [user_id, course["course_id"], attempt["lesson_key"], attempt["started_at"]],
            ).fetchone()
        ):
            continue
        db.execute(
            "INSERT INTO quiz_attempts (user_id, course_id, lesson_key, version_id, answers,"
            " score, passed, started_at, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                user_id,
                course["course_id"],
                attempt["lesson_key"],
                version_id,
                json.dumps(attempt.get("answers", {})),
                attempt.get("score"),
                attempt.get("passed"),
                attempt["started_at"],
                attempt.get("submitted_at"),
            ],
        )
    started = min((lesson["started_at"] for lesson in course["lessons"]), default=now)
    db.execute(
        "INSERT OR IGNORE INTO enrolments (user_id, course_id, enrolled_at) VALUES (?, ?, ?)",
        [user_id, course["course_id"], started],
    )


def _elsewhere(
    context: tuple[sqlite_utils.Database, str, VerifiedSender, User],
    course: dict[str, Any] | None,
    cert: dict[str, Any] | None,
) -> None:
    db, bundle_id, sender, learner = context
    base = course or {"course_id": cert["course_id"] if cert else "", "lessons": []}
    lessons = base.get("lessons", [])
    scores = [lesson["score"] for lesson in lessons if lesson.get("score") is not None]
    started = min((lesson["started_at"] for lesson in lessons), default=None)
    completed = cert["completed_at"] if cert else None
    db.execute(
        "INSERT INTO from_elsewhere (user_id, facility_id, facility_name, course_id,"
        " course_title, version, status, started_at, completed_at, score, seconds_spent,"
        " certificate_code, evidence, bundle_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (user_id, facility_id, course_id, version) DO UPDATE SET"
        " facility_name = excluded.facility_name, course_title = excluded.course_title,"
        " status = excluded.status, started_at = excluded.started_at,"
        " completed_at = excluded.completed_at, score = excluded.score,"
        " seconds_spent = excluded.seconds_spent, certificate_code = excluded.certificate_code,"
        " evidence = excluded.evidence, bundle_id = excluded.bundle_id",
        [
            learner.id,
            sender.facility_id,
            sender.name,
            base["course_id"],
            (course or {}).get("title") or (cert or {}).get("course_title") or base["course_id"],
            int((course or cert or {"version": 1})["version"]),
            "completed" if cert else "in_progress",
            started,
            completed,
            sum(scores) / len(scores) if scores else None,
            sum(lesson["seconds_spent"] for lesson in lessons)
            or (cert["hours"] * 3600 if cert else 0),
            cert["code"] if cert else None,
            json.dumps({"course": course, "certificate": cert}, sort_keys=True),
            bundle_id,
        ],
    )


def _passed_on(
    context: tuple[sqlite_utils.Database, str, VerifiedSender, User], found: dict[str, Any]
) -> None:
    """A record the sender had from a third facility: kept as that facility's, noting who
    passed it on; one already here (the receiver's own, or an earlier copy) is kept."""
    db, bundle_id, sender, learner = context
    evidence = {**found["evidence"], "passed_on_by": sender.facility_id}
    db.execute(
        "INSERT INTO from_elsewhere (user_id, facility_id, facility_name, course_id,"
        " course_title, version, status, started_at, completed_at, score, seconds_spent,"
        " certificate_code, evidence, bundle_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (user_id, facility_id, course_id, version) DO NOTHING",
        [
            learner.id,
            found["facility_id"],
            found["facility_name"],
            found["course_id"],
            found["course_title"],
            int(found["version"]),
            found["status"],
            found.get("started_at"),
            found.get("completed_at"),
            found.get("score"),
            found["seconds_spent"],
            found.get("certificate_code"),
            json.dumps(evidence, sort_keys=True),
            bundle_id,
        ],
    )


def _seconds(lessons: list[dict[str, Any]], cert: dict[str, Any] | None) -> float:
    """Time spent: the lessons' own, else the hours the certificate names."""
    spent = sum(float(lesson["seconds_spent"]) for lesson in lessons)
    return spent or (float(cert["hours"]) * 3600 if cert else 0.0)


def _assignment(
    db: sqlite_utils.Database, user_id: int, sender: VerifiedSender, item: dict[str, Any]
) -> None:
    offered = db.execute(
        "SELECT 1 FROM courses c JOIN course_versions v ON v.id = c.live_version_id"
        " WHERE c.course_id = ? AND v.status = 'approved' AND c.pulled_at IS NULL",
        [item["course_id"]],
    ).fetchone()
    if (
        not offered
        or db.execute(
            "SELECT 1 FROM assignments WHERE user_id = ? AND course_id = ?",
            [user_id, item["course_id"]],
        ).fetchone()
    ):
        return
    note = f"From {sender.name}" + (f": {item['note']}" if item.get("note") else "")
    db.execute(
        "INSERT INTO assignments (course_id, lesson_key, user_id, due_date, note, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [item["course_id"], item.get("lesson_key"), user_id, item["due_date"], note, clock.iso()],
    )


def _goal(db: sqlite_utils.Database, user_id: int, goal: dict[str, Any]) -> None:
    if db.execute(
        "SELECT 1 FROM plan_goals WHERE learner_id = ? AND category = ? AND title = ?",
        [user_id, goal["category"], goal["title"]],
    ).fetchone():
        return
    now = clock.iso()
    db.execute(
        "INSERT INTO plan_goals (learner_id, category, title, course_id, target_date, note,"
        " status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            user_id,
            goal["category"],
            goal["title"],
            goal.get("course_id"),
            goal.get("target_date"),
            goal.get("note", ""),
            goal["status"],
            now,
            now,
        ],
    )


def _page(
    context: tuple[sqlite_utils.Database, str, VerifiedSender, User], page: dict[str, Any]
) -> None:
    db, bundle_id, sender, learner = context
    db.execute(
        "INSERT INTO carried_pages (user_id, facility_id, origin_entry, course_id, course_title,"
        " lesson_key, lesson_title, status, answers, feedback, written_at, bundle_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (user_id, facility_id, origin_entry) DO UPDATE SET"
        " status = excluded.status, answers = excluded.answers, feedback = excluded.feedback,"
        " written_at = excluded.written_at, bundle_id = excluded.bundle_id"
        " WHERE excluded.written_at >= written_at",
        [
            learner.id,
            sender.facility_id,
            page["entry"],
            page["course_id"],
            page["course_title"],
            page["lesson_key"],
            page["lesson_title"],
            page["status"],
            json.dumps(page["answers"]),
            page.get("feedback", ""),
            page["written_at"],
            bundle_id,
        ],
    )


# --- reading back ------------------------------------------------------------------------


def from_elsewhere_of(database: Database, user_id: int) -> list[FromElsewhere]:
    """The learner's records from other facilities, completed ones first, newest first."""
    rows = database.query(
        "SELECT * FROM from_elsewhere WHERE user_id = ?"
        " ORDER BY status = 'completed' DESC, coalesce(completed_at, started_at) DESC, id",
        [user_id],
    )
    return [
        FromElsewhere(
            row["facility_name"],
            row["course_id"],
            row["course_title"],
            row["version"],
            row["status"],
            row["started_at"],
            row["completed_at"],
            row["score"],
            round(row["seconds_spent"] / 3600, 1),
            row["certificate_code"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class CameWith:
    """What came with a learner from other facilities, for their home page."""

    facilities: list[str]
    courses: int
    pages: int


def came_with(database: Database, user_id: int) -> CameWith | None:
    """None when nothing came with the learner."""
    row = database.query_one(
        "SELECT (SELECT group_concat(DISTINCT facility_name) FROM (SELECT facility_name FROM"
        "   from_elsewhere WHERE user_id = :u UNION SELECT t.name FROM carried_pages c"
        "   JOIN trusted_facilities t ON t.facility_id = c.facility_id WHERE c.user_id = :u)),"
        " (SELECT count(*) FROM from_elsewhere WHERE user_id = :u),"
        " (SELECT count(*) FROM carried_pages WHERE user_id = :u),"
        " (SELECT count(*) FROM transfers WHERE user_id = :u)",
        {"u": user_id},
    )
    if row is None or not row[3]:
        return None
    names = sorted(set((row[0] or "").split(","))) if row[0] else []
    return CameWith(names, row[1], row[2])


def carried_pages_of(database: Database, user_id: int, *, own: bool) -> list[CarriedPage]:
    """Pages the learner brought. ``own``: the learner reads every answer; anyone else
    (staff) reads only the answers the learner had shared with educators."""
    pages = []
    for row in database.query(
        "SELECT * FROM carried_pages WHERE user_id = ? ORDER BY written_at DESC, id", [user_id]
    ):
        answers = json.loads(row["answers"])
        shown = [a for a in answers if own or a["visibility"] == "educator"]
        pages.append(
            CarriedPage(
                row["facility_id"],
                row["course_title"],
                row["lesson_title"],
                row["status"],
                row["written_at"],
                shown,
                row["feedback"],
                len(answers) - len(shown),
            )
        )
    return pages
