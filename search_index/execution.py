"""One query executed against one index generation: visibility, facets, ranking, hits.

`QueryRun` does the work that `SearchService.search` orders: the matching documents
(our block-at-a-time matching, then the visibility filter as one set intersection),
counts per version rolled up into facets, and a page of hits with their snippets.

A search's `Budget` bounds the steps whose cost a query can blow up: checking phrases
on the stored text of each document that holds all their words (hundreds of hyphenated
words are hundreds of phrases), reading postings beyond a query's first few, and adding
up scores term by term. Once the budget is spent, the remaining candidates are not
checked and the remaining terms not scored, so the results are the true matches found
so far, ranked on the terms read in time, and are marked so.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from whoosh import query as wq
from whoosh.searching import Searcher

from search_index.docsets import DocSets, Postings
from search_index.documents import Part
from search_index.query import Compiled
from search_index.results import FACETS, FacetValue, Hit
from search_index.snippets import make_snippet
from search_index.spelling import Vocabulary
from search_index.view import IndexView, VersionMeta

# Term postings a search reads whatever its budget: four words, in both fields of both
# languages, with room for a prefix's expansions.
ALWAYS_READ = 24
# Postings entries ranking looks at whatever the budget (≈ 5 ms): enough to rank a
# question's best tiers, or two words in 10,000 sections, in full.
ALWAYS_SCORED = 50_000


# The share of a search's budget that matching (reading postings, checking phrases)
# may use: ranking what matched has the rest, so that a search cut short while matching
# still ends at about its budget, not the budget plus a ranking of everything found.
MATCHING_SHARE = 0.7


class Budget:
    """The time one search may spend matching and ranking; `spent` once it ran out."""

    def __init__(self, seconds: float) -> None:
        start = time.perf_counter()
        self.deadline = start + seconds
        self.matching_deadline = start + seconds * MATCHING_SHARE
        self.spent = False

    def over(self) -> bool:
        if not self.spent and time.perf_counter() > self.deadline:
            self.spent = True
        return self.spent

    def matching_over(self) -> bool:
        """Whether matching must stop: its share of the budget is spent (or all of it)."""
        if not self.spent and time.perf_counter() > min(self.deadline, self.matching_deadline):
            self.spent = True
        return self.spent


class BudgetedDocSets(DocSets):
    """DocSets that stop reading and checking when the search's budget is spent, and
    check each phrase only on the documents the rest of its query still allows.

    Once the budget is spent, a term not read yet counts as in no document and a phrase
    not checked yet as not there: the results are true matches, possibly not all of
    them, ranked on the terms read in time.
    """

    def __init__(self, searcher: Searcher, lengths: Any, budget: Budget) -> None:
        super().__init__(searcher, lengths)
        self.budget = budget
        self.always_scored = ALWAYS_SCORED
        self._late = False  # matching was cut short by the budget
        self._checked: dict[tuple[str, tuple[str, ...]], dict[int, bool]] = {}
        # id -> (query, its documents), for the parts without phrases (see `evaluate`)
        self._combined: dict[int, tuple[wq.Query, set[int]]] = {}

    def postings(self, fieldname: str, text: str) -> Postings:
        # The first few reads are always made, so that an ordinary query on a busy
        # machine is slow rather than empty; the budget stops queries of many terms.
        unread = (fieldname, text) not in self._postings
        if unread and len(self._postings) >= ALWAYS_READ and self.budget.matching_over():
            return [], []
        return super().postings(fieldname, text)

    def _has_phrase(self, docnum: int, fieldname: str, words: list[str]) -> bool:
        if self.budget.matching_over():
            return False
        return super()._has_phrase(docnum, fieldname, words)

    def evaluate(self, query: wq.Query, within: set[int] | None = None) -> set[int]:
        """The documents that match `query`, among `within` when given (the result may
        then hold others too: only its part inside `within` is meaningful).

        An And narrows as it goes, cheapest parts first, so that a phrase is checked
        only on the documents all the other parts allow: ten phrases of common words
        cost about one phrase's checks, not ten. A part without phrases is the same
        whatever `within` is: it is worked out once per search (ranking asks again for
        the asker's branch and for each clause of a long query, and a question of forty
        common words is tens of thousands of documents each time).
        """
        if isinstance(query, (wq.Or, wq.And)) and _cost(query) == 0:
            kept = self._combined.get(id(query))
            if kept is None or kept[0] is not query:
                kept = self._combined[id(query)] = (query, self._combine(query, None))
            return kept[1]
        return self._combine(query, within)

    def _combine(self, query: wq.Query, within: set[int] | None) -> set[int]:
        if isinstance(query, wq.Or):
            return set().union(*(self.evaluate(child, within) for child in query.subqueries))
        if isinstance(query, wq.And):
            running = within
            for child in sorted(query.subqueries, key=_cost):
                found = self.evaluate(child, running)
                running = found if running is None else running & found
                if not running:
                    return set()
            return running if running is not None else set()
        if isinstance(query, wq.Phrase):
            candidates, certain = self.phrase_candidates(query)
            if within is not None:
                candidates = candidates & within
            if certain:
                return candidates
            # Ranking asks again for the phrases of a long query: each document is
            # checked once per search.
            known = self._checked.setdefault((query.fieldname, tuple(query.words)), {})
            for docnum in candidates - known.keys():
                known[docnum] = self._has_phrase(docnum, query.fieldname, query.words)
            return {d for d in candidates if known[d]}
        return super().evaluate(query)

    def top(self, query: wq.Query, candidates: set[int], limit: int) -> list[tuple[float, int]]:
        # A search whose matching was cut short by the budget ranks on the rarest clause
        # and term only, so that what follows the budget stays small. (One that was not
        # cut is ranked in full, however long a busy machine made it take.)
        self._late = self.budget.spent
        return super().top(query, candidates, limit)

    def keep_scoring(self) -> bool:
        # An ordinary query is ranked in full however busy the machine (its order
        # should not depend on the load); past that much work, the budget decides.
        return (self.scored < self.always_scored and not self._late) or not self.budget.over()

    def keep_counting(self) -> bool:
        # Likewise for counting the words a long query's candidates match.
        return (self.counted < self.always_scored and not self._late) or not self.budget.over()


def _cost(query: wq.Query) -> int:
    """Phrases (checked document by document) after everything matched by sets alone."""
    if isinstance(query, wq.Phrase):
        return 1
    if isinstance(query, wq.Term):
        return 0
    return max((_cost(child) for child in query.subqueries), default=0)


def clean_facets(facets: Mapping[str, str] | None) -> dict[str, str]:
    if not facets:
        return {}
    return {
        name: value
        for name, value in facets.items()
        if name in FACETS and isinstance(value, str) and 0 < len(value) <= 200
    }


def searchable_versions(view: IndexView, visible: frozenset[int] | None) -> frozenset[int] | None:
    """The versions a search may return; pending versions only for an unfiltered search."""
    if visible is None:
        return None
    return frozenset(
        v for v in visible if (meta := view.versions.get(v)) is not None and not meta.pending
    )


def corrections(
    compiled: Compiled, vocabularies: Mapping[str, Vocabulary], language: str
) -> dict[str, str]:
    """word -> correction, from the asker's language first, for words no dictionary knows."""
    order = [language, *(lang for lang in vocabularies if lang != language)]
    replacements: dict[str, str] = {}
    for word in compiled.unknown:
        for lang in order:
            if lang in vocabularies and (fixed := vocabularies[lang].correct(word)):
                replacements[word] = fixed
                break
    return replacements


class QueryRun:
    """One query executed: matching documents, counts per version, and a page of hits."""

    def __init__(
        self,
        view: IndexView,
        searcher: Searcher,
        compiled: Compiled,
        versions: frozenset[int] | None,
        selected: dict[str, str],
        page: int,
        size: int,
        budget: Budget,
    ) -> None:
        assert compiled.query is not None
        self.view, self.searcher, self.compiled, self.selected = view, searcher, compiled, selected
        self.page, self.size = page, size
        self.docsets = BudgetedDocSets(searcher, view.lengths, budget)
        matched = self.docsets.evaluate(compiled.query)
        if versions is not None:
            matched = matched & view.allowed_docs(versions)
        doc_version = view.doc_version
        self.per_version = Counter(map(doc_version.__getitem__, matched))
        self.per_version.pop(0, None)
        self.chosen = {v for v in self.per_version if self._passes(v, skip=None)}
        self.total = sum(self.per_version[v] for v in self.chosen)
        if self.selected:
            chosen = self.chosen
            matched = {d for d in matched if doc_version[d] in chosen}
        self.matched = matched

    def _passes(self, version_id: int, skip: str | None) -> bool:
        meta = self.view.versions.get(version_id)
        if meta is None:
            return False
        for name, value in self.selected.items():
            if name != skip and _facet_value(meta, name) != value:
                return False
        return True

    def facets(self) -> dict[str, tuple[FacetValue, ...]]:
        """Counts per category, course and language, each among the hits that the *other*
        selected facets allow (so a learner can switch a facet as well as narrow)."""
        out: dict[str, tuple[FacetValue, ...]] = {}
        for name in FACETS:
            counts: Counter[str] = Counter()
            labels: dict[str, str] = {}
            for version_id, count in self.per_version.items():
                if not self._passes(version_id, skip=name):
                    continue
                meta = self.view.versions[version_id]
                value = _facet_value(meta, name)
                counts[value] += count
                labels[value] = meta.course_title if name == "course" else value
            chosen = self.selected.get(name)
            if chosen is not None and chosen not in counts:
                counts[chosen] = 0
                labels[chosen] = chosen
            out[name] = tuple(
                FacetValue(value, labels[value], count, value == chosen)
                for value, count in sorted(counts.items(), key=lambda i: (-i[1], labels[i[0]]))
            )
        return out

    def hits(self) -> list[Hit]:
        if not self.total:
            return []
        end = self.page * self.size
        assert self.compiled.query is not None
        best = self.docsets.top(self.compiled.query, self.matched, end)
        return [self._hit(docnum, score) for score, docnum in best[end - self.size :]]

    def _hit(self, docnum: int, score: float | None) -> Hit:
        stored = self.searcher.stored_fields(docnum)
        version_id, lesson_key, lesson_title, anchor, heading, part, item_key, language = stored[
            "hit"
        ]
        meta = self.view.versions[version_id]
        text = stored.get("text", "")
        if part == Part.COURSE:
            # A course document holds its summary, then its keywords a line each (to be
            # found by them); a learner reads the summary, never a list of keywords.
            text = text.partition("\n")[0]
        snippet = make_snippet(text, self.compiled.highlight[language], language)
        return Hit(
            version_id=version_id,
            course_id=meta.course_id,
            course_title=meta.course_title,
            lesson_key=lesson_key,
            lesson_title=lesson_title,
            anchor=anchor,
            heading=heading,
            part=part,
            item_key=item_key,
            snippet=snippet,
            category=meta.category,
            language=meta.language,
            pending=meta.pending,
            score=float(score or 0.0),
        )


def _facet_value(meta: VersionMeta, name: str) -> str:
    if name == "course":
        return meta.course_id
    return str(getattr(meta, name))
