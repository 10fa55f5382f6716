"""Automatic review flags: things a facility reviewer should look at before approving.

The package build and the import already flag external addresses, what the sanitizer
removed, media without captions and files whose type did not match. This module adds what
is found by reading the lesson text itself: phone numbers and e-mail addresses, which in a
correctional setting may be a way to reach someone outside.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

EMAIL_RE = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# North American and international numbers with at least 7 digits, written with the usual
# separators; plain years and prices do not match.
PHONE_RE = re.compile(
    r"(?<![\w.])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)"
)


def text_flags(lesson_key: str, sections: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Flags for e-mail addresses and phone numbers in a lesson's section texts."""
    flags: list[dict[str, str]] = []
    for section in sections:
        text = f"{section.get('heading', '')}\n{section.get('text', '')}"
        anchor = str(section.get("anchor", ""))
        for match in EMAIL_RE.finditer(text):
            flags.append(_flag("email", lesson_key, anchor, match.group(0)))
        for match in PHONE_RE.finditer(text):
            flags.append(_flag("phone", lesson_key, anchor, match.group(0).strip()))
    return flags


def _flag(kind: str, lesson: str, anchor: str, value: str) -> dict[str, str]:
    return {"kind": kind, "lesson": lesson, "anchor": anchor, "detail": value}
