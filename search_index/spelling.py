""" "Did you mean": a per-language dictionary of real words, and a fast corrector.

Whoosh's own `correct_query` walks a Levenshtein automaton over the lexicon of every
segment, costs 0.4–3 s per query with default settings, and corrects *stemmed* terms
(so "againts" became "await"). Here a dictionary of folded words and their document
counts is read once per index generation from the unstemmed `spell_xx` field, and a word
is corrected by generating every spelling one edit away (delete, transpose, replace,
insert; the first letter kept, since people rarely get that one wrong) and keeping the
most frequent one that exists: a few hundred dict look-ups, well under a millisecond.

Every decision made from the dictionary (is a word known, what does a word start
expand to, what is a misspelling corrected to) uses only the versions the asker may
see: each version's words are in one document (its course document), so each word
keeps the versions it comes from, and a `Vocabulary` is the dictionary of one set of
versions. A word that only a hidden or pending version holds does not exist for a
learner, and hidden courses cannot crowd a visible word out of a prefix expansion.
"""

from __future__ import annotations

import bisect
import string
from collections.abc import Iterator, Mapping

from whoosh.reading import IndexReader

from search_index.analysis import SPELLING_MAX, SPELLING_MIN, fold

_LETTERS = string.ascii_lowercase


class WordCounts:
    """The spelling dictionary of one index segment: folded word -> documents.

    Segments never change once written (deletions aside, which only make a count a little
    high), so each segment's dictionary is read once and kept across refreshes: after a
    course is published only its small new segment is read.
    """

    def __init__(
        self,
        counts: dict[str, int],
        shown: dict[str, str],
        versions: dict[str, tuple[int, ...]] | None = None,
    ) -> None:
        self.counts = counts
        # folded word -> the versions whose documents hold it (deleted ones included)
        self.versions = versions or {}
        self.shown = shown  # only for words whose folded form differs from the written one
        self._sorted: list[str] | None = None

    def sorted_words(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.counts)
        return self._sorted


class Vocabulary:
    """The spelling dictionary of a whole index, as one set of versions sees it.

    `visible` is the set of version ids whose words count; None counts every document
    of the index (only for tools: searches always pass the asker's versions).
    """

    def __init__(self, parts: list[WordCounts], visible: frozenset[int] | None = None) -> None:
        self._parts = parts
        self._visible = visible

    def __len__(self) -> int:
        words = set().union(*(p.counts for p in self._parts))
        return sum(1 for w in words if self._count(w))

    def _count(self, folded: str) -> int:
        """In how many documents (versions, when filtered) the word appears."""
        visible = self._visible
        if visible is None:
            return sum(p.counts.get(folded, 0) for p in self._parts)
        found: frozenset[int] | None = None
        for part in self._parts:
            versions = part.versions.get(folded)
            if versions:
                # In C: a common word is held by most versions.
                holding = visible.intersection(versions)
                if holding:
                    found = holding if found is None else found | holding
        return len(found) if found else 0

    def frequency(self, word: str) -> int:
        return self._count(fold(word))

    def knows(self, word: str) -> bool:
        return self._count(fold(word)) > 0

    def shown(self, folded: str) -> str:
        for part in self._parts:
            if folded in part.shown:
                return part.shown[folded]
        return folded

    def starts_a_word(self, prefix: str) -> bool:
        """Does a known word start with `prefix` (the cheap question of `expand`)?"""
        start = fold(prefix)
        for part in self._parts:
            words = part.sorted_words()
            index = bisect.bisect_left(words, start)
            for word in words[index : index + 2000]:
                if not word.startswith(start):
                    break
                if self._count(word):
                    return True
        return False

    def expand(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` known words starting with `prefix`, the most frequent first."""
        start = fold(prefix)
        found: dict[str, int] = {}
        for part in self._parts:
            words = part.sorted_words()
            index = bisect.bisect_left(words, start)
            # Scan a bounded stretch: a two-letter prefix can cover thousands of words.
            for word in words[index : index + 2000]:
                if not word.startswith(start):
                    break
                if word not in found:
                    found[word] = self._count(word)
        known = [w for w, count in found.items() if count]
        return sorted(known, key=lambda w: (-found[w], w))[:limit]

    def correct(self, word: str) -> str | None:
        """The likeliest known word one edit away, or None (unknown, or already a word)."""
        folded = fold(word)
        if not (SPELLING_MIN <= len(folded) <= SPELLING_MAX) or not folded.isalpha():
            return None
        if self.knows(folded):
            return None
        best, best_count = None, 0
        for candidate in _one_edit(folded):
            count = self._count(candidate)
            if count > best_count or (count == best_count and best and candidate < best):
                best, best_count = candidate, count
        return self.shown(best) if best else None


def _one_edit(word: str) -> Iterator[str]:
    """Every string one edit from `word` that keeps its first letter."""
    for i in range(1, len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail:
            yield head + tail[1:]  # delete
            for letter in _LETTERS:
                yield head + letter + tail[1:]  # replace
        if len(tail) > 1:
            yield head + tail[1] + tail[0] + tail[2:]  # transpose
        for letter in _LETTERS:
            yield head + letter + tail  # insert


def word_counts(reader: IndexReader, fieldname: str, doc_versions: Mapping[int, int]) -> WordCounts:
    """Read one segment's spelling field, with the versions (from `doc_versions`, the
    segment's document number -> version id) that hold each word."""
    counts: dict[str, int] = {}
    shown: dict[str, str] = {}
    best_shown: dict[str, int] = {}
    versions: dict[str, tuple[int, ...]] = {}
    if fieldname in reader.indexed_field_names():
        for raw, info in reader.iter_field(fieldname):
            word = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            documents = info.doc_frequency()
            folded = word if word.isascii() else fold(word)
            counts[folded] = counts.get(folded, 0) + documents
            matcher = reader.postings(fieldname, raw)
            # Deleted documents included: the table is kept for the segment's lifetime,
            # and a deleted version is in no one's visible set anyway.
            ids = getattr(matcher, "child", matcher).all_ids()
            holders = tuple(doc_versions.get(d, 0) for d in ids)
            versions[folded] = versions.get(folded, ()) + holders
            if folded != word and documents > best_shown.get(folded, 0):
                shown[folded], best_shown[folded] = word, documents
    # A folded word that is also written without accents is shown as most people wrote it.
    for folded in list(shown):
        if counts[folded] - best_shown[folded] > best_shown[folded]:
            del shown[folded]
    return WordCounts(counts, shown, versions)
