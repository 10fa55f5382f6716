"""Roster import: a CSV of learners (facility id, name, language, group).

`plan_roster` reads the file and says what each row would do and what is wrong with it;
nothing is written. `apply_roster` plans again inside one write transaction and applies
every row, or nothing if any row has a problem.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import sqlite_utils

from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.people import accounts, groups
from server.people.accounts import Role
from server.people.audit import Actor

REQUIRED_COLUMNS = ("facility_id", "name", "language")
OPTIONAL_COLUMNS = ("group",)
MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024
_LANGUAGE_NAMES = {
    "en": "en",
    "english": "en",
    "eng": "en",
    "inglés": "en",
    "ingles": "en",
    "es": "es",
    "spanish": "es",
    "spa": "es",
    "español": "es",
    "espanol": "es",
}


@dataclass(frozen=True)
class Problem:
    """A message id and the values to put into it."""

    message: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass
class RosterRow:
    line: int
    facility_id: str
    name: str
    language: str
    group: str
    action: str = "create"  # create | update | unchanged
    problems: list[Problem] = field(default_factory=list)
    one_time_pin: str = ""


@dataclass
class RosterPlan:
    rows: list[RosterRow]
    problems: list[Problem]  # about the whole file
    new_groups: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems and not any(r.problems for r in self.rows)

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action and not r.problems)


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ValidationError(N_("The file is too big. A roster can be at most 2 MB."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _parse(text: str) -> tuple[list[RosterRow], list[Problem]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [(h or "").strip().lower().replace(" ", "_") for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        message = N_("The file has no column named {column}. The first line must name the columns.")
        return [], [Problem(message, {"column": c}) for c in missing]
    reader.fieldnames = header
    rows: list[RosterRow] = []
    for record in reader:
        if len(rows) >= MAX_ROWS:
            return rows, [
                Problem(N_("A roster can have at most {count} rows."), {"count": MAX_ROWS})
            ]
        rows.append(
            RosterRow(
                line=reader.line_num,
                facility_id=(record.get("facility_id") or "").strip(),
                name=(record.get("name") or "").strip(),
                language=(record.get("language") or "").strip(),
                group=(record.get("group") or "").strip(),
            )
        )
    if not rows:
        return [], [Problem(N_("The file has no learners in it."))]
    return rows, []


def _check_row(db: sqlite_utils.Database, row: RosterRow) -> None:
    try:
        row.facility_id = accounts.validate_login(Role.LEARNER, row.facility_id)
    except ValidationError as exc:
        row.problems.append(Problem(exc.message))
    try:
        row.name = accounts.validate_name(row.name)
    except ValidationError as exc:
        row.problems.append(Problem(exc.message))
    language = _LANGUAGE_NAMES.get(row.language.lower())
    if language is None:
        row.problems.append(Problem(N_("The language must be en (English) or es (Spanish).")))
    else:
        row.language = language
    if len(row.group) > 60:
        row.problems.append(Problem(N_("A group name is 1 to 60 characters.")))
    existing = db.execute(
        "SELECT role, display_name, language FROM users WHERE facility_id = ?", [row.facility_id]
    ).fetchone()
    if existing is not None:
        if existing[0] != "learner":
            row.problems.append(Problem(N_("This id belongs to a staff account.")))
        same = (existing[1], existing[2]) == (row.name, row.language)
        row.action = "unchanged" if same and not row.group else "update"


def _check_duplicates(rows: list[RosterRow]) -> None:
    lines: dict[str, list[int]] = {}
    for row in rows:
        lines.setdefault(row.facility_id, []).append(row.line)
    for row in rows:
        others = [line for line in lines[row.facility_id] if line != row.line]
        if others:
            message = N_("This facility id is used twice: also on line {line}.")
            row.problems.append(Problem(message, {"line": others[0]}))


def _plan(db: sqlite_utils.Database, data: bytes) -> RosterPlan:
    rows, problems = _parse(_decode(data))
    for row in rows:
        _check_row(db, row)
    _check_duplicates(rows)
    known = {r[0].lower() for r in db.execute("SELECT name FROM groups")}
    new_groups = sorted({r.group for r in rows if r.group and r.group.lower() not in known})
    return RosterPlan(rows, problems, new_groups)


def plan_roster(database: Database, data: bytes) -> RosterPlan:
    """A dry run: what importing `data` would do. Writes nothing."""
    return _plan(database.reader, data)


def apply_roster(
    database: Database, actor: Actor, data: bytes, group_kind: str = "housing"
) -> RosterPlan:
    """Import every row in one transaction; raises ValidationError if any row is wrong.

    New learners get one-time PINs, returned in the plan's rows (shown once, not stored).
    """
    with database.write() as db:
        plan = _plan(db, data)
        if not plan.ok:
            raise ValidationError(N_("The roster has problems. Nothing was imported."))
        group_ids: dict[str, int] = {}
        for name in plan.new_groups:
            group_ids[name.lower()] = groups.insert_group(db, actor, name, group_kind)
        for gid, gname in db.execute("SELECT id, name FROM groups"):
            group_ids.setdefault(gname.lower(), gid)
        for row in plan.rows:
            _apply_row(db, actor, row, group_ids)
    return plan


def _apply_row(
    db: sqlite_utils.Database, actor: Actor, row: RosterRow, group_ids: dict[str, int]
) -> None:
    if row.action == "create":
        user_id, row.one_time_pin = accounts.insert_user(
            db, actor, Role.LEARNER, row.facility_id, row.name, row.language
        )
    else:
        user_id = db.execute(
            "SELECT id FROM users WHERE facility_id = ?", [row.facility_id]
        ).fetchone()[0]
        if row.action == "update":
            db.execute(
                "UPDATE users SET display_name = ?, language = ? WHERE id = ?",
                [row.name, row.language, user_id],
            )
    if row.group:
        group = groups.Group(group_ids[row.group.lower()], row.group, "", "")
        user = accounts.User(
            user_id,
            Role.LEARNER,
            None,
            row.facility_id,
            row.name,
            row.language,
            False,
            False,
            False,
        )
        groups.add_member_in(db, actor, group, user)
