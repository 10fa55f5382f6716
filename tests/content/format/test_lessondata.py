"""Stored lesson data and manifests decode into typed values: every field the manifest
schema defines for a lesson, with the same default for a missing or malformed one."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from content.format import lessondata
from content.format.lessondata import LessonData, ManifestLesson, QuizData, WorkbookData
from content.package.build import build_package
from content.package.reader import inspect_package

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "content/format/schemas/manifest.schema.json").read_text())


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _items(definition: dict[str, Any], name: str) -> dict[str, Any]:
    properties: dict[str, Any] = definition["properties"][name]["items"]["properties"]
    return properties


@pytest.mark.parametrize(
    ("schema", "cls"),
    [
        (SCHEMA["$defs"]["lesson"]["properties"], ManifestLesson),
        (SCHEMA["$defs"]["quiz"]["properties"], QuizData),
        (_items(SCHEMA["$defs"]["quiz"], "questions"), lessondata.QuizQuestion),
        (_items(SCHEMA["$defs"]["quiz"]["properties"]["questions"]["items"], "choices"), None),
        (SCHEMA["$defs"]["workbook"]["properties"], WorkbookData),
        (_items(SCHEMA["$defs"]["workbook"], "prompts"), lessondata.WorkbookPrompt),
        (SCHEMA["$defs"]["written"]["properties"], lessondata.WrittenData),
        (_items(SCHEMA["$defs"]["written"], "rubric"), lessondata.CriterionData),
        (
            _items(SCHEMA["$defs"]["written"]["properties"]["rubric"]["items"], "levels"),
            lessondata.RubricLevelData,
        ),
        (_items(SCHEMA["$defs"]["lesson"], "captions"), lessondata.CaptionTrack),
        (_items(SCHEMA["$defs"]["lesson"], "sections"), lessondata.Section),
    ],
)
def test_the_decoder_knows_every_field_the_schema_defines(
    schema: dict[str, Any], cls: type | None
) -> None:
    known = _fields(cls or lessondata.QuizChoice)
    if cls is ManifestLesson:
        known |= _fields(LessonData)
    assert set(schema) - known == set()


def test_missing_or_malformed_fields_get_their_defaults() -> None:
    assert lessondata.lesson_data({}) == LessonData()
    assert lessondata.stored_lesson_data("not json") == LessonData()
    assert lessondata.stored_lesson_data(None) == LessonData()
    odd = lessondata.lesson_data(
        {
            "summary": None,
            "estimated_minutes": "ten",
            "captions": {"src": "a.vtt"},
            "sections": [{"heading": "Start"}, "stray"],
            "quiz": {"pass_mark": "high", "assessment": 3, "questions": [{"choices": [{}]}]},
            "workbook": {},
        }
    )
    assert (odd.summary, odd.estimated_minutes, odd.captions) == ("", None, ())
    assert odd.sections[0] == lessondata.Section("", "Start", "")
    assert odd.quiz is not None and (odd.quiz.pass_mark, odd.assessment) == (0.0, None)
    question = odd.questions[0]
    assert question.choices == (lessondata.QuizChoice("", False, ""),)
    assert (question.answer, question.accepted) == (None, ())
    assert odd.workbook is None and odd.prompts == ()
    assert lessondata.stored_manifest("[]").lessons == ()


def test_a_built_manifest_decodes_field_for_field(tmp_path: Path) -> None:
    package = build_package(ROOT / "courses/workplace-safety", tmp_path)
    raw = inspect_package(package).manifest
    decoded = lessondata.stored_manifest(json.dumps(raw))
    assert decoded.course.id == raw["course"]["id"]
    assert decoded.course.keywords == tuple(raw["course"]["keywords"])
    assert [lesson.key for lesson in decoded.lessons] == [e["key"] for e in raw["lessons"]]
    for entry, lesson in zip(raw["lessons"], decoded.lessons, strict=True):
        assert lesson.html == entry["html"]
        assert [s.text for s in lesson.data.sections] == [s["text"] for s in entry["sections"]]
        assert lesson.data.media == entry.get("media", "")
        if "quiz" in entry:
            quiz = entry["quiz"]
            assert lesson.data.quiz is not None
            assert lesson.data.quiz.pass_mark == quiz["pass_mark"]
            assert lesson.data.assessment == quiz.get("assessment")
            assert [q.key for q in lesson.data.questions] == [q["key"] for q in quiz["questions"]]
            for question, raw_q in zip(lesson.data.questions, quiz["questions"], strict=True):
                right = [bool(c["correct"]) for c in raw_q.get("choices", [])]
                assert [c.correct for c in question.choices] == right
    assert any(lesson.data.quiz for lesson in decoded.lessons)
