"""What a process knows about one index generation, computed once and shared by searches.

Opening the first Whoosh searcher of a generation costs ≈ 200 ms, so each process keeps
one view per generation and makes a new one only when the index changed. A view keeps
the tables that make visibility, facets, ranking and spelling cheap for that generation:

* which version each document belongs to (an array indexed by document number), and
  each version's course, category, language and review state;
* the set of document numbers a given set of visible versions allows, cached (learners
  of a facility mostly share the same few sets, so this is a small LRU);
* per segment, kept across refreshes in a `SegmentCache` (a segment never changes once
  written): the spelling dictionary of each language (with the versions holding each
  word, so that each search sees only its own versions' words) and each field's length
  bytes.
  After a course is published, only its small new segment is read.

Whoosh reads its files by `seek` then `read` on one shared file object, so a searcher
must not serve two searches at once. Each search therefore leases a searcher of the
view's generation from a small pool (`IndexView.lease`), opening another one when all
are busy: searches in threads never wait for one another, and a view replaced by a
newer generation is closed only when its last search has given its searcher back.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from functools import partial
from itertools import chain
from typing import Any, TypeVar

from whoosh.reading import IndexReader
from whoosh.searching import Searcher

from search_index.analysis import LANGUAGES
from search_index.docsets import length_bytes, norm_table, segment_postings
from search_index.schema import SPELL, field_name
from search_index.spelling import Vocabulary, WordCounts, word_counts

FILTER_CACHE_SIZE = 8
# Idle searchers a view keeps for later searches; more are opened when more searches run
# at once, and closed when given back.
IDLE_SEARCHERS = 4
T = TypeVar("T")


class ViewRetired(RuntimeError):
    """A searcher was asked of a view that is closed, or whose generation is gone."""


@dataclass(frozen=True)
class VersionMeta:
    """A course version as the index knows it (stored on its course document)."""

    version_id: int
    course_id: str
    course_title: str
    category: str
    language: str
    pending: bool
    publisher: str

    def as_stored(self) -> tuple[Any, ...]:
        return astuple(self)

    @classmethod
    def from_stored(cls, stored: Any) -> VersionMeta:
        version_id, course_id, title, category, language, pending, publisher = stored
        return cls(
            int(version_id), str(course_id), str(title), str(category), str(language),
            bool(pending), str(publisher),
        )  # fmt: skip


SegmentVersions = list[tuple[VersionMeta, list[int]]]


def segment_versions(reader: IndexReader) -> SegmentVersions:
    """The versions in one segment and their document numbers, deleted ones included.

    Deletions are the only thing about a segment that changes, so this is computed once
    per segment and the deleted documents are taken out per generation.
    """
    found: SegmentVersions = []
    for term in reader.lexicon("version"):
        ids = segment_postings(reader, "version", term.decode("ascii"))[0]
        if ids:
            stored = reader.stored_fields(ids[0])
            if "course" in stored:
                found.append((VersionMeta.from_stored(stored["course"]), ids))
    return found


def segment_id(reader: IndexReader) -> str:
    """A segment's unique id ("" for the reader of an index with no segment at all)."""
    segment = reader.segment()
    return str(segment.segment_id()) if segment is not None else ""


def live_versions(
    reader: IndexReader, cache: SegmentCache | None = None
) -> Iterator[tuple[VersionMeta, list[int]]]:
    """Every version in the index with its live (undeleted) document numbers."""
    for leaf, offset in reader.leaf_readers():
        deleted = leaf.deleted_docs_set if leaf.has_deletions() else frozenset()
        table = (
            cache.get(segment_id(leaf), "versions", partial(segment_versions, leaf))
            if cache is not None
            else segment_versions(leaf)
        )
        for meta, ids in table:
            live = [d for d in ids if d not in deleted] if deleted else ids
            if live:
                yield meta, [d + offset for d in live] if offset else live


def read_versions(reader: IndexReader) -> Iterator[VersionMeta]:
    """Every version in the index, read from its course document."""
    for meta, _ids in live_versions(reader):
        yield meta


class SegmentCache:
    """Tables computed from one segment, kept for as long as the segment is in the index."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, segment: str, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if (segment, name) in self._items:
                found: T = self._items[(segment, name)]
                return found
        value = build()
        with self._lock:
            self._items[(segment, name)] = value
        return value

    def keep_only(self, segments: set[str]) -> None:
        """Forget the tables of segments that merges or a rebuild removed."""
        with self._lock:
            for key in [k for k in self._items if k[0] not in segments]:
                del self._items[key]


class IndexView:
    """One generation's searchers plus the per-generation tables derived from them.

    `searcher` is the one the view was made with; it builds the tables (under a lock)
    and is lent to searches only when no `opener` of more searchers was given.
    """

    def __init__(
        self,
        searcher: Searcher,
        cache: SegmentCache | None = None,
        opener: Callable[[], Searcher] | None = None,
    ) -> None:
        self.searcher = searcher
        self._opener = opener
        self._cache = cache or SegmentCache()
        reader = searcher.reader()
        self._leaves = [(leaf, offset, segment_id(leaf)) for leaf, offset in reader.leaf_readers()]
        self._cache.keep_only({segment for _, _, segment in self._leaves})
        self.versions: dict[int, VersionMeta] = {}
        self._docs: dict[int, range | array[int]] = {}
        self.doc_version = array("l", bytes(8 * reader.doc_count_all()))
        for meta, ids in live_versions(reader, self._cache):
            version_id = meta.version_id
            self.versions[version_id] = meta
            # A version's documents are written together, so they are usually one run
            # of document numbers; a range costs nothing to keep.
            if ids[-1] - ids[0] + 1 == len(ids):
                self._docs[version_id] = range(ids[0], ids[-1] + 1)
                self.doc_version[ids[0] : ids[-1] + 1] = array("l", [version_id]) * len(ids)
            else:
                self._docs[version_id] = array("l", ids)
                for docnum in ids:
                    self.doc_version[docnum] = version_id
        self._filters: OrderedDict[frozenset[int], set[int]] = OrderedDict()
        self._lengths: dict[str, tuple[bytes, list[float]]] = {}
        self._spelling: dict[str, list[WordCounts]] = {}
        self._lock = threading.Lock()
        # Held while `searcher` reads (table building, or a search when there is no
        # opener); reentrant because a search that holds it may build a table.
        self._primary = threading.RLock()
        self._idle: list[Searcher] = []
        self._leases = 0
        self._retired = False

    # ------------------------------------------------------------- searchers

    def hold(self) -> None:
        """Count one more search on this view, so that `retire` waits for it; cheap,
        made under the caller's lock. Pair it with `lease` (which releases it)."""
        with self._lock:
            if self._retired:
                raise ViewRetired("this index view was closed")
            self._leases += 1

    @contextmanager
    def lease(self) -> Iterator[Searcher]:
        """A searcher of this generation that no other search uses until it is given back.

        Call `hold()` first. Raises ViewRetired when a new searcher cannot be opened
        because the generation was replaced meanwhile (the caller should look again).
        """
        try:
            if self._opener is None:
                with self._primary:
                    yield self.searcher
                return
            with self._lock:
                searcher = self._idle.pop() if self._idle else None
            if searcher is None:
                searcher = self._opener()
            try:
                yield searcher
            finally:
                with self._lock:
                    keep = not self._retired and len(self._idle) < IDLE_SEARCHERS
                    if keep:
                        self._idle.append(searcher)
                if not keep:
                    searcher.close()
        finally:
            with self._lock:
                self._leases -= 1
                last = self._retired and self._leases == 0
            if last:
                self._close_all()

    def retire(self) -> None:
        """Close the view's searchers now, or when the last running search ends."""
        with self._lock:
            if self._retired:
                return
            self._retired = True
            now = self._leases == 0
        if now:
            self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for searcher in [*idle, self.searcher]:
            searcher.close()

    # ---------------------------------------------------------------- tables

    def allowed_docs(self, versions: Iterable[int]) -> set[int]:
        """The document numbers of these versions (cached per distinct set of versions).

        Callers must not change the set: it is shared with later searches.
        """
        key = frozenset(v for v in versions if v in self._docs)
        with self._lock:
            found = self._filters.get(key)
            if found is not None:
                self._filters.move_to_end(key)
                return found
        docs = set(chain.from_iterable(self._docs[v] for v in key))
        with self._lock:
            self._filters[key] = docs
            while len(self._filters) > FILTER_CACHE_SIZE:
                self._filters.popitem(last=False)
        return docs

    def lengths(self, fieldname: str) -> tuple[bytes, list[float]]:
        """(length byte of each document, BM25 norm of each length byte) for a field."""
        found = self._lengths.get(fieldname)
        if found is not None:
            return found
        with self._primary:
            found = self._lengths.get(fieldname)
            if found is not None:
                return found
            parts = [
                self._cache.get(segment, f"len:{fieldname}", partial(length_bytes, leaf, fieldname))
                for leaf, _offset, segment in self._leaves
            ]
            table = norm_table(self.searcher.reader(), fieldname)
            found = self._lengths[fieldname] = (b"".join(parts), table)
        return found

    def _spelling_parts(self, language: str) -> list[WordCounts]:
        """Each segment's spelling dictionary of a language (cached per segment)."""
        found = self._spelling.get(language)
        if found is not None:
            return found
        with self._primary:  # reads the shared searcher's files
            found = self._spelling.get(language)
            if found is not None:
                return found
            fieldname = field_name(SPELL, language)
            found = self._spelling[language] = [
                self._cache.get(
                    segment,
                    f"spell:{language}",
                    partial(self._read_spelling, leaf, segment, fieldname),
                )
                for leaf, _offset, segment in self._leaves
            ]
        return found

    def _read_spelling(self, leaf: IndexReader, segment: str, fieldname: str) -> WordCounts:
        table = self._cache.get(segment, "versions", partial(segment_versions, leaf))
        doc_versions = {docnum: meta.version_id for meta, ids in table for docnum in ids}
        return word_counts(leaf, fieldname, doc_versions)

    def vocabulary(self, language: str, versions: frozenset[int] | None = None) -> Vocabulary:
        """The spelling dictionary of a language as these versions see it (None: every
        version the index holds, pending ones too, as an admin sees it)."""
        visible = frozenset(self.versions) if versions is None else versions
        return Vocabulary(self._spelling_parts(language), visible)

    def vocabularies(self, versions: frozenset[int] | None = None) -> dict[str, Vocabulary]:
        return {language: self.vocabulary(language, versions) for language in LANGUAGES}
