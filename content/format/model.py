"""Typed course model: what a course source means once it has been loaded and checked.

Paths in the model are *course paths*: POSIX-style, relative to the course folder, already
checked to stay inside it (see ``content.format.paths``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LESSON_KINDS = (
    "reading",
    "video",
    "audio",
    "pdf",
    "quiz",
    "workbook",
    "written",
    "html5",
    "scorm",
    "h5p",
)
INTERACTIVE_KINDS = ("html5", "scorm", "h5p")
MEDIA_KINDS = ("video", "audio", "pdf")


@dataclass(frozen=True)
class Caption:
    """A WebVTT captions track for a video or audio lesson."""

    src: str
    language: str
    label: str
    line: int


@dataclass(frozen=True)
class Cover:
    """The picture shown for a course in the catalog, with words for who cannot see it."""

    src: str
    alt: str
    line: int


@dataclass(frozen=True)
class Choice:
    """One answer choice of a single- or multiple-choice question."""

    text: str
    correct: bool
    feedback: str | None = None


@dataclass(frozen=True)
class Question:
    """One quiz question; which optional fields are set depends on ``type``."""

    key: str
    type: str
    prompt: str
    choices: tuple[Choice, ...] = ()
    answer: bool | None = None
    accepted: tuple[str, ...] = ()
    explanation: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Quiz:
    """A quiz: questions, pass mark (percent) and when feedback is shown."""

    pass_mark: float
    feedback: str
    questions: tuple[Question, ...]
    assessment: str | None = None


@dataclass(frozen=True)
class Prompt:
    """One workbook prompt the learner answers."""

    key: str
    type: str
    prompt: str
    visibility: str
    hint: str | None = None
    min_label: str | None = None
    max_label: str | None = None
    options: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Workbook:
    """A workbook: an ordered list of prompts."""

    prompts: tuple[Prompt, ...]


@dataclass(frozen=True)
class RubricLevel:
    """One level of a rubric criterion: what the educator picks, worth ``points``."""

    label: str
    points: float
    description: str | None = None


@dataclass(frozen=True)
class RubricCriterion:
    """One row of a rubric: what is judged, and its levels (lowest first)."""

    key: str
    criterion: str
    levels: tuple[RubricLevel, ...]
    line: int = 0

    @property
    def max_points(self) -> float:
        return max((level.points for level in self.levels), default=0)


@dataclass(frozen=True)
class Written:
    """A written task: a prompt the learner answers in their own words, graded by an
    educator with a rubric. ``min_words``/``max_words`` are guidance shown to the learner,
    never a wall; ``pass_mark`` is in points; ``required``: the lesson (and so the course)
    is done only once an educator graded it as passed."""

    prompt: str
    length: str  # short | long
    rubric: tuple[RubricCriterion, ...]
    pass_mark: float
    required: bool = False
    min_words: int | None = None
    max_words: int | None = None

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.rubric)


@dataclass
class Lesson:
    """One lesson file: front matter fields plus the Markdown body."""

    key: str
    title: str
    kind: str
    source: str
    body: str
    body_line: int
    summary: str | None = None
    estimated_minutes: int | None = None
    media: str | None = None
    poster: str | None = None
    captions: tuple[Caption, ...] = ()
    quiz: Quiz | None = None
    workbook: Workbook | None = None
    written: Written | None = None
    app: str | None = None  # course path of an html5 or scorm lesson's app folder
    scorm: dict[str, object] | None = None  # a scorm lesson's version and SCOs
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, field_name: str) -> int:
        """Line of a front matter field in the lesson file (1 when unknown)."""
        return self.lines.get(field_name, 1)


@dataclass
class Course:
    """A course source folder, loaded."""

    root: Path
    id: str
    version: int
    title: str
    summary: str
    category: str
    language: str
    level: str
    estimated_hours: float
    license: str
    credits: float = 0
    authors: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    cover: Cover | None = None
    # The same course in other languages: language → course id (same publisher).
    editions: dict[str, str] = field(default_factory=dict)
    # Topics the publisher could make next, which learners may ask for (optional).
    requestable_topics: tuple[str, ...] = ()
    lessons: list[Lesson] = field(default_factory=list)
    # A book: the EPUB file (course path) whose chapters become the lessons at build.
    book: str | None = None
    subjects: tuple[str, ...] = ()
    reading_level: str = ""
    # Filled in from the EPUB by the analysis: what the manifest's ``course.book`` holds.
    book_meta: dict[str, object] | None = None
    # A reference collection: the ZIM file (course path) packaged whole, beside the lessons.
    collection: str | None = None
    # Filled in by the analysis: what the manifest's ``course.collection`` holds.
    collection_meta: dict[str, object] | None = None

    def metadata(self) -> dict[str, object]:
        """Course fields as they appear in the manifest's ``course`` object (without the
        cover, whose package path the analysis decides)."""
        optional: dict[str, object] = {"editions": dict(self.editions)} if self.editions else {}
        if self.requestable_topics:
            optional["requestable_topics"] = list(self.requestable_topics)
        return (
            optional
            | {
                "id": self.id,
                "version": self.version,
                "title": self.title,
                "summary": self.summary,
                "category": self.category,
                "language": self.language,
                "level": self.level,
                "estimated_hours": self.estimated_hours,
                "license": self.license,
                "credits": self.credits,
                "authors": list(self.authors),
                "keywords": list(self.keywords),
            }
            | ({"book": self.book_meta} if self.book_meta is not None else {})
            | ({"collection": self.collection_meta} if self.collection_meta is not None else {})
        )
