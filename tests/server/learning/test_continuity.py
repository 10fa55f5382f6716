"""Continuity: how a lockdown moves a due date, computed from the lockdown rows."""

from __future__ import annotations

from datetime import date

from server.learning.continuity import Continuity, Disruption

UNIT, OTHER = 1, 2


def _lockdown(
    first: str, last: str, group_id: int | None = UNIT, started: float = 1e9
) -> Disruption:
    return Disruption(
        group_id, "count", started, date.fromisoformat(first), date.fromisoformat(last)
    )


def test_a_due_date_in_or_just_after_a_lockdown_moves_by_the_days_it_touched() -> None:
    moves = Continuity([_lockdown("2026-12-07", "2026-12-09")], days_after=7)
    unit = frozenset({UNIT})
    during = moves.due("2026-12-08", unit)
    assert (during.effective, during.original, during.moved_days) == ("2026-12-11", "2026-12-08", 3)
    assert moves.due("2026-12-16", unit).effective == "2026-12-19"  # 7 days after its end
    assert not moves.due("2026-12-17", unit).moved  # 8 days after: not moved
    assert not moves.due("2026-12-06", unit).moved  # due before it started
    assert not moves.due("2026-12-08", frozenset({OTHER})).moved  # another unit's lockdown
    assert moves.due(None, unit).effective is None
    only_during = Continuity([_lockdown("2026-12-07", "2026-12-09")], days_after=0)
    assert not only_during.due("2026-12-10", unit).moved


def test_a_facility_lockdown_covers_everyone_and_several_add_up() -> None:
    moves = Continuity(
        [_lockdown("2026-12-07", "2026-12-07", None), _lockdown("2026-12-08", "2026-12-09")],
        days_after=0,
    )
    moved = moves.due("2026-12-07", frozenset({UNIT}))
    # Moved a day by the first (to the 8th, inside the second), then two more.
    assert (moved.effective, moved.moved_days) == ("2026-12-10", 3)
    assert moves.due("2026-12-07", frozenset()).effective == "2026-12-08"


def test_a_lockdown_before_the_course_was_assigned_does_not_move_its_date() -> None:
    started = 1796644800.0  # 2026-12-07 12:00 UTC
    moves = Continuity([_lockdown("2026-12-07", "2026-12-07", started=started)], days_after=7)
    assert moves.due("2026-12-08", frozenset({UNIT}), "2026-12-07T11:00:00+00:00").moved
    assert not moves.due("2026-12-08", frozenset({UNIT}), "2026-12-07T13:00:00+00:00").moved
