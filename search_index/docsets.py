"""Matching and ranking on Whoosh's postings, a block at a time.

Whoosh finds and scores documents by stepping a tree of matchers one posting at a time,
five to ten Python calls per posting: ≈ 45 ms for a two-word query whose words are in
10,000 sections. Here each term's postings are read a whole block (128 documents and
their term frequencies) at a time; the query tree is evaluated with set operations,
which run in C; and BM25F is summed in one tight loop over the postings of the
documents that matched. Same formula and constants as Whoosh's `BM25F`: the ranking is
Whoosh's, the cost ≈ 5× lower.

Reading whole blocks uses the W3 codec leaf matcher's fields (`_ids`, `_i`,
`_read_weights`, `_next_block`) and the per-document length column; the pinned
whoosh-reloaded 2.7.5 has them, and tests compare the results with Whoosh's own
`docs_for_query` so that an upgrade that changes them fails loudly.
"""

from __future__ import annotations

import heapq
import math
import pickle
import zlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from io import BytesIO
from itertools import accumulate, compress, pairwise, repeat
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermsReader
from whoosh.reading import IndexReader, TermNotFound
from whoosh.searching import Searcher
from whoosh.system import _INT_SIZE, unpack_int

from search_index.analysis import pair_term, term_maker
from search_index.query import Ranked
from search_index.schema import BODY, HEAD, HEAD_PAIR, PAIR, STORED_TEXT, field_name, field_parts

K1 = 1.2
B = 0.75

Postings = tuple[list[int], list[float]]


def _leaf_postings(matcher: Any) -> Iterator[tuple[tuple[int, ...], Any]]:
    """(ids, weights) of each block of a fresh W3 leaf matcher."""
    while matcher.is_active():
        if matcher._ids is None:
            matcher._read_ids()
        if matcher._weights is None:
            matcher._read_weights()
        start = matcher._i
        yield matcher._ids[start:], matcher._weights[start:]
        matcher._i = matcher._blocklength
        matcher._next_block()


def _read_blocks(data: bytes) -> Postings | None:
    """The postings of one term from the bytes of all its W3 blocks, read at once; None
    when they are not laid out as expected (the caller then takes Whoosh's own way).

    Whoosh's matcher reads each block's header by unpickling from the file, a dozen
    small seek-and-reads per block without memory maps (most of a search's time); here
    one read brings every block, and ids are un-delta'd in C (`accumulate`). The
    pickles are the index's own, as trusted as when Whoosh reads them: written by us,
    their files checked against their checksums when the generation was opened.
    """
    if data[:4] != WHOOSH3_HEADER_MAGIC:
        return None
    ids: list[int] = []
    weights: list[float] = []
    stream = BytesIO(data)
    position, size = 4, len(data)
    while position < size:
        (length,) = unpack_int(data[position : position + _INT_SIZE])
        position += _INT_SIZE
        end = position + abs(length)
        stream.seek(position)
        count, _last, _most, compression, _low, _high = pickle.load(stream)  # noqa: S301 - see above
        block = data[stream.tell() : end]
        minified = pickle.loads(zlib.decompress(block) if compression else block)  # noqa: S301
        ids.extend(accumulate(minified[0]))
        found = minified[1]
        if found is None or isinstance(found, float):
            weights.extend([1.0 if found is None else found] * count)
        else:
            weights.extend(found)
        position = end
        if length < 0:
            break
    return (ids, weights) if len(weights) == len(ids) else None


def segment_postings(reader: IndexReader, fieldname: str, text: str) -> Postings:
    """A term's postings in one segment, deleted documents included (the caller decides)."""
    ids: list[int] = []
    weights: list[float] = []
    terms = getattr(reader, "_terms", None)
    if isinstance(terms, W3TermsReader):
        try:
            info = terms.term_info(fieldname, reader._text_to_bytes(fieldname, text))
        except TermNotFound:
            return ids, weights
        if info.is_inlined():  # a term of one document (see `writing.segment_codec`)
            inlined_ids, inlined_weights, _values = info.inlined_postings()
            return list(inlined_ids), list(inlined_weights)
        offset, length = info.extent()
        if isinstance(length, tuple):  # Whoosh 2.7 reads the length back as a 1-tuple
            length = length[0] if len(length) == 1 else None
        if isinstance(offset, int) and isinstance(length, int):
            found = _read_blocks(terms._postfile.get(offset, length))
            if found is not None:
                return found
    if (fieldname, text) not in reader:
        return ids, weights
    matcher = reader.postings(fieldname, text)
    leaf = getattr(matcher, "child", matcher)  # unwrap the deleted-docs filter
    if not hasattr(leaf, "_next_block"):  # not a W3 leaf: the slow, general way
        while leaf.is_active():
            ids.append(leaf.id())
            weights.append(leaf.weight())
            leaf.next()
        return ids, weights
    for block_ids, block_weights in _leaf_postings(leaf):
        ids.extend(block_ids)
        weights.extend(block_weights)
    return ids, weights


def _without(ids: list[int], weights: list[float], deleted: frozenset[int]) -> Postings:
    """Postings without the deleted documents. A replaced course leaves a run of deleted
    numbers in a segment: the postings are cut around each run found in them (a few
    slices in C) rather than tested one by one."""
    gone = sorted(deleted.intersection(ids))
    kept_ids: list[int] = []
    kept_weights: list[float] = []
    start = 0
    for docnum in gone:
        at = bisect_left(ids, docnum, start)
        kept_ids += ids[start:at]
        kept_weights += weights[start:at]
        start = at + 1
    kept_ids += ids[start:]
    kept_weights += weights[start:]
    return kept_ids, kept_weights


class DocSets:
    """Evaluates our own query trees (Term, Phrase, And, Or) into sets of document numbers,
    and ranks them. Postings are cached for the life of the object: make one per search.
    """

    def __init__(self, searcher: Searcher, lengths: Any) -> None:
        self.searcher = searcher
        # fieldname -> (length byte per document, BM25 norm per length byte); see IndexView
        self._lengths = lengths
        self._doc_count = searcher.doc_count_all()
        self._leaves: list[tuple[IndexReader, int, frozenset[int]]] = []
        for reader, offset in searcher.reader().leaf_readers():
            # A cached property of Whoosh's segment reader: built once per generation.
            deleted = reader.deleted_docs_set if reader.has_deletions() else frozenset()
            self._leaves.append((reader, offset, deleted))
        self._postings: dict[tuple[str, str], Postings] = {}
        self._sets: dict[tuple[str, str], set[int]] = {}
        self._phrases: dict[tuple[str, tuple[str, ...]], set[int]] = {}
        # Postings entries ranking looked at, and clause matches it counted: the work it
        # did, for tests and the bench.
        self.scored = 0
        self.counted = 0

    def postings(self, fieldname: str, text: str) -> Postings:
        key = (fieldname, text)
        found = self._postings.get(key)
        if found is not None:
            return found
        ids: list[int] = []
        weights: list[float] = []
        for reader, offset, deleted in self._leaves:
            segment_ids, segment_weights = segment_postings(reader, fieldname, text)
            if deleted and not deleted.isdisjoint(segment_ids):
                segment_ids, segment_weights = _without(segment_ids, segment_weights, deleted)
            if offset:
                segment_ids = list(map(offset.__add__, segment_ids))
            if ids:
                ids.extend(segment_ids)
                weights.extend(segment_weights)
            else:
                ids, weights = segment_ids, segment_weights
        self._postings[key] = (ids, weights)
        return ids, weights

    def term(self, fieldname: str, text: str) -> set[int]:
        key = (fieldname, text)
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = set(self.postings(fieldname, text)[0])
        return found

    def evaluate(self, query: wq.Query, within: set[int] | None = None) -> set[int]:
        """The documents that match `query`. The set may be shared: do not change it.

        `within` lets a subclass narrow its work to those documents; the result may then
        hold others too, so only its part inside `within` is meaningful.
        """
        if isinstance(query, wq.Term):
            return self.term(query.fieldname, query.text)
        if isinstance(query, wq.Or):
            return set().union(*(self.evaluate(child) for child in query.subqueries))
        if isinstance(query, wq.And):
            parts = sorted((self.evaluate(c) for c in query.subqueries), key=len)
            return parts[0].intersection(*parts[1:]) if parts else set()
        if isinstance(query, wq.Phrase):
            key = (query.fieldname, tuple(query.words))
            found = self._phrases.get(key)
            if found is None:
                found = self._phrases[key] = self._phrase(query)
            return found
        raise TypeError(f"cannot evaluate a {type(query).__name__} query")

    def _phrase(self, query: wq.Phrase) -> set[int]:
        # Checking reads each candidate's stored text: the result is kept for the search.
        candidates, certain = self.phrase_candidates(query)
        if certain:
            return candidates
        return {d for d in candidates if self._has_phrase(d, query.fieldname, query.words)}

    def phrase_candidates(self, query: wq.Phrase) -> tuple[set[int], bool]:
        """The documents that may hold the phrase, and whether they certainly do.

        Only documents with every rarer word, and (in the body) every pair of adjacent
        terms with a stop word in it, can hold the phrase. A stop word's own postings
        are long and narrow nothing: they are not read. A two-word phrase with a stop
        word is its pair: those documents hold it, no text needs reading.
        """
        kind, language = field_parts(query.fieldname)
        stop = term_maker(language).is_stop_term
        words = list(query.words)
        if kind == HEAD and len(words) > 1:
            # Every pair of adjacent head terms is indexed: the pairs alone narrow
            # (a two-word phrase is its pair), and a word's own postings are not read.
            pairs = [pair_term(a, b) for a, b in pairwise(words)]
            sets = [self.term(field_name(HEAD_PAIR, language), pair) for pair in pairs]
            sets.sort(key=len)
            return sets[0].intersection(*sets[1:]), len(words) == 2
        certain = False
        if kind == BODY:
            pairs = [pair_term(a, b) for a, b in pairwise(words) if stop(a) or stop(b)]
            if len(words) == 2 and pairs:
                # The pair *is* the phrase: its rarer word's postings add nothing.
                return set(self.term(field_name(PAIR, language), pairs[0])), True
            sets = [self.term(query.fieldname, w) for w in words if not stop(w)]
            sets += [self.term(field_name(PAIR, language), pair) for pair in pairs]
        else:
            sets = [self.term(query.fieldname, w) for w in words if not stop(w)]
        if not sets:  # a heading's phrase of stop words only: headings are short
            sets = [self.term(query.fieldname, w) for w in words]
        sets.sort(key=len)
        return (sets[0].intersection(*sets[1:]) if sets else set()), certain

    def _has_phrase(self, docnum: int, fieldname: str, words: list[str]) -> bool:
        """Does the field's stored text hold these terms next to each other?"""
        kind, language = field_parts(fieldname)
        text = self.searcher.stored_fields(docnum).get(STORED_TEXT[kind], "")
        terms = term_maker(language).terms(text, wanted=words)
        first, length, start = words[0], len(words), 0
        while True:  # list.index runs in C: most sections hold the first word rarely
            try:
                start = terms.index(first, start)
            except ValueError:
                return False
            if terms[start : start + length] == words:
                return True
            start += 1

    def top(self, query: wq.Query, candidates: set[int], limit: int) -> list[tuple[float, int]]:
        """The `limit` best (score, docnum) among `candidates`, best first.

        By BM25F; for a `Ranked` query, first the documents of the asker's language, then
        (for a long query that needs only some of its words) those that match more of
        them. Those two come before any score, so only the tiers that fill the page are
        scored: a question whose words are common matches most of the index, and scoring
        all of it cost more than the rest of the search.
        """
        first: set[int] | None = None
        matched: dict[int, int] = {}
        if isinstance(query, Ranked):
            if query.prefer and len(query.branches) > 1:
                first = self.evaluate(query.branches[query.prefer], candidates) & candidates
            clauses = [c for group in query.counted.values() for c in group]
            if clauses:
                matched = self._count_matches(clauses, candidates)
        pool = _tiers_to_fill(candidates, first, matched, limit)
        scores = self._scores(query, pool)
        best = heapq.nsmallest(
            limit,
            scores.items(),
            key=lambda item: (
                first is not None and item[0] not in first,
                -matched.get(item[0], 0),
                -item[1],
                item[0],
            ),
        )
        return [(score, docnum) for docnum, score in best]

    def _count_matches(self, clauses: list[wq.Query], candidates: set[int]) -> Counter[int]:
        """How many of the clauses each candidate matches: the rarest clauses first, for
        as long as `keep_counting` allows (forty common words are a million entries)."""
        matched: Counter[int] = Counter()
        parts = sorted((self.evaluate(clause, candidates) for clause in clauses), key=len)
        for part in parts:
            if not part:
                continue
            if matched and not self.keep_counting():
                break
            found = part & candidates
            self.counted += len(found)
            matched.update(found)
        return matched

    def keep_scoring(self) -> bool:
        """Whether ranking may read another term (a budget may say no)."""
        return True

    def keep_counting(self) -> bool:
        """Whether ranking may count the matches of another clause (likewise)."""
        return True

    def _scores(self, query: wq.Query, candidates: set[int]) -> dict[int, float]:
        scores: dict[int, float] = {}
        get = scores.get
        terms = [(f, t, b, self.postings(f, t)) for f, t, b in _leaf_terms(query)]
        # Rarest first: they weigh most (highest idf), and are cheapest to add up.
        terms.sort(key=lambda term: len(term[3][0]))
        started = False
        for fieldname, _text, boost, (ids, weights) in terms:
            if not ids:
                continue
            if started and not self.keep_scoring():
                break
            started = True
            idf = math.log(self._doc_count / (len(ids) + 1)) + 1
            factor = boost * idf * (K1 + 1)
            lengths, norm = self._lengths(fieldname)
            if len(candidates) * _LOOKUP_COST < len(ids):
                # Few candidates, long postings: find each candidate in the (sorted)
                # postings rather than walking them all.
                self.scored += len(candidates)
                size = len(ids)
                for docnum in candidates:
                    at = bisect_left(ids, docnum)
                    if at < size and ids[at] == docnum:
                        weight = weights[at]
                        scores[docnum] = get(docnum, 0.0) + factor * weight / (
                            weight + norm[lengths[docnum]]
                        )
                continue
            self.scored += len(ids)
            for docnum, weight in zip(ids, weights, strict=True):
                if docnum in candidates:
                    scores[docnum] = get(docnum, 0.0) + factor * weight / (
                        weight + norm[lengths[docnum]]
                    )
        for docnum in candidates - scores.keys():
            scores[docnum] = 0.0  # matched on nothing scored (a phrase of common words)
        return scores


# A binary search costs about this many steps of a walk through postings.
_LOOKUP_COST = 8


def _tiers_to_fill(
    candidates: set[int], first: set[int] | None, matched: dict[int, int], limit: int
) -> set[int]:
    """The candidates in the best tiers (asker's language first, then more words matched)
    that hold at least `limit` documents: no document outside them can reach the page,
    whatever its score. Each tier is read in C (`map`, `compress`): a question of common
    words has tens of thousands of candidates."""
    tiers = [candidates] if first is None else [first, candidates - first]
    pool: set[int] = set()
    for tier in tiers:
        need = limit - len(pool)
        if not matched or len(tier) <= need:
            pool |= tier
        else:
            members = list(tier)
            counts = list(map(matched.get, members, repeat(0)))
            # Whole levels of words matched, best first, until the page is full: every
            # member matching at least as many words as the need-th best.
            least = heapq.nlargest(need, counts)[-1]
            pool.update(compress(members, map(least.__le__, counts)))
        if len(pool) >= limit:
            break
    return pool


def _rare_words(query: wq.Phrase) -> list[str]:
    """A phrase's words, without the common ones unless it has nothing else."""
    _kind, language = field_parts(query.fieldname)
    maker = term_maker(language)
    rare = [w for w in query.words if not maker.is_stop_term(w)]
    return rare or list(query.words)


def _leaf_terms(query: wq.Query) -> Iterator[tuple[str, str, float]]:
    if isinstance(query, wq.Term):
        yield query.fieldname, query.text, query.boost
    elif isinstance(query, wq.Phrase):
        for word in _rare_words(query):
            yield query.fieldname, word, query.boost
    else:
        for child in query.children():
            yield from _leaf_terms(child)


def norm_table(reader: IndexReader, fieldname: str) -> list[float]:
    """K1 * (1 - B + B * length / average length) for each of Whoosh's 256 length bytes."""
    from whoosh.util.numeric import byte_to_length

    documents = reader.doc_count_all()
    average = (reader.field_length(fieldname) / documents if documents else 0.0) or 1.0
    return [K1 * (1 - B + B * byte_to_length(b) / average) for b in range(256)]


def length_bytes(reader: IndexReader, fieldname: str) -> bytes:
    """Each document's length in a field, as Whoosh stores it: one byte per document."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
    from whoosh.util.numeric import length_to_byte

    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is not None and perdoc.has_column(_lenfield(fieldname)):
        return bytes(perdoc.column_reader(_lenfield(fieldname), LENGTHS_COLUMN).load())
    return bytes(
        length_to_byte(reader.doc_field_length(d, fieldname, 0) or 0)
        for d in range(reader.doc_count_all())
    )
