"""Automatic review flags: things a facility reviewer should look at before approving.

A flag is a plain dict, stored as JSON with the course version:

* ``kind``: what was found (``web-address``, ``email``, ``phone``, ``watch-word``, ``svg``,
  ``pdf-action``, ``caption-html``, ``confusable-name``, ``sanitized`` …);
* ``lesson``: the lesson's key, or ``""`` for a file that is not tied to one lesson;
* ``detail``: what exactly, in a few words (the address, the word, the action);
* ``where``: the exact place, as a package path with a fragment — ``lessons/<key>.html#<anchor>``
  for a section of a lesson's text, ``lessons/<key>.html#question-<q>`` or ``#prompt-<p>`` for a
  quiz question or workbook prompt, ``media/x.pdf#page=3`` for a PDF page,
  ``media/x.vtt#line=12`` for a line of a captions file, ``media/x.svg`` for a whole file;
* ``source``: ``package`` (the publisher's own build said so), ``import`` (found here when
  the package was imported) or ``watch-list`` (the facility's own list, computed when a
  reviewer looks, so a word added later is found in versions already waiting).

This module reads text: lesson text from a manifest and any other text handed to it
(captions, PDF pages). ``content.importing.fileflags`` reads the files themselves.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from content.format.lessondata import LessonData, lesson_data

Flag = dict[str, str]

EMAIL_RE = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# North American and international numbers with at least 7 digits, written with the usual
# separators; plain years and prices do not match.
PHONE_RE = re.compile(
    r"(?<![\w.])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?!\w)"
)
# A scheme or "www." makes anything an address. A bare name ("help.example.org") counts
# only with a top-level domain from this list: every dotted word would otherwise match
# ("e.g.", "file.txt", "Dr.Smith"). Generic domains, and the country codes most seen in
# addresses on the Americas' and Europe's web.
_TLDS = (
    "com|net|org|edu|gov|mil|int|info|biz|io|co|app|dev|xyz|online|site|website|store|shop"
    "|me|tv|ly|gg|to|ws|cc|link|club|live|life|top|icu|onion|us|uk|ca|mx|es|ar|br|cl|pe|ve"
    "|gt|hn|sv|ni|cr|pa|do|pr|cu|ec|bo|py|uy|de|fr|it|nl|eu|ru|ua|cn|jp|in|au|nz|ph|ng|za"
)
WEB_RE = re.compile(
    r"(?i)(?<![\w@.-])(?:"
    r"(?:https?|ftp|wss?)://[^\s<>\"']+"
    r"|www\.[^\s<>\"']+"
    rf"|(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS})(?![\w-])(?:[/:?#][^\s<>\"']*)?"
    r")"
)
_TRAILING = ".,;:!?)]}'\""


def flag(kind: str, lesson: str, where: str, detail: str, source: str = "import") -> Flag:
    """One flag in the stored shape (see the module docstring)."""
    return {"kind": kind, "lesson": lesson, "where": where, "detail": detail, "source": source}


@dataclass(frozen=True)
class TextPlace:
    """A piece of text and the exact place it came from."""

    lesson: str
    where: str
    text: str


def lesson_texts(key: str, title: str, raw: Mapping[str, Any] | LessonData) -> Iterator[TextPlace]:
    """Every text of a lesson that a learner can read, with its place.

    ``raw`` is the lesson's manifest entry (or its stored data): title, summary, each
    section's heading and text, quiz prompts, choices, feedback, explanations and accepted
    answers, workbook prompts, hints, labels and options, a written task's prompt and rubric.
    """
    data = raw if isinstance(raw, LessonData) else lesson_data(raw)
    page = f"lessons/{key}.html"
    yield TextPlace(key, page, f"{title}\n{data.summary}")
    for section in data.sections:
        where = f"{page}#{section.anchor}" if section.anchor else page
        yield TextPlace(key, where, f"{section.heading}\n{section.text}")
    for q in data.questions:
        parts = [q.prompt, q.explanation, *q.accepted]
        parts += [f"{c.text}\n{c.feedback}" for c in q.choices]
        yield TextPlace(key, f"{page}#question-{q.key}", "\n".join(parts))
    for p in data.prompts:
        parts = [p.prompt, p.hint, p.min_label, p.max_label, *p.options]
        yield TextPlace(key, f"{page}#prompt-{p.key}", "\n".join(parts))
    if data.written is not None:
        parts = [data.written.prompt]
        for c in data.written.rubric:
            parts += [c.criterion, *(f"{v.label}\n{v.description}" for v in c.levels)]
        yield TextPlace(key, f"{page}#written", "\n".join(parts))


def manifest_texts(manifest: Mapping[str, Any]) -> Iterator[TextPlace]:
    """:func:`lesson_texts` of every lesson of a manifest."""
    for entry in manifest.get("lessons", []):
        yield from lesson_texts(str(entry.get("key", "")), str(entry.get("title", "")), entry)


def file_lessons(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The lesson that uses each media, poster, captions and narration file (the first one, when
    several do), so a flag in a file names its lesson too."""
    owners: dict[str, str] = {}
    for entry in manifest.get("lessons", []):
        data = lesson_data(entry)
        narration = (data.narration.audio, data.narration.timings) if data.narration else ()
        for path in (data.media, data.poster, *(c.src for c in data.captions), *narration):
            if path:
                owners.setdefault(path, str(entry.get("key", "")))
    return owners


def text_flags(places: Iterable[TextPlace]) -> list[Flag]:
    """Flags for web addresses, e-mail addresses and phone numbers in ``places``."""
    flags: list[Flag] = []
    for place in places:
        emails = list(EMAIL_RE.finditer(place.text))
        for match in emails:
            flags.append(flag("email", place.lesson, place.where, match.group(0)))
        for match in WEB_RE.finditer(place.text):
            if any(e.start() <= match.start() < e.end() for e in emails):
                continue  # the domain of an e-mail address, flagged as that
            address = match.group(0).rstrip(_TRAILING)
            flags.append(flag("web-address", place.lesson, place.where, address))
        for match in PHONE_RE.finditer(place.text):
            flags.append(flag("phone", place.lesson, place.where, match.group(0).strip()))
    return flags


def fold(text: str) -> str:
    """Text as the watch list compares it: NFC, without accents, case-folded."""
    if text.isascii():
        return text.casefold()  # the usual case, and 50 times faster
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).casefold()


class WatchList:
    """A facility's words and phrases to flag, matched as whole words, ignoring case and
    accents: "Cártel" in the list finds "cartel" and "CARTEL", not "cartels"."""

    def __init__(self, phrases: Iterable[str]):
        self.phrases = sorted({p for p in (normalize_phrase(x) for x in phrases) if p})
        patterns = [r"\s+".join(map(re.escape, fold(p).split())) for p in self.phrases]
        self._by_fold = {fold(p): p for p in self.phrases}
        # Longest first, so "la eme" wins over "la" where both are listed.
        either = "|".join(sorted(patterns, key=len, reverse=True))
        self._re = re.compile(rf"(?<!\w)(?:{either})(?!\w)") if patterns else None

    def matches(self, text: str) -> list[str]:
        """The listed phrases found in ``text`` (as written in the list), each once."""
        if self._re is None:
            return []
        found = []
        for match in self._re.finditer(fold(text)):
            phrase = self._by_fold.get(" ".join(match.group(0).split()), match.group(0))
            if phrase not in found:
                found.append(phrase)
        return found

    def flags(self, places: Iterable[TextPlace]) -> list[Flag]:
        """One ``watch-word`` flag per phrase found in each place."""
        return [
            flag("watch-word", place.lesson, place.where, phrase, source="watch-list")
            for place in places
            for phrase in self.matches(place.text)
        ]


def normalize_phrase(phrase: str) -> str:
    """A watch-list entry as stored: NFC, single spaces, no outer spaces."""
    return " ".join(unicodedata.normalize("NFC", phrase).split())
