"""Text analysis: how words become index terms, in English and in Spanish.

Text is first normalised to NFC: content written with decomposed accents ("u" followed
by a combining acute) would otherwise split "números" into "nu" and "meros".

Learners rarely type accents, so every term is accent-folded ("educación" and "educacion"
are the same term). In Spanish, folding happens *after* stemming: Snowball's rules know
the accented verb endings ("cambiaría", "imprimirá", "apareció" all lose their ending
only with the accent on), so a folded word would keep a stem of its own. A few endings
are accented on nouns too ("-ación", "-logía"); `_restore_spanish` puts those back on a
word typed without them, so that "educacion" and "educaciones" still share a stem. For
verbs typed without their accent, the query side also looks the word up in the spelling
dictionary (see `query.py`).

Stop words are terms like any other: "estado", "fuera", "will" and "US" are words
somebody may look for, and a phrase ("barra de estado") needs every word in its place.
The stop lists only tell a query which words need not all be present (`is_stop`).

The analyzers are single-pass Whoosh tokenizers rather than chains of filters: a chain
makes one generator hop per token per filter, which doubled the build time of a 50,000
section index. Each word's term is cached, so stemming costs one dict look-up per token.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator
from functools import lru_cache
from itertools import pairwise
from typing import Any

from whoosh.analysis import Token, Tokenizer
from whoosh.lang import stemmer_for_language, stopwords_for_language

LANGUAGES = ("en", "es")
WORD = re.compile(r"\w+")
MAX_WORD = 40
# Words the spelling dictionary keeps: letters only, long enough to be worth correcting.
SPELLING_MIN, SPELLING_MAX = 3, 24
_CACHE_LIMIT = 200_000

# Whoosh's English list is short on purpose (34 words): a longer one hides words a
# learner may need, and BM25 already gives little weight to very common ones.
_ENGLISH_STOPS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "for",
        "from",
        "have",
        "if",
        "in",
        "is",
        "it",
        "may",
        "not",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "us",
        "we",
        "when",
        "will",
        "with",
        "yet",
        "you",
        "your",
    }
)


def nfc(text: str) -> str:
    """Text in Unicode NFC (composed accents), cheaply when it already is."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def primary_language(tag: str) -> str:
    """The analysis language for a BCP 47 tag: "es-US" -> "es"; anything else -> "en"."""
    primary = tag.strip().lower().split("-")[0]
    return primary if primary in LANGUAGES else "en"


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Lowercase and strip accents: "Educación" -> "educacion", "Ñandú" -> "nandu"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_SPANISH_ACCENTED_SUFFIXES = (
    ("aciones", "aciones"),
    ("acion", "ación"),
    ("ucion", "ución"),
    ("logias", "logías"),
    ("logia", "logía"),
)


def _restore_spanish(folded: str) -> str:
    for plain, accented in _SPANISH_ACCENTED_SUFFIXES:
        if folded.endswith(plain):
            return folded[: -len(plain)] + accented
    return folded


def _stop_words(language: str) -> frozenset[str]:
    words = _ENGLISH_STOPS if language == "en" else frozenset(stopwords_for_language(language))
    return words | {fold(w) for w in words}


class TermMaker:
    """word -> index term for one language (None only for an over-long word), cached.

    The word must already be NFC (`nfc`): `WORD` splits decomposed text apart anyway.
    """

    def __init__(self, language: str) -> None:
        self.language = language
        self._stops = _stop_words(language)
        stem: Callable[[str], str] = stemmer_for_language(language)
        self._stem: Callable[[str], str] = lambda w: stem(fold(w))
        if language == "es":
            # Stem the word as written, accents and all; fold the stem.
            self._stem = lambda w: fold(stem(_restore_spanish(w)))
        self._cache: dict[str, str | None] = {}
        self._stop_terms = frozenset(filter(None, map(self._make, self._stops)))

    def __call__(self, word: str) -> str | None:
        try:
            return self._cache[word]
        except KeyError:
            pass
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        term = self._make(word)
        self._cache[word] = term
        return term

    def _make(self, word: str) -> str | None:
        lowered = word.lower()
        if not lowered or len(lowered) > MAX_WORD:
            return None
        return self._stem(lowered)

    def is_stop(self, word: str) -> bool:
        """A word so common in this language that a query need not insist on it."""
        lowered = word.lower()
        return lowered in self._stops or fold(lowered) in self._stops

    def is_stop_term(self, term: str) -> bool:
        """Is this index term the term of a stop word?"""
        return term in self._stop_terms

    def terms(self, text: str, wanted: Collection[str] | None = None) -> list[str]:
        """The terms of a piece of text, in order, stop words included.

        With `wanted`, a word that cannot have any of those terms (see `could_be`) is
        not stemmed: its place holds "" instead, which equals no term.
        """
        words = WORD.findall(nfc(text))
        # Phrases are checked on stored text, so this runs over whole sections: look the
        # words up in the cache in one C-level pass, and make only the missing terms.
        found = list(map(self._cache.get, words))
        if None in found:
            if wanted is None:
                found = [self(w) if t is None else t for t, w in zip(found, words, strict=True)]
            else:
                starts = term_starts(wanted)
                found = [
                    t if t is not None else self(w) if could_be(w, starts) else _unwanted(w)
                    for t, w in zip(found, words, strict=True)
                ]
            if None in found:
                return [t for t in found if t is not None]
        return found  # type: ignore[return-value]


def term_starts(terms: Iterable[str]) -> frozenset[str]:
    """The first two letters of each term (the whole term when shorter)."""
    return frozenset(term[:2] for term in terms)


def could_be(word: str, starts: frozenset[str]) -> bool:
    """Whether the word's term may be one of those whose `term_starts` these are.

    In both languages a word's term begins with the word's own first two letters,
    folded (stemming cuts endings, folding only takes accents off; checked on every
    word of the benchmark corpus): a cheap test that spares stemming the words of a
    text that cannot match, which was most of a search's cost for new texts.
    """
    start = fold(word[:2].lower())[:2]
    return start in starts or start[:1] in starts


def _unwanted(word: str) -> str | None:
    """The place of a word known not to be wanted: "", or None where the word has no
    term at all (too long), as `TermMaker.__call__` would say."""
    return None if len(word.lower()) > MAX_WORD else ""


_TERM_MAKERS: dict[str, TermMaker] = {}


def term_maker(language: str) -> TermMaker:
    """The shared, cached TermMaker of a language ("en" or "es")."""
    maker = _TERM_MAKERS.get(language)
    if maker is None:
        maker = _TERM_MAKERS[language] = TermMaker(language)
    return maker


def spelling_words(text: str) -> set[str]:
    """The distinct words of a text that belong in a spelling dictionary, lowercase."""
    return {
        w.lower()
        for w in WORD.findall(nfc(text))
        if SPELLING_MIN <= len(w) <= SPELLING_MAX and w.isalpha()
    }


class _Analyzer(Tokenizer, ABC):  # type: ignore[misc]
    """Whoosh's analyzer call, written once; a subclass fills in the tokens."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        return self.tokens(value, token, keeporiginal, start_pos, start_char)

    @abstractmethod
    def tokens(
        self, value: str, token: Token, keeporiginal: bool, start_pos: int, start_char: int
    ) -> Iterator[Token]:
        """Fill in and yield ``token`` (one object, reused) for each term of ``value``."""


class LanguageAnalyzer(_Analyzer):
    """Whoosh analyzer: NFC, words -> lowercase, stemmed, folded; one pass."""

    def __init__(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"no analyzer for language {language!r}")
        self.language = language

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LanguageAnalyzer) and other.language == self.language

    def __hash__(self) -> int:
        return hash(("LanguageAnalyzer", self.language))

    def tokens(
        self, value: str, token: Token, keeporiginal: bool, start_pos: int, start_char: int
    ) -> Iterator[Token]:
        """Each remaining word's term, with its position and characters when asked."""
        make = term_maker(self.language)
        pos = start_pos
        for match in WORD.finditer(nfc(value)):
            term = make(match.group())
            if term is None:
                continue
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = match.group()
            if token.positions:
                token.pos = pos
                pos += 1
            if token.chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


class FormAnalyzer(_Analyzer):
    """Whoosh analyzer for exact forms: NFC, lowercase, folded, never stemmed.

    Only ranks: a section that says "running" comes before one that says "runs" for a
    search of "running", though both match the stem.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FormAnalyzer)

    def __hash__(self) -> int:
        return hash("FormAnalyzer")

    def tokens(
        self, value: str, token: Token, keeporiginal: bool, start_pos: int, start_char: int
    ) -> Iterator[Token]:
        """Each word's exact form (no positions: phrases are checked on stored text)."""
        for word in WORD.findall(nfc(value)):
            if len(word) <= MAX_WORD:
                token.text = fold(word)
                token.boost = 1.0
                token.stopped = False
                yield token


class SpellingAnalyzer(_Analyzer):
    """Whoosh analyzer for the spelling dictionary: the words as written, lowercase.

    Suggestions must be real words ("fraction"), never stems ("fraction" is fine, but
    "happi" is not), and each language keeps its own dictionary so that an English typo
    is never "corrected" into Spanish.
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpellingAnalyzer)

    def __hash__(self) -> int:
        return hash("SpellingAnalyzer")

    def tokens(
        self, value: str, token: Token, keeporiginal: bool, start_pos: int, start_char: int
    ) -> Iterator[Token]:
        """Each distinct dictionary word of ``value`` (no positions: not for phrases)."""
        for word in spelling_words(value):
            token.text = word
            token.boost = 1.0
            token.stopped = False
            yield token


class PairAnalyzer(_Analyzer):
    """Whoosh analyzer for the pairs of adjacent terms that hold a stop word ("the file",
    "table of", "of contents"), each pair once per document.

    A quoted phrase's common words are in most sections, so their postings cannot narrow
    where the phrase is checked; a pair with its neighbour can. A two-word phrase with a
    stop word is then found by its pair alone, and a longer one is checked only where all
    its pairs and rare words are.
    """

    def __init__(self, language: str, *, every: bool = False) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"no analyzer for language {language!r}")
        self.language = language
        # Every pair, not only those with a stop word: for headings and titles, which
        # are short, so that a phrase is found there by its pairs with no text read.
        self.every = every

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PairAnalyzer)
            and other.language == self.language
            and other.every == self.every
        )

    def __hash__(self) -> int:
        return hash(("PairAnalyzer", self.language, self.every))

    def tokens(
        self, value: str, token: Token, keeporiginal: bool, start_pos: int, start_char: int
    ) -> Iterator[Token]:
        """Each distinct pair (no positions: the pair is itself the adjacency)."""
        terms = term_maker(self.language).terms(value)
        pairs = all_pairs(terms) if self.every else stop_pairs(self.language, terms)
        for pair in pairs:
            token.text = pair
            token.boost = 1.0
            token.stopped = False
            yield token


def pair_term(first: str, second: str) -> str:
    """The index term of two adjacent terms."""
    return f"{first} {second}"


def stop_pairs(language: str, terms: list[str]) -> set[str]:
    """The distinct pairs of adjacent terms of which one (or both) is a stop word's."""
    stop = term_maker(language).is_stop_term
    return {pair_term(a, b) for a, b in pairwise(terms) if stop(a) or stop(b)}


def all_pairs(terms: list[str]) -> set[str]:
    """The distinct pairs of adjacent terms."""
    return {pair_term(a, b) for a, b in pairwise(terms)}
