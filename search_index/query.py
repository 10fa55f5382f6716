"""What the learner typed, made safe, and turned into a Whoosh query.

No query syntax reaches Whoosh's parser: a learner's `AND(`, `title:x` or unbalanced
quote is just text. The only syntax is the one people expect from any search box:

* words: every word must appear (in the lesson, its heading, title or course title),
  except very common ones ("the", "de"), which are left out beside other words; a
  query of nothing but such words ("will", "estado") looks for them all. A longer query (more
  than `ALL_WORDS_UP_TO` words that count) is taken as a question: a section needs one
  of its words, and sections with more of them rank first, as a plain OR would;
* "quoted words": a phrase, every word (common ones too) in that order, next to each
  other;
* word*: any word starting with it. A word that is not in the dictionary at all
  ("fract") is treated as the start of a word too, so partial words find something.

Each language branch is built separately, because a word can be a stop word in one
language and a real word in the other ("de", "no"); documents have one language, so the
union of the branches is exact. Hits in the asker's language rank before the others.

"Known" words, prefix expansions and the Spanish word forms below come from the
spelling dictionary of the versions the asker may see (`Vocabulary`), so a hidden
course never changes what a query means.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from whoosh import query as wq

from search_index.analysis import LANGUAGES, MAX_WORD, SPELLING_MIN, WORD, fold, term_maker
from search_index.schema import FORM, FORM_WEIGHT, PHRASE_FIELDS, WEIGHTS, field_name
from search_index.spelling import Vocabulary

MAX_QUERY_CHARS = 200
# Enough for any question that fits in MAX_QUERY_CHARS: no word is dropped silently.
MAX_CLAUSES = 40
# Up to this many words that count, every one is required; beyond, any one will do.
ALL_WORDS_UP_TO = 4
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


class Ranked(wq.Or):  # type: ignore[misc]
    """The whole query: the OR of the language branches, with how to rank what matched.

    Whoosh matches it as a plain Or (tests compare with Whoosh's own matching);
    `DocSets.top` also reads `prefer` (the asker's language, whose branch ranks first)
    and `counted` (per branch, the clauses whose matches are counted when a long query
    needs only some of them).
    """

    def __init__(
        self,
        branches: dict[str, wq.Query],
        prefer: str,
        counted: dict[str, list[wq.Query]],
    ) -> None:
        super().__init__(list(branches.values()))
        self.branches = branches
        self.prefer = prefer
        self.counted = counted


@dataclass
class Compiled:
    """The Whoosh query, and the terms each language should highlight."""

    query: Ranked | None
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


def compile_query(
    user: UserQuery, vocabularies: Mapping[str, Vocabulary], language: str = "en"
) -> Compiled:
    """Build the Whoosh query: one branch per language, languages OR-ed.

    `vocabularies` must be those of the versions the asker may see; `language` is the
    asker's ("en" or "es"), whose branch ranks first.
    """
    compiled = Compiled(None, {lang: set() for lang in LANGUAGES})
    known = {w for w in user.words if any(v.knows(w) for v in vocabularies.values())}
    compiled.unknown = [
        w
        for w in user.words
        if w not in known
        and len(w) >= SPELLING_MIN  # nothing shorter is ever corrected
        and not any(v.starts_a_word(w) for v in vocabularies.values())
    ]
    branches: dict[str, wq.Query] = {}
    counted: dict[str, list[wq.Query]] = {}
    for lang in LANGUAGES:
        built = _branch(user, lang, vocabularies[lang], known, compiled)
        if built is not None:
            branches[lang], counted[lang] = built
    if branches:
        compiled.query = Ranked(branches, language if language in branches else "", counted)
    return compiled


def _alternatives(query: wq.Query) -> list[wq.Query]:
    return list(query.subqueries) if isinstance(query, wq.Or) else [query]


def _forms(word: str, language: str, vocabulary: Vocabulary) -> list[str]:
    """Other written forms of a word worth looking for, as the dictionary knows them.

    Spanish: the accented spelling of a word typed without its accent ("cambiaria"
    -> "cambiaría", whose stem Snowball finds only with the accent on), and the other
    number of a noun whose stem changes with it ("imagen" <-> "imágenes"). English: the
    other number of a word without a vowel, which Snowball leaves whole ("hdrs", "pdfs"
    are their own stems); a form with the word's own stem adds no term.
    """
    folded = fold(word)
    if language == "en":
        candidates = [folded + "s"] if len(folded) >= SPELLING_MIN else []
        if folded.endswith("s") and len(folded) > SPELLING_MIN:
            candidates.append(folded[:-1])
        return [c for c in candidates if vocabulary.knows(c)]
    if language != "es":
        return []
    forms: list[str] = []
    candidates = [folded, folded + "s", folded + "es"]
    if folded.endswith("es") and len(folded) > 4:
        candidates.append(folded[:-2])
    if folded.endswith("s") and len(folded) > 3:
        candidates.append(folded[:-1])
    for candidate in candidates:
        if vocabulary.knows(candidate):
            forms.append(vocabulary.shown(candidate))
    return forms


def _word_terms(
    word: str, prefix: bool, language: str, vocabulary: Vocabulary, known: set[str]
) -> list[str]:
    """The terms one typed word stands for in a language ([] when none can match)."""
    make = term_maker(language)
    term = make(word)
    wants_prefix = prefix or (word not in known and len(word) >= PREFIX_MIN)
    terms = [term] if term is not None and not prefix else []
    if not prefix:
        terms += [t for t in map(make, _forms(word, language, vocabulary)) if t is not None]
    if wants_prefix:
        terms += [t for t in map(make, vocabulary.expand(word, PREFIX_EXPANSIONS)) if t]
    return list(dict.fromkeys(terms))


def _branch(
    user: UserQuery,
    language: str,
    vocabulary: Vocabulary,
    known: set[str],
    compiled: Compiled,
) -> tuple[wq.Query, list[wq.Query]] | None:
    """A language's query, and the clauses that count for ranking a long query."""
    make = term_maker(language)
    content: list[tuple[wq.Query | None, list[str]]] = []
    common: list[tuple[wq.Query | None, list[str]]] = []
    for clause in user.clauses:
        if clause.phrase:
            terms = [t for t in map(make, clause.words) if t is not None]
            if not terms:
                continue
            query = (
                _term_any_field(language, terms)
                if len(terms) == 1
                else _phrase_any_field(language, terms)
            )
            content.append((query, terms))
            continue
        word = clause.words[0]
        terms = _word_terms(word, clause.prefix, language, vocabulary, known)
        query = _term_any_field(language, terms) if terms else None
        common_word = make.is_stop(word)
        if query is not None and not clause.prefix and not common_word and len(word) <= MAX_WORD:
            # The form as typed ranks above other forms of it. (A document with it
            # nearly always has its stem too; where an accent gave the written word
            # another stem, it is found all the same, as it should be.)
            exact = wq.Term(field_name(FORM, language), fold(word), boost=FORM_WEIGHT)
            query = wq.Or([*_alternatives(query), exact])
        if common_word and not clause.prefix:
            common.append((query, terms))
        else:
            content.append((query, terms))
    if not content:
        # Nothing but common words: then they are what the learner is looking for.
        content = common
    if not content:
        return None
    everything = len(content) <= ALL_WORDS_UP_TO
    if everything and any(query is None for query, _ in content):
        return None  # a required word cannot match in this language
    clauses = [query for query, _ in content if query is not None]
    if not clauses:
        return None
    for _query, terms in content:
        compiled.highlight[language].update(terms)
    if len(clauses) == 1:
        required = clauses[0]
    else:
        required = wq.And(clauses) if everything else wq.Or(clauses)
    # Common words beside others are left out: they decide nothing, and scoring them
    # would read the longest posting lists of the index for a tiny part of a score.
    return required, [] if everything else clauses
