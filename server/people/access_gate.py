"""Whether a learner may use a tablet now: their schedule, holidays and lockdowns.

Every learner request is checked (``web.plumbing``), and so is every sign-in
(``people.signin``); staff are never checked. The rules are kept in memory per process
and read again only when their version moves (``people.access_state``), so a check costs
one small read: the version and the learner's groups, which are then always current.

Several groups: with the ``access_combine`` setting ``union`` (the default) a learner may
use a tablet when any of their groups with a schedule is open; with ``strictest`` only
when all of them are. Groups without a schedule take no part; a learner with windows of
their own follows those alone. An open verdict says until when, so the learner's page
can warn five minutes before and save their work before the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.core import clock
from server.core.db import Database
from server.core.settings import Settings
from server.people import access_state, access_windows, lockdowns
from server.people.access_windows import DAY_MINUTES
from server.people.lockdowns import Lockdown

# After a lockdown starts, a learner's page may still save their work and hear that it
# must leave, for this long; every other request is refused at once.
GRACE_SECONDS = 90

HOURS = "hours"
HOLIDAY = "holiday"
LOCKDOWN = "lockdown"

Spans = list[tuple[int, int]]
Week = tuple[Spans, ...]  # a schedule's merged spans, Monday to Sunday


@dataclass(frozen=True)
class Verdict:
    open: bool
    reason: str = ""  # why closed: HOURS, HOLIDAY or LOCKDOWN
    until: float | None = None  # open: when it closes, if it does
    since: float | None = None  # closed: since when, if known

    def within_grace(self, moment: float) -> bool:
        return self.since is not None and 0 <= moment - self.since <= GRACE_SECONDS


OPEN = Verdict(True)


@dataclass
class Rules:
    """Every window, holiday and lockdown in force, as of `version`."""

    version: int
    # Merged once when read, so a check only combines a learner's one to three weeks.
    by_group: dict[int, Week] = field(default_factory=dict)
    by_user: dict[int, Week] = field(default_factory=dict)
    holidays: frozenset[str] = frozenset()
    lockdowns: list[Lockdown] = field(default_factory=list)

    @classmethod
    def read(cls, database: Database) -> Rules:
        rules = cls(access_state.version(database))
        groups: dict[int, list[access_windows.Window]] = {}
        users: dict[int, list[access_windows.Window]] = {}
        for window in access_windows.windows(database):
            if window.group_id is not None:
                groups.setdefault(window.group_id, []).append(window)
            elif window.user_id is not None:
                users.setdefault(window.user_id, []).append(window)
        rules.by_group = {g: _week(ws) for g, ws in groups.items()}
        rules.by_user = {u: _week(ws) for u, ws in users.items()}
        rules.holidays = frozenset(h.day for h in access_windows.holidays(database))
        rules.lockdowns = lockdowns.not_over(database)
        return rules

    def schedules(self, user_id: int, group_ids: Iterable[int]) -> list[Week]:
        """The schedules that apply to a learner: their own, else their groups' ones."""
        if user_id in self.by_user:
            return [self.by_user[user_id]]
        return [self.by_group[g] for g in sorted(set(group_ids)) if g in self.by_group]

    def verdict(
        self, user_id: int, group_ids: frozenset[int], moment: float, zone: ZoneInfo, combine: str
    ) -> Verdict:
        for lockdown in self.lockdowns:
            if lockdown.covers(group_ids) and lockdown.active_at(moment):
                return Verdict(False, LOCKDOWN, since=lockdown.started_at)
        schedules = self.schedules(user_id, group_ids)
        if not schedules:
            return OPEN
        local = datetime.fromtimestamp(moment, zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
        if local.date().isoformat() in self.holidays:
            return Verdict(False, HOLIDAY, since=midnight.timestamp())
        minute = local.hour * 60 + local.minute + local.second / 60
        spans = self._spans(schedules, local.date(), combine)
        for start, end in spans:
            if start <= minute < end:
                return Verdict(
                    True, until=self._closes(schedules, local.date(), end, combine, zone)
                )
        ended = [end for _start, end in spans if end <= minute]
        since = _at(local.date(), max(ended), zone) if ended else None
        return Verdict(False, HOURS, since=since)

    def _spans(self, schedules: list[Week], day: date, combine: str) -> Spans:
        if day.isoformat() in self.holidays:
            return []
        per_schedule = [week[day.weekday()] for week in schedules]
        if len(per_schedule) == 1:
            return per_schedule[0]
        if combine == "strictest":
            result = per_schedule[0]
            for spans in per_schedule[1:]:
                result = _intersect(result, spans)
            return result
        return _merge(span for spans in per_schedule for span in spans)

    def _closes(
        self,
        schedules: list[Week],
        day: date,
        end: int,
        combine: str,
        zone: ZoneInfo,
    ) -> float | None:
        """When an open span ending at `end` on `day` closes: a span to midnight goes on
        into one from midnight the next day (a week open all the time never closes)."""
        for _ in range(8):
            if end < DAY_MINUTES:
                return _at(day, end, zone)
            day += timedelta(days=1)
            following = [s for s in self._spans(schedules, day, combine) if s[0] == 0]
            if not following:
                return _at(day, 0, zone)
            end = following[0][1]
        return None


def _at(day: date, minutes: int, zone: ZoneInfo) -> float:
    wall = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minutes)
    # Wall-clock arithmetic: 08:00 is 08:00 local on a day the clocks change.
    return datetime.combine(wall.date(), wall.time(), tzinfo=zone).timestamp()


def _week(windows: list[access_windows.Window]) -> Week:
    return tuple(_merge((w.starts, w.ends) for w in windows if w.weekday == d) for d in range(7))


def _merge(spans: Iterable[tuple[int, int]]) -> Spans:
    merged: Spans = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _intersect(first: Spans, second: Spans) -> Spans:
    return [(max(a, c), min(b, d)) for a, b in first for c, d in second if max(a, c) < min(b, d)]


class Gate:
    """The check, with the rules of one database kept in memory."""

    def __init__(self) -> None:
        self._rules: dict[str, Rules] = {}
        self._lock = threading.Lock()

    def rules(self, database: Database, version: int) -> Rules:
        key = str(database.path)
        with self._lock:
            cached = self._rules.get(key)
        if cached is not None and cached.version == version:
            return cached
        fresh = Rules.read(database)
        with self._lock:
            self._rules[key] = fresh
        return fresh

    def verdict(self, database: Database, settings: Settings, user_id: int) -> Verdict:
        """For a learner, now."""
        row = database.query_one(
            "SELECT (SELECT version FROM access_rules_state WHERE id = 1),"
            " (SELECT group_concat(group_id) FROM group_members WHERE user_id = ?)",
            [user_id],
        )
        version = int(row[0] or 0) if row else 0
        group_ids = (
            frozenset(int(g) for g in str(row[1]).split(",")) if row and row[1] else frozenset()
        )
        rules = self.rules(database, version)
        return rules.verdict(
            user_id, group_ids, clock.now(), ZoneInfo(settings.time_zone), settings.access_combine
        )


gate = Gate()


def verdict(database: Database, settings: Settings, user_id: int) -> Verdict:
    """Whether the learner `user_id` may use a tablet now, and until when."""
    return gate.verdict(database, settings, user_id)


@dataclass(frozen=True)
class Standing:
    user_id: int
    display_name: str
    facility_id: str
    verdict: Verdict


def who_can_use_now(database: Database, settings: Settings) -> list[Standing]:
    """Every learner who can sign in (not disabled, not locked), with today's verdict."""
    rows = database.query(
        "SELECT u.id, u.display_name, u.facility_id,"
        " (SELECT group_concat(group_id) FROM group_members m WHERE m.user_id = u.id) AS groups"
        " FROM users u WHERE u.role = 'learner' AND u.disabled_at IS NULL AND u.locked_at IS NULL"
        " ORDER BY u.display_name, u.id"
    )
    rules = Rules.read(database)
    zone, moment = ZoneInfo(settings.time_zone), clock.now()
    found = []
    for r in rows:
        ids = frozenset(int(g) for g in str(r["groups"]).split(",")) if r["groups"] else frozenset()
        judged = rules.verdict(r["id"], ids, moment, zone, settings.access_combine)
        found.append(Standing(r["id"], r["display_name"], r["facility_id"] or "", judged))
    return found
