"""QTI 1.2 items, as IMS Common Cartridge carries them, to Stepstone quiz questions.

Common Cartridge names each item's kind in its ``cc_profile`` metadata. Converted:
``cc.multiple_choice`` (single), ``cc.multiple_response`` (multiple), ``cc.true_false``
and ``cc.fib`` (fill in the blank, as short answer). The right answers come from the
response processing (the condition that sets the score), per-choice feedback from the
conditions that show feedback for one choice, and general feedback becomes the
explanation. Other kinds (essays, pattern match, matching, file upload …) have no Stepstone
equivalent yet and are returned as dropped, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

SUPPORTED = {
    "cc.multiple_choice": "single",
    "cc.multiple_response": "multiple",
    "cc.true_false": "true-false",
    "cc.fib": "short-answer",
}
NAMES = {
    "cc.essay": "an essay question (written answers are not a quiz question type yet)",
    "cc.pattern_match": "a pattern-match question",
    "cc.upload": "a file-upload question",
}
PROMPT_MAX = 2000
CHOICE_MAX = 500
ACCEPTED_MAX = 200
KEY_RE = re.compile(r"[^A-Za-z0-9_-]+")

ToText = Callable[[str, str], str]  # (text, texttype) -> Markdown


@dataclass
class Converted:
    """One assessment or bank: its questions, and what was changed or left out."""

    title: str
    questions: list[dict[str, Any]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element.iter() if _local(child) == name]


def _first(element: Element, name: str) -> Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _material_text(element: Element | None, to_text: ToText) -> str:
    """The text of the first ``mattext`` under ``element``, as Markdown."""
    if element is None:
        return ""
    mattext = _first(element, "mattext")
    if mattext is None or not (mattext.text or "").strip():
        return ""
    return to_text(mattext.text or "", mattext.get("texttype", "text/plain")).strip()


def _profile(item: Element) -> str:
    for entry in _children(item, "qtimetadatafield"):
        label = _first(entry, "fieldlabel")
        value = _first(entry, "fieldentry")
        if label is not None and value is not None and (label.text or "").strip() == "cc_profile":
            return re.sub(r"\.v\d+p\d+$", "", (value.text or "").strip())
    return ""


def _fit(text: str, limit: int, what: str, notes: list[str]) -> str:
    if len(text) <= limit:
        return text
    notes.append(f"{what}: shortened to {limit} characters")
    return text[: limit - 1].rstrip() + "…"


def _key(ident: str, used: set[str]) -> str:
    base = KEY_RE.sub("-", ident).strip("-_")[:56] or "q"
    if not base[0].isalnum():
        base = "q" + base
    key, n = base, 2
    while key in used:
        key, n = f"{base}-{n}", n + 1
    used.add(key)
    return key


def _conditions(item: Element) -> list[tuple[Element, bool, list[str]]]:
    """Each response condition: the element, whether it gives the score, the feedback
    ids it shows."""
    found = []
    for condition in _children(item, "respcondition"):
        scores = any(
            (setvar.text or "").strip() not in {"", "0", "0.0"}
            for setvar in _children(condition, "setvar")
        )
        shows = [
            shown.get("linkrefid", "")
            for shown in _children(condition, "displayfeedback")
            if shown.get("linkrefid")
        ]
        found.append((condition, scores, shows))
    return found


def _required(condition: Element) -> list[str]:
    """The values a condition requires (``varequal`` not under ``not``)."""
    negated = {id(e) for n in _children(condition, "not") for e in _children(n, "varequal")}
    return [
        (e.text or "").strip()
        for e in _children(condition, "varequal")
        if id(e) not in negated and (e.text or "").strip()
    ]


def _feedback_texts(item: Element, to_text: ToText) -> dict[str, str]:
    return {
        feedback.get("ident", ""): _material_text(feedback, to_text)
        for feedback in _children(item, "itemfeedback")
    }


def convert_items(container: Element, title: str, to_text: ToText) -> Converted:
    """The questions of an ``assessment`` or ``objectbank`` element."""
    result = Converted(title=title)
    used: set[str] = set()
    for number, item in enumerate(_children(container, "item"), start=1):
        label = item.get("title") or f"question {number}"
        where = f"{title}, {label}"
        profile = _profile(item)
        kind = SUPPORTED.get(profile)
        if kind is None:
            what = NAMES.get(profile, f"a question of kind {profile or 'unknown'}")
            result.dropped.append(f"{where}: {what}")
            continue
        prompt = _material_text(_first(item, "presentation"), to_text)
        if not prompt:
            result.dropped.append(f"{where}: no question text")
            continue
        question: dict[str, Any] = {
            "key": _key(item.get("ident") or f"q{number}", used),
            "type": kind,
            "prompt": _fit(prompt, PROMPT_MAX, where, result.changed),
        }
        feedback = _feedback_texts(item, to_text)
        conditions = _conditions(item)
        problem = _fill(question, item, conditions, feedback, to_text, where, result.changed)
        if problem:
            result.dropped.append(f"{where}: {problem}")
            continue
        general = [
            feedback[ref]
            for condition, scores, shows in conditions
            if _first(condition, "other") is not None and not scores
            for ref in shows
            if feedback.get(ref)
        ]
        if general:
            question["explanation"] = _fit(general[0], PROMPT_MAX, where, result.changed)
        result.questions.append(question)
    return result


def _fill(
    question: dict[str, Any],
    item: Element,
    conditions: list[tuple[Element, bool, list[str]]],
    feedback: dict[str, str],
    to_text: ToText,
    where: str,
    changed: list[str],
) -> str:
    """Add the answer fields for the question's kind; returns why it cannot, or ''."""
    right = [
        value for condition, scores, _ in conditions if scores for value in _required(condition)
    ]
    if question["type"] == "short-answer":
        accepted = list(dict.fromkeys(v[:ACCEPTED_MAX] for v in right))
        if not accepted:
            return "no accepted answer in its scoring"
        question["accepted"] = accepted
        return ""
    labels = [
        (label.get("ident", ""), _material_text(label, to_text))
        for label in _children(item, "response_label")
    ]
    if len(labels) < 2 or any(not text for _, text in labels):
        return "fewer than two choices, or a choice without text"
    if not right:
        return "no right answer in its scoring"
    if question["type"] == "true-false":
        texts = {ident: text.strip().lower() for ident, text in labels}
        truth = {"true", "verdadero", "cierto", "yes", "sí"}
        question["answer"] = texts.get(right[0], "") in truth
        return ""
    per_choice: dict[str, str] = {}
    for condition, _scores, shows in conditions:
        values = _required(condition)
        if len(values) == 1:
            for ref in shows:
                if feedback.get(ref):
                    per_choice.setdefault(values[0], feedback[ref])
    if question["type"] == "single" and len(set(right)) != 1:
        return "more than one right answer for a single-choice question"
    if len(labels) > 26:
        return "more than 26 choices"
    choices = []
    for ident, text in labels:
        choice: dict[str, Any] = {"text": _fit(text, CHOICE_MAX, where, changed)}
        if ident in right:
            choice["correct"] = True
        if per_choice.get(ident):
            choice["feedback"] = _fit(per_choice[ident], PROMPT_MAX, where, changed)
        choices.append(choice)
    question["choices"] = choices
    return ""
