"""Rules a lesson must meet that its schema cannot say, shared by lint and the import.

Lint applies them to the front matter an author wrote (with its line); the import applies
them to each lesson of a manifest, so that a package built by other tools, or by hand, is
refused before anything is stored rather than served broken after its approval: a quiz
question without choices, two questions with one key, a video lesson without its video.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from content.format.model import (
    INTERACTIVE_KINDS,
    MEDIA_KINDS,
    Choice,
    Question,
    RubricCriterion,
    RubricLevel,
    Written,
)


def question_problems(q: Question) -> list[tuple[str, str]]:
    """What each question type needs: (the field to change, what is wrong)."""
    correct = sum(c.correct for c in q.choices)
    problems = []
    if q.type in ("single", "multiple") and len(q.choices) < 2:
        problems.append(("choices", f"a '{q.type}' question needs at least 2 choices"))
    if q.type == "single" and correct != 1:
        problems.append(
            (
                "choices",
                "a 'single' question needs exactly one choice with 'correct: true' "
                f"(found {correct})",
            )
        )
    if q.type == "multiple" and correct < 1:
        problems.append(
            ("choices", "a 'multiple' question needs at least one choice with 'correct: true'")
        )
    if q.type == "true-false" and q.answer is None:
        problems.append(("type", "a 'true-false' question needs 'answer: true' or 'answer: false'"))
    if q.type == "short-answer" and not q.accepted:
        problems.append(
            ("type", "a 'short-answer' question needs 'accepted:' with at least one answer")
        )
    if q.type not in ("single", "multiple") and q.choices:
        problems.append(
            ("choices", f"'choices' is only for single and multiple questions, not '{q.type}'")
        )
    return problems


def written_problems(w: Written) -> list[tuple[tuple[str | int, ...], str]]:
    """What a written task needs beyond its schema: (where in ``written`` the thing to
    change is, what is wrong)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if w.min_words is not None and w.max_words is not None and w.min_words > w.max_words:
        problems.append(
            (
                ("words",),
                f"the word guide's 'min' ({w.min_words}) is more than its 'max' ({w.max_words})",
            )
        )
    seen: set[str] = set()
    for index, c in enumerate(w.rubric):
        if c.key in seen:
            problems.append((("rubric", index), f"criterion key '{c.key}' is used twice"))
        seen.add(c.key)
        labels = [level.label for level in c.levels]
        if len(set(labels)) != len(labels):
            problems.append(
                (("rubric", index), f"criterion '{c.key}': two levels have the same label")
            )
    if w.pass_mark > w.max_points:
        problems.append(
            (
                ("pass_mark",),
                f"'pass_mark: {w.pass_mark:g}' is more than the rubric's top score "
                f"({w.max_points:g} points): no one could pass",
            )
        )
    return problems


def written_of(raw: Mapping[str, Any]) -> Written:
    """A manifest's ``written`` object (schema-valid) as the model."""
    return Written(
        prompt=str(raw["prompt"]),
        length=str(raw["length"]),
        rubric=tuple(
            RubricCriterion(
                key=str(c["key"]),
                criterion=str(c["criterion"]),
                levels=tuple(
                    RubricLevel(str(v["label"]), float(v["points"]), v.get("description"))
                    for v in c["levels"]
                ),
            )
            for c in raw["rubric"]
        ),
        pass_mark=float(raw["pass_mark"]),
        required=raw["required"] is True,
        min_words=raw.get("min_words"),
        max_words=raw.get("max_words"),
    )


def manifest_lesson_problems(entry: Mapping[str, Any]) -> list[str]:
    """Every rule a schema-valid manifest lesson entry breaks, as sentences naming the
    question or prompt (the caller names the lesson)."""
    kind = entry.get("kind")
    problems = []
    if kind in MEDIA_KINDS and not entry.get("media"):
        problems.append(f"a {kind} lesson needs its 'media' file")
    if kind in INTERACTIVE_KINDS and entry.get("app") != f"apps/{entry.get('key')}/":
        problems.append(f"an {kind} lesson needs its 'app' folder, apps/{entry.get('key')}/")
    if kind == "scorm" and not entry.get("scorm"):
        problems.append("a scorm lesson needs its 'scorm' organization")
    for part in ("quiz", "workbook", "written"):
        if kind == part and not entry.get(part):
            problems.append(f"a {part} lesson needs its '{part}'")
    quiz = entry.get("quiz") or {}
    problems += _duplicates("question", [q["key"] for q in quiz.get("questions", [])])
    for item in quiz.get("questions", []):
        for _field, message in question_problems(_question(item)):
            problems.append(f"question '{item['key']}': {message}")
    prompts = (entry.get("workbook") or {}).get("prompts", [])
    problems += _duplicates("prompt", [p["key"] for p in prompts])
    for item in prompts:
        if item["type"] == "checklist" and not item.get("options"):
            problems.append(f"prompt '{item['key']}': a checklist needs 'options'")
    if entry.get("written"):
        for _where, message in written_problems(written_of(entry["written"])):
            problems.append(f"written task: {message}")
    return problems


def _question(item: Mapping[str, Any]) -> Question:
    answer = item.get("answer")
    choices = item.get("choices", ())
    return Question(
        key=str(item["key"]),
        type=str(item["type"]),
        prompt=str(item["prompt"]),
        choices=tuple(Choice(str(c["text"]), c["correct"] is True) for c in choices),
        answer=answer if isinstance(answer, bool) else None,
        accepted=tuple(map(str, item.get("accepted", []))),
    )


def _duplicates(what: str, keys: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return [f"{what} key '{key}' is used twice" for key in repeated]
