"""Sending a learner's record to another facility: the workbook pages they choose to take,
and the signed transfer bundle an admin exports when they leave.

What travels (``bundle`` names the sections): the profile (name, language; the learner's
id here is the envelope's ``learner.sender_id``), each course's lesson states, quiz
attempts and time with the version they were made in, the learner's assignments with
their due dates (a group's included, as the learner's own), the learning plan, the
certificates, and only the workbook pages the learner ticked: a private answer goes only
if the learner chose its page, and is still marked private at the other end. Records
that came from other facilities before travel on too, so nothing is lost on a second
move.

Each export is numbered per learner (``transfer_exports``), so the receiving facility can
refuse a bundle older than one it already merged.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.core.settings import Settings
from server.learning.assignments import effective_due_sql
from server.people import accounts, audit
from server.people.accounts import Role, User
from server.people.audit import Actor
from server.records import bundle, identity


@dataclass(frozen=True)
class PageChoice:
    """One of a learner's workbook pages, for the "Pages to take with me" list."""

    entry_id: int
    course_id: str
    course_title: str
    lesson_title: str
    status: str
    written_at: str
    private: bool  # holds at least one answer only the learner may read
    chosen: bool


@dataclass(frozen=True)
class Exported:
    """A signed bundle, ready to be written to a file."""

    data: bytes
    bundle_id: str
    sequence: int
    expires_at: str
    summary: dict[str, int]

    @property
    def file_name(self) -> str:
        return f"{self.bundle_id}{bundle.SUFFIX}"


# --- the learner's choice of pages ---------------------------------------------------

_PAGES = """
    SELECT e.id, e.course_id, e.lesson_key, e.status, e.updated_at, v.title AS course_title,
           coalesce(l.title, e.lesson_key) AS lesson_title,
           EXISTS (SELECT 1 FROM workbook_answers a WHERE a.entry_id = e.id
                   AND a.visibility = 'private') AS private,
           EXISTS (SELECT 1 FROM transfer_choices t WHERE t.entry_id = e.id
                   AND t.user_id = e.user_id) AS chosen
    FROM workbook_entries e
    JOIN course_versions v ON v.id = e.version_id
    LEFT JOIN lessons l ON l.version_id = e.version_id AND l.key = e.lesson_key
    WHERE e.user_id = ? AND EXISTS (SELECT 1 FROM workbook_answers a WHERE a.entry_id = e.id)
"""


def page_choices(database: Database | sqlite_utils.Database, user_id: int) -> list[PageChoice]:
    """The learner's written workbook pages, newest first, each with whether it is chosen."""
    db = database.reader if isinstance(database, Database) else database
    rows = db.execute(_PAGES + " ORDER BY e.updated_at DESC, e.id DESC", [user_id]).fetchall()
    return [
        PageChoice(
            row["id"],
            row["course_id"],
            row["course_title"],
            row["lesson_title"],
            row["status"],
            row["updated_at"],
            bool(row["private"]),
            bool(row["chosen"]),
        )
        for row in rows
    ]


def choose_pages(database: Database, learner: User, entry_ids: Iterable[int]) -> int:
    """Keep exactly ``entry_ids`` as the pages ``learner`` takes with them; an id that is
    not one of their own pages is refused. Returns how many are chosen."""
    wanted = set(entry_ids)
    with database.write() as db:
        own = {choice.entry_id for choice in page_choices(db, learner.id)}
        if not wanted <= own:
            raise ValidationError(N_("Choose only your own workbook pages."), "pages")
        db.execute("DELETE FROM transfer_choices WHERE user_id = ?", [learner.id])
        now = clock.iso()
        for entry_id in sorted(wanted):
            db.execute(
                "INSERT INTO transfer_choices (user_id, entry_id, chosen_at) VALUES (?, ?, ?)",
                [learner.id, entry_id, now],
            )
        audit.record(db, learner.actor(), "transfer.choose_pages", "", pages=len(wanted))
    return len(wanted)


# --- the bundle's sections -----------------------------------------------------------


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _course_version(db: sqlite_utils.Database, user_id: int, course_id: str) -> dict[str, Any]:
    """The version a learner's record of a course belongs to: their certificate's, else the
    live one, else the newest this facility holds."""
    found = _rows(
        db,
        "SELECT v.version, v.title FROM courses c JOIN course_versions v ON v.course_pk = c.id"
        " WHERE c.course_id = ? ORDER BY"
        " v.id = (SELECT version_id FROM certificates WHERE user_id = ? AND course_id = ?) DESC,"
        " v.id = c.live_version_id DESC, v.version DESC LIMIT 1",
        [course_id, user_id, course_id],
    )
    return found[0] if found else {"version": 1, "title": course_id}


def _courses(db: sqlite_utils.Database, user_id: int) -> list[dict[str, Any]]:
    course_ids = [
        row[0]
        for row in db.execute(
            "SELECT course_id FROM lesson_progress WHERE user_id = ? UNION"
            " SELECT course_id FROM quiz_attempts WHERE user_id = ? UNION"
            " SELECT course_id FROM certificates WHERE user_id = ? ORDER BY 1",
            [user_id, user_id, user_id],
        )
    ]
    courses = []
    for course_id in course_ids:
        version = _course_version(db, user_id, course_id)
        lessons = _rows(
            db,
            "SELECT lesson_key AS key, status, seconds_spent, score, passed, started_at,"
            " completed_at FROM lesson_progress WHERE user_id = ? AND course_id = ?"
            " ORDER BY started_at, lesson_key",
            [user_id, course_id],
        )
        attempts = _rows(
            db,
            "SELECT q.lesson_key, v.version, q.answers, q.score, q.passed, q.started_at,"
            " q.submitted_at FROM quiz_attempts q JOIN course_versions v ON v.id = q.version_id"
            " WHERE q.user_id = ? AND q.course_id = ? AND q.submitted_at IS NOT NULL"
            " ORDER BY q.id",
            [user_id, course_id],
        )
        for attempt in attempts:
            attempt["answers"] = json.loads(attempt["answers"])
        courses.append(
            {
                "course_id": course_id,
                "title": version["title"],
                "version": version["version"],
                "lessons": lessons,
                "attempts": attempts,
            }
        )
    return courses


def _assignments(
    db: sqlite_utils.Database, settings: Settings, user_id: int
) -> list[dict[str, Any]]:
    due = effective_due_sql(settings.due_after_joining_days)  # SQL made of an int
    own = "SELECT course_id, lesson_key, due_date, note FROM assignments WHERE user_id = ?"
    group = f"SELECT a.course_id, a.lesson_key, {due}, a.note FROM assignments a"  # noqa: S608
    group += " JOIN group_members m ON m.group_id = a.group_id WHERE m.user_id = ?"
    return _rows(db, f"{own} UNION {group} ORDER BY 1, 2", [user_id, user_id])


def _plan(db: sqlite_utils.Database, user_id: int) -> list[dict[str, Any]]:
    return _rows(
        db,
        "SELECT category, title, course_id, target_date, note, status FROM plan_goals"
        " WHERE learner_id = ? AND status != 'dropped' ORDER BY id",
        [user_id],
    )


def _certificates(db: sqlite_utils.Database, user_id: int) -> list[dict[str, Any]]:
    return _rows(
        db,
        "SELECT c.code, c.course_id, c.course_title, v.version, c.publisher, c.hours,"
        " c.credits, c.facility, c.completed_at, c.issued_at FROM certificates c"
        " JOIN course_versions v ON v.id = c.version_id WHERE c.user_id = ? ORDER BY c.code",
        [user_id],
    )


def _elsewhere(db: sqlite_utils.Database, user_id: int) -> list[dict[str, Any]]:
    """Records that came here from other facilities: they travel on with the learner."""
    rows = _rows(
        db,
        "SELECT facility_id, facility_name, course_id, course_title, version, status,"
        " started_at, completed_at, score, seconds_spent, certificate_code, evidence"
        " FROM from_elsewhere WHERE user_id = ? ORDER BY id",
        [user_id],
    )
    for row in rows:
        row["evidence"] = json.loads(row["evidence"])
    return rows


# The columns of `credit_ledger` a bundle carries (not the ids, which are this facility's).
CREDIT_COLUMNS = (
    "course_id",
    "course_title",
    "course_version",
    "credit_type",
    "hours_basis",
    "nominal_hours",
    "measured_hours",
    "hours",
    "score",
    "started_at",
    "completed_at",
    "certificate_code",
    "reason",
    "recorded_at",
    "digest",
)
_CREDIT_SQL = (
    f"SELECT {', '.join(CREDIT_COLUMNS)} FROM credit_ledger l WHERE user_id = ?"  # noqa: S608 (fixed names)
    " AND NOT EXISTS (SELECT 1 FROM credit_ledger c WHERE c.corrects_id = l.id) ORDER BY id"
)


def _credit(db: sqlite_utils.Database, settings: Settings, user_id: int) -> list[dict[str, Any]]:
    """The earned-credit ledger in force (corrected entries replaced by their corrections),
    this facility's own, then what came from others (``credit_elsewhere``), each entry
    with the facility that wrote it: credit earned anywhere travels with the learner."""
    own = _rows(db, _CREDIT_SQL, [user_id])
    here = identity.facility_id(settings)
    mine = {"facility_id": here, "facility_name": settings.facility_name}
    return [{**mine, **row} for row in own] + credit_elsewhere_in(db, user_id, here)


def credit_elsewhere_in(db: sqlite_utils.Database, user_id: int, here: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT received FROM transfers WHERE user_id = ? ORDER BY issued_at, imported_at",
        [user_id],
    ).fetchall()
    return credit_received([row[0] for row in rows], here)


def credit_received(received: Iterable[str], here: str) -> list[dict[str, Any]]:
    """Credit entries that came with a learner's transfers (``received``: the records as
    received, oldest first), as the facilities that wrote them sent them: for each facility,
    those of the newest bundle that carried any (a bundle carries all of a facility's
    entries in force). Never this facility's own, which are in its ledger."""
    found: dict[str, list[dict[str, Any]]] = {}
    for text in received:
        by_facility: dict[str, list[dict[str, Any]]] = {}
        for entry in json.loads(text).get("sections", {}).get("credit.v1", []):
            if entry["facility_id"] != here:
                by_facility.setdefault(entry["facility_id"], []).append(entry)
        found.update(by_facility)
    return [entry for entries in found.values() for entry in entries]


def _workbook(db: sqlite_utils.Database, user_id: int) -> list[dict[str, Any]]:
    pages = []
    for choice in page_choices(db, user_id):
        if not choice.chosen:
            continue
        entry = _rows(db, "SELECT * FROM workbook_entries WHERE id = ?", [choice.entry_id])[0]
        answers = _rows(
            db,
            "SELECT prompt_key AS prompt, visibility, value FROM workbook_answers"
            " WHERE entry_id = ? ORDER BY prompt_key",
            [choice.entry_id],
        )
        questions = dict(
            db.execute(
                "SELECT json_extract(p.value, '$.key'), json_extract(p.value, '$.prompt')"
                " FROM lessons l, json_each(l.data, '$.workbook.prompts') p"
                " WHERE l.version_id = ? AND l.key = ?",
                [entry["version_id"], entry["lesson_key"]],
            ).fetchall()
        )
        for answer in answers:
            answer["value"] = json.loads(answer["value"])
            # The question's words, so the page reads the same where the course is not held.
            answer["question"] = str(questions.get(answer["prompt"]) or answer["prompt"])
        pages.append(
            {
                "entry": str(choice.entry_id),
                "course_id": choice.course_id,
                "course_title": choice.course_title,
                "lesson_key": entry["lesson_key"],
                "lesson_title": choice.lesson_title,
                "status": entry["status"],
                "answers": answers,
                "feedback": entry["feedback"],
                "written_at": entry["updated_at"],
            }
        )
    return pages


# --- the export ----------------------------------------------------------------------


def find_learner(database: Database, login: str) -> User:
    found = accounts.find_user(database, Role.LEARNER, login)
    if found is None:
        raise ValidationError(f"No learner with the id {login!r}.", "learner")
    return found[0]


def export_learner(database: Database, settings: Settings, actor: Actor, learner: User) -> Exported:
    """Sign ``learner``'s record as a new bundle (numbered after the last one), recorded
    and audited here; the caller writes :attr:`Exported.data` to a file."""
    with database.write() as db:
        return export_learner_in(db, settings, actor, learner)


def export_learner_in(
    db: sqlite_utils.Database, settings: Settings, actor: Actor, learner: User
) -> Exported:
    if learner.role is not Role.LEARNER:
        raise ValidationError(N_("Only a learner's record can be transferred."), "learner")
    last = db.execute(
        "SELECT max(sequence) FROM transfer_exports WHERE user_id = ?", [learner.id]
    ).fetchone()[0]
    sequence = int(last or 0) + 1
    issued = clock.iso()
    expires = (
        datetime.fromisoformat(issued) + timedelta(days=settings.transfer_valid_days)
    ).isoformat()
    sections: dict[str, Any] = {
        "profile.v1": {"name": learner.display_name, "language": learner.language},
        "courses.v1": _courses(db, learner.id),
        "assignments.v1": _assignments(db, settings, learner.id),
        "plan.v1": _plan(db, learner.id),
        "certificates.v1": _certificates(db, learner.id),
        "workbook.v1": _workbook(db, learner.id),
        "elsewhere.v1": _elsewhere(db, learner.id),
        "credit.v1": _credit(db, settings, learner.id),
    }
    bundle_id = secrets.token_hex(16)
    payload: dict[str, Any] = {
        "type": bundle.TYPE,
        "version": bundle.VERSION,
        "bundle_id": bundle_id,
        "issued_at": issued,
        "expires_at": expires,
        "sender": {"facility_id": identity.facility_id(settings), "name": settings.facility_name},
        "learner": {"sender_id": learner.login, "sequence": sequence},
        "sections": sections,
    }
    document = identity.sign_document(settings, payload)
    bundle.check(document)  # what we send, we would accept
    data = bundle.encode(document)
    digest = hashlib.sha256(data).hexdigest()
    db.execute(
        "INSERT INTO transfer_exports (bundle_id, user_id, sequence, bundle_sha256, issued_at,"
        " expires_at, exported_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [bundle_id, learner.id, sequence, digest, issued, expires, actor.label],
    )
    summary = {
        name.split(".")[0]: len(value)
        for name, value in sections.items()
        if isinstance(value, list)
    }
    audit.record(
        db,
        actor,
        "transfer.export",
        f"learner:{learner.login}",
        bundle_id=payload["bundle_id"],
        sequence=sequence,
        sha256=digest,
        **summary,
    )
    return Exported(data, bundle_id, sequence, expires, summary)


def credit_elsewhere_of(
    database: Database, settings: Settings, user_id: int
) -> list[dict[str, Any]]:
    """What :func:`credit_received` finds for a learner here: credit earned at other
    facilities, for their record, their passport and the staff."""
    rows = database.query(
        "SELECT received FROM transfers WHERE user_id = ? ORDER BY issued_at, imported_at",
        [user_id],
    )
    return credit_received([row[0] for row in rows], identity.facility_id(settings))
