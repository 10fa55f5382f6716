"""The earned-credit ledger: what each completed course earned a learner, with its evidence.

When a learner finishes a course (in the transaction that issues its certificate), the
credit rule in force that day (`server.learning.credit_rules`) decides whether it earns
credit; if it does, one entry is written with the evidence: the course version, when the
learner started and finished, the nominal hours and the measured hours (both, whichever
counts), the average of the learner's best quiz scores (percent) and the certificate.
An entry is never changed: a correction is a new entry that points at the one it
corrects and says why, and from then on it stands in its place. Each entry may be
corrected once; a later correction corrects the correction.

Tamper-evidence comes from the audit log. Each entry's SHA-256 digest, over every field,
is written into an audit entry in the same transaction, and the audit log is a keyed hash
chain (`server.people.audit`). `verify_ledger` checks every entry against its audit
entry: editing, adding or removing an entry without breaking the chain cannot be done
without the audit key. `stepstone audit verify` runs both checks.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.learning.credit_rules import CREDIT_TYPES, rule_on_in
from server.learning.visibility import Course
from server.people import audit
from server.people.accounts import User
from server.people.audit import Actor

SYSTEM = Actor.system("stepstone")
ACTIONS = ("credit.earned", "credit.corrected")
MAX_REASON = 500
MAX_HOURS = 10_000.0


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    user_id: int
    course_id: str
    course_title: str
    course_version: int
    rule_id: int | None
    credit_type: str
    hours_basis: str
    nominal_hours: float
    measured_hours: float
    hours: float
    score: float | None
    started_at: str | None
    completed_at: str
    certificate_code: str | None
    corrects_id: int | None
    reason: str
    recorded_by: str
    recorded_at: str
    digest: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LedgerEntry:
        return cls(*(row[name] for name in cls.__dataclass_fields__))

    def as_data(self) -> dict[str, Any]:
        """The entry as plain JSON-ready data (exports, transfer bundles)."""
        return asdict(self)


def _digest(fields: dict[str, Any]) -> str:
    body = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _write_in(db: sqlite_utils.Database, actor: Actor, fields: dict[str, Any]) -> LedgerEntry:
    """Insert one entry and its audit entry, which carries the entry's digest."""
    last = db.execute("SELECT coalesce(max(id), 0) FROM credit_ledger").fetchone()
    fields = {"id": int(last[0]) + 1, **fields, "recorded_by": actor.label}
    fields["recorded_at"] = clock.iso()
    fields["digest"] = _digest(fields)
    columns = ", ".join(fields)
    db.execute(
        f"INSERT INTO credit_ledger ({columns}) VALUES ({', '.join(':' + k for k in fields)})",  # noqa: S608 - our own column names
        fields,
    )
    action = ACTIONS[1] if fields["corrects_id"] is not None else ACTIONS[0]
    audit.record(
        db,
        actor,
        action,
        f"credit:{fields['id']}",
        digest=fields["digest"],
        learner=fields["user_id"],
        course=fields["course_id"],
        credit_type=fields["credit_type"],
        hours=fields["hours"],
        corrects=fields["corrects_id"],
    )
    return LedgerEntry(**fields)


def earn_in(
    db: sqlite_utils.Database,
    user: User,
    course: Course,
    certificate_code: str,
    completed_at: str,
) -> LedgerEntry | None:
    """Write the entry a completion earns, if the rule in force that day gives credit.
    Runs in the transaction that issues the course's certificate."""
    rule = rule_on_in(db, course.course_id, course.category, completed_at[:10])
    if rule is None or rule.credit_type == "none":
        return None
    row = db.execute(
        "SELECT coalesce(sum(seconds_spent), 0), min(started_at), avg(score)"
        " FROM lesson_progress WHERE user_id = ? AND course_id = ?",
        [user.id, course.course_id],
    ).fetchone()
    measured = round(float(row[0]) / 3600, 2)
    nominal = float(course.estimated_hours)
    fields = {
        "user_id": user.id,
        "course_id": course.course_id,
        "course_title": course.title,
        "course_version": course.version,
        "rule_id": rule.id,
        "credit_type": rule.credit_type,
        "hours_basis": rule.hours_basis,
        "nominal_hours": nominal,
        "measured_hours": measured,
        "hours": nominal if rule.hours_basis == "nominal" else measured,
        "score": None if row[2] is None else round(float(row[2]), 2),
        "started_at": row[1],
        "completed_at": completed_at,
        "certificate_code": certificate_code,
        "corrects_id": None,
        "reason": "",
    }
    return _write_in(db, SYSTEM, fields)


@dataclass(frozen=True)
class Correction:
    entry_id: int
    hours: str  # as typed
    credit_type: str
    reason: str


def correct(database: Database, actor: Actor, correction: Correction) -> LedgerEntry:
    """A new entry that stands in place of `entry_id`, with new hours or kind of credit
    ("none" takes the credit away) and the reason; the corrected entry stays as it was."""
    reason = correction.reason.strip()
    if not reason:
        raise ValidationError(N_("Say why the entry is corrected."), "reason")
    if len(reason) > MAX_REASON:
        raise ValidationError(N_("A reason may have at most 500 characters."), "reason")
    if correction.credit_type not in CREDIT_TYPES:
        raise ValidationError(N_("Choose the kind of credit."), "credit_type")
    try:
        hours = round(float(correction.hours.strip().replace(",", ".")), 2)
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= MAX_HOURS:
        raise ValidationError(N_("Hours are a number from 0 to 10000."), "hours")
    with database.write() as db:
        row = db.execute("SELECT * FROM credit_ledger WHERE id = ?", [correction.entry_id])
        found = row.fetchone()
        if found is None:
            raise NotFound()
        original = LedgerEntry.from_row(found)
        newer = db.execute(
            "SELECT id FROM credit_ledger WHERE corrects_id = ?", [original.id]
        ).fetchone()
        if newer is not None:
            raise ValidationError(
                N_("This entry was already corrected; correct the newest entry instead.")
            )
        fields = asdict(original)
        for name in ("id", "recorded_by", "recorded_at", "digest"):
            del fields[name]
        fields |= {
            "credit_type": correction.credit_type,
            "hours": hours,
            "corrects_id": original.id,
            "reason": reason,
        }
        return _write_in(db, actor, fields)


def entries_of(database: Database, user_id: int) -> list[LedgerEntry]:
    """Every entry of a learner, corrections included, oldest first."""
    rows = database.query("SELECT * FROM credit_ledger WHERE user_id = ? ORDER BY id", [user_id])
    return [LedgerEntry.from_row(row) for row in rows]


def entry(database: Database, entry_id: int) -> LedgerEntry:
    row = database.query_one("SELECT * FROM credit_ledger WHERE id = ?", [entry_id])
    if row is None:
        raise NotFound()
    return LedgerEntry.from_row(row)


def ledger_of(database: Database, user_id: int) -> list[dict[str, Any]]:
    """A learner's whole ledger as plain data, oldest first, with each entry's digest:
    what a transfer bundle or a Learning Passport carries."""
    return [e.as_data() for e in entries_of(database, user_id)]


def standing(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """The entries in force: those no correction replaced."""
    listed = list(entries)
    corrected = {e.corrects_id for e in listed if e.corrects_id is not None}
    return [e for e in listed if e.id not in corrected]


def totals(entries: Iterable[LedgerEntry]) -> dict[str, float]:
    """Hours in force per kind of credit ("none" left out)."""
    found: dict[str, float] = {}
    for e in standing(entries):
        if e.credit_type != "none":
            found[e.credit_type] = round(found.get(e.credit_type, 0.0) + e.hours, 2)
    return found


def entries_where(database: Database, where: str, params: dict[str, Any]) -> list[LedgerEntry]:
    """Entries whose learner matches a WHERE fragment over `user_id` (from
    `server.learning.access.Scope.learners_sql`), oldest first."""
    rows = database.query(
        f"SELECT * FROM credit_ledger WHERE {where} ORDER BY user_id, id",  # noqa: S608 - a fragment of ours
        params,
    )
    return [LedgerEntry.from_row(row) for row in rows]


@dataclass(frozen=True)
class LedgerReport:
    checked: int
    problem: str = ""
    entry_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problem


def verify_ledger(database: Database) -> LedgerReport:
    """Check every ledger entry against the digest its audit entry recorded; the audit
    chain itself is checked by `server.people.audit.verify_chain`."""
    recorded: dict[int, str] = {}
    for row in database.query(
        "SELECT target, detail FROM audit_log WHERE action IN (?, ?) ORDER BY id", list(ACTIONS)
    ):
        recorded[int(row["target"].removeprefix("credit:"))] = json.loads(row["detail"])["digest"]
    checked = 0
    for found in database.query("SELECT * FROM credit_ledger ORDER BY id"):
        e = LedgerEntry.from_row(found)
        fields = asdict(e)
        del fields["digest"]
        if e.id not in recorded:
            return LedgerReport(checked, "is not in the audit log", e.id)
        if _digest(fields) != e.digest or recorded.pop(e.id) != e.digest:
            return LedgerReport(checked, "was changed after it was written", e.id)
        checked += 1
    if recorded:
        return LedgerReport(checked, "is in the audit log but was removed", min(recorded))
    return LedgerReport(checked)
