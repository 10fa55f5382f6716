"""What the learner typed, made safe, and turned into a Whoosh query.

No query syntax reaches Whoosh's parser: a learner's `AND(`, `title:x` or unbalanced
quote is just text. The only syntax is the one people expect from any search box:

* words: every word must appear (in the lesson, its heading, title or course title);
* "quoted words": a phrase, in that order;
* word*: any word starting with it. A word that is not in the dictionary at all
  ("fract") is treated as the start of a word too, so partial words find something.

Each language branch is built separately, because a word can be a stop word in one
language and a real word in the other ("de", "no"); documents have one language, so the
union of the branches is exact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from whoosh import query as wq

from search_index.analysis import LANGUAGES, WORD, term_maker
from search_index.schema import PHRASE_FIELDS, WEIGHTS, field_name
from search_index.spelling import Vocabulary

MAX_QUERY_CHARS = 200
MAX_CLAUSES = 10
PREFIX_MIN = 3
PREFIX_EXPANSIONS = 12
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "＂": '"'})
_PIECE = re.compile(r'"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Clause:
    """One thing the learner asked for: a word, a word start, or a phrase."""

    words: tuple[str, ...]
    phrase: bool = False
    prefix: bool = False

    @property
    def text(self) -> str:
        joined = " ".join(self.words)
        if self.phrase:
            return f'"{joined}"'
        return joined + ("*" if self.prefix else "")


@dataclass(frozen=True)
class UserQuery:
    """A query as typed, cleaned and capped; `text` is what the page should show back.

    `text` is empty only when nothing (or only spaces) was typed; `clauses` can be empty
    for text with nothing searchable in it ("!!!").
    """

    text: str
    clauses: tuple[Clause, ...]
    truncated: bool = False

    @property
    def words(self) -> list[str]:
        return [w for c in self.clauses for w in c.words]

    def replace_words(self, replacements: Mapping[str, str]) -> UserQuery:
        """The same query with some single-word clauses replaced (for "did you mean")."""
        clauses = tuple(
            Clause((replacements.get(c.words[0], c.words[0]),), prefix=c.prefix)
            if not c.phrase and len(c.words) == 1
            else c
            for c in self.clauses
        )
        return UserQuery(" ".join(c.text for c in clauses), clauses, self.truncated)


def clean(raw: str) -> tuple[str, bool]:
    """Normalise what was typed: no control characters, one space, at most 200 chars."""
    text = unicodedata.normalize("NFC", raw if isinstance(raw, str) else "")
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    text = " ".join(text.translate(_QUOTES).split())
    if len(text) <= MAX_QUERY_CHARS:
        return text, False
    cut = text[:MAX_QUERY_CHARS]
    if " " in cut and not text[MAX_QUERY_CHARS].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.strip(), True


def parse(raw: str) -> UserQuery:
    """Split a query into clauses; never fails, whatever the input."""
    text, truncated = clean(raw)
    clauses: list[Clause] = []
    for match in _PIECE.finditer(text):
        quoted, bare = match.group(1), match.group(2)
        if quoted is not None:
            words = tuple(WORD.findall(quoted))
            if words:
                clauses.append(Clause(words, phrase=len(words) > 1))
            continue
        words = tuple(WORD.findall(bare))
        if not words:
            continue
        if len(words) > 1:  # "1/2", "e-mail", "don't": the parts, in order
            clauses.append(Clause(words, phrase=True))
        else:
            clauses.append(Clause(words, prefix=bare.endswith("*")))
    if len(clauses) > MAX_CLAUSES:
        clauses, truncated = clauses[:MAX_CLAUSES], True
    return UserQuery(text, tuple(clauses), truncated)


@dataclass
class Compiled:
    """The Whoosh query, and the terms each language should highlight."""

    query: wq.Query | None
    highlight: dict[str, set[str]] = field(default_factory=dict)
    # Words no dictionary knows, that are not the start of a known word either:
    # the ones worth a "did you mean".
    unknown: list[str] = field(default_factory=list)


def _term_any_field(language: str, terms: list[str]) -> wq.Query:
    """Any of the terms, in the head or the body, each field with its BM25F weight."""
    alternatives = [
        wq.Term(field_name(kind, language), term, boost=weight)
        for term in terms
        for kind, weight in WEIGHTS.items()
    ]
    return alternatives[0] if len(alternatives) == 1 else wq.Or(alternatives)


def _phrase_any_field(language: str, terms: list[str]) -> wq.Query:
    return wq.Or(
        [
            wq.Phrase(field_name(kind, language), terms, boost=WEIGHTS[kind])
            for kind in PHRASE_FIELDS
        ]
    )


def compile_query(user: UserQuery, vocabularies: Mapping[str, Vocabulary]) -> Compiled:
    """Build the Whoosh query: per language, all clauses required; languages OR-ed."""
    compiled = Compiled(None, {language: set() for language in LANGUAGES})
    known = {w for w in user.words if any(v.knows(w) for v in vocabularies.values())}
    compiled.unknown = [
        w
        for w in user.words
        if w not in known and not any(v.expand(w, 1) for v in vocabularies.values())
    ]
    branches: list[wq.Query] = []
    for language in LANGUAGES:
        branch = _branch(user, language, vocabularies[language], known, compiled)
        if branch is not None:
            branches.append(branch)
    if branches:
        compiled.query = branches[0] if len(branches) == 1 else wq.Or(branches)
    return compiled


def _branch(
    user: UserQuery,
    language: str,
    vocabulary: Vocabulary,
    known: set[str],
    compiled: Compiled,
) -> wq.Query | None:
    make = term_maker(language)
    required: list[wq.Query] = []
    for clause in user.clauses:
        if clause.phrase:
            terms = [t for t in map(make, clause.words) if t is not None]
            if not terms:
                continue
            compiled.highlight[language].update(terms)
            if len(terms) == 1:
                required.append(_term_any_field(language, terms))
            else:
                required.append(_phrase_any_field(language, terms))
            continue
        word = clause.words[0]
        term = make(word)
        wants_prefix = clause.prefix or (word not in known and len(word) >= PREFIX_MIN)
        if term is None and not wants_prefix:
            continue  # a stop word in this language
        terms = [term] if term is not None and not clause.prefix else []
        if wants_prefix:
            expansions = vocabulary.expand(word, PREFIX_EXPANSIONS)
            terms += [t for t in map(make, expansions) if t is not None and t not in terms]
        if not terms:
            return None  # this clause cannot match in this language
        compiled.highlight[language].update(terms)
        required.append(_term_any_field(language, terms))
    if not required:
        return None
    return required[0] if len(required) == 1 else wq.And(required)
