"""Snippets: a short window of a section's text with the matched words marked.

The text comes from a course package and is never trusted: every piece is escaped, and
the only markup added is `<mark>` around words whose *term* (folded and stemmed, as in
the index) is one the query matched, so "fractions" is marked for a search of "fraction".

Whoosh's highlighter re-analyses the whole text with a generator chain for every hit;
here words are found with one regex pass and looked up in the analyzer's term cache,
and only the first part of very long sections is scanned.
"""

from __future__ import annotations

from collections.abc import Collection

from markupsafe import Markup, escape

from search_index.analysis import WORD, could_be, nfc, term_maker, term_starts

SNIPPET_CHARS = 220
SCAN_CHARS = 30_000
_MAX_MARKS = 12


def _matches(text: str, terms: Collection[str], language: str) -> list[tuple[int, int]]:
    make = term_maker(language)
    starts = term_starts(terms)
    spans: list[tuple[int, int]] = []
    for match in WORD.finditer(text, 0, min(len(text), SCAN_CHARS)):
        # Only words that may have one of the terms are stemmed (see `could_be`).
        word = match.group()
        if could_be(word, starts) and make(word) in terms:
            spans.append(match.span())
    return spans


def _best_window(spans: list[tuple[int, int]], width: int) -> int:
    """Start of the window of `width` chars that holds the most matches."""
    best_start, best_count, left = spans[0][0], 0, 0
    for right in range(len(spans)):
        while spans[right][1] - spans[left][0] > width:
            left += 1
        if right - left + 1 > best_count:
            best_count, best_start = right - left + 1, spans[left][0]
    return best_start


def _widen(text: str, start: int, width: int) -> tuple[int, int]:
    """Centre the window a little before the first match and snap it to word breaks."""
    start = max(0, start - width // 4)
    if start > 0:
        space = text.rfind(" ", max(0, start - 20), start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start + width // 2, end)
        end = space if space > 0 else end
    return start, end


def make_snippet(
    text: str, terms: Collection[str], language: str, width: int = SNIPPET_CHARS
) -> Markup:
    """Escaped text around the best cluster of matches, matches wrapped in <mark>."""
    text = nfc(
        " ".join(text.split()) if len(text) <= SCAN_CHARS else " ".join(text[:SCAN_CHARS].split())
    )
    spans = _matches(text, terms, language) if terms else []
    start = _best_window(spans, width) if spans else 0
    start, end = _widen(text, start, width) if spans else (0, min(len(text), width))
    if not spans and end < len(text):
        space = text.rfind(" ", width // 2, end)
        end = space if space > 0 else end
    pieces: list[str] = ["…"] if start > 0 else []
    cursor, marks = start, 0
    for span_start, span_end in spans:
        if span_start < start or span_end > end or marks >= _MAX_MARKS:
            continue
        pieces.append(escape(text[cursor:span_start]))
        pieces.append(Markup("<mark>%s</mark>") % text[span_start:span_end])
        cursor, marks = span_end, marks + 1
    pieces.append(escape(text[cursor:end]))
    if end < len(text):
        pieces.append("…")
    return Markup("").join(pieces)
