"""H5P statements: which ones finish the content, with what score."""

from __future__ import annotations

from typing import Any

import pytest

from server.core.errors import ValidationError
from server.learning.h5p import outcome

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ANSWERED = "http://adlnet.gov/expapi/verbs/answered"


def statement(verb: str, result: dict[str, Any] | None, parent: bool = False) -> dict[str, Any]:
    found: dict[str, Any] = {"verb": {"id": verb}}
    if result is not None:
        found["result"] = result
    if parent:
        found["context"] = {"contextActivities": {"parent": [{"id": "x"}]}}
    return found


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (statement(COMPLETED, {"completion": True, "score": {"scaled": 0.75}}), (75.0, None)),
        (statement(ANSWERED, {"score": {"raw": 3, "max": 4}, "success": True}), (75.0, True)),
        (statement(COMPLETED, {"completion": True, "success": False}), (None, False)),
        (statement(COMPLETED, {"completion": True, "score": {"scaled": 0.5}}, True), None),
        (statement("http://adlnet.gov/expapi/verbs/attempted", {"completion": True}), None),
        (statement(ANSWERED, {"response": "x"}), None),
        (statement(COMPLETED, None), None),
    ],
)
def test_what_finishes_the_content(given: dict[str, Any], expected: Any) -> None:
    assert outcome(given) == expected


def test_a_statement_without_a_verb_is_refused() -> None:
    with pytest.raises(ValidationError):
        outcome({"result": {}})
