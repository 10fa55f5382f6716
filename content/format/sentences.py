"""Sentences of a lesson: where read-aloud starts, highlights and aligns narration.

A lesson's sanitized HTML is split into sentences, and each sentence's text is wrapped in
``<span data-s="N">`` (N from 1, in reading order). The numbering depends only on the
HTML, so the publisher's tool that makes narration (``stepstone package narrate``), the
linter that checks a narration's cues and the facility's lesson page all agree on which
sentence is number N without storing the numbering anywhere.

Sentences never cross a block (a paragraph, list item, heading, table cell ...); inside a
block they may cross inline markup such as ``<strong>``, so one sentence can be several
spans with the same number. Code blocks are not read. Abbreviations common in English and
Spanish lesson text ("Dr.", "e.g.", "Sra.", "p. ej.") do not end a sentence.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from html.parser import HTMLParser

# Inline tags continue the text around them; any other tag ends a block.
_INLINE = frozenset(
    {"a", "abbr", "b", "br", "code", "del", "em", "i", "img", "kbd", "mark", "s", "small"}
    | {"span", "strong", "sub", "sup", "u"}
)
_SKIPPED = frozenset({"pre", "script", "style", "svg"})

# Lower-cased, without the final period. A single letter ("J. Smith") is covered below.
ABBREVIATIONS = frozenset(
    # English
    {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e", "no"}
    | {"inc", "ltd", "co", "mt", "ave", "dept", "approx", "a.m", "p.m", "u.s", "fig"}
    | {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
    # Spanish
    | {"sra", "srta", "dra", "ud", "uds", "lic", "ing", "núm", "pág", "págs", "art", "aprox"}
    | {"av", "avda", "ee.uu", "p. ej", "ej", "tel", "cía", "admón", "dpto", "c/"}
)
# A sentence ends at . ! ? … (and closing quotes or brackets after them) followed by space.
_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"(?:[^\s(]*?\.\s)?([^\s(\"'“‘«]+)$")
_SPACES = re.compile(r"\s+")
_HAS_WORD = re.compile(r"\w")


def _is_abbreviation(before: str) -> bool:
    """True when the period closing ``before`` belongs to an abbreviation."""
    match = _WORD_BEFORE.search(before)
    if match is None:
        return False
    whole = match.group(0).lower().rstrip(".")
    word = match.group(1).lower().rstrip(".")
    if len(word) == 1 and word.isalpha() and word.upper() == match.group(1)[0]:
        return True  # an initial: "J. Smith"
    return word in ABBREVIATIONS or whole in ABBREVIATIONS


def sentence_ends(text: str) -> list[int]:
    """Offsets in ``text`` just after each sentence end (not counting the text's end)."""
    ends = []
    for match in _END.finditer(text):
        after = text[match.end() :].lstrip()
        if not after:
            continue
        if match.group(0) == "." and _is_abbreviation(text[: match.start()]):
            continue
        if after[0].islower():
            continue  # "approx. ten", "3 p.m. and" — the next word goes on the sentence
        ends.append(match.end())
    return ends


def split_sentences(text: str) -> list[str]:
    """The sentences of a plain text, whitespace tidied; empty parts are dropped."""
    cuts = [0, *sentence_ends(text), len(text)]
    parts = (_SPACES.sub(" ", text[a:b]).strip() for a, b in itertools.pairwise(cuts))
    return [part for part in parts if _HAS_WORD.search(part)]


@dataclass(frozen=True)
class MarkedHtml:
    """Lesson HTML with sentence spans, and the sentences' texts (number N at N - 1)."""

    html: str
    sentences: tuple[str, ...]


class _Blocks(HTMLParser):
    """Splits HTML into markup and the text runs of each block, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []  # markup, and text (by index in self.texts)
        self.texts: dict[int, str] = {}  # piece index -> text
        self.blocks: list[list[int]] = [[]]
        self.skipping = 0

    def _block_boundary(self) -> None:
        if self.blocks[-1]:
            self.blocks.append([])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self._block_boundary()
        if tag in _SKIPPED:
            self.skipping += 1
        self.pieces.append(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self._block_boundary()
        self.pieces.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if tag not in _INLINE:
            self._block_boundary()
        if tag in _SKIPPED and self.skipping:
            self.skipping -= 1
        self.pieces.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.skipping:
            self.pieces.append(html.escape(data, quote=False))
            return
        self.texts[len(self.pieces)] = data
        self.blocks[-1].append(len(self.pieces))
        self.pieces.append("")

    def handle_comment(self, data: str) -> None:
        pass  # the sanitizer removes comments; nothing to read in one anyway


def mark_sentences(lesson_html: str) -> MarkedHtml:
    """Wrap each sentence of sanitized lesson HTML in ``<span data-s="N">``."""
    parser = _Blocks()
    parser.feed(lesson_html)
    parser.close()
    sentences: list[str] = []
    for block in parser.blocks:
        _mark_block(parser, block, sentences)
    return MarkedHtml("".join(parser.pieces), tuple(sentences))


def _mark_block(parser: _Blocks, block: list[int], sentences: list[str]) -> None:
    whole = "".join(parser.texts[i] for i in block)
    cuts = [0, *sentence_ends(whole), len(whole)]
    numbers: list[int] = []  # the sentence number of each cut range, 0 when nothing to read
    for start, end in itertools.pairwise(cuts):
        text = _SPACES.sub(" ", whole[start:end]).strip()
        if _HAS_WORD.search(text):
            sentences.append(text)
            numbers.append(len(sentences))
        else:
            numbers.append(0)
    offset = 0
    for index in block:
        text = parser.texts[index]
        parser.pieces[index] = _wrap(text, offset, cuts, numbers)
        offset += len(text)


def _wrap(text: str, offset: int, cuts: list[int], numbers: list[int]) -> str:
    """``text`` (starting at ``offset`` of its block) with each sentence's part in a span."""
    out = []
    for (start, end), number in zip(itertools.pairwise(cuts), numbers, strict=True):
        lo, hi = max(start, offset), min(end, offset + len(text))
        if lo >= hi:
            continue
        part = text[lo - offset : hi - offset]
        core = part.strip()
        if not core or not number:
            out.append(html.escape(part, quote=False))
            continue
        lead = part[: len(part) - len(part.lstrip())]
        trail = part[len(part.rstrip()) :]
        out.append(f'{lead}<span data-s="{number}">{html.escape(core, quote=False)}</span>{trail}')
    return "".join(out)
