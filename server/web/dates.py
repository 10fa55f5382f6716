"""Dates as people read them: in their language, in the facility's time zone, and in
words relative to today ("Thursday, 17 December", "in 3 days", "late by 2 days").

Stored times are UTC (ISO 8601) and due dates are plain calendar days; both are shown
here and nowhere else, so every page says the same day the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_day_names

from server.core import clock
from server.web import i18n

# Spelled out rather than taken from Babel's locale defaults, which give Americans
# "December 17" and the spec (and Spanish) want the day before the month.
_DAY_MONTH = {"en": "EEEE, d MMMM", "es": "EEEE, d 'de' MMMM"}
_DAY_MONTH_YEAR = {"en": "EEEE, d MMMM y", "es": "EEEE, d 'de' MMMM 'de' y"}


def local_day(value: str | date, time_zone: str) -> date:
    """The calendar day of a stored UTC timestamp in the facility, or a plain date as is."""
    if isinstance(value, date):
        return value
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(time_zone)).date()


def today(time_zone: str) -> date:
    return datetime.fromtimestamp(clock.now(), ZoneInfo(time_zone)).date()


def long_date(value: str | date, time_zone: str) -> str:
    """'Thursday, 17 December' (with the year when it is not this year)."""
    day = local_day(value, time_zone)
    language = i18n.current_language()
    patterns = _DAY_MONTH if day.year == today(time_zone).year else _DAY_MONTH_YEAR
    return format_date(day, patterns.get(language, patterns["en"]), locale=language)


def full_date(value: str | date, time_zone: str) -> str:
    """'Thursday, 17 December 2026': for what is printed and kept, such as a certificate."""
    day = local_day(value, time_zone)
    language = i18n.current_language()
    return format_date(day, _DAY_MONTH_YEAR.get(language, _DAY_MONTH_YEAR["en"]), locale=language)


def date_time(value: str, time_zone: str) -> str:
    """'Thursday, 17 December, 14:05' in the facility's time zone."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(ZoneInfo(time_zone))
    language = i18n.current_language()
    clock_text = format_time(local, "HH:mm", locale=language)
    return f"{long_date(local.date(), time_zone)}, {clock_text}"


def days_from_today(value: str | date, time_zone: str) -> int:
    return (local_day(value, time_zone) - today(time_zone)).days


def relative_day(value: str | date, time_zone: str) -> str:
    """'today', 'tomorrow', 'in 3 days', 'yesterday', '2 days ago'."""
    days = days_from_today(value, time_zone)
    if days == 0:
        return i18n.gettext("today")
    if days == 1:
        return i18n.gettext("tomorrow")
    if days == -1:
        return i18n.gettext("yesterday")
    if days > 0:
        return i18n.ngettext("in %(num)d day", "in %(num)d days", days) % {"num": days}
    return i18n.ngettext("%(num)d day ago", "%(num)d days ago", -days) % {"num": -days}


def due_words(due: str | date, time_zone: str) -> tuple[str, bool]:
    """What to say about a due date, and whether it is late.

    ('Due Thursday, 17 December (in 3 days)', False) or ('Late by 2 days: it was due
    Monday, 14 December', True).
    """
    days = days_from_today(due, time_zone)
    when = long_date(due, time_zone)
    if days < 0:
        late = i18n.ngettext("Late by %(num)d day", "Late by %(num)d days", -days) % {"num": -days}
        return i18n.gettext("%(late)s: it was due %(date)s") % {"late": late, "date": when}, True
    relative = relative_day(due, time_zone)
    return i18n.gettext("Due %(date)s (%(relative)s)") % {"date": when, "relative": relative}, False


def weekday_names() -> list[str]:
    """Monday to Sunday in the page's language."""
    names = get_day_names("wide", locale=i18n.current_language())
    return [str(names[day]).capitalize() for day in range(7)]


def clock_time(moment: float, time_zone: str) -> str:
    """'14:05': a moment on the facility's clock."""
    local = datetime.fromtimestamp(moment, ZoneInfo(time_zone))
    return format_time(local, "HH:mm", locale=i18n.current_language())
