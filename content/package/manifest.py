"""The package manifest: building it from an analysis, serialising it stably, validating."""

from __future__ import annotations

import json
from typing import Any

from content.errors import PackageError
from content.format.analyse import Analysis, cover_json, package_lesson_path, package_media_path
from content.format.apps import package_app_root
from content.format.model import INTERACTIVE_KINDS, Lesson, Quiz, Workbook, Written
from content.format.validate import first_compiled_error, is_valid, validator

FORMAT = 1
MANIFEST_NAME = "manifest.json"
LESSON_MEDIA_TYPE = "text/html"


def dumps(manifest: dict[str, Any]) -> bytes:
    """Stable JSON: sorted keys, no spaces, UTF-8, one trailing newline."""
    text = json.dumps(
        manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return (text + "\n").encode("utf-8")


def validate_manifest(manifest: Any) -> None:
    """Raise :class:`PackageError` listing every way ``manifest`` breaks the schema."""
    if is_valid("manifest", manifest):
        return
    # Only now the slow validator, whose messages we know; should it find nothing (the
    # fast one is the stricter), the fast one's own message names the problem.
    errors = sorted(validator("manifest").iter_errors(manifest), key=lambda e: str(e.path))
    details = "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:10]
    )
    details = details or first_compiled_error("manifest", manifest)
    raise PackageError(f"manifest.json is not valid: {details}", MANIFEST_NAME)


def build_manifest(analysis: Analysis, files: list[dict[str, Any]]) -> dict[str, Any]:
    """Assemble the manifest from an error-free analysis and the package's file list."""
    assert analysis.course is not None
    course = analysis.course
    lessons = [lesson_entry(lesson, analysis) for lesson in course.lessons]
    flags = sorted(analysis.flags, key=lambda f: (f["lesson"], f["kind"], f["detail"]))
    metadata = course.metadata()
    cover = cover_json(course)
    if cover is not None:
        metadata["cover"] = cover
    return {
        "format": FORMAT,
        "course": metadata,
        "lessons": lessons,
        "files": sorted(files, key=lambda f: str(f["path"])),
        "review_flags": flags,
    }


def lesson_entry(lesson: Lesson, analysis: Analysis) -> dict[str, Any]:
    """One lesson of the manifest: metadata, package paths, quiz/workbook, search text."""
    rendered = analysis.rendered[lesson.key]
    entry: dict[str, Any] = {
        "key": lesson.key,
        "title": lesson.title,
        "kind": lesson.kind,
        "html": package_lesson_path(lesson.key),
        "sections": [s.as_json() for s in rendered.sections],
    }
    if lesson.summary:
        entry["summary"] = lesson.summary
    if lesson.estimated_minutes is not None:
        entry["estimated_minutes"] = lesson.estimated_minutes
    if lesson.kind in ("video", "audio", "pdf") and lesson.media:
        entry["media"] = package_media_path(lesson.media)
    if lesson.kind == "video" and lesson.poster:
        entry["poster"] = package_media_path(lesson.poster)
    if lesson.kind in ("video", "audio") and lesson.captions:
        entry["captions"] = [
            {"src": package_media_path(c.src), "language": c.language, "label": c.label}
            for c in lesson.captions
        ]
    if lesson.kind in INTERACTIVE_KINDS and lesson.app:
        entry["app"] = package_app_root(lesson.key)
    if lesson.kind == "scorm" and lesson.scorm:
        entry["scorm"] = lesson.scorm
    if lesson.key in analysis.narration:
        audio, timings = analysis.narration[lesson.key]
        entry["narration"] = {"audio": audio, "timings": timings}
    if lesson.kind == "quiz" and lesson.quiz:
        entry["quiz"] = quiz_json(lesson.quiz)
    if lesson.kind == "workbook" and lesson.workbook:
        entry["workbook"] = workbook_json(lesson.workbook)
    if lesson.kind == "written" and lesson.written:
        entry["written"] = written_json(lesson.written)
    return entry


def quiz_json(quiz: Quiz) -> dict[str, Any]:
    """A quiz as manifest JSON. It holds the answers: never send it to a learner as is."""
    questions = []
    for q in quiz.questions:
        item: dict[str, Any] = {"key": q.key, "type": q.type, "prompt": q.prompt}
        if q.type in ("single", "multiple"):
            item["choices"] = [
                _without_none({"text": c.text, "correct": c.correct, "feedback": c.feedback})
                for c in q.choices
            ]
        if q.type == "true-false":
            item["answer"] = q.answer
        if q.type == "short-answer":
            item["accepted"] = list(q.accepted)
        if q.explanation:
            item["explanation"] = q.explanation
        questions.append(item)
    result = {"pass_mark": quiz.pass_mark, "feedback": quiz.feedback, "questions": questions}
    if quiz.assessment:
        result["assessment"] = quiz.assessment
    return result


def workbook_json(workbook: Workbook) -> dict[str, Any]:
    """A workbook as manifest JSON."""
    prompts = []
    for p in workbook.prompts:
        item = _without_none(
            {
                "key": p.key,
                "type": p.type,
                "prompt": p.prompt,
                "visibility": p.visibility,
                "hint": p.hint,
                "min_label": p.min_label if p.type == "scale" else None,
                "max_label": p.max_label if p.type == "scale" else None,
            }
        )
        if p.type == "checklist":
            item["options"] = list(p.options)
        prompts.append(item)
    return {"prompts": prompts}


def _without_none(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def written_json(written: Written) -> dict[str, Any]:
    """A written task as manifest JSON: the word guide flattened to min/max_words."""
    result: dict[str, Any] = {
        "prompt": written.prompt,
        "length": written.length,
        "pass_mark": written.pass_mark,
        "required": written.required,
        "rubric": [
            {
                "key": c.key,
                "criterion": c.criterion,
                "levels": [
                    _without_none(
                        {"label": v.label, "points": v.points, "description": v.description}
                    )
                    for v in c.levels
                ],
            }
            for c in written.rubric
        ],
    }
    if written.min_words is not None:
        result["min_words"] = written.min_words
    if written.max_words is not None:
        result["max_words"] = written.max_words
    return result
