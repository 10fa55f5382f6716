"""Roster import: a CSV of learners (facility id, name, language, group, group kind).

`plan_roster` reads the file and says what each row would do — for a learner already
here, which fields change from what to what — and what is wrong with it; nothing is
written. `apply_roster` plans again inside one write transaction and applies every row,
or nothing if any row has a problem. A roster adds learners to groups; it never takes
anyone out of one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlite_utils

from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.people import accounts, groups
from server.people.accounts import Role
from server.people.audit import Actor

REQUIRED_COLUMNS = ("facility_id", "name", "language")
OPTIONAL_COLUMNS = ("group", "group_kind")
MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024
# Spreadsheets save "CSV" with semicolons where the comma is the decimal sign (Spanish
# settings among them), and "text" with tabs: the header line tells which one a file uses.
DELIMITERS = {",": N_("commas"), ";": N_("semicolons"), "\t": N_("tabs")}
DEFAULT_GROUP_KIND = "housing"
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
_KIND_NAMES = {
    "housing": "housing",
    "housing unit": "housing",
    "housing_unit": "housing",
    "unit": "housing",
    "vivienda": "housing",
    "unidad": "housing",
    "class": "class",
    "clase": "class",
    "program": "program",
    "programme": "program",
    "programa": "program",
}


@dataclass(frozen=True)
class Problem:
    """A message id and the values to put into it."""

    message: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One field of a learner already here that the roster changes: `field` is "name",
    "language" or "groups" (a list of group names joined by ", ", "" for none)."""

    field: str
    old: str
    new: str


@dataclass
class RosterRow:
    line: int
    facility_id: str
    name: str
    language: str
    group: str
    group_kind: str = ""  # from the file's group_kind column; "" when not given
    action: str = "create"  # create | update | unchanged
    problems: list[Problem] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    one_time_pin: str = ""


@dataclass
class RosterPlan:
    rows: list[RosterRow]
    problems: list[Problem]  # about the whole file
    new_groups: list[str]
    # The kind of each new group: as the file gives it (before the import), as made (after).
    group_kinds: dict[str, str] = field(default_factory=dict)
    delimiter: str = ","

    @property
    def ok(self) -> bool:
        return not self.problems and not any(r.problems for r in self.rows)

    @property
    def delimiter_name(self) -> str:
        """What separates the columns, as a message id ("semicolons")."""
        return DELIMITERS[self.delimiter]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action and not r.problems)


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise ValidationError(N_("The file is too big. A roster can be at most 2 MB."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _column_name(cell: str | None) -> str:
    return (cell or "").strip().lower().replace(" ", "_")


def _delimiter(text: str) -> str:
    """The separator whose reading of the first line names the most known columns (on a
    tie, the one found most often in that line)."""
    first = text.splitlines()[0] if text else ""
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([first], delimiter=delimiter), [])
        return sum(1 for c in cells if _column_name(c) in known), first.count(delimiter)

    return max(DELIMITERS, key=score)


def _parse(text: str, delimiter: str) -> tuple[list[RosterRow], list[Problem]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [_column_name(h) for h in (reader.fieldnames or [])]
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
                group_kind=(record.get("group_kind") or "").strip(),
            )
        )
    if not rows:
        return [], [Problem(N_("The file has no learners in it."))]
    return rows, []


def _check_fields(row: RosterRow) -> None:
    if not row.facility_id:
        row.problems.append(Problem(N_("Line {line} has no facility id."), {"line": row.line}))
    else:
        try:
            row.facility_id = accounts.validate_login(Role.LEARNER, row.facility_id)
        except ValidationError as exc:
            row.problems.append(Problem(exc.message))
    if not " ".join(row.name.split()):
        message = N_("Line {line} has no name. Write the learner's name in the name column.")
        row.problems.append(Problem(message, {"line": row.line}))
    else:
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
    if row.group_kind:
        kind = _KIND_NAMES.get(" ".join(row.group_kind.lower().split()))
        if kind is None:
            message = N_("The group kind must be housing, class or program.")
            row.problems.append(Problem(message))
        elif not row.group:
            row.problems.append(Problem(N_("This line has a group kind but no group.")))
        row.group_kind = kind or row.group_kind


def _compare(row: RosterRow, stored: tuple[str, str], current_groups: list[str]) -> None:
    """Note what importing `row` changes for a learner already here."""
    name, language = stored
    if name != row.name:
        row.changes.append(Change("name", name, row.name))
    if language != row.language:
        row.changes.append(Change("language", language, row.language))
    if row.group and row.group.lower() not in {g.lower() for g in current_groups}:
        joined = sorted([*current_groups, row.group], key=str.lower)
        row.changes.append(Change("groups", ", ".join(current_groups), ", ".join(joined)))
    row.action = "update" if row.changes else "unchanged"


def _check_duplicates(rows: list[RosterRow]) -> None:
    lines: dict[str, list[int]] = {}
    for row in rows:
        lines.setdefault(row.facility_id, []).append(row.line)
    for row in rows:
        others = [line for line in lines[row.facility_id] if line != row.line]
        if row.facility_id and others:
            message = N_("This facility id is used twice: also on line {line}.")
            row.problems.append(Problem(message, {"line": others[0]}))


def _check_groups(
    rows: list[RosterRow], known: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """The new groups (first spelling wins) and the kinds the file gives them; a kind
    that disagrees with an earlier line or with a group already here is a problem."""
    names: dict[str, str] = {}
    kinds: dict[str, tuple[str, int]] = {}
    for row in rows:
        key = row.group.lower()
        if not row.group:
            continue
        if key in known:
            if row.group_kind and row.group_kind != known[key]:
                message = N_(
                    "The group {group} already exists with another kind. Leave group_kind"
                    " empty, or change the group's kind on the Groups page."
                )
                row.problems.append(Problem(message, {"group": row.group}))
            continue
        names.setdefault(key, row.group)
        if row.group_kind in groups.GROUP_KINDS:
            kind, line = kinds.setdefault(key, (row.group_kind, row.line))
            if kind != row.group_kind:
                message = N_("The group {group} has another kind on line {line}.")
                row.problems.append(Problem(message, {"group": row.group, "line": line}))
    new_groups = sorted(names.values(), key=str.lower)
    return new_groups, {names[key]: kind for key, (kind, _) in kinds.items()}


def _plan(db: sqlite_utils.Database, data: bytes) -> RosterPlan:
    text = _decode(data)
    delimiter = _delimiter(text)
    rows, problems = _parse(text, delimiter)
    # Facility ids compare without case, as the users table does. Only learners have one.
    stored = {
        r[0].lower(): (r[1], r[2])
        for r in db.execute(
            "SELECT facility_id, display_name, language FROM users WHERE facility_id IS NOT NULL"
        )
    }
    memberships: dict[str, list[str]] = {}
    for facility_id, group_name in db.execute(
        "SELECT u.facility_id, g.name FROM group_members m JOIN users u ON u.id = m.user_id"
        " JOIN groups g ON g.id = m.group_id WHERE u.facility_id IS NOT NULL"
        " ORDER BY g.name COLLATE NOCASE"
    ):
        memberships.setdefault(facility_id.lower(), []).append(group_name)
    for row in rows:
        _check_fields(row)
        key = row.facility_id.lower()
        if key in stored:
            _compare(row, stored[key], memberships.get(key, []))
    _check_duplicates(rows)
    known = {name.lower(): kind for name, kind in db.execute("SELECT name, kind FROM groups")}
    new_groups, group_kinds = _check_groups(rows, known)
    return RosterPlan(rows, problems, new_groups, group_kinds, delimiter)


def plan_roster(database: Database, data: bytes) -> RosterPlan:
    """A dry run: what importing `data` would do. Writes nothing."""
    return _plan(database.reader, data)


def apply_roster(
    database: Database,
    actor: Actor,
    data: bytes,
    group_kinds: Mapping[str, str] | None = None,
    default_kind: str = DEFAULT_GROUP_KIND,
) -> RosterPlan:
    """Import every row in one transaction; raises ValidationError if any row is wrong.

    A new group gets the kind chosen for it in `group_kinds` (by name, any case), else
    the one the file gives it, else `default_kind`. New learners get one-time PINs,
    returned in the plan's rows (shown once, not stored).
    """
    chosen = {name.lower(): kind for name, kind in (group_kinds or {}).items()}
    with database.write() as db:
        plan = _plan(db, data)
        if not plan.ok:
            raise ValidationError(N_("The roster has problems. Nothing was imported."))
        group_ids: dict[str, int] = {}
        for name in plan.new_groups:
            kind = chosen.get(name.lower()) or plan.group_kinds.get(name) or default_kind
            group_ids[name.lower()] = groups.insert_group(db, actor, name, kind)
            plan.group_kinds[name] = kind
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
        user = accounts.get_user_in(db, user_id)
    else:
        found = accounts.find_user_in(db, Role.LEARNER, row.facility_id)
        assert found is not None  # the plan, made in this transaction, found it
        user = found[0]
        if any(c.field in ("name", "language") for c in row.changes):
            user = accounts.update_profile_in(db, actor, user, row.name, row.language)
    if row.group:
        group = groups.Group(group_ids[row.group.lower()], row.group, "", "")
        groups.add_member_in(db, actor, group, user)
