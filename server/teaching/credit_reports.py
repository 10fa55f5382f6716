"""Earned credit as staff see it and take it out: per learner, per group, as CSV, and as
JSON signed for a case-management system.

Every list is limited to the viewer's `Scope` (an educator's groups, an admin's whole
facility) and holds the whole ledger: entries in force and the ones a correction
replaced, each marked, so a reader can follow every change. The signed JSON carries the
entries with their digests (the same ones the audit log holds) and a detached signature
made by `sign`, the one place that picks the facility's signing key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.core import clock, csvfiles
from server.core.db import Database
from server.core.settings import Settings
from server.learning import ledger
from server.learning.access import Scope
from server.learning.ledger import LedgerEntry
from server.people import audit
from server.people.accounts import User, get_user
from server.people.audit import Actor
from server.teaching import impact

COLUMNS = (
    "entry",
    "facility_id",
    "learner",
    "course_id",
    "course",
    "course_version",
    "credit_type",
    "hours_counted",
    "hours_basis",
    "nominal_hours",
    "measured_hours",
    "quiz_score_percent",
    "started_at",
    "completed_at",
    "certificate",
    "status",
    "corrects_entry",
    "reason",
    "recorded_by",
    "recorded_at",
    "digest",
)


@dataclass(frozen=True)
class Line:
    """One ledger entry with its learner, and whether it is still in force."""

    entry: LedgerEntry
    learner: User
    in_force: bool


def lines(
    database: Database, scope: Scope, group_id: int | None = None, learner_id: int | None = None
) -> list[Line]:
    """The ledger entries of the learners in scope (of one group, or of one learner, both
    checked against the scope: NotFound otherwise), by learner and entry."""
    where, params = scope.learners_sql("user_id")
    if group_id is not None:
        scope.group(database, group_id)
        where += " AND user_id IN (SELECT user_id FROM group_members WHERE group_id = :group)"
        params["group"] = group_id
    if learner_id is not None:
        scope.learner(database, learner_id)
        where += " AND user_id = :learner"
        params["learner"] = learner_id
    entries = ledger.entries_where(database, where, params)
    in_force = {e.id for e in ledger.standing(entries)}
    people: dict[int, User] = {}
    found = []
    for e in entries:
        if e.user_id not in people:
            people[e.user_id] = get_user(database, e.user_id)
        found.append(Line(e, people[e.user_id], e.id in in_force))
    return found


def totals_by_learner(found: list[Line]) -> list[tuple[User, dict[str, float]]]:
    """Hours in force per kind of credit, for each learner with entries."""
    by_learner: dict[int, list[LedgerEntry]] = {}
    people: dict[int, User] = {}
    for line in found:
        by_learner.setdefault(line.learner.id, []).append(line.entry)
        people[line.learner.id] = line.learner
    return [(people[uid], ledger.totals(entries)) for uid, entries in by_learner.items()]


def to_csv(found: list[Line]) -> bytes:
    rows = (
        [
            line.entry.id,
            line.learner.facility_id or "",
            line.learner.display_name,
            line.entry.course_id,
            line.entry.course_title,
            line.entry.course_version,
            line.entry.credit_type,
            line.entry.hours,
            line.entry.hours_basis,
            line.entry.nominal_hours,
            line.entry.measured_hours,
            "" if line.entry.score is None else line.entry.score,
            line.entry.started_at or "",
            line.entry.completed_at,
            line.entry.certificate_code or "",
            "in force" if line.in_force else "corrected",
            line.entry.corrects_id or "",
            line.entry.reason,
            line.entry.recorded_by,
            line.entry.recorded_at,
            line.entry.digest,
        ]
        for line in found
    )
    # A byte-order mark, so that a spreadsheet opens accented names as UTF-8.
    return ("\ufeff" + csvfiles.to_text(COLUMNS, rows)).encode("utf-8")


def report(settings: Settings, found: list[Line]) -> dict[str, Any]:
    """The ledger as one JSON object (what the signature covers)."""
    return {
        "kind": "stepstone.credit-ledger",
        "version": 1,
        "facility": settings.facility_name,
        "made_at": clock.iso(),
        "entries": [
            {
                **line.entry.as_data(),
                "learner_facility_id": line.learner.facility_id,
                "learner_name": line.learner.display_name,
                "in_force": line.in_force,
            }
            for line in found
        ],
    }


def to_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


def sign(settings: Settings, data: bytes) -> dict[str, str]:
    """A detached signature of exactly these bytes, and what checks it. The facility's
    Ed25519 key (the one its NGO reports are signed with, `server.teaching.impact`); the
    one place to change when the facility identity key takes over."""
    return {
        "algorithm": "ed25519",
        "value": impact.sign(settings, data),
        "public_key": impact.public_key_pem(settings).decode("ascii"),
    }


def signed_json(settings: Settings, found: list[Line]) -> bytes:
    data = report(settings, found)
    envelope = {
        "ledger": data,
        "signed_bytes": "the 'ledger' object as JSON with sorted keys, indent 2, UTF-8,"
        " plus a final newline",
        "signature": sign(settings, to_json(data)),
    }
    return json.dumps(envelope, indent=2, ensure_ascii=False).encode("utf-8")


def record_export(database: Database, actor: Actor, kind: str, target: str, rows: int) -> None:
    """Audit one download: who took whose credit out of the facility."""
    with database.write() as db:
        audit.record(db, actor, "export.credit", target, format=kind, rows=rows)
