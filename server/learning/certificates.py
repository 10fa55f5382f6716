"""Course certificates and their verification codes.

A certificate is issued once per learner and course, in the same transaction as the
event that completed the course's last lesson, with the entry in the credit ledger that
the completion earns (`server.learning.ledger`). It shows the course's nominal hours
and, beside them, the time the learner was measured to spend. Its code is short enough to type from
paper: 8 random base32 characters and 8 characters of an itsdangerous signature over
them (purpose "certificate", keyed by the facility's secret), e.g. ``K7QM-2XDA-PL4R-9TZE``.
Staff check a code at ``/verify/CODE``: the signature proves this facility made it, even
from paper, and the database row says what it certifies. Both work without a network.

An admin can revoke a certificate issued by mistake (or obtained dishonestly): the row
stays, marked with when, by whom and why, so a check of its code says "revoked" rather
than "unknown", and the learner's record no longer lists it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass

import sqlite_utils
from itsdangerous import Signer

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import Settings
from server.learning import ledger
from server.learning.visibility import Course
from server.people import audit
from server.people.accounts import User
from server.people.audit import Actor

_ALPHABET = re.compile(r"^[A-Z2-7]{16}$")


def _signature(settings: Settings, body: str) -> str:
    signer = Signer(
        settings.signing_key(), salt="stepstone.certificate", digest_method=hashlib.sha256
    )
    raw = signer.algorithm.get_signature(signer.derive_key(), body.encode("ascii"))
    return base64.b32encode(raw).decode("ascii")[:8]


def _grouped(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, 16, 4))


def normalize(code: str) -> str:
    """What the person typed → the canonical code (or "" if it cannot be one)."""
    cleaned = re.sub(r"[\s\-]", "", code.upper())[:32]
    cleaned = cleaned.replace("0", "O").replace("1", "I").replace("8", "B")
    return _grouped(cleaned) if _ALPHABET.match(cleaned) else ""


def signature_ok(settings: Settings, code: str) -> bool:
    canonical = normalize(code).replace("-", "")
    if not canonical:
        return False
    return hmac.compare_digest(_signature(settings, canonical[:8]), canonical[8:])


def new_code(settings: Settings) -> str:
    body = base64.b32encode(secrets.token_bytes(5)).decode("ascii")
    return _grouped(body + _signature(settings, body))


@dataclass(frozen=True)
class Certificate:
    code: str
    user_id: int
    course_id: str
    learner_name: str
    facility_id: str
    course_title: str
    publisher: str
    hours: float
    credits: float
    facility: str
    completed_at: str
    issued_at: str
    revoked_at: str | None = None
    revoke_reason: str = ""
    # Time the learner was measured to spend (None on certificates issued before it was
    # kept); shown beside the nominal `hours`, which are the publisher's estimate.
    measured_seconds: float | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Certificate:
        return cls(
            row["code"],
            row["user_id"],
            row["course_id"],
            row["learner_name"],
            row["facility_id"],
            row["course_title"],
            row["publisher"],
            row["hours"],
            row["credits"],
            row["facility"],
            row["completed_at"],
            row["issued_at"],
            row["revoked_at"],
            row["revoke_reason"],
            row["measured_seconds"],
        )


def issue_if_complete_in(
    db: sqlite_utils.Database, settings: Settings, user: User, course: Course
) -> str | None:
    """Issue the certificate if every lesson of the live version is done; returns the
    code when one was issued now."""
    row = db.execute(
        "SELECT count(*) AS total, sum(p.status = 'done') AS done, max(p.completed_at) AS last"
        " FROM lessons l LEFT JOIN lesson_progress p ON p.user_id = ? AND p.course_id = ?"
        " AND p.lesson_key = l.key WHERE l.version_id = ?",
        [user.id, course.course_id, course.version_id],
    ).fetchone()
    if row is None or not row[0] or row[1] != row[0]:
        return None
    exists = db.execute(
        "SELECT 1 FROM certificates WHERE user_id = ? AND course_id = ?",
        [user.id, course.course_id],
    ).fetchone()
    if exists:
        return None
    code = new_code(settings)
    measured = db.execute(
        "SELECT coalesce(sum(seconds_spent), 0) FROM lesson_progress"
        " WHERE user_id = ? AND course_id = ?",
        [user.id, course.course_id],
    ).fetchone()[0]
    completed_at = row[2] or clock.iso()
    db.execute(
        "INSERT INTO certificates (code, user_id, course_id, version_id, learner_name,"
        " facility_id, course_title, publisher, hours, credits, facility, completed_at,"
        " issued_at, measured_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            code,
            user.id,
            course.course_id,
            course.version_id,
            user.display_name,
            user.facility_id or "",
            course.title,
            course.publisher,
            course.estimated_hours,
            course.credits,
            settings.facility_name,
            completed_at,
            clock.iso(),
            float(measured),
        ],
    )
    ledger.earn_in(db, user, course, code, completed_at)
    return code


def code_for_in(db: sqlite_utils.Database, user_id: int, course_id: str) -> str | None:
    row = db.execute(
        "SELECT code FROM certificates WHERE user_id = ? AND course_id = ?", [user_id, course_id]
    ).fetchone()
    return str(row[0]) if row else None


def find(database: Database, settings: Settings, code: str) -> Certificate | None:
    """The certificate for a typed code, if the code is genuine and recorded."""
    if not signature_ok(settings, code):
        return None
    row = database.query_one("SELECT * FROM certificates WHERE code = ?", [normalize(code)])
    return Certificate.from_row(row) if row else None


def of_learner(database: Database, user_id: int) -> list[Certificate]:
    """The learner's certificates that stand (revoked ones are not part of their record)."""
    rows = database.query(
        "SELECT * FROM certificates WHERE user_id = ? AND revoked_at IS NULL"
        " ORDER BY completed_at DESC",
        [user_id],
    )
    return [Certificate.from_row(row) for row in rows]


def revoke(database: Database, settings: Settings, actor: Actor, code: str, reason: str) -> None:
    """Revoke the certificate with this code, saying why; audited. Revoking twice is refused."""
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= 500:
        raise ValidationError(N_("Say why, in 3 to 500 characters."), "reason")
    if not signature_ok(settings, code):
        raise NotFound(N_("There is no certificate with this code."))
    canonical = normalize(code)
    with database.write() as db:
        row = db.execute(
            "SELECT revoked_at, learner_name FROM certificates WHERE code = ?", [canonical]
        ).fetchone()
        if row is None:
            raise NotFound(N_("There is no certificate with this code."))
        if row[0] is not None:
            raise ValidationError(N_("This certificate is already revoked."))
        db.execute(
            "UPDATE certificates SET revoked_at = ?, revoked_by = ?, revoke_reason = ?"
            " WHERE code = ?",
            [clock.iso(), actor.label, reason, canonical],
        )
        audit.record(db, actor, "certificate.revoke", canonical, reason=reason)
