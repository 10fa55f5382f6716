"""CBT workbooks: a learner's own writing, with a privacy rule per prompt.

Each prompt says who may read the answer: ``private`` (only the learner) or
``educator`` (the learner and their educator). A new course version may change that, so
the rule for a stored answer is: it is shared only if **every** label the learner was
shown while writing it said "you and your teacher" (`strictest`, a rule written in
`server.learning.access`). Each save takes the strictest of the live prompt, what the
learner's page showed (the form and the draft event name the prompts shown as private),
every version that was live while the draft was open (a learner may have read "Only you"
on it without writing), and what the answer already had; an answer once private stays
private in its entry, whatever a later version says. A draft saved under a newer course
version moves to that version, so staff see the prompts the learner answered. Staff code
reads answers through :func:`shared_answers` only, which keeps what the access rules let
staff read: a private answer never leaves this module for staff.

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

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.core.settings import Settings
from server.learning import progress
from server.learning.access import PRIVATE, SHARED, staff_may_read_entry, strictest
from server.learning.visibility import Course, Lesson
from server.people.accounts import User

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
    return [
        Prompt(
            key=p.key,
            type=p.type,
            prompt=p.prompt,
            visibility=SHARED if p.visibility == SHARED else PRIVATE,
            hint=p.hint,
            min_label=p.min_label,
            max_label=p.max_label,
            options=p.options,
        )
        for p in lesson.data.prompts
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
    visibility: dict[str, str]  # who may read each answer, as stored
    created_at: str
    updated_at: str
    submitted_at: str | None
    reviewed_at: str | None
    feedback: str
    # For a draft: prompts that a version live while it was open made private.
    private_while_open: frozenset[str] = frozenset()


def _entry(db: sqlite_utils.Database | Database, row: Any, visibility: str | None) -> Entry:
    sql = "SELECT prompt_key, value, visibility FROM workbook_answers WHERE entry_id = ?"
    params: list[Any] = [row["id"]]
    if visibility is not None:
        sql += " AND visibility = ?"
        params.append(visibility)
    rows = db.query(sql, params) if isinstance(db, Database) else db.execute(sql, params).fetchall()
    return Entry(
        id=row["id"],
        status=row["status"],
        answers={r[0]: json.loads(r[1]) for r in rows},
        visibility={r[0]: r[2] for r in rows},
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
    entries = [_entry(database, row, None) for row in rows]
    for entry in entries:
        if entry.status == "draft":
            entry.private_while_open = private_while_open_in(
                database.reader, course_id, lesson_key, entry.created_at, clock.iso(clock.now())
            )
    return entries


@dataclass(frozen=True)
class TeacherReply:
    """A teacher's answer to one of the learner's pages, for the learner's home page."""

    course_id: str
    lesson_key: str
    reviewed_at: str


def replies_since(
    database: Database, user_id: int, since: str, limit: int = 5
) -> list[TeacherReply]:
    """The learner's pages a teacher answered at or after `since` (ISO UTC), newest first;
    one line per lesson."""
    rows = database.query(
        "SELECT course_id, lesson_key, max(reviewed_at) AS reviewed_at FROM workbook_entries"
        " WHERE user_id = ? AND feedback != '' AND reviewed_at >= ?"
        " GROUP BY course_id, lesson_key ORDER BY reviewed_at DESC LIMIT ?",
        [user_id, since, limit],
    )
    return [TeacherReply(r["course_id"], r["lesson_key"], r["reviewed_at"]) for r in rows]


# Served versions: each went live when approved (or imported, when auto-published). A
# version counts unless a newer one went live before the draft was started; times are
# to the second, so a tie counts it (the stricter side).
_PRIVATE_WHILE_OPEN = """
SELECT DISTINCT json_extract(p.value, '$.key')
FROM courses c
JOIN course_versions v ON v.course_pk = c.id
JOIN lessons l ON l.version_id = v.id AND l.key = :lesson
JOIN json_each(l.data, '$.workbook.prompts') p
WHERE c.course_id = :course
AND v.status IN ('approved', 'retired', 'retracted')
AND coalesce(v.reviewed_at, v.imported_at) <= :until
AND NOT EXISTS (
    SELECT 1 FROM course_versions n
    WHERE n.course_pk = v.course_pk AND n.version > v.version
    AND n.status IN ('approved', 'retired', 'retracted')
    AND coalesce(n.reviewed_at, n.imported_at) < :since
)
AND coalesce(json_extract(p.value, '$.visibility'), '') != 'educator'
"""


def private_while_open_in(
    db: sqlite_utils.Database, course_id: str, lesson_key: str, since: str, until: str
) -> frozenset[str]:
    """The prompts of this workbook that some version live between ``since`` (a draft
    was started) and ``until`` made private. A learner who saw "Only you can read this"
    on a draft, even without writing under it, keeps that promise for the whole draft."""
    rows = db.execute(
        _PRIVATE_WHILE_OPEN,
        {"course": course_id, "lesson": lesson_key, "since": since, "until": until},
    ).fetchall()
    return frozenset(str(r[0]) for r in rows if r[0] is not None)


def shared_answers(database: Database, entry_id: int) -> Entry | None:
    """An entry as staff may see it: only answers written to a prompt the learner's
    educator may read, and only once the learner submitted it."""
    row = database.query_one("SELECT * FROM workbook_entries WHERE id = ?", [entry_id])
    if row is None or not staff_may_read_entry(row["status"]):
        return None
    return _entry(database, row, SHARED)


def shown_visibility(prompt: Prompt, entry: Entry | None) -> str:
    """The label the learner's page shows for this prompt: the strictest of the prompt,
    the answer already saved for it and the versions live while the draft was open."""
    if entry is None:
        return prompt.visibility
    kept = PRIVATE if prompt.key in entry.private_while_open else None
    return strictest(prompt.visibility, entry.visibility.get(prompt.key), kept)


def _draft_id(
    db: sqlite_utils.Database, user: User, course: Course, lesson: Lesson, now: float
) -> int:
    """The learner's draft, created if needed, and moved to the live version: its answers
    are now written under that version's prompts."""
    row = db.execute(
        "SELECT id FROM workbook_entries WHERE user_id = ? AND course_id = ? AND lesson_key = ?"
        " AND status = 'draft'",
        [user.id, course.course_id, lesson.key],
    ).fetchone()
    if row is not None:
        db.execute(
            "UPDATE workbook_entries SET version_id = ? WHERE id = ?", [course.version_id, row[0]]
        )
        return int(row[0])
    cursor = db.execute(
        "INSERT INTO workbook_entries (user_id, course_id, lesson_key, version_id, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        [user.id, course.course_id, lesson.key, course.version_id, clock.iso(now), clock.iso(now)],
    )
    return int(cursor.lastrowid or 0)


def shown_private_keys(raw: Any) -> frozenset[str]:
    """The prompts the learner's page labelled "only you" (a list of prompt keys); anything
    else says nothing, and the live prompt and the saved answer still decide."""
    if not isinstance(raw, list):
        return frozenset()
    return frozenset(k for k in raw if isinstance(k, str))


def save_draft_in(
    db: sqlite_utils.Database,
    user: User,
    course: Course,
    lesson: Lesson,
    raw_answers: Any,
    now: float,
    shown_private: frozenset[str] = frozenset(),
) -> int:
    """Write the given answers into the learner's draft (created if needed); prompts not
    in ``raw_answers`` keep their saved answer. ``shown_private`` names the prompts the
    learner's page showed as private. Every answer in the draft gets the strictest of the
    live prompt, that label, the versions live while the draft was open and its stored
    visibility. Returns the entry id."""
    if not isinstance(raw_answers, dict):
        raise ValidationError("'data.answers' must be an object")
    entry_id = _draft_id(db, user, course, lesson, now)
    started = db.execute(
        "SELECT created_at FROM workbook_entries WHERE id = ?", [entry_id]
    ).fetchone()[0]
    kept = private_while_open_in(db, course.course_id, lesson.key, started, clock.iso(now))
    stored = dict(
        db.execute(
            "SELECT prompt_key, visibility FROM workbook_answers WHERE entry_id = ?", [entry_id]
        ).fetchall()
    )
    for prompt in prompts_of(lesson):
        visibility = strictest(
            prompt.visibility,
            PRIVATE if prompt.key in shown_private else None,
            PRIVATE if prompt.key in kept else None,
            stored.get(prompt.key),
        )
        if prompt.key not in raw_answers:
            # Kept words are now shown under this version's label too.
            db.execute(
                "UPDATE workbook_answers SET visibility = ? WHERE entry_id = ? AND prompt_key = ?",
                [visibility, entry_id, prompt.key],
            )
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
            " visibility = excluded.visibility, value = excluded.value,"
            " updated_at = excluded.updated_at",
            [entry_id, prompt.key, visibility, json.dumps(value), clock.iso(now)],
        )
    db.execute(
        "UPDATE workbook_entries SET updated_at = ? WHERE id = ?", [clock.iso(now), entry_id]
    )
    return entry_id


def _apply_draft_in(
    db: sqlite_utils.Database,
    user: User,
    course: Course,
    lesson: Lesson,
    event: progress.Event,
    now: float,
) -> None:
    """A new draft event (autosave or the plain form): its answers go into the draft."""
    shown_private = shown_private_keys(event.data.get("shown_private"))
    answers = event.data.get("answers")
    save_draft_in(db, user, course, lesson, answers, now, shown_private)


progress.handle_events("draft", _apply_draft_in, kind="workbook")


def save(
    database: Database,
    settings: Settings,
    user: User,
    course: Course,
    lesson: Lesson,
    raw_answers: dict[str, Any],
    event_id: str,
    submit: bool,
    shown_private: frozenset[str] = frozenset(),
) -> None:
    """The plain form: save the draft, and submit it when asked (once, however often the
    form is sent). ``shown_private``: the prompts the form showed as private."""
    now = clock.now()
    with database.write() as db:
        kind = "submitted" if submit else "draft"
        event = progress.Event(event_id, kind, course.course_id, lesson.key)
        if kind == "draft":
            data = {"answers": raw_answers, "shown_private": sorted(shown_private)}
            event = progress.Event(event_id, "draft", course.course_id, lesson.key, data=data)
            progress.record_in(db, settings, user, course, lesson, event)
            return
        if not progress.record_in(db, settings, user, course, lesson, event):
            return
        entry_id = save_draft_in(db, user, course, lesson, raw_answers, now, shown_private)
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
