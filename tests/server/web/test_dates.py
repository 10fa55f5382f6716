"""Dates on pages: the reader's language, the facility's time zone, words for near days."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from server.core import clock
from server.core.errors import ConfigError
from server.core.settings import load_settings
from server.web import dates, i18n

# Thursday 17 December 2026, 03:30 UTC: still Wednesday evening in Chicago.
NOW = datetime(2026, 12, 17, 3, 30, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    i18n.set_language("en")
    yield
    i18n.set_language("en")


def test_a_day_in_words_in_english_and_spanish() -> None:
    assert dates.long_date("2026-12-17", "UTC") == "Thursday, 17 December"
    assert dates.long_date("2027-01-04", "UTC") == "Monday, 4 January 2027"
    assert dates.full_date("2026-12-17", "UTC") == "Thursday, 17 December 2026"
    i18n.set_language("es")
    assert dates.long_date("2026-12-17", "UTC") == "jueves, 17 de diciembre"


def test_stored_utc_times_are_shown_in_the_facilitys_zone() -> None:
    stored = "2026-12-17T03:30:00+00:00"
    assert dates.long_date(stored, "UTC") == "Thursday, 17 December"
    assert dates.long_date(stored, "America/Chicago") == "Wednesday, 16 December"
    assert dates.date_time(stored, "America/Chicago") == "Wednesday, 16 December, 21:30"


def test_due_dates_in_words_with_plural_forms() -> None:
    assert dates.due_words("2026-12-20", "UTC") == (
        "Due Sunday, 20 December (in 3 days)",
        False,
    )
    assert dates.due_words("2026-12-18", "UTC")[0].endswith("(tomorrow)")
    assert dates.due_words("2026-12-17", "UTC")[0].endswith("(today)")
    assert dates.due_words("2026-12-16", "UTC") == (
        "Late by 1 day: it was due Wednesday, 16 December",
        True,
    )
    assert dates.due_words("2026-12-15", "UTC")[0].startswith("Late by 2 days")
    # In Chicago it is still the 16th: the same due date is today, not late.
    assert dates.due_words("2026-12-16", "America/Chicago") == (
        "Due Wednesday, 16 December (today)",
        False,
    )
    i18n.set_language("es")
    assert dates.due_words("2026-12-20", "UTC")[0] == "Para el domingo, 20 de diciembre (en 3 días)"
    assert dates.due_words("2026-12-16", "UTC")[0].startswith("Con 1 día de retraso")


def test_the_time_zone_setting_is_checked_at_start() -> None:
    assert load_settings(environ={"STEPSTONE_TIME_ZONE": "America/Chicago"}).time_zone == (
        "America/Chicago"
    )
    with pytest.raises(ConfigError, match="time_zone"):
        load_settings(environ={"STEPSTONE_TIME_ZONE": "Mars/Olympus"})
    with pytest.raises(ConfigError, match="time_zone"):
        load_settings(environ={"STEPSTONE_TIME_ZONE": "../../etc/passwd"})
