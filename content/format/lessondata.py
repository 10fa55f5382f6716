"""Stored lesson data and manifests, read once into typed, frozen values.

The server keeps each lesson's manifest entry (without its HTML) as JSON in
``lessons.data`` and the whole manifest in ``course_versions.manifest``. Both were
validated when the package was imported, but rows outlive the schema that checked them:
an older server wrote them, or a later format adds a field. So decoding is lenient, in
one place: a missing or malformed field gets its default (an empty text, no quiz, no
captions), never a crash, and every reader sees the same value for the same field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Section:
    """A part of a lesson's text, split at a heading (what search indexes)."""

    anchor: str
    heading: str
    text: str


@dataclass(frozen=True)
class CaptionTrack:
    src: str  # a path in the package, like the lesson's media
    language: str
    label: str


@dataclass(frozen=True)
class NarrationFiles:
    """A lesson read aloud: an audio file and the WebVTT cues ("sN") that time its
    sentences; both paths of the course version's files, like the lesson's media.
    ``made_by`` names the engine when the facility made it at import ("" for narration
    the package brought)."""

    audio: str
    timings: str
    made_by: str = ""


@dataclass(frozen=True)
class QuizChoice:
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class QuizQuestion:
    key: str
    type: str  # single | multiple | true-false | short-answer
    prompt: str
    choices: tuple[QuizChoice, ...]
    answer: bool | None  # true-false only
    accepted: tuple[str, ...]  # short-answer only
    explanation: str


@dataclass(frozen=True)
class QuizData:
    pass_mark: float = 0.0
    feedback: str = ""  # immediate | on-submit
    assessment: str | None = None  # pre | post, for a pre/post pair
    questions: tuple[QuizQuestion, ...] = ()


@dataclass(frozen=True)
class WorkbookPrompt:
    key: str
    type: str  # text | scale | checklist
    prompt: str
    visibility: str  # private | educator, as the publisher wrote it
    hint: str
    min_label: str
    max_label: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class WorkbookData:
    prompts: tuple[WorkbookPrompt, ...] = ()


@dataclass(frozen=True)
class RubricLevelData:
    label: str
    points: float
    description: str


@dataclass(frozen=True)
class CriterionData:
    key: str
    criterion: str
    levels: tuple[RubricLevelData, ...]

    @property
    def max_points(self) -> float:
        return max((level.points for level in self.levels), default=0.0)


@dataclass(frozen=True)
class WrittenData:
    """A written task: prompt, word guide (0: none), rubric and pass mark (points)."""

    prompt: str = ""
    length: str = "long"  # short | long
    min_words: int = 0
    max_words: int = 0
    pass_mark: float = 0.0
    required: bool = False
    rubric: tuple[CriterionData, ...] = ()

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.rubric)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _written(value: Any) -> WrittenData | None:
    raw = _mapping(value)
    if not raw:
        return None
    return WrittenData(
        prompt=_text(raw.get("prompt")),
        length="short" if raw.get("length") == "short" else "long",
        min_words=int(_number(raw.get("min_words"))),
        max_words=int(_number(raw.get("max_words"))),
        pass_mark=_number(raw.get("pass_mark")),
        required=raw.get("required") is True,
        rubric=tuple(
            CriterionData(
                _text(c.get("key")),
                _text(c.get("criterion")),
                tuple(
                    RubricLevelData(
                        _text(v.get("label")), _number(v.get("points")), _text(v.get("description"))
                    )
                    for v in map(_mapping, _items(c.get("levels")))
                ),
            )
            for c in map(_mapping, _items(raw.get("rubric")))
        ),
    )


@dataclass(frozen=True)
class ScoData:
    """One SCO of a SCORM lesson: what the lesson page offers and launches."""

    id: str
    title: str
    href: str  # inside the app folder
    query: str


@dataclass(frozen=True)
class ScormData:
    version: str = ""  # "1.2" | "2004"
    scos: tuple[ScoData, ...] = ()


def _scorm(value: Any) -> ScormData | None:
    raw = _mapping(value)
    if not raw:
        return None
    return ScormData(
        version=_text(raw.get("version")),
        scos=tuple(
            ScoData(
                _text(s.get("id")),
                _text(s.get("title")),
                _text(s.get("href")),
                _text(s.get("query")),
            )
            for s in map(_mapping, _items(raw.get("scos")))
        ),
    )


@dataclass(frozen=True)
class LessonData:
    """One lesson's stored data: everything its manifest entry says beyond key, title,
    kind and HTML."""

    summary: str = ""
    estimated_minutes: int | None = None
    media: str = ""
    poster: str = ""
    captions: tuple[CaptionTrack, ...] = ()
    narration: NarrationFiles | None = None
    sections: tuple[Section, ...] = ()
    quiz: QuizData | None = None
    workbook: WorkbookData | None = None
    written: WrittenData | None = None
    app: str = ""  # an interactive lesson's folder in the package, "apps/<key>/"
    scorm: ScormData | None = None

    @property
    def assessment(self) -> str | None:
        """ "pre" or "post" for the quizzes that measure a course's effect, else None."""
        return self.quiz.assessment if self.quiz is not None else None

    @property
    def questions(self) -> tuple[QuizQuestion, ...]:
        return self.quiz.questions if self.quiz is not None else ()

    @property
    def prompts(self) -> tuple[WorkbookPrompt, ...]:
        return self.workbook.prompts if self.workbook is not None else ()


def _minutes(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _question(raw: Mapping[str, Any]) -> QuizQuestion:
    answer = raw.get("answer")
    return QuizQuestion(
        key=_text(raw.get("key")),
        type=_text(raw.get("type")),
        prompt=_text(raw.get("prompt")),
        choices=tuple(
            QuizChoice(_text(c.get("text")), bool(c.get("correct")), _text(c.get("feedback")))
            for c in map(_mapping, _items(raw.get("choices")))
        ),
        answer=answer if isinstance(answer, bool) else None,
        accepted=tuple(_text(a) for a in _items(raw.get("accepted"))),
        explanation=_text(raw.get("explanation")),
    )


def _quiz(raw: Any) -> QuizData | None:
    if not isinstance(raw, Mapping) or not raw:
        return None
    pass_mark = raw.get("pass_mark", 0)
    assessment = raw.get("assessment")
    return QuizData(
        pass_mark=float(pass_mark) if isinstance(pass_mark, int | float) else 0.0,
        feedback=_text(raw.get("feedback")),
        assessment=assessment if isinstance(assessment, str) else None,
        questions=tuple(_question(q) for q in map(_mapping, _items(raw.get("questions")))),
    )


def _prompt(raw: Mapping[str, Any]) -> WorkbookPrompt:
    return WorkbookPrompt(
        key=_text(raw.get("key")),
        type=_text(raw.get("type")),
        prompt=_text(raw.get("prompt")),
        visibility=_text(raw.get("visibility")),
        hint=_text(raw.get("hint")),
        min_label=_text(raw.get("min_label")),
        max_label=_text(raw.get("max_label")),
        options=tuple(_text(o) for o in _items(raw.get("options"))),
    )


def _workbook(raw: Any) -> WorkbookData | None:
    if not isinstance(raw, Mapping) or not raw:
        return None
    return WorkbookData(tuple(_prompt(p) for p in map(_mapping, _items(raw.get("prompts")))))


def _narration(raw: Any) -> NarrationFiles | None:
    raw = _mapping(raw)
    audio, timings = _text(raw.get("audio")), _text(raw.get("timings"))
    made_by = _text(raw.get("made_by"))
    return NarrationFiles(audio, timings, made_by) if audio and timings else None


def lesson_data(raw: Any) -> LessonData:
    """A lesson's data from its manifest entry (or the stored copy of it)."""
    raw = _mapping(raw)
    return LessonData(
        summary=_text(raw.get("summary")),
        estimated_minutes=_minutes(raw.get("estimated_minutes")),
        media=_text(raw.get("media")),
        poster=_text(raw.get("poster")),
        captions=tuple(
            CaptionTrack(_text(c.get("src")), _text(c.get("language")), _text(c.get("label")))
            for c in map(_mapping, _items(raw.get("captions")))
        ),
        narration=_narration(raw.get("narration")),
        sections=tuple(
            Section(_text(s.get("anchor")), _text(s.get("heading")), _text(s.get("text")))
            for s in map(_mapping, _items(raw.get("sections")))
        ),
        quiz=_quiz(raw.get("quiz")),
        workbook=_workbook(raw.get("workbook")),
        written=_written(raw.get("written")),
        app=_text(raw.get("app")),
        scorm=_scorm(raw.get("scorm")),
    )


def stored_lesson_data(text: str | bytes | None) -> LessonData:
    """`lesson_data` from the JSON text of ``lessons.data``; unreadable text is no data."""
    try:
        return lesson_data(json.loads(text or "{}"))
    except ValueError:
        return LessonData()


@dataclass(frozen=True)
class CourseInfo:
    """What the manifest says about the course itself."""

    id: str
    title: str
    summary: str
    category: str
    language: str
    keywords: tuple[str, ...]
    cover_src: str = ""
    cover_alt: str = ""
    editions: tuple[tuple[str, str], ...] = ()  # (language, course id), sorted


@dataclass(frozen=True)
class ManifestLesson:
    key: str
    title: str
    kind: str
    html: str  # the lesson's HTML file in the package
    data: LessonData


@dataclass(frozen=True)
class Manifest:
    course: CourseInfo
    lessons: tuple[ManifestLesson, ...]


def manifest_lesson(entry: Any) -> ManifestLesson:
    """One lesson entry of a manifest."""
    entry = _mapping(entry)
    return ManifestLesson(
        key=_text(entry.get("key")),
        title=_text(entry.get("title")),
        kind=_text(entry.get("kind")),
        html=_text(entry.get("html")),
        data=lesson_data(entry),
    )


def manifest(raw: Any) -> Manifest:
    """A course version's manifest (course and lessons; files are the importer's)."""
    raw = _mapping(raw)
    course = _mapping(raw.get("course"))
    return Manifest(
        course=CourseInfo(
            id=_text(course.get("id")),
            title=_text(course.get("title")),
            summary=_text(course.get("summary")),
            category=_text(course.get("category")),
            language=_text(course.get("language")),
            keywords=tuple(_text(k) for k in _items(course.get("keywords"))),
            cover_src=_text(_mapping(course.get("cover")).get("src")),
            cover_alt=_text(_mapping(course.get("cover")).get("alt")),
            editions=tuple(
                sorted((_text(k), _text(v)) for k, v in _mapping(course.get("editions")).items())
            ),
        ),
        lessons=tuple(manifest_lesson(entry) for entry in _items(raw.get("lessons"))),
    )


def stored_manifest(text: str | bytes | None) -> Manifest:
    """`manifest` from the JSON text of ``course_versions.manifest``; unreadable text is
    an empty manifest."""
    try:
        return manifest(json.loads(text or "{}"))
    except ValueError:
        return manifest({})
