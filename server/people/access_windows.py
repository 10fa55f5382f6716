"""Access windows: the hours in the week when learners may use tablets, and holidays.

A window belongs to a group (a housing unit, a class) or to one learner. A learner's own
windows are an exception that replaces their groups' windows for them, wider or
narrower. Times are wall-clock minutes in the facility's time zone (``time_zone``),
so a window from 08:00 stays at 08:00 across daylight-saving changes. A holiday closes
tablets for the whole day to every learner who has a schedule. A learner none of whose
groups has a window, and who has none of their own, is not restricted: a facility that
never sets a schedule works as before. How the windows of several groups combine, and
the check itself, are in ``people.access_gate``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlite_utils

from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import access_state, audit, groups
from server.people.accounts import Role, find_user_in, get_user_in
from server.people.audit import Actor

DAY_MINUTES = 24 * 60
MAX_WINDOWS_PER_OWNER = 70
_TIME = re.compile(r"([01]?[0-9]|2[0-4]):([0-5][0-9])")


@dataclass(frozen=True)
class Window:
    id: int
    group_id: int | None
    user_id: int | None
    weekday: int  # 0 Monday .. 6 Sunday
    starts: int  # minutes after local midnight
    ends: int  # 1440: midnight at the end of the day

    @property
    def times(self) -> str:
        return f"{clock_text(self.starts)}–{clock_text(self.ends)}"


@dataclass(frozen=True)
class Holiday:
    day: str  # YYYY-MM-DD, a day in the facility
    name: str


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_time(text: str, field: str) -> int:
    """'8:30' or '08:30' → 510; '24:00' is the end of the day."""
    found = _TIME.fullmatch(text.strip())
    minutes = int(found.group(1)) * 60 + int(found.group(2)) if found else -1
    if not 0 <= minutes <= DAY_MINUTES:
        raise ValidationError(N_("Write a time as hours and minutes, like 08:30."), field)
    return minutes


def _window(row: sqlite3.Row) -> Window:
    return Window(**dict(row))


def _owner_in(db: sqlite_utils.Database, group_id: int | None, user_id: int | None) -> str:
    """The audit target of a schedule's owner; NotFound or ValidationError when unfit."""
    if (group_id is None) == (user_id is None):
        raise ValidationError(N_("Choose a group or a learner."), "owner")
    if group_id is not None:
        return f"group:{groups.get_group_in(db, group_id).name}"
    assert user_id is not None
    user = get_user_in(db, user_id)
    if user.role is not Role.LEARNER:
        raise ValidationError(
            N_("Only learners have tablet hours; staff are not limited."), "owner"
        )
    return user.label


def add_windows(
    database: Database,
    actor: Actor,
    weekdays: Sequence[int],
    starts: str,
    ends: str,
    *,
    group_id: int | None = None,
    user_id: int | None = None,
) -> list[Window]:
    """Add the same hours on each of `weekdays` to a group's or a learner's schedule."""
    days = sorted(set(weekdays))
    if not days or any(not 0 <= d <= 6 for d in days):
        raise ValidationError(N_("Choose at least one day of the week."), "weekday")
    first, last = parse_time(starts, "starts"), parse_time(ends, "ends")
    if first >= last:
        raise ValidationError(
            N_("The end must be later than the start. For hours past midnight, add two windows."),
            "ends",
        )
    with database.write() as db:
        target = _owner_in(db, group_id, user_id)
        column, owner = ("group_id", group_id) if group_id is not None else ("user_id", user_id)
        (count,) = db.execute(
            f"SELECT count(*) FROM access_windows WHERE {column} = ?",  # noqa: S608 - a column name of ours
            [owner],
        ).fetchone()
        if count + len(days) > MAX_WINDOWS_PER_OWNER:
            raise ValidationError(N_("A schedule has at most 70 windows."), "weekday")
        ids = [
            int(
                db.execute(
                    "INSERT INTO access_windows (group_id, user_id, weekday, starts, ends)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [group_id, user_id, day, first, last],
                ).lastrowid
                or 0
            )
            for day in days
        ]
        access_state.bump_in(db)
        audit.record(
            db,
            actor,
            "access-window.add",
            target,
            weekdays=days,
            times=f"{clock_text(first)}-{clock_text(last)}",
        )
    return [w for w in windows(database) if w.id in ids]


def remove_window(database: Database, actor: Actor, window_id: int) -> Window:
    with database.write() as db:
        row = db.execute("SELECT * FROM access_windows WHERE id = ?", [window_id]).fetchone()
        if row is None:
            raise NotFound()
        window = _window(row)
        target = _owner_in(db, window.group_id, window.user_id)
        db.execute("DELETE FROM access_windows WHERE id = ?", [window_id])
        access_state.bump_in(db)
        audit.record(
            db, actor, "access-window.remove", target, weekday=window.weekday, times=window.times
        )
    return window


def learner_id(database: Database, facility_id: str) -> int:
    """The learner with this ID number, for a schedule of their own."""
    found = find_user_in(database.reader, Role.LEARNER, facility_id)
    if found is None:
        raise ValidationError(N_("No learner has this ID number."), "learner")
    return found[0].id


def windows(database: Database) -> list[Window]:
    """Every window of the facility, by day and time."""
    rows = database.query("SELECT * FROM access_windows ORDER BY weekday, starts, ends, id")
    return [_window(r) for r in rows]


def windows_in(db: sqlite_utils.Database) -> list[Window]:
    rows = db.execute("SELECT * FROM access_windows ORDER BY weekday, starts, ends, id")
    return [_window(r) for r in rows.fetchall()]


def add_holiday(database: Database, actor: Actor, day: str, name: str) -> Holiday:
    """Close tablets all day on `day` (YYYY-MM-DD) for every learner with a schedule."""
    try:
        when = date.fromisoformat(day.strip()).isoformat()
    except ValueError:
        raise ValidationError(N_("Choose a day for the holiday."), "day") from None
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise ValidationError(N_("Give the holiday a name of 1 to 80 characters."), "name")
    with database.write() as db:
        if db.execute("SELECT 1 FROM access_holidays WHERE day = ?", [when]).fetchone():
            raise ValidationError(N_("That day is already a holiday."), "day")
        db.execute("INSERT INTO access_holidays (day, name) VALUES (?, ?)", [when, name])
        access_state.bump_in(db)
        audit.record(db, actor, "access-holiday.add", when, name=name)
    return Holiday(when, name)


def remove_holiday(database: Database, actor: Actor, day: str) -> None:
    with database.write() as db:
        cursor = db.execute("DELETE FROM access_holidays WHERE day = ?", [day])
        if not cursor.rowcount:
            raise NotFound()
        access_state.bump_in(db)
        audit.record(db, actor, "access-holiday.remove", day)


def holidays(database: Database) -> list[Holiday]:
    rows = database.query("SELECT day, name FROM access_holidays ORDER BY day")
    return [Holiday(r["day"], r["name"]) for r in rows]
