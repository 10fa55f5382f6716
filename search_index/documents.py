"""What the index is fed: one course version, cut into searchable sections.

The server builds these from its database and content store; this package never reads
either. A course version is immutable, so its sections are only ever added or removed
whole, never edited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from search_index.analysis import primary_language

MAX_SECTION_CHARS = 200_000
_COURSE_ID = re.compile(r"[a-z0-9][a-z0-9.-]{0,199}")
_KEY = re.compile(r"[A-Za-z0-9_-]{0,100}")


class InvalidDocument(ValueError):
    """A document handed to the index breaks a rule; the message names the field."""


class Part(StrEnum):
    """Which part of a course a hit comes from, so a page can say so and link to it."""

    COURSE = "course"  # the course's own title, summary and keywords
    SECTION = "section"  # lesson text between two headings (reading, transcript, PDF text)
    CAPTIONS = "captions"  # the captions of a video or audio lesson
    QUESTION = "question"  # one quiz question (prompt and choices, never the answers)
    PROMPT = "prompt"  # one workbook prompt (never a learner's answer)


@dataclass(frozen=True)
class Section:
    """One searchable piece of a lesson.

    `anchor` is the heading anchor inside the lesson page ("" = the top); `item_key`
    names the quiz question or workbook prompt for those parts. `language` overrides
    the course language, for captions written in another language.
    """

    lesson_key: str
    lesson_title: str
    heading: str
    text: str
    anchor: str = ""
    part: Part = Part.SECTION
    item_key: str = ""
    language: str | None = None

    def check(self) -> None:
        if self.part is not Part.COURSE and not self.lesson_key:
            raise InvalidDocument(f"a {self.part} section needs a lesson_key")
        for name in ("lesson_key", "item_key"):
            if not _KEY.fullmatch(getattr(self, name)):
                raise InvalidDocument(f"{name} {getattr(self, name)!r:.60} is not a key")
        if len(self.anchor) > 200 or any(c in self.anchor for c in ' "<>#'):
            raise InvalidDocument(f"anchor {self.anchor!r:.60} is not a heading anchor")


@dataclass(frozen=True)
class VersionDocs:
    """A course version and the sections of its lessons.

    The course itself (title, summary, keywords) becomes one more document, written
    first; `pending` marks a version still waiting for review (only admins see those).
    """

    version_id: int
    course_id: str
    course_title: str
    category: str
    language: str
    sections: Sequence[Section]
    course_summary: str = ""
    keywords: tuple[str, ...] = ()
    pending: bool = False
    publisher: str = ""

    @property
    def analysis_language(self) -> str:
        return primary_language(self.language)

    def check(self) -> None:
        """Raise InvalidDocument naming the first field that is wrong."""
        if (
            not isinstance(self.version_id, int)
            or isinstance(self.version_id, bool)
            or self.version_id < 1
        ):
            raise InvalidDocument(f"version_id must be a positive int, not {self.version_id!r}")
        if not _COURSE_ID.fullmatch(self.course_id):
            raise InvalidDocument(f"course_id {self.course_id!r:.60} is not a course id")
        if not self.course_title.strip():
            raise InvalidDocument(f"course {self.course_id} has no title")
        if not self.category or len(self.category) > 60:
            raise InvalidDocument(f"course {self.course_id} has no valid category")
        if not self.language or len(self.language) > 35:
            raise InvalidDocument(f"course {self.course_id} has no valid language")
        for section in self.sections:
            section.check()
