"""A course folder with one lesson of every kind, as an author writes it (for the
preview's tests; written from code, no binaries)."""

from __future__ import annotations

from pathlib import Path

from tests.content.conftest import WORKBOOK, lesson, write_course

OGG = b"OggS" + b"\x00" * 60
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

AUDIO = lesson(
    "key: listen\ntitle: Listen\nkind: audio\nmedia: ../media/talk.ogg",
    "## Transcript\n\nThe talk, written out.\n",
)
PDF_LESSON = lesson(
    "key: sheet\ntitle: Worksheet\nkind: pdf\nmedia: ../media/sheet.pdf",
    "A page to print.\n",
)
# Every kind of question; feedback shown at once, as a learner checks each one.
QUIZ = """---
key: check
title: Check yourself
kind: quiz
quiz:
  pass_mark: 60
  feedback: immediate
  questions:
    - {key: sky, type: true-false, prompt: "The sky is blue.", answer: true,
       explanation: "On a clear day it is."}
    - key: pick
      type: single
      prompt: Which one is a fraction?
      choices: [{text: "1/2", correct: true, feedback: "Yes: one of two parts."},
                {text: "12", feedback: "That is a whole number."}]
    - key: both
      type: multiple
      prompt: Pick both
      choices: [{text: red, correct: true}, {text: green, correct: true}, {text: stone}]
    - {key: word, type: short-answer, prompt: "Say hello", accepted: [hello]}
---
Answer every question.
"""
LESSONS = {
    "lessons/03-listen.md": AUDIO,
    "lessons/04-sheet.md": PDF_LESSON,
    "lessons/05-check.md": QUIZ,
    "lessons/06-book.md": WORKBOOK,
}
FILES = {"media/talk.ogg": OGG, "media/sheet.pdf": PDF}
ORDER = ["lessons/01-intro.md", "lessons/02-video.md", *LESSONS]
KINDS = {
    "intro": "reading",
    "video": "video",
    "listen": "audio",
    "sheet": "pdf",
    "check": "quiz",
    "book": "workbook",
}
COURSE_ID = "org.example.test"


def write_preview_course(root: Path, language: str = "en") -> Path:
    """Six lessons, one of each kind, that lint without an error."""
    return write_course(
        root, course={"lessons": ORDER, "language": language}, lessons=LESSONS, files=FILES
    )


def lesson_url(key: str) -> str:
    return f"/learn/courses/{COURSE_ID}/lessons/{key}"


APPS = Path(__file__).parents[3] / "apps"  # tests/apps: small real activities
LETTER = lesson(
    """key: letter
title: A letter
kind: written
written:
  prompt: Write a short letter to a boss you would like to work for.
  words: {min: 5, max: 60}
  pass_mark: 3
  rubric:
    - key: content
      criterion: Says what job and why
      levels:
        - {label: Not yet, points: 0}
        - {label: Clear, points: 2, description: Names the job and a reason}
    - key: tone
      criterion: Polite and clear
      levels:
        - {label: Not yet, points: 0}
        - {label: "Yes", points: 2}""",
    "Think of a job you want. Then write.\n",
)
ACTIVITIES = {
    "lessons/03-counter.md": lesson(
        "key: counter\ntitle: Count to three\nkind: html5\napp: ../apps/counter",
        "Press the button three times.\n",
    ),
    "lessons/04-signs.md": lesson(
        "key: signs\ntitle: Safety signs\nkind: scorm\napp: ../scorm/signs"
    ),
    "lessons/05-ready.md": lesson(
        "key: ready\ntitle: Ready for the interview\nkind: h5p\napp: ../h5p/ready"
    ),
    "lessons/06-letter.md": LETTER,
}


def _app_files(name: str, folder: str) -> dict[str, bytes]:
    return {
        f"{folder}/{p.relative_to(APPS / name)}": p.read_bytes()
        for p in sorted((APPS / name).rglob("*"))
        if p.is_file()
    }


def write_activity_course(root: Path) -> Path:
    """A course with an html5 activity, a SCORM package, an H5P activity and a writing
    task (after the default reading and video)."""
    return write_course(
        root,
        course={"lessons": ["lessons/01-intro.md", "lessons/02-video.md", *ACTIVITIES]},
        lessons=ACTIVITIES,
        files={
            **_app_files("counter", "apps/counter"),
            **_app_files("scorm12", "scorm/signs"),
            **_app_files("h5p-tap", "h5p/ready"),
        },
    )
