"""A plan's writing task from the builder's form, one rule at a time: the course format's
rules decide (word guide, level labels, pass mark), the form names the field to fix."""

from __future__ import annotations

from typing import Any

import pytest

from content.format.lessondata import lesson_data
from server.core.errors import ValidationError
from server.learning import plan_writing

FORM = {
    "prompt": "Write about a day you felt proud.",
    "length": "short",
    "min_words": "",
    "max_words": "50",
    "c1": "  Tells   what happened ",
    "c1-l1": "Not yet",
    "c1-p1": "0",
    "c1-l2": "Yes",
    "c1-p2": "2",
    "pass_mark": "1.5",
}


def parse(**changes: str) -> dict[str, Any]:
    fields = FORM | changes
    return plan_writing.parse_form(lambda name: fields.get(name, ""))


def test_a_task_in_the_course_formats_shape() -> None:
    raw = parse()
    assert raw == {
        "prompt": "Write about a day you felt proud.",
        "length": "short",
        "max_words": 50,
        "pass_mark": 1.5,
        "required": False,
        "rubric": [
            {
                "key": "c1",
                "criterion": "Tells what happened",
                "levels": [{"label": "Not yet", "points": 0.0}, {"label": "Yes", "points": 2.0}],
            }
        ],
    }
    task = lesson_data({"written": raw}).written
    assert task is not None and task.max_points == 2 and task.max_words == 50
    assert plan_writing.rubric_text(raw) == "Tells what happened: Not yet (0); Yes (2)"


def test_empty_rows_are_skipped() -> None:
    raw = parse(c3="", **{"c3-l1": "", "c3-p1": ""})
    assert [c["key"] for c in raw["rubric"]] == ["c1"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"prompt": " "}, "prompt", "Write the prompt"),
        ({"length": "epic"}, "length", "short or a long"),
        ({"min_words": "60"}, "min_words", "smallest number is more than its largest"),
        ({"max_words": "-3"}, "max_words", "whole numbers"),
        ({"c1-l2": "Not yet"}, "rubric", "same label"),
        ({"pass_mark": "3"}, "pass_mark", "no one could pass"),
        ({"pass_mark": "lots"}, "pass_mark", "pass mark in points"),
        ({"c1-p2": "101"}, "c1-p2", "0 to 100"),
        ({"c1-l2": "", "c1-p2": "2"}, "c1-l2", "label"),
        ({"c1-l2": "", "c1-p2": ""}, "c1", "at least 2 levels"),
        ({"c1": ""}, "c1", "Name each part"),
        ({"c1": "", "c1-l1": "", "c1-p1": "", "c1-l2": "", "c1-p2": ""}, "c1", "at least one"),
    ],
)
def test_each_problem_names_its_field(changes: dict[str, str], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(**changes)
    assert caught.value.field == field and words in caught.value.message
