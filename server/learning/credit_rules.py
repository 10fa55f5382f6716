"""The facility's credit rules: which completions earn what credit, and from which day.

A rule names a course, or a whole category of courses, the kind of credit its completion
earns (earned time, program completion, college credit, or none) and which hours count:
the course's nominal hours (its publisher's estimate) or the hours the learner was
measured to spend. Every rule has an effective date. Rules are never edited: a newer
rule for the same course or category supersedes the older one from its own effective
date, so an entry in the ledger always points at the rule that was in force the day the
learner finished, and that rule still says what it said then.

For a completion on day D, the course's own rule in force on D wins (the one with the
latest effective date not after D; the newest of two on the same day); without one, the
category's. A rule of kind "none" in force says that nothing is earned.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.learning.visibility import CATEGORIES
from server.people import audit
from server.people.audit import Actor

CREDIT_TYPES = {
    "earned-time": N_("Earned time"),
    "program-completion": N_("Program completion"),
    "college-credit": N_("College credit"),
    "none": N_("No credit"),
}
HOURS_BASES = {
    "nominal": N_("Nominal hours (the course's estimate)"),
    "measured": N_("Measured hours (time the learner spent)"),
}
TARGET_KINDS = ("course", "category")
MAX_NOTE = 500


@dataclass(frozen=True)
class CreditRule:
    id: int
    target_kind: str
    target: str
    credit_type: str
    hours_basis: str
    effective_from: str  # YYYY-MM-DD (UTC)
    note: str
    created_by: str
    created_at: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CreditRule:
        return cls(*(row[name] for name in cls.__dataclass_fields__))


@dataclass(frozen=True)
class NewRule:
    """A rule as the admin's form or the command line gives it, not yet checked."""

    target_kind: str
    target: str
    credit_type: str
    hours_basis: str
    effective_from: str
    note: str = ""


def today() -> str:
    """Today's date (UTC), as rules and ledger entries compare it."""
    return clock.iso()[:10]


def _check(database: Database, rule: NewRule) -> None:
    if rule.target_kind not in TARGET_KINDS:
        raise ValidationError(N_("Choose a course or a category."), "target")
    if rule.target_kind == "category" and rule.target not in CATEGORIES:
        raise ValidationError(N_("Choose one of the categories."), "target")
    if rule.target_kind == "course" and (
        database.query_one("SELECT 1 FROM courses WHERE course_id = ?", [rule.target]) is None
    ):
        raise ValidationError(N_("There is no course with this id here."), "target")
    if rule.credit_type not in CREDIT_TYPES:
        raise ValidationError(N_("Choose the kind of credit."), "credit_type")
    if rule.hours_basis not in HOURS_BASES:
        raise ValidationError(N_("Choose which hours count."), "hours_basis")
    try:
        parsed = date.fromisoformat(rule.effective_from)
    except ValueError:
        parsed = None
    if parsed is None or parsed.isoformat() != rule.effective_from:
        raise ValidationError(
            N_("Write the effective date as year-month-day, e.g. 2027-01-31."), "effective_from"
        )
    if len(rule.note) > MAX_NOTE:
        raise ValidationError(N_("A note may have at most 500 characters."), "note")


def add_rule(database: Database, actor: Actor, rule: NewRule) -> CreditRule:
    """Add a rule (or a new version of one: the same course or category, a new date)."""
    rule = NewRule(**{k: v.strip() for k, v in rule.__dict__.items()})
    _check(database, rule)
    with database.write() as db:
        cursor = db.execute(
            "INSERT INTO credit_rules (target_kind, target, credit_type, hours_basis,"
            " effective_from, note, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                rule.target_kind,
                rule.target,
                rule.credit_type,
                rule.hours_basis,
                rule.effective_from,
                rule.note,
                actor.label,
                clock.iso(),
            ],
        )
        rule_id = int(cursor.lastrowid or 0)
        audit.record(
            db,
            actor,
            "credit.rule",
            f"credit-rule:{rule_id}",
            applies_to=f"{rule.target_kind}:{rule.target}",
            credit_type=rule.credit_type,
            hours_basis=rule.hours_basis,
            effective_from=rule.effective_from,
        )
        row = db.execute("SELECT * FROM credit_rules WHERE id = ?", [rule_id]).fetchone()
    return CreditRule.from_row(row)


def rules(database: Database) -> list[CreditRule]:
    """Every rule, by what it applies to, newest version first."""
    rows = database.query(
        "SELECT * FROM credit_rules ORDER BY target_kind DESC, target, effective_from DESC, id DESC"
    )
    return [CreditRule.from_row(row) for row in rows]


def status_of(rule: CreditRule, every: list[CreditRule], day: str) -> str:
    """ "current", "superseded" or "future", on `day`, among `every` rule."""
    if rule.effective_from > day:
        return "future"
    same = [r for r in every if (r.target_kind, r.target) == (rule.target_kind, rule.target)]
    current = max(
        (r for r in same if r.effective_from <= day), key=lambda r: (r.effective_from, r.id)
    )
    return "current" if current.id == rule.id else "superseded"


def rule_on_in(
    db: sqlite_utils.Database, course_id: str, category: str, day: str
) -> CreditRule | None:
    """The rule in force on `day` for a course of this category (see the module's text)."""
    for kind, target in (("course", course_id), ("category", category)):
        row = db.execute(
            "SELECT * FROM credit_rules WHERE target_kind = ? AND target = ?"
            " AND effective_from <= ? ORDER BY effective_from DESC, id DESC LIMIT 1",
            [kind, target, day],
        ).fetchone()
        if row is not None:
            return CreditRule.from_row(row)
    return None
