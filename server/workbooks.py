"""CBT workbooks: a learner's own writing, with a privacy rule per prompt.

Each prompt says who may read the answer: ``private`` (only the learner) or
``educator`` (the learner and their educator). The visibility is copied onto each stored
answer when it is written, so a later course version cannot widen who reads an old
answer. Staff code reads answers through :func:`shared_answers` only, which selects
``visibility = 'educator'``: a private answer never leaves this module for staff.

Drafts autosave (JavaScript posts a ``draft`` event every few seconds) and are kept on
the server, so they survive a dropped connection, a sign-out or a different tablet. A
learner has at most one draft per workbook; submitting it completes the lesson and sends
it for review. A learner may write a new entry after that (journals are repeated).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from server import clock, progress
from server.accounts import User
from server.db import Database
from server.errors import N_, ValidationError
from server.learning import Course, Lesson
from server.settings import Settings

MAX_TEXT = 10_000
AnswerValue = str | int | list[str]


@dataclass(frozen=True)
class Prompt:
    key: str
    type: str  # text | scale | checklist
    prompt: str
    visibility: str  # private | educator
    hint: str
    min_label: str
    max_label: str
    options: tuple[str, ...]

    @property
    def field_name(self) -> str:
        return f"p-{self.key}"


def prompts_of(lesson: Lesson) -> list[Prompt]:
    raw = (lesson.data.get("workbook") or {}).get("prompts", [])
    return [
        Prompt(
            key=str(p["key"]),
            type=str(p["type"]),
            prompt=str(p["prompt"]),
            visibility="educator" if p.get("visibility") == "educator" else "private",
            hint=str(p.get("hint", "")),
            min_label=str(p.get("min_label", "")),
            max_label=str(p.get("max_label", "")),
            options=tuple(str(o) for o in p.get("options") or ()),
        )
        for p in raw
    ]


def clean_value(prompt: Prompt, raw: Any) -> AnswerValue | None:
    """One answer, checked against its prompt; None when empty. Too-long text is an
    error rather than silently cut (the learner would lose words)."""
    if prompt.type == "text":
        text = raw if isinstance(raw, str) else ""
        if len(text) > MAX_TEXT:
            raise ValidationError(N_("An answer can be at most 10,000 characters."))
        return text if text.strip() else None
    if prompt.type == "scale":
        if isinstance(raw, bool):
            return None
        if isinstance(raw, str) and raw.strip().isdigit():
            raw = int(raw.strip())
        return raw if isinstance(raw, int) and 0 <= raw <= 10 else None
    values = raw if isinstance(raw, list) else [raw]
    picked = [o for o in prompt.options if o in {v for v in values if isinstance(v, str)}]
    return picked or None


def from_form(prompts: Sequence[Prompt], values: Mapping[str, list[str]]) -> dict[str, Any]:
    """Form fields → raw answers (a checklist field repeats)."""
    answers: dict[str, Any] = {}
    for prompt in prompts:
        got = values.get(prompt.field_name, [])
        answers[prompt.key] = got if prompt.type == "checklist" else (got[0] if got else "")
    return answers


@dataclass
class Entry:
    id: int
    status: str
    answers: dict[str, AnswerValue]
    created_at: str
    updated_at: str
    submitted_at: str | None
    reviewed_at: str | None
    feedback: str


def _entry(db: sqlite_utils.Database | Database, row: Any, visibility: str | None) -> Entry:
    sql = "SELECT prompt_key, value FROM workbook_answers WHERE entry_id = ?"
    params: list[Any] = [row["id"]]
    if visibility is not None:
        sql += " AND visibility = ?"
        params.append(visibility)
    rows = db.query(sql, params) if isinstance(db, Database) else db.execute(sql, params).fetchall()
    return Entry(
        id=row["id"],
        status=row["status"],
        answers={r[0]: json.loads(r[1]) for r in rows},
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        submitted_at=row["submitted_at"],
        reviewed_at=row["reviewed_at"],
        feedback=row["feedback"],
    )


def own_entries(database: Database, user_id: int, course_id: str, lesson_key: str) -> list[Entry]:
    """The learner's own entries (every answer), the draft first, then newest first."""
    rows = database.query(
        "SELECT * FROM workbook_entries WHERE user_id = ? AND course_id = ? AND lesson_key = ?"
        " ORDER BY status != 'draft', id DESC",
        [user_id, course_id, lesson_key],
    )
    return [_entry(database, row, None) for row in rows]


def shared_answers(database: Database, entry_id: int) -> Entry | None:
    """An entry as staff may see it: only answers written to a prompt the learner's
    educator may read, and only once the learner submitted it."""
    row = database.query_one(
        "SELECT * FROM workbook_entries WHERE id = ? AND status != 'draft'", [entry_id]
    )
    return _entry(database, row, "educator") if row is not None else None


def _draft_id(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson, now: float
) -> int:
    row = db.execute(
        "SELECT id FROM workbook_entries WHERE user_id = ? AND course_id = ? AND lesson_key = ?"
        " AND status = 'draft'",
        [user.id, course.course_id, lesson.key],
    ).fetchone()
    if row is not None:
        return int(row[0])
    cursor = db.execute(
        "INSERT INTO workbook_entries (user_id, course_id, lesson_key, version_id, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [user.id, course.course_id, lesson.key, course.version_id, clock.iso(now), clock.iso(now)],
    )
    return int(cursor.lastrowid or 0)


def save_draft_in(
    db: sqlite_utils.Database,
    user: User,
    course: Course,
    lesson: Lesson,
    raw_answers: Any,
    now: float,
) -> int:
    """Write the given answers into the learner's draft (created if needed); prompts not
    in ``raw_answers`` keep their saved answer. Returns the entry id."""
    if not isinstance(raw_answers, dict):
        raise ValidationError("'data.answers' must be an object")
    entry_id = _draft_id(db, user, course, lesson, now)
    for prompt in prompts_of(lesson):
        if prompt.key not in raw_answers:
            continue
        value = clean_value(prompt, raw_answers[prompt.key])
        if value is None:
            db.execute(
                "DELETE FROM workbook_answers WHERE entry_id = ? AND prompt_key = ?",
                [entry_id, prompt.key],
            )
            continue
        db.execute(
            "INSERT INTO workbook_answers (entry_id, prompt_key, visibility, value, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (entry_id, prompt_key) DO UPDATE SET"
            " value = excluded.value, updated_at = excluded.updated_at",
            [entry_id, prompt.key, prompt.visibility, json.dumps(value), clock.iso(now)],
        )
    db.execute(
        "UPDATE workbook_entries SET updated_at = ? WHERE id = ?", [clock.iso(now), entry_id]
    )
    return entry_id


def save(
    database: Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    raw_answers: dict[str, Any],
    event_id: str,
    submit: bool,
) -> None:
    """The plain form: save the draft, and submit it when asked (once, however often the
    form is sent)."""
    now = clock.now()
    with database.write() as db:
        kind = "submitted" if submit else "draft"
        event = progress.Event(event_id, kind, course.course_id, lesson.key)
        if kind == "draft":
            event = progress.Event(
                event_id, "draft", course.course_id, lesson.key, data={"answers": raw_answers}
            )
            progress.record_in(db, settings, user, course, lesson, event)
            return
        if not progress.record_in(db, settings, user, course, lesson, event):
            return
        entry_id = save_draft_in(db, user, course, lesson, raw_answers, now)
        answered = db.execute(
            "SELECT count(*) FROM workbook_answers WHERE entry_id = ?", [entry_id]
        ).fetchone()[0]
        if not answered:
            raise ValidationError(N_("Write at least one answer before you send it."))
        db.execute(
            "UPDATE workbook_entries SET status = 'submitted', submitted_at = ? WHERE id = ?",
            [clock.iso(now), entry_id],
        )
        progress.complete_in(db, settings, user, course, lesson.key, now)
