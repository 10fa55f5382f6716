"""Writing tasks educators make inside a lesson plan: a prompt, short or long, an optional
word guide, a rubric of criteria × levels with points, and a pass mark.

The task is stored the way the course format writes a lesson's ``written`` task, and
checked by the format's own rules (`content.format.rules.written_problems`: a word guide
whose least is more than its most, two levels of one criterion with one label, a pass
mark above the rubric's top score), so a plan's task and a course's task mean the same
thing and are graded by the same code (`learning.written`, `teaching.grading`). The form
is small on purpose: up to `MAX_CRITERIA` criteria of up to `MAX_LEVELS` levels each.

A task is never deleted: removing it from the plan, or deleting the plan's group, leaves
the learners' tries and grades as they were (the grading page still opens them).

When the plan item is done: once an attempt got a final grade that passes (total ≥ pass
mark); with a pass mark of 0 ("no pass needed"), once an attempt is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from content.format import rules
from content.format.lessondata import WrittenData, lesson_data
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.learning import written

MAX_CRITERIA = 5
MAX_LEVELS = 4
MAX_PROMPT = 2000
MAX_CRITERION = 300
MAX_LABEL = 60
MAX_WORDS = 5000
MAX_POINTS = 100.0
MAX_PASS_MARK = 1000.0

# The rubric the form starts with, for the educator to change or keep.
DEFAULT_RUBRIC: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = (
    (N_("Answers the prompt"), ((N_("Not yet"), 0), (N_("Partly"), 1), (N_("Fully"), 2))),
    (N_("Clear and in order"), ((N_("Not yet"), 0), (N_("Partly"), 1), (N_("Fully"), 2))),
    (N_("Own words and examples"), ((N_("Not yet"), 0), (N_("Partly"), 1), (N_("Fully"), 2))),
)
DEFAULT_PASS_MARK = 4

# The format's rules name where a problem is; the form says it in the learner's words.
_RULE_MESSAGES = {
    "words": (
        N_("The word guide's smallest number is more than its largest. Swap them."),
        "min_words",
    ),
    "rubric": (N_("Two levels of one part of the rubric have the same label."), "rubric"),
    "pass_mark": (
        N_("The pass mark is more than the rubric's top score: no one could pass."),
        "pass_mark",
    ),
}


@dataclass(frozen=True)
class PlanTask:
    id: int
    plan_id: int | None  # None: the plan was deleted (with its group); the tries are kept
    title: str
    task: WrittenData
    raw: dict[str, Any]


def get_task(database: Database, task_id: int) -> PlanTask:
    row = database.query_one(
        "SELECT id, plan_id, title, task FROM plan_written_tasks WHERE id = ?", [task_id]
    )
    if row is None:
        raise NotFound()
    raw = json.loads(row["task"])
    task = lesson_data({"written": raw}).written
    assert task is not None
    return PlanTask(row["id"], row["plan_id"], row["title"], task, raw)


def _whole(raw: str, low: int, message: str, name: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= MAX_WORDS:
        raise ValidationError(message, name)
    return int(raw)


def _number(raw: str, high: float, message: str, name: str) -> float:
    try:
        value = float(raw.strip().replace(",", "."))
    except ValueError:
        raise ValidationError(message, name) from None
    if not 0 <= value <= high:
        raise ValidationError(message, name)
    return value


def parse_form(get: Callable[[str], str]) -> dict[str, Any]:
    """The task from the builder's form fields (``get``: a field's value, "" when absent),
    in the course format's ``written`` shape; a clear error naming the field otherwise."""
    prompt = get("prompt").strip().replace("\r\n", "\n")
    if not 1 <= len(prompt) <= MAX_PROMPT:
        raise ValidationError(
            N_("Write the prompt: what the learner writes about (up to 2000 characters)."),
            "prompt",
        )
    length = get("length")
    if length not in ("short", "long"):
        raise ValidationError(N_("Choose a short or a long answer."), "length")
    words = N_("Write the word guide as whole numbers up to 5000, or leave it empty.")
    min_words = _whole(get("min_words"), 0, words, "min_words")
    max_words = _whole(get("max_words"), 1, words, "max_words")
    rubric: list[dict[str, Any]] = []
    for c in range(1, MAX_CRITERIA + 1):
        criterion = " ".join(get(f"c{c}").split())
        levels: list[dict[str, Any]] = []
        for v in range(1, MAX_LEVELS + 1):
            label = " ".join(get(f"c{c}-l{v}").split())
            points = get(f"c{c}-p{v}").strip()
            if not label and not points:
                continue
            if not 1 <= len(label) <= MAX_LABEL:
                raise ValidationError(
                    N_("Give each level a label of up to 60 characters."), f"c{c}-l{v}"
                )
            value = _number(
                points, MAX_POINTS, N_("Points are a number from 0 to 100."), f"c{c}-p{v}"
            )
            levels.append({"label": label, "points": value})
        if not criterion and not levels:
            continue
        if not 1 <= len(criterion) <= MAX_CRITERION:
            raise ValidationError(
                N_("Name each part of the rubric (up to 300 characters)."), f"c{c}"
            )
        if len(levels) < 2:
            raise ValidationError(N_("Each part of the rubric needs at least 2 levels."), f"c{c}")
        rubric.append({"key": f"c{c}", "criterion": criterion, "levels": levels})
    if not rubric:
        raise ValidationError(N_("The rubric needs at least one part."), "c1")
    pass_mark = _number(
        get("pass_mark") or "0",
        MAX_PASS_MARK,
        N_("Write a pass mark in points, from 0 up to the rubric's top score."),
        "pass_mark",
    )
    raw: dict[str, Any] = {
        "prompt": prompt,
        "length": length,
        "pass_mark": pass_mark,
        "required": False,
        "rubric": rubric,
    }
    if min_words is not None:
        raw["min_words"] = min_words
    if max_words is not None:
        raw["max_words"] = max_words
    for where, _message in rules.written_problems(rules.written_of(raw)):
        message, name = _RULE_MESSAGES[str(where[0])]
        raise ValidationError(message, name)
    return raw


def rubric_text(raw: dict[str, Any]) -> str:
    """The rubric as one piece of text for the admins' list of local text."""
    lines = []
    for c in raw["rubric"]:
        levels = "; ".join(f"{v['label']} ({v['points']:g})" for v in c["levels"])
        lines.append(f"{c['criterion']}: {levels}")
    return "\n".join(lines)


def done_sql() -> str:
    """The condition (parameters: task id, learner id, the task's pass mark) that a learner
    did the task: a final grade that passes, or anything sent when the pass mark is 0."""
    return (
        "SELECT 1 FROM written_attempts WHERE task_id = ? AND user_id = ?"
        " AND ((status = 'graded' AND passed = 1) OR (? = 0 AND status != 'draft'))"
    )


def attempts(database: Database, learner_id: int, task: PlanTask) -> list[written.Attempt]:
    """The learner's attempts at the task, newest first, each with its comments."""
    return written.attempts_of(database, learner_id, written.Owner.plan_task(task.id))


def save(database: Database, learner_id: int, task: PlanTask, text: str, submit: bool) -> None:
    """Save the learner's draft, or save and send it to be graded (one transaction)."""
    owner = written.Owner.plan_task(task.id)
    now = clock.now()
    with database.write() as db:
        if submit:
            written.send_in(db, learner_id, owner, None, text, now)
        else:
            written.draft_in(db, learner_id, owner, None, text, now)
