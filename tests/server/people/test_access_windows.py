"""Tablet hours and lockdowns as the access check applies them, with the clock moved:
schedules per group and per learner, union or strictest, holidays, midnight, lockdowns."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from server.core.db import Database
from server.core.errors import ValidationError
from server.core.settings import Settings
from server.ops.migrations import migrations
from server.people import access_gate, access_windows, groups, lockdowns
from server.people.accounts import Role
from server.people.audit import Actor
from tests.conftest import FakeClock, make_user

ADMIN = Actor.system("test")
ZONE = "America/Chicago"
MONDAY = 7  # 7 December 2026 is a Monday


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo(ZONE)).timestamp()


@pytest.fixture
def chicago(settings: Settings) -> Settings:
    return dataclasses.replace(settings, time_zone=ZONE)


def test_the_migration_adds_the_tables_and_refuses_a_window_with_two_owners(
    database: Database,
) -> None:
    path = database.path.parent / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0013_access_windows")
    assert "access_windows" not in db.table_names()
    migrations.apply(db)
    tables = {"access_windows", "access_holidays", "lockdowns", "access_rules_state"}
    assert tables | {"learner_absences"} <= set(db.table_names())
    db.execute(
        "INSERT INTO groups (name, kind, description, created_at) VALUES ('U', 'housing', '', '')"
    )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO access_windows (group_id, user_id, weekday, starts, ends)"
            " VALUES (1, 1, 0, 60, 120)"
        )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO access_windows (group_id, weekday, starts, ends) VALUES (1, 0, 120, 60)"
        )
    db.close()


def _learner_in(database: Database, login: str, *group_ids: int) -> int:
    user = make_user(database, Role.LEARNER, login)
    for group_id in group_ids:
        groups.add_member(database, ADMIN, group_id, user.id)
    return user.id


def _verdict(database: Database, settings: Settings, user_id: int) -> access_gate.Verdict:
    return access_gate.verdict(database, settings, user_id)


def test_a_group_schedule_opens_and_closes_on_the_facility_clock(
    database: Database, chicago: Settings, fake_clock: FakeClock
) -> None:
    unit = groups.create_group(database, ADMIN, "Unit A", "housing").id
    learner = _learner_in(database, "A1", unit)
    free = _learner_in(database, "A2")
    fake_clock.moment = at(MONDAY, 9)
    # No schedule anywhere yet: nobody is limited.
    assert _verdict(database, chicago, learner) == access_gate.OPEN
    access_windows.add_windows(database, ADMIN, [0, 2], "8:00", "11:30", group_id=unit)
    verdict = _verdict(database, chicago, learner)
    assert verdict.open and verdict.until == at(MONDAY, 11, 30)
    assert _verdict(database, chicago, free) == access_gate.OPEN  # in no group with hours
    fake_clock.moment = at(MONDAY, 11, 30)
    closed = _verdict(database, chicago, learner)
    assert (closed.open, closed.reason, closed.since) == (False, "hours", at(MONDAY, 11, 30))
    fake_clock.moment = at(MONDAY + 1, 9)  # Tuesday
    assert _verdict(database, chicago, learner).reason == "hours"
    fake_clock.moment = at(MONDAY + 2, 8)  # Wednesday
    assert _verdict(database, chicago, learner).open


def test_several_groups_give_the_union_or_the_strictest_and_own_hours_replace_them(
    database: Database, chicago: Settings, fake_clock: FakeClock
) -> None:
    unit = groups.create_group(database, ADMIN, "Unit A", "housing").id
    school = groups.create_group(database, ADMIN, "GED class", "class").id
    learner = _learner_in(database, "A1", unit, school)
    access_windows.add_windows(database, ADMIN, [0], "08:00", "10:00", group_id=unit)
    access_windows.add_windows(database, ADMIN, [0], "09:00", "12:00", group_id=school)
    strict = dataclasses.replace(chicago, access_combine="strictest")
    fake_clock.moment = at(MONDAY, 8, 30)
    assert _verdict(database, chicago, learner).until == at(MONDAY, 12)  # 08:00-12:00
    assert not _verdict(database, strict, learner).open
    fake_clock.moment = at(MONDAY, 9, 30)
    assert _verdict(database, strict, learner).until == at(MONDAY, 10)  # 09:00-10:00
    # Hours of the learner's own replace their groups' hours, wider or narrower.
    access_windows.add_windows(database, ADMIN, [0], "13:00", "14:00", user_id=learner)
    assert _verdict(database, chicago, learner).reason == "hours"
    fake_clock.moment = at(MONDAY, 13, 15)
    assert _verdict(database, chicago, learner).until == at(MONDAY, 14)


def test_hours_to_midnight_go_on_into_the_next_day_and_a_holiday_closes_the_day(
    database: Database, chicago: Settings, fake_clock: FakeClock
) -> None:
    unit = groups.create_group(database, ADMIN, "Unit A", "housing").id
    learner = _learner_in(database, "A1", unit)
    access_windows.add_windows(database, ADMIN, [0], "20:00", "24:00", group_id=unit)
    access_windows.add_windows(database, ADMIN, [1], "0:00", "2:00", group_id=unit)
    fake_clock.moment = at(MONDAY, 21)
    assert _verdict(database, chicago, learner).until == at(MONDAY + 1, 2)
    access_windows.add_holiday(database, ADMIN, "2026-12-08", "Staff training")
    assert _verdict(database, chicago, learner).until == at(MONDAY + 1, 0)
    fake_clock.moment = at(MONDAY + 1, 1)
    assert _verdict(database, chicago, learner).reason == "holiday"
    access_windows.remove_holiday(database, ADMIN, "2026-12-08")
    assert _verdict(database, chicago, learner).open


def test_a_lockdown_closes_its_unit_only_until_its_end_or_until_ended_by_hand(
    database: Database, chicago: Settings, fake_clock: FakeClock
) -> None:
    unit = groups.create_group(database, ADMIN, "Unit A", "housing").id
    inside = _learner_in(database, "A1", unit)
    outside = _learner_in(database, "B1")
    fake_clock.moment = at(MONDAY, 9)
    lockdowns.start(database, ADMIN, unit, "count", planned_end=at(MONDAY, 10))
    closed = _verdict(database, chicago, inside)
    assert (closed.reason, closed.since) == ("lockdown", at(MONDAY, 9))
    assert _verdict(database, chicago, outside).open
    fake_clock.moment = at(MONDAY, 10)
    assert _verdict(database, chicago, inside).open  # over at its planned end
    whole = lockdowns.start(database, ADMIN, None, "emergency")
    assert not _verdict(database, chicago, outside).open
    fake_clock.advance(600)
    lockdowns.end(database, ADMIN, whole.id)
    assert _verdict(database, chicago, outside).open
    with pytest.raises(ValidationError):
        lockdowns.end(database, ADMIN, whole.id)
    actions = [
        r[0]
        for r in database.query(
            "SELECT action FROM audit_log WHERE action LIKE 'lockdown.%' ORDER BY id"
        )
    ]
    assert actions == ["lockdown.start", "lockdown.start", "lockdown.end"]


def test_bad_hours_are_refused_with_the_reason(database: Database) -> None:
    unit = groups.create_group(database, ADMIN, "Unit A", "housing").id
    staff = make_user(database, Role.EDUCATOR, "teacher")
    cases = [
        (dict(weekdays=[0], starts="9:00", ends="8:00", group_id=unit), "later than the start"),
        (dict(weekdays=[], starts="8:00", ends="9:00", group_id=unit), "at least one day"),
        (dict(weekdays=[0], starts="8h", ends="9:00", group_id=unit), "like 08:30"),
        (dict(weekdays=[0], starts="8:00", ends="24:01", group_id=unit), "like 08:30"),
        (dict(weekdays=[0], starts="8:00", ends="9:00", user_id=staff.id), "staff are not limited"),
        (dict(weekdays=[0], starts="8:00", ends="9:00"), "a group or a learner"),
    ]
    for arguments, words in cases:
        with pytest.raises(ValidationError) as raised:
            access_windows.add_windows(database, ADMIN, **arguments)  # type: ignore[arg-type]
        assert words in raised.value.message
    assert access_windows.windows(database) == []
    with pytest.raises(ValidationError, match="later than now"):
        lockdowns.start(database, ADMIN, None, "count", planned_end=1.0)
    with pytest.raises(ValidationError, match="reason"):
        lockdowns.start(database, ADMIN, None, "because")
