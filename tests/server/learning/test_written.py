"""Written tasks, the parts without a facility: counting words, turning the levels an
educator picked into points, and who may write a new try."""

from __future__ import annotations

import pytest

from content.format.lessondata import CriterionData, RubricLevelData, WrittenData
from server.core.errors import ValidationError
from server.learning import written
from server.teaching.grading import scores_from

TASK = WrittenData(
    prompt="Write.",
    pass_mark=3,
    rubric=(
        CriterionData("a", "A", (RubricLevelData("No", 0, ""), RubricLevelData("Yes", 2, ""))),
        CriterionData("b", "B", (RubricLevelData("No", 0, ""), RubricLevelData("Yes", 1.5, ""))),
    ),
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("  \n ", 0),
        ("I don't want a part-time job.", 6),
        ("Quiero trabajar en la cocina, ¡ya!", 6),
        ("one\ntwo\n\nthree", 3),
    ],
)
def test_words_are_counted_as_a_reader_counts_them(text: str, words: int) -> None:
    assert written.count_words(text) == words


def test_the_points_are_those_of_the_levels_picked() -> None:
    assert scores_from(TASK, {"a": "1", "b": "1"}) == {"a": 2, "b": 1.5}
    assert TASK.max_points == 3.5


@pytest.mark.parametrize("chosen", [{"a": "1"}, {"a": "1", "b": "2"}, {"a": "-1", "b": "0"}])
def test_every_criterion_needs_a_real_level(chosen: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="every part of the rubric"):
        scores_from(TASK, chosen)


def _attempt(status: str) -> written.Attempt:
    return written.Attempt(
        1, 1, "c", "k", 1, 1, status, "words", 1, "t", "t", None, None, {}, None, None, None, ""
    )


@pytest.mark.parametrize(
    ("newest", "may", "starts_with"),
    [
        (None, True, ""),
        ("draft", True, "words"),
        ("revise", True, "words"),
        ("submitted", False, ""),
        ("graded", False, ""),
    ],
)
def test_a_new_try_only_when_nothing_waits_or_a_revision_was_asked(
    newest: str | None, may: bool, starts_with: str
) -> None:
    attempts = [_attempt(newest)] if newest else []
    assert written.may_write(attempts) is may
    assert written.starting_text(attempts) == starts_with
