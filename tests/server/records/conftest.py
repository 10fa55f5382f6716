"""Two demo facilities, North Unit (A) and South Unit (B), trusting each other, with one
learner's record at A to move: the fixture the transfer tests share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from server.core.db import Database
from server.people.accounts import Role, User
from server.records import transfer_out
from tests.conftest import make_user
from tests.server.records.twofacilities import ADMIN, Facility, new_facility, trust_each_other

SAFETY = "org.stepstone.demo.workplace-safety"
MATH = "org.stepstone.demo.everyday-math"
JOBS = "org.stepstone.demo.job-ready"
# Prompts the demo courses mark private (the others in these tests are shared).
PRIVATE_PROMPTS = {"my-conviction-answer", "private-note"}


@dataclass
class Pair:
    a: Facility
    b: Facility
    alex: User  # the learner at A
    bea: User  # the same person's account at B, made before the transfer


def live(database: Database, course_id: str) -> tuple[int, int, list[str]]:
    row = database.query_one(
        "SELECT v.id, v.version FROM courses c JOIN course_versions v ON v.id = c.live_version_id"
        " WHERE c.course_id = ?",
        [course_id],
    )
    assert row is not None
    keys = [
        r[0]
        for r in database.query(
            "SELECT key FROM lessons WHERE version_id = ? ORDER BY position", [row[0]]
        )
    ]
    return row[0], row[1], keys


def lesson(database: Database, user: User, course: str, key: str, **values: Any) -> None:
    row = {"status": "in_progress", "seconds_spent": 60.0, "score": None, "passed": None}
    row |= {"started_at": "2026-10-01T09:00:00+00:00", "completed_at": None}
    row |= values
    with database.write() as db:
        db.execute(
            "INSERT INTO lesson_progress (user_id, course_id, lesson_key, status, seconds_spent,"
            " score, passed, started_at, completed_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                user.id,
                course,
                key,
                row["status"],
                row["seconds_spent"],
                row["score"],
                row["passed"],
                row["started_at"],
                row["completed_at"],
                row["started_at"],
            ],
        )


def page(database: Database, user: User, course: str, key: str, answers: dict[str, str]) -> int:
    version_id, _, _ = live(database, course)
    with database.write() as db:
        entry = db.execute(
            "INSERT INTO workbook_entries (user_id, course_id, lesson_key, version_id, status,"
            " created_at, updated_at, submitted_at) VALUES (?, ?, ?, ?, 'submitted', ?, ?, ?)",
            [
                user.id,
                course,
                key,
                version_id,
                "2026-10-02T10:00:00+00:00",
                "2026-10-02T10:00:00+00:00",
                "2026-10-02T10:00:00+00:00",
            ],
        ).lastrowid
        for prompt, value in answers.items():
            visibility = "private" if prompt in PRIVATE_PROMPTS else "educator"
            db.execute(
                "INSERT INTO workbook_answers (entry_id, prompt_key, visibility, value,"
                " updated_at) VALUES (?, ?, ?, ?, ?)",
                [entry, prompt, visibility, json.dumps(value), "2026-10-02T10:00:00+00:00"],
            )
    assert entry is not None
    return entry


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    return make_pair(tmp_path)


def make_pair(tmp_path: Path) -> Pair:
    """Facilities A and B in ``tmp_path``, Alex's record at A, Alex's account at B."""
    a = new_facility(tmp_path / "a", "North Unit", demo=True)
    b = new_facility(tmp_path / "b", "South Unit", demo=True)
    trust_each_other(a, b)
    with b.database.write() as db:  # B holds a newer Everyday Math than A's learner took
        db.execute(
            "UPDATE course_versions SET version = version + 1"
            " WHERE course_pk = (SELECT id FROM courses WHERE course_id = ?)",
            [MATH],
        )
    alex = make_user(a.database, Role.LEARNER, "A100", "Alex Rivera", language="es")
    bea = make_user(b.database, Role.LEARNER, "S-77", "Alex R.")
    # At A: safety half done with a quiz, math finished with a certificate, jobs assigned,
    # a plan goal, three workbook pages of which Alex chose two (one private).
    version_id, math_version, math_keys = live(a.database, MATH)
    safety_id, _, safety = live(a.database, SAFETY)
    lesson(
        a.database,
        alex,
        SAFETY,
        safety[0],
        status="done",
        seconds_spent=900.0,
        completed_at="2026-10-01T09:30:00+00:00",
    )
    lesson(a.database, alex, SAFETY, safety[1], seconds_spent=300.0)
    for key in math_keys:
        lesson(
            a.database,
            alex,
            MATH,
            key,
            status="done",
            score=0.9,
            completed_at="2026-10-05T12:00:00+00:00",
        )
    with a.database.write() as db:
        db.execute(
            "INSERT INTO quiz_attempts (user_id, course_id, lesson_key, version_id, answers,"
            ' score, passed, started_at, submitted_at) VALUES (?, ?, ?, ?, \'{"q1": "b"}\','
            " 0.8, 1, '2026-10-01T09:40:00+00:00', '2026-10-01T09:45:00+00:00')",
            [alex.id, SAFETY, safety[-1], safety_id],
        )
        db.execute(
            "INSERT INTO certificates (code, user_id, course_id, version_id, learner_name,"
            " facility_id, course_title, publisher, hours, credits, facility, completed_at,"
            " issued_at) VALUES ('ABCD-EFGH-JKLM', ?, ?, ?, 'Alex Rivera', 'A100',"
            " 'Everyday Math', 'Stepstone', 6, 1, 'North Unit', '2026-10-05T12:00:00+00:00',"
            " '2026-10-05T12:00:00+00:00')",
            [alex.id, MATH, version_id],
        )
        db.execute(
            "INSERT INTO assignments (course_id, user_id, due_date, note, created_at)"
            " VALUES (?, ?, '2027-01-15', 'Before your hearing', '2026-10-01')",
            [JOBS, alex.id],
        )
        db.execute(
            "INSERT INTO plan_goals (learner_id, category, title, status, created_at,"
            " updated_at) VALUES (?, 'job-skills', 'Write my resume', 'active', 'x', 'x')",
            [alex.id],
        )
    assert math_version == 1
    shared = page(a.database, alex, SAFETY, safety[2], {"hazard": "Wet floor by the laundry"})
    private = page(
        a.database, alex, JOBS, "my-resume-and-answers", {"my-conviction-answer": "What happened"}
    )
    page(a.database, alex, JOBS, "left-behind", {"notes": "not chosen"})
    transfer_out.choose_pages(a.database, alex, [shared, private])
    # At B: the same person already started safety here, with a goal of their own.
    lesson(b.database, bea, SAFETY, safety[0], seconds_spent=1500.0)
    with b.database.write() as db:
        db.execute(
            "INSERT INTO plan_goals (learner_id, category, title, status, created_at,"
            " updated_at) VALUES (?, 'education', 'Finish my GED', 'active', 'x', 'x')",
            [bea.id],
        )
    return Pair(a, b, alex, bea)


def export(facility: Facility, learner: User) -> bytes:
    return transfer_out.export_learner(facility.database, facility.settings, ADMIN, learner).data
