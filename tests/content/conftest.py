"""Fixture courses for the content tests, written from code into tmp_path (no binaries)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 40
VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n"

COURSE: dict[str, Any] = {
    "id": "org.example.test",
    "version": 1,
    "title": "Test course",
    "summary": "A course for tests.",
    "category": "education",
    "language": "en",
    "level": "beginner",
    "estimated_hours": 1,
    "license": "CC-BY-4.0",
    "lessons": ["lessons/01-intro.md", "lessons/02-video.md"],
}

INTRO = """---
key: intro
title: Introduction
kind: reading
---
# Welcome

Read this, then watch [the video](02-video.md#transcript).

![Fraction bars](../media/pic.png)

## Next steps

::: tip
Take your time.
:::
"""

VIDEO = """---
key: video
title: A video
kind: video
media: ../media/v.webm
poster: ../media/pic.png
captions:
  - src: ../media/v.en.vtt
    language: en
    label: English
---
## Transcript

Hello.
"""

# A quiz and a workbook lesson using every kind of question and prompt.
QUIZ = """---
key: check
title: Check
kind: quiz
quiz:
  pass_mark: 80
  feedback: on-submit
  assessment: post
  questions:
    - {key: q1, type: true-false, prompt: "Sky is blue?", answer: true}
    - key: q2
      type: multiple
      prompt: Pick
      choices: [{text: a, correct: true, feedback: "Yes"}, {text: b}]
    - {key: q3, type: short-answer, prompt: "Name it", accepted: [one], explanation: Why}
---
Body text.
"""

WORKBOOK = """---
key: book
title: Book
kind: workbook
workbook:
  prompts:
    - {key: feel, type: scale, prompt: "How?", visibility: educator, min_label: Low,
       max_label: High}
    - {key: list, type: checklist, prompt: "Which?", visibility: private, options: [a, b],
       hint: Pick any}
---
Body text.
"""

WriteCourse = Callable[..., Path]


def write_course(
    root: Path,
    *,
    course: dict[str, Any] | None = None,
    lessons: dict[str, str] | None = None,
    files: dict[str, bytes] | None = None,
    course_yaml: str | None = None,
) -> Path:
    """Write a course folder; ``lessons``/``files`` are added to (or replace) the defaults."""
    all_lessons = {"lessons/01-intro.md": INTRO, "lessons/02-video.md": VIDEO, **(lessons or {})}
    all_files = {"media/pic.png": PNG, "media/v.webm": WEBM, "media/v.en.vtt": VTT}
    all_files.update(files or {})
    root.mkdir(parents=True, exist_ok=True)
    text = (
        course_yaml
        if course_yaml is not None
        else yaml.safe_dump({**COURSE, **(course or {})}, sort_keys=False)
    )
    (root / "course.yaml").write_text(text, encoding="utf-8")
    for name, body in all_lessons.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body, encoding="utf-8")
    for name, data in all_files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    """A valid two-lesson course."""
    return write_course(tmp_path / "course")


@pytest.fixture
def make_course(tmp_path: Path) -> WriteCourse:
    """Write a course with changes: ``make_course(lessons={...}, files={...}, course={...})``."""

    def make(**changes: Any) -> Path:
        return write_course(tmp_path / "course", **changes)

    return make


def lesson(front: str, body: str = "Body text.\n") -> str:
    """A lesson file from front matter lines and a body."""
    return f"---\n{front.strip()}\n---\n{body}"
