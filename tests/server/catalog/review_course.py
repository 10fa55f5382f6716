"""A course that uses every kind of question, prompt and media a reviewer must read, in
two versions: the second changes a question, a choice, a prompt's visibility, a
picture, a word of the PDF and the course's summary. Written from code (no binaries);
the PDF is built here too."""

from __future__ import annotations

import textwrap
import zlib
from pathlib import Path
from typing import Any

import yaml

from content.package.build import build_package
from tests.content.conftest import PNG, WEBM, write_course

COURSE_ID = "org.example.review"
EN_VTT = (
    b"WEBVTT\n\nNOTE timing is rough\n\n1\n00:00.000 --> 00:02.000 line:90%\n"
    b"<v Ana>Count the coins</v>\n\n00:02.500 --> 00:04.000\nbefore you pay.\n"
)
PDF_PAGES = ("Budget worksheet: write your income", "Second page: list your bills")
PDF_PAGES_V2 = ("Budget worksheet: write your income", "Second page: list your debts")
LONG_TEXT = " ".join(f"word{n}" for n in range(60))


def pdf_document(pages: tuple[str, ...]) -> bytes:
    """A small, valid PDF with one line of Helvetica text on each page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    font = 3 + 2 * len(pages)
    kids = []
    for n, text in enumerate(pages):
        page, content = 3 + 2 * n, 4 + 2 * n
        kids.append(f"{page} 0 R".encode())
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content} 0 R"
            f" /Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        stream = zlib.compress(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
        objects.append(
            f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode()
            + stream
            + b"\nendstream"
        )
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + f"] /Count {len(pages)} >>".encode()
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out


def _lesson(front: dict[str, Any], body: str) -> str:
    return f"---\n{yaml.safe_dump(front, sort_keys=False)}---\n{textwrap.dedent(body)}"


def _quiz(version: int) -> dict[str, Any]:
    return {
        "pass_mark": 75,
        "feedback": "immediate",
        "questions": [
            {
                "key": "coins",
                "type": "single",
                "prompt": "Which coin is worth the most?"
                if version == 1
                else "Which coin is worth the least?",
                "choices": [
                    {"text": "A dime", "correct": version == 1, "feedback": "Ten cents."},
                    {"text": "A penny" if version == 1 else "A cent", "correct": version == 2},
                ],
                "explanation": "Dimes are small but worth more than pennies.",
            },
            {
                "key": "needs",
                "type": "multiple",
                "prompt": "Which are needs?",
                "choices": [
                    {"text": "Rent", "correct": True, "feedback": "Rent keeps a roof over you."},
                    {"text": "Food", "correct": True},
                    {"text": "A new phone", "correct": False, "feedback": "Nice, not needed."},
                ],
            },
            {
                "key": "save",
                "type": "true-false",
                "prompt": "Saving a little helps.",
                "answer": True,
                "explanation": "Small savings add up.",
            },
            {
                "key": "word",
                "type": "short-answer",
                "prompt": "What do you call money you earn?",
                "accepted": ["income", "wages"],
                "explanation": "Income is money coming in.",
            },
        ],
    }


def _workbook(version: int) -> dict[str, Any]:
    return {
        "prompts": [
            {
                "key": "goal",
                "type": "text",
                "prompt": "What is one money goal?",
                "visibility": "educator" if version == 1 else "private",
                "hint": "Something small you can do this month.",
            },
            {
                "key": "worry",
                "type": "scale",
                "prompt": "How much does money worry you?",
                "visibility": "private",
                "min_label": "Not at all",
                "max_label": "All the time",
            },
            {
                "key": "habits",
                "type": "checklist",
                "prompt": "Which habits do you have?",
                "visibility": "educator",
                "options": ["I track spending", "I save each week"],
            },
        ]
    }


def write_review_course(root: Path, version: int) -> Path:
    """The course source of ``version`` (1 or 2)."""
    want = "nice" if version == 1 else "good"
    lessons = {
        "lessons/01-read.md": _lesson(
            {
                "key": "read",
                "title": "Money basics",
                "kind": "reading",
                "summary": "What money is for.",
            },
            f"""\
            # Needs and wants

            A need is something you must have. {LONG_TEXT} A want is {want} to have.

            ![A jar of coins on a table](../media/jar.png)

            ::: warning
            Never share your PIN.
            :::
            """,
        ),
        "lessons/02-film.md": _lesson(
            {
                "key": "film",
                "title": "At the shop",
                "kind": "video",
                "media": "../media/shop.webm",
                "captions": [{"src": "../media/shop.en.vtt", "language": "en", "label": "English"}],
            },
            """\
            ## Transcript

            Ana counts her coins before she pays.
            """,
        ),
        "lessons/03-sheet.md": _lesson(
            {
                "key": "sheet",
                "title": "Budget sheet",
                "kind": "pdf",
                "media": "../media/budget.pdf",
            },
            "Print this sheet and fill it in.\n",
        ),
        "lessons/04-quiz.md": _lesson(
            {
                "key": "quiz",
                "title": "Check your money sense",
                "kind": "quiz",
                "quiz": _quiz(version),
            },
            "Answer each question.\n",
        ),
        "lessons/05-book.md": _lesson(
            {
                "key": "book",
                "title": "My money plan",
                "kind": "workbook",
                "workbook": _workbook(version),
            },
            "Write for yourself first.\n",
        ),
    }
    return write_course(
        root,
        course={
            "id": COURSE_ID,
            "version": version,
            "title": "Money sense",
            "summary": "Plan and count your money." if version == 1 else "Plan, count and save.",
            "keywords": ["budget", "coins"],
            # Version 2 gains a cover picture and names its Spanish edition.
            **(
                {
                    "cover": {"src": "media/jar.png", "alt": "A jar of coins"},
                    "editions": {"es": COURSE_ID + "-es"},
                }
                if version == 2
                else {}
            ),
            "lessons": list(lessons),
        },
        lessons=lessons,
        files={
            "media/jar.png": PNG + bytes([version]) * 16,
            "media/shop.webm": WEBM,
            "media/shop.en.vtt": EN_VTT,
            "media/budget.pdf": pdf_document(PDF_PAGES if version == 1 else PDF_PAGES_V2),
        },
    )


def review_package(base: Path, version: int) -> Path:
    """The built package of ``version``."""
    src = write_review_course(base / f"review-src-{version}", version)
    return build_package(src, base / "review-dist", progress=False)
