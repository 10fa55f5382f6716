"""The Learning Passport: what a learner achieved here, as a document they take with them
when they leave.

Staff issue it at release (or whenever a learner asks): the courses the learner finished
with their hours, quiz scores and certificate codes, the time they spent, and the goals
of their learning plan they met, in the learner's language. It is one JSON document,
signed with the facility key (``records.identity.sign_document``), kept here byte for
byte, and handed over two ways: printed (with a QR code of its check code,
``records.checkcodes``) and as a ``.stepstone-passport`` file for a USB stick, which any
Stepstone server or the standalone ``stepstone verify`` checks against trusted facility
cards. Issuing again makes a new passport; the older ones stay valid, each saying what
was true on its day.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.core.settings import Settings
from server.learning import certificates, ledger, plans, progress
from server.people import audit
from server.people.accounts import Role, User
from server.people.audit import Actor
from server.records import identity, transfer_out

TYPE = "stepstone-learning-passport"
VERSION = 1
FILE_SUFFIX = ".stepstone-passport"
MEDIA_TYPE = "application/vnd.stepstone.passport+json"
MAX_FILE_BYTES = 1024 * 1024


class BadPassport(ValidationError):
    """A file that is not a Learning Passport Stepstone can read."""


@dataclass(frozen=True)
class Passport:
    id: str
    learner_id: int
    language: str
    issued_at: str
    issued_by: str
    sha256: str
    data: bytes  # the signed file, exactly as handed out

    @property
    def document(self) -> dict[str, Any]:
        return dict(json.loads(self.data))

    @property
    def filename(self) -> str:
        return f"learning-passport-{self.issued_at[:10]}{FILE_SUFFIX}"


def contents(database: Database, settings: Settings, learner: User) -> dict[str, Any]:
    """What the learner's passport says today, unsigned: for the preview and for issuing."""
    earned = certificates.of_learner(database, learner.id)
    scores = progress.quiz_scores(database, learner.id)
    spent = progress.progress_by_course(database, learner.id)
    courses: list[dict[str, Any]] = [
        {
            "course_id": cert.course_id,
            "title": cert.course_title,
            "publisher": cert.publisher,
            "hours": round(cert.hours, 1),
            "credits": cert.credits,
            "completed_at": cert.completed_at,
            "certificate": cert.code,
            "quiz_score": scores.get(cert.course_id),
            "time_spent_hours": round(spent.get(cert.course_id, (0, 0.0))[1] / 3600, 1),
        }
        for cert in sorted(earned, key=lambda c: c.completed_at)
    ]
    goals = [
        {"title": goal.title, "category": goal.category, "met_on": goal.updated_at}
        for goal in plans.goals_of(database, learner.id)
        if goal.status == "met"
    ]
    return {
        "type": TYPE,
        "version": VERSION,
        "learner": {"name": learner.display_name, "facility_id": learner.facility_id or ""},
        "language": learner.language,
        "courses": courses,
        "totals": {
            "courses": len(courses),
            "course_hours": round(sum(c["hours"] for c in courses), 1),
            "credits": sum(c["credits"] for c in courses),
            "time_spent_hours": round(sum(c["time_spent_hours"] for c in courses), 1),
        },
        "goals_met": goals,
        "earned_credit": _earned_credit(database, settings, learner),
    }


def _earned_credit(database: Database, settings: Settings, learner: User) -> list[dict[str, Any]]:
    """The earned-credit ledger in force, here and from the facilities the learner came
    from (as they wrote it), for case managers and parole files after release."""
    here = [
        {
            "course_title": e.course_title,
            "credit_type": e.credit_type,
            "hours": e.hours,
            "completed_at": e.completed_at,
            "facility": settings.facility_name,
        }
        for e in ledger.standing(ledger.entries_of(database, learner.id))
        if e.credit_type != "none"
    ]
    elsewhere = [
        {
            "course_title": e["course_title"],
            "credit_type": e["credit_type"],
            "hours": e["hours"],
            "completed_at": e.get("completed_at") or "",
            "facility": e.get("facility_name") or e["facility_id"],
        }
        for e in transfer_out.credit_elsewhere_of(database, settings, learner.id)
        if e["credit_type"] != "none"
    ]
    return here + elsewhere


def file_bytes(signed: dict[str, Any]) -> bytes:
    """The file as handed out: readable JSON (the signature covers the canonical bytes, so
    the layout does not matter to a verifier)."""
    return (json.dumps(signed, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def issue(database: Database, settings: Settings, actor: Actor, learner: User) -> Passport:
    """Sign and keep the learner's passport as of now; audited."""
    if learner.role is not Role.LEARNER:
        raise ValidationError(N_("Only a learner has a Learning Passport."))
    body = contents(database, settings, learner)
    body["passport_id"] = secrets.token_hex(8)
    body["issued_at"] = clock.iso()
    body["facility"] = {"id": identity.facility_id(settings), "name": settings.facility_name}
    data = file_bytes(identity.sign_document(settings, body))
    digest = hashlib.sha256(data).hexdigest()
    with database.write() as db:
        db.execute(
            "INSERT INTO passports (id, learner_id, language, issued_at, issued_by, sha256,"
            " document) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                body["passport_id"],
                learner.id,
                learner.language,
                body["issued_at"],
                actor.label,
                digest,
                data.decode(),
            ],
        )
        audit.record(
            db,
            actor,
            "passport.issue",
            learner.label,
            passport=body["passport_id"],
            courses=len(body["courses"]),
        )
    return Passport(
        body["passport_id"],
        learner.id,
        learner.language,
        body["issued_at"],
        actor.label,
        digest,
        data,
    )


def _passport(row: Any) -> Passport:
    return Passport(
        row["id"],
        row["learner_id"],
        row["language"],
        row["issued_at"],
        row["issued_by"],
        row["sha256"],
        row["document"].encode(),
    )


def of_learner(database: Database, learner_id: int) -> list[Passport]:
    """The learner's passports, newest first."""
    rows = database.query(
        "SELECT * FROM passports WHERE learner_id = ? ORDER BY issued_at DESC, rowid DESC",
        [learner_id],
    )
    return [_passport(row) for row in rows]


def find(database: Database, passport_id: str) -> Passport | None:
    row = database.query_one("SELECT * FROM passports WHERE id = ?", [passport_id])
    return _passport(row) if row else None


def parse_file(data: bytes) -> dict[str, Any]:
    """A passport file's document, unverified (the caller checks the signature)."""
    if len(data) > MAX_FILE_BYTES:
        raise BadPassport(N_("This file is too big to be a Learning Passport."))
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadPassport(N_("This file is not a Learning Passport.")) from None
    if not is_passport(document):
        raise BadPassport(N_("This file is not a Learning Passport."))
    return dict(document)


def is_passport(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("type") == TYPE
        and document.get("version") == VERSION
        and isinstance(document.get("courses"), list)
        and isinstance(document.get("learner"), dict)
        and isinstance(document.get("facility"), dict)
        and isinstance(document.get("goals_met"), list)
    )
