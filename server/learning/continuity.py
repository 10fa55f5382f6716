"""Continuity: a lockdown does not count against a learner.

A due date that falls during a lockdown covering the learner, or within
``lockdown_due_days_after`` days after it (a setting, 7 by default; 0: only during it),
moves later by the number of the facility's calendar days the lockdown touched (a
two-hour count on one day moves it one day; Monday 14:00 to Wednesday 10:00, three).
Only lockdowns that started after the course was assigned count: the educator who set a
date after a lockdown already knew of it. Several lockdowns add up, each checked against
the date as already moved.

Nothing is rewritten: the effective date is computed when read, from the lockdown rows,
so a lockdown ended early or late moves the date by what really happened, and the date
the educator set stays what staff see beside it. A lockdown covers a learner when it was
for the whole facility or for a group they are in now.

A learner's own absence that staff record (court, medical, transfer;
``people.absences``) counts the same way for that learner alone, its days being the
ones recorded.

The same days are the "disrupted days" that reports can leave out (``teaching.impact``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.core import clock
from server.core.db import Database
from server.core.settings import Settings
from server.people import absences, lockdowns
from server.people.absences import Absence
from server.people.lockdowns import Lockdown


@dataclass(frozen=True)
class Disruption:
    """The facility days one lockdown touched (to today while it goes on), or the days
    of one learner's absence (`user_id`)."""

    group_id: int | None
    reason: str
    started_at: float
    first_day: date
    last_day: date
    user_id: int | None = None  # an absence of this learner only

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def absence(self) -> bool:
        return self.user_id is not None

    def covers(self, group_ids: frozenset[int], user_id: int | None = None) -> bool:
        if self.user_id is not None:
            return self.user_id == user_id
        return self.group_id is None or self.group_id in group_ids

    def day_set(self) -> set[date]:
        return {self.first_day + timedelta(days=n) for n in range(self.days)}


@dataclass(frozen=True)
class Due:
    effective: str | None  # the date that counts (ISO), after every move
    original: str | None  # the date the educator set
    moved_days: int = 0

    @property
    def moved(self) -> bool:
        return self.moved_days > 0


class Continuity:
    """Every lockdown of the facility as days, ready to move due dates."""

    def __init__(self, disruptions: list[Disruption], days_after: int) -> None:
        self.disruptions = sorted(disruptions, key=lambda d: d.started_at)
        self.days_after = days_after

    @classmethod
    def load(
        cls, database: Database, settings: Settings, learner_id: int | None = None
    ) -> Continuity:
        """Every lockdown, and every learner's absences; with `learner_id`, only that
        learner's (what a learner's own pages need: the facility's absence rows grow
        with its history, and a lesson page should not read them all)."""
        zone = ZoneInfo(settings.time_zone)
        now = clock.now()
        found = []
        for lockdown in lockdowns.history(database, limit=10_000):
            found.append(_as_days(lockdown, zone, now))
        away = (
            absences.every(database)
            if learner_id is None
            else absences.of_learner(database, learner_id)
        )
        found += [_absence_days(a, zone) for a in away]
        return cls(found, settings.lockdown_due_days_after)

    def due(
        self,
        due: str | None,
        group_ids: frozenset[int],
        assigned_at: str = "",
        user_id: int | None = None,
    ) -> Due:
        """The effective due date of an assignment given at `assigned_at` (ISO UTC) to the
        learner `user_id` in `group_ids`."""
        if not due:
            return Due(due, due)
        current = date.fromisoformat(due)
        moved = 0
        for disruption in self.disruptions:
            if not disruption.covers(group_ids, user_id):
                continue
            if assigned_at and clock.iso(disruption.started_at) < assigned_at:
                continue
            window_end = disruption.last_day + timedelta(days=self.days_after)
            if disruption.first_day <= current <= window_end:
                current += timedelta(days=disruption.days)
                moved += disruption.days
        return Due(current.isoformat(), due, moved)

    def disrupted_days(self, group_ids: frozenset[int], user_id: int | None = None) -> set[date]:
        """The days the learner `user_id` in `group_ids` was locked down or away."""
        days: set[date] = set()
        for disruption in self.disruptions:
            if disruption.covers(group_ids, user_id):
                days |= disruption.day_set()
        return days

    def touching(self, first: date, last: date) -> list[Disruption]:
        """Lockdowns (not absences) that touched any day from `first` to `last`."""
        return [
            d
            for d in self.disruptions
            if not d.absence and d.first_day <= last and d.last_day >= first
        ]


def _as_days(lockdown: Lockdown, zone: ZoneInfo, now: float) -> Disruption:
    stops = lockdown.stops_at()
    end = now if stops is None or stops > now else stops
    first = datetime.fromtimestamp(lockdown.started_at, zone).date()
    # A lockdown that ended at midnight did not touch the day that starts then.
    last = datetime.fromtimestamp(max(end - 1, lockdown.started_at), zone).date()
    return Disruption(lockdown.group_id, lockdown.reason, lockdown.started_at, first, last)


def _absence_days(absence: Absence, zone: ZoneInfo) -> Disruption:
    first, last = date.fromisoformat(absence.first_day), date.fromisoformat(absence.last_day)
    began = datetime(first.year, first.month, first.day, tzinfo=zone).timestamp()
    return Disruption(None, absence.reason, began, first, last, absence.user_id)
