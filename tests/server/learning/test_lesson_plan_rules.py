"""The rules of a lesson plan that need no pages: when a plan counts as done, and that
moving the first item up or the last one down changes nothing."""

from __future__ import annotations

import pytest

from server.core.db import Database
from server.core.errors import ValidationError
from server.learning import lesson_plans
from server.learning.lesson_plans import Item, Plan, PlanState, Shown
from server.people import groups
from server.people.audit import Actor

SYSTEM = Actor.system("test")
PLAN = Plan(1, 1, "Week 1", "", None, "2026-01-01", "2026-01-01")


def shown(n: int, done: bool, available: bool = True) -> Shown:
    item = Item(n, n, "lesson", "org.example.c", f"l{n}", None)
    return Shown(item, f"L{n}", "C", "/x" if available else None, done)


@pytest.mark.parametrize(
    ("items", "done"),
    [
        ([], False),  # nothing to do is not "done"
        ([shown(1, True), shown(2, False)], False),
        ([shown(1, True), shown(2, True)], True),
        ([shown(1, True), shown(2, False, available=False)], True),  # withdrawn: not owed
        ([shown(1, False, available=False)], False),
    ],
)
def test_a_plan_is_done_when_everything_still_possible_is_done(
    items: list[Shown], done: bool
) -> None:
    assert PlanState(PLAN, items).done is done


def test_moves_at_the_ends_change_nothing_and_bad_text_is_refused(database: Database) -> None:
    group = groups.create_group(database, SYSTEM, "Class A", "class")
    with pytest.raises(ValidationError):
        lesson_plans.create_plan(database, SYSTEM, group.id, "   ", "")
    with pytest.raises(ValidationError):
        lesson_plans.create_plan(database, SYSTEM, group.id, "Plan", "x" * 1001)
    plan = lesson_plans.get_plan(
        database, lesson_plans.create_plan(database, SYSTEM, group.id, "Plan", "Go")
    )
    with pytest.raises(ValidationError, match="at least one item"):
        lesson_plans.assign(database, SYSTEM, plan, "2099-01-01")
    with database.write() as db:
        for n in (1, 2):
            db.execute(
                "INSERT INTO lesson_plan_items (plan_id, position, kind, course_id, lesson_key)"
                " VALUES (?, ?, 'lesson', 'org.example.c', ?)",
                [plan.id, n, f"l{n}"],
            )
    first, last = lesson_plans.items_of(database, plan.id)
    lesson_plans.move_item(database, SYSTEM, plan, first.id, "up")
    lesson_plans.move_item(database, SYSTEM, plan, last.id, "down")
    assert [i.lesson_key for i in lesson_plans.items_of(database, plan.id)] == ["l1", "l2"]
    lesson_plans.move_item(database, SYSTEM, plan, last.id, "up")
    assert [i.lesson_key for i in lesson_plans.items_of(database, plan.id)] == ["l2", "l1"]
    with pytest.raises(ValidationError):
        lesson_plans.move_item(database, SYSTEM, plan, first.id, "sideways")
