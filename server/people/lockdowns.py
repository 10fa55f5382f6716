"""Lockdowns: a housing unit (any group) or the whole facility closed to learners now.

Staff start one with a reason category and, if they know it, a planned end; it ends at
that time by itself or earlier by hand. While it lasts, learners it covers cannot sign in
and their requests are refused (``people.access_windows`` decides, per request). Rows are
never deleted: the history is what continuity (due dates, reports) is computed from, so
ending a lockdown early or late keeps every figure honest. Every start and end is audited.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import access_state, audit, groups
from server.people.audit import Actor

# The categories a facility reports lockdowns under; the page shows them in plain words.
REASONS = ("security", "count", "search", "staffing", "maintenance", "emergency", "other")
MAX_NOTE = 300
MAX_HOURS = 14 * 24


@dataclass(frozen=True)
class Lockdown:
    id: int
    group_id: int | None  # None: the whole facility
    scope_name: str
    reason: str
    note: str
    started_at: float
    planned_end: float | None
    ended_at: float | None
    started_by: str
    ended_by: str

    @property
    def whole_facility(self) -> bool:
        return self.group_id is None

    def stops_at(self) -> float | None:
        """When it ends (or ended): by hand or at its planned end, whichever came first."""
        ends = [t for t in (self.ended_at, self.planned_end) if t is not None]
        return min(ends) if ends else None

    def active_at(self, moment: float) -> bool:
        stops = self.stops_at()
        return self.started_at <= moment and (stops is None or moment < stops)

    def covers(self, group_ids: frozenset[int]) -> bool:
        return self.group_id is None or self.group_id in group_ids


def _lockdown(row: sqlite3.Row) -> Lockdown:
    return Lockdown(**dict(row))


def start(
    database: Database,
    actor: Actor,
    group_id: int | None,
    reason: str,
    planned_end: float | None = None,
    note: str = "",
) -> Lockdown:
    """Lock down a group (`group_id`) or the whole facility (None) from now."""
    if reason not in REASONS:
        raise ValidationError(N_("Choose the reason for the lockdown."), "reason")
    note = " ".join(note.split())
    if len(note) > MAX_NOTE:
        raise ValidationError(N_("A note is at most 300 characters."), "note")
    moment = clock.now()
    if planned_end is not None and not moment < planned_end <= moment + MAX_HOURS * 3600:
        raise ValidationError(
            N_("The end must be later than now and at most 14 days away."), "planned_end"
        )
    with database.write() as db:
        scope = groups.get_group_in(db, group_id).name if group_id is not None else ""
        cursor = db.execute(
            "INSERT INTO lockdowns (group_id, scope_name, reason, note, started_at, planned_end,"
            " started_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [group_id, scope, reason, note, moment, planned_end, actor.label],
        )
        access_state.bump_in(db)
        target = f"group:{scope}" if group_id is not None else "facility"
        audit.record(
            db,
            actor,
            "lockdown.start",
            target,
            reason=reason,
            planned_end=clock.iso(planned_end) if planned_end else None,
            note=note or None,
        )
        lockdown_id = int(cursor.lastrowid or 0)
    return get(database, lockdown_id)


def end(database: Database, actor: Actor, lockdown_id: int) -> Lockdown:
    """End a lockdown now, by hand; refuses one that has already ended."""
    moment = clock.now()
    with database.write() as db:
        row = db.execute("SELECT * FROM lockdowns WHERE id = ?", [lockdown_id]).fetchone()
        if row is None:
            raise NotFound()
        if not _lockdown(row).active_at(moment):
            raise ValidationError(N_("This lockdown has already ended."))
        db.execute(
            "UPDATE lockdowns SET ended_at = ?, ended_by = ? WHERE id = ?",
            [moment, actor.label, lockdown_id],
        )
        access_state.bump_in(db)
        target = f"group:{row['scope_name']}" if row["group_id"] is not None else "facility"
        audit.record(db, actor, "lockdown.end", target, lockdown=lockdown_id)
    return get(database, lockdown_id)


def get(database: Database, lockdown_id: int) -> Lockdown:
    row = database.query_one("SELECT * FROM lockdowns WHERE id = ?", [lockdown_id])
    if row is None:
        raise NotFound()
    return _lockdown(row)


def active(database: Database) -> list[Lockdown]:
    """The lockdowns in force now, the oldest first."""
    moment = clock.now()
    return [d for d in _open_rows(database) if d.active_at(moment)]


def _open_rows(database: Database) -> list[Lockdown]:
    rows = database.query(
        "SELECT * FROM lockdowns WHERE ended_at IS NULL"
        " AND (planned_end IS NULL OR planned_end > ?) ORDER BY started_at, id",
        [clock.now()],
    )
    return [_lockdown(r) for r in rows]


def not_over(database: Database) -> list[Lockdown]:
    """Lockdowns in force now; the access check keeps them in memory and drops each one
    at its planned end by itself."""
    return _open_rows(database)


def between(database: Database, start_at: float, end_at: float) -> list[Lockdown]:
    """Every lockdown that overlapped [start_at, end_at), the oldest first."""
    rows = database.query(
        "SELECT * FROM lockdowns WHERE started_at < ?"
        " AND coalesce(min(coalesce(ended_at, planned_end), coalesce(planned_end, ended_at)),"
        " 1e18) > ? ORDER BY started_at, id",
        [end_at, start_at],
    )
    return [_lockdown(r) for r in rows]


def history(database: Database, limit: int = 50) -> list[Lockdown]:
    """The latest lockdowns, newest first."""
    rows = database.query(
        "SELECT * FROM lockdowns ORDER BY started_at DESC, id DESC LIMIT ?", [limit]
    )
    return [_lockdown(r) for r in rows]
