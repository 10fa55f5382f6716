"""`SearchService`: the one object the server talks to.

One per process, closed when done with (its searchers hold the index files open). It
keeps one view of the index (`search_index.view.IndexView`) and makes a new one only
when the index changed, whichever process changed it: each search costs a `stat` of
CURRENT and a directory listing to find out. That check is all that runs under the
service's lock; the query itself runs outside it, on a searcher leased from the view,
so a slow search never holds up another one in the same process.

Each search has a time budget (`SEARCH_BUDGET`): checking phrases, the one part whose
cost grows with what was typed rather than with the index, stops when it is spent, and
the results found so far come back marked `cut_short`.

A search never raises for anything a user typed, and never for a missing, broken or
damaged index either: it answers `Status.REBUILDING` and, if a rebuild function was
registered with `ensure_ready`, starts a rebuild in the background. Damage is found by
the checksums recorded at each commit (`search_index.checksums`): checked when a
generation is opened, and a `stat` of each of its files before every search.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from whoosh import index
from whoosh.searching import Searcher

from search_index.analysis import primary_language, term_maker
from search_index.checksums import Checker, IndexDamaged, StatKey, unchanged
from search_index.documents import InvalidDocument, VersionDocs
from search_index.execution import (
    Budget,
    QueryRun,
    clean_facets,
    corrections,
    searchable_versions,
)
from search_index.location import IndexLocation, schema_matches
from search_index.query import UserQuery, compile_query, parse
from search_index.results import SearchResults, Status
from search_index.view import IndexView, SegmentCache, VersionMeta, ViewRetired
from search_index.writing import (
    IndexUpdate,
    Progress,
    build_index,
    file_storage,
    merge_small_segments,
    segment_count,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 10
MAX_PAGE_SIZE = 50
MAX_PAGE = 100
RETRY_REBUILD_AFTER = 60.0
# Seconds a search may spend checking phrases before it answers with what it found so
# far; what remains (ranking a page, snippets) keeps a whole search well under 0.1 s.
SEARCH_BUDGET = 0.05
# Segments that updates may leave before `merge_segments` merges the small ones: each
# is one more lexicon for every search to consult.
MAX_SEGMENTS = 6
# Looks for the current view when the index changes under a search, before giving up.
VIEW_ATTEMPTS = 3


class IndexBroken(RuntimeError):
    """The index folder exists but Whoosh cannot open it."""


# What a damaged or half-written index raises from Whoosh: its own errors, and the
# low-level ones of reading a truncated or garbled file.
INDEX_ERRORS: tuple[type[BaseException], ...] = (
    IndexBroken,
    IndexDamaged,
    index.IndexError,
    OSError,
    EOFError,
    pickle.UnpicklingError,
    struct.error,
    zlib.error,
    ValueError,
    KeyError,
    IndexError,
)
# What an update can raise short of a bug: a damaged index, its lock held too long by
# another process, or a document the index refuses.
UPDATE_ERRORS: tuple[type[BaseException], ...] = (*INDEX_ERRORS, index.LockError, InvalidDocument)
# What warming can meet besides those: the index replaced while it ran.
WARM_ERRORS: tuple[type[BaseException], ...] = (*INDEX_ERRORS, ViewRetired)


def open_index(folder: Path) -> index.FileIndex:
    """Open a Whoosh index, or raise IndexBroken.

    Whoosh leaves the table-of-contents file open when it cannot read it; the file is
    freed (and Python warns about it) when the error's traceback goes, which happens
    here, with that one warning silenced, rather than at some random later moment.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return file_storage(folder).open_index()
        except INDEX_ERRORS as exc:
            problem = f"{type(exc).__name__}: {exc}"
    raise IndexBroken(f"cannot open the search index in {folder}: {problem}")


class SearchService:
    """Search, keep up to date and rebuild the index in one search folder."""

    def __init__(
        self, root: Path, *, page_size: int = PAGE_SIZE, budget: float = SEARCH_BUDGET
    ) -> None:
        self.location = IndexLocation(root)
        self.page_size = page_size
        self.budget = budget
        self._lock = threading.RLock()
        self._ix: index.FileIndex | None = None
        self._view: IndexView | None = None
        self._segments = SegmentCache()
        self._stamp: tuple[int, int] | None = None
        self._checker = Checker()
        self._seen: dict[Path, StatKey] = {}
        self._failed_stamp: tuple[int, int] | None = None
        self._rebuilder: Callable[[], object] | None = None
        self._rebuild_thread: threading.Thread | None = None
        self._last_rebuild_start = 0.0

    # ----------------------------------------------------------------- reading

    def search(
        self,
        query: str,
        *,
        language: str = "en",
        visible_versions: frozenset[int] | None,
        facets: Mapping[str, str] | None = None,
        page: int = 1,
        page_size: int | None = None,
    ) -> SearchResults:
        """Search what the asking user may see.

        `visible_versions` is the set of course-version ids this user may open; None
        means no filter at all (admins), and only then are versions pending review found.
        `facets` narrows by "category", "course" (a course id) or "language". Never raises
        for anything typed: empty, junk or overlong queries come back with a status.
        """
        user = parse(query)
        size = max(1, min(int(page_size or self.page_size), MAX_PAGE_SIZE))
        page = max(1, min(int(page), MAX_PAGE))
        if not user.clauses:
            status = Status.JUNK if user.text else Status.EMPTY
            return SearchResults(status, user.text, page_size=size, truncated=user.truncated)
        selected = clean_facets(facets)
        for attempt in range(VIEW_ATTEMPTS):
            # Only finding the current view, a few `stat`s, runs under the lock.
            with self._lock:
                view = self._ready_view()
                if view is None:
                    return SearchResults(Status.REBUILDING, user.text, page_size=size)
                view.hold()
            try:
                with view.lease() as searcher:
                    return self._search(
                        view, searcher, user, language, visible_versions, selected, page, size
                    )  # fmt: skip
            except ViewRetired:
                # The index changed between finding the view and opening a searcher
                # of it: the second look finds the new one.
                if attempt == VIEW_ATTEMPTS - 1:
                    break
            except INDEX_ERRORS:
                log.exception("search index failed while searching; rebuilding it")
                with self._lock:
                    if self._view is view:
                        self._forget_view()
                    self._schedule_rebuild(force=True)
                break
        return SearchResults(Status.REBUILDING, user.text, page_size=size)

    def _search(
        self,
        view: IndexView,
        searcher: Searcher,
        user: UserQuery,
        language: str,
        visible_versions: frozenset[int] | None,
        selected: dict[str, str],
        page: int,
        size: int,
    ) -> SearchResults:
        versions = searchable_versions(view, visible_versions)
        # Only the words of versions this user may see (pending ones only for admins).
        vocabularies = view.vocabularies(versions)
        # The budget is the query's own: opening the view and building its tables, once
        # per generation, are not counted.
        budget = Budget(self.budget)
        compiled = compile_query(user, vocabularies, primary_language(language))
        asker = term_maker(primary_language(language))
        if compiled.query is None or all(asker(word) is None for word in user.words):
            return SearchResults(Status.JUNK, user.text, page_size=size, truncated=user.truncated)
        found = QueryRun(view, searcher, compiled, versions, selected, page, size, budget)
        suggestion, corrected = None, False
        replacements = corrections(compiled, vocabularies, language)
        if replacements and not budget.spent:
            suggested = user.replace_words(replacements)
            retry = compile_query(suggested, vocabularies, primary_language(language))
            if retry.query is not None:
                again = QueryRun(view, searcher, retry, versions, selected, page, size, budget)
                if again.total:
                    suggestion = suggested.text
                    if not found.total:
                        found, corrected = again, True
        return SearchResults(
            Status.OK,
            user.text,
            hits=tuple(found.hits()),
            total=found.total,
            page=page,
            page_size=size,
            facets=found.facets(),
            suggestion=suggestion,
            corrected=corrected,
            truncated=user.truncated,
            cut_short=budget.spent,
        )

    def indexed_versions(self) -> dict[int, VersionMeta] | None:
        """The versions the live index holds, or None when there is no usable index."""
        with self._lock:
            view = self._ready_view()
            return dict(view.versions) if view is not None else None

    @property
    def ready(self) -> bool:
        with self._lock:
            return self._ready_view() is not None

    def _ready_view(self) -> IndexView | None:
        """The shared view, reopened or refreshed if the index changed since."""
        stamp = self.location.stamp()
        if self._view is None and stamp is not None and stamp == self._failed_stamp:
            # Known broken until a rebuild replaces it: no need to check it all again.
            self._schedule_rebuild()
            return None
        try:
            if self._view is None or stamp != self._stamp:
                self._open(stamp)
            elif not self._view.searcher.up_to_date() or not unchanged(self._seen):
                self._reopen()
        except IndexDamaged as exc:
            log.error("search index damaged (%s); rebuilding it", exc)
            self._give_up(stamp)
        except INDEX_ERRORS:
            log.exception("search index cannot be opened; it needs a rebuild")
            self._give_up(stamp)
        return self._view

    def _give_up(self, stamp: tuple[int, int] | None) -> None:
        self._forget_view()
        self._failed_stamp = stamp
        self._schedule_rebuild()

    def _open(self, stamp: tuple[int, int] | None) -> None:
        self._forget_view()
        folder = self.location.current()
        if folder is None or not schema_matches(folder):
            if stamp is not None or folder is not None:
                log.warning("search index in %s is missing or outdated", self.location.root)
            self._schedule_rebuild()
            return
        self._view = self._checked_view(folder)
        self._stamp = stamp

    def _reopen(self) -> None:
        """A fresh, checked searcher on the same index, after a commit or a change to
        one of its files (which is damage unless a check of the checksums says not).

        Not `Searcher.refresh()`: in Whoosh 2.7 it reuses the old segment readers, whose
        deleted-document sets are stale (a replaced version would still be found), and it
        fails on an index that had no segment. Opening one is ≈ 15 ms on a warm index;
        the expensive per-segment tables are kept in the SegmentCache anyway.
        """
        assert self._ix is not None and self._view is not None
        old = self._view
        self._view = self._checked_view(Path(self._ix.storage.folder))
        old.retire()

    def _checked_view(self, folder: Path) -> IndexView:
        """A view of the newest generation, whose files match their checksums (checked
        before Whoosh reads any of them)."""
        with self.location.settled():
            seen = self._checker.verify(folder)
            if self._ix is None:
                self._ix = open_index(folder)
            ix = self._ix
            toc = ix._read_toc()
            searcher = _generation_searcher(ix, toc)
        self._seen = seen
        self._checker.forget(seen)

        def another() -> Searcher:
            """One more searcher of the view's generation. A newer commit may have
            deleted that generation's files: then the view is out of date, not broken."""
            with self.location.settled():
                try:
                    return _generation_searcher(ix, toc)
                except INDEX_ERRORS:
                    if ix.latest_generation() != toc.generation:
                        raise ViewRetired("the index changed") from None
                    raise

        return IndexView(searcher, self._segments, opener=another)

    def _forget_view(self) -> None:
        view, ix = self._view, self._ix
        self._view, self._ix, self._stamp, self._seen = None, None, None, {}
        if view is not None:
            try:
                view.retire()
            except INDEX_ERRORS:
                log.warning("closing a broken searcher failed", exc_info=True)
        if ix is not None:
            ix.close()

    # ----------------------------------------------------------------- writing

    def update(self, change: Callable[[IndexUpdate], None]) -> bool:
        """Run `change` on a writer of the live index and commit it, all under the write lock.

        Whatever `change` reads to decide what to write (the database, say) is read while
        no one else can write, so the last writer always acts on the newest state. Returns
        False, changing nothing, when there is no usable index: the rebuild that must
        follow reads everything anew anyway.
        """
        with self.location.write_lock():
            ix = self._open_current()
            if ix is None:
                return False
            try:
                _write(ix, change)
            finally:
                ix.close()
        return True

    def merge_segments(self, most: int = MAX_SEGMENTS) -> bool:
        """Merge the small segments that updates left (each update writes one and merges
        nothing) once there are more than `most`; True when it merged.

        For a quiet moment off the request path (the server's keeper calls it after each
        reconcile): a merge rewrites those segments, seconds for a few thousand sections,
        and holds the write lock meanwhile (searches go on, on the generation before).
        It is one ordinary commit, with its checksums recorded under the same lock.
        """
        with self.location.write_lock():
            ix = self._open_current()
            if ix is None:
                return False
            try:
                if segment_count(ix) <= most:
                    return False
                merge_small_segments(ix)
            finally:
                ix.close()
        return True

    def rebuild(
        self,
        versions: Iterable[VersionDocs],
        *,
        progress: Progress | None = None,
        catch_up: Callable[[IndexUpdate], None] | None = None,
    ) -> int:
        """Build a new index from `versions` in a new folder and swap it in atomically.

        `catch_up` runs on the new index under the write lock just before the swap: the
        place to apply whatever changed while the (long) build ran. Returns the number
        of documents written. The old folder is removed after a grace period.
        """
        folder = self.location.new_folder()
        try:
            count = build_index(folder, versions, progress)
            with self.location.write_lock():
                if catch_up is not None:
                    ix = open_index(folder)
                    try:
                        _write(ix, catch_up)
                    finally:
                        ix.close()
                self.location.swap(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.location.sweep()
        with self._lock:
            self._forget_view()
        return count

    # ------------------------------------------------------- start-up, recovery

    def ensure_ready(self, rebuild: Callable[[], object]) -> bool:
        """Remember how to rebuild; if the index is missing or broken, rebuild it now in a
        background thread. Returns True when the index is usable right away.

        `rebuild` must build the whole index (typically by calling `rebuild()` with every
        version from the database). While it runs, searches answer REBUILDING.
        """
        self._rebuilder = rebuild
        self.location.sweep()
        with self._lock:
            return self._ready_view() is not None

    def warm(self) -> None:
        """Build the per-generation tables now (spelling dictionaries, length norms), so
        that the first learner to search after a start does not wait for them."""
        with self._lock:
            view = self._ready_view()
            if view is None:
                return
            view.hold()
        try:
            with view.lease():
                view.vocabularies()
                for name in view.searcher.schema.names():
                    if name.startswith(("head_", "body_")):
                        view.lengths(name)
        except WARM_ERRORS:
            log.exception("warming the search index failed")

    def _schedule_rebuild(self, force: bool = False) -> None:
        """Start the registered rebuild in a thread, unless one runs or one just ran.

        `force`: the index opens but fails while searching, so opening is no proof that it
        works; only a rebuild by another process since then (a new CURRENT) is.
        """
        if self._rebuilder is None:
            return
        if self._rebuild_thread is not None and self._rebuild_thread.is_alive():
            return
        if time.monotonic() - self._last_rebuild_start < RETRY_REBUILD_AFTER:
            return
        self._last_rebuild_start = time.monotonic()
        self._rebuild_thread = threading.Thread(
            target=self._rebuild_in_background,
            args=(force, self.location.stamp()),
            name="search-rebuild",
            daemon=True,
        )
        self._rebuild_thread.start()

    def _rebuild_in_background(self, force: bool, stamp: tuple[int, int] | None) -> None:
        rebuilder = self._rebuilder
        assert rebuilder is not None
        try:
            # Worker processes that start together all find the index missing: the first
            # one rebuilds, the others wait here and then find it built.
            with self.location.rebuild_lock():
                rebuilt_meanwhile = self.location.stamp() != stamp
                if (rebuilt_meanwhile or not force) and self._usable_on_disk():
                    return
                log.warning("rebuilding the search index in %s", self.location.root)
                rebuilder()
                log.warning("search index rebuilt")
        except INDEX_ERRORS:
            log.exception("rebuilding the search index failed")
        finally:
            # Whatever happened, the index on disk deserves a fresh look.
            with self._lock:
                self._forget_view()
                self._failed_stamp = None

    def _open_current(self) -> index.FileIndex | None:
        """The live index, checked and opened; None when it is missing, of another schema,
        damaged or broken (logged). Call it holding the write lock or `settled()`."""
        folder = self.location.current()
        if folder is None or not schema_matches(folder):
            return None
        try:
            self._checker.verify(folder)
            return open_index(folder)
        except IndexDamaged as exc:
            log.error("the search index is damaged: %s", exc)
        except INDEX_ERRORS:
            log.exception("the search index in %s cannot be opened", folder)
        return None

    def _usable_on_disk(self) -> bool:
        with self.location.settled():
            ix = self._open_current()
            if ix is None:
                return False
            try:
                with ix.searcher() as searcher:
                    searcher.doc_count()
            except INDEX_ERRORS:
                return False
            finally:
                ix.close()
        return True

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Wait for a background rebuild to end; True when none is running."""
        thread = self._rebuild_thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def close(self) -> None:
        """Release the searcher and its open files (a running background rebuild finishes
        on its own)."""
        with self._lock:
            self._forget_view()

    def __enter__(self) -> SearchService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _generation_searcher(ix: index.FileIndex, toc: Any) -> Searcher:
    """A searcher of the generation `toc` describes (not whatever is newest by now), so
    that every searcher of a view sees the same documents under the same numbers."""
    reader = index.FileIndex._reader(ix.storage, toc.schema, list(toc.segments), toc.generation)
    return Searcher(reader, fromindex=ix)


def _write(ix: index.FileIndex, change: Callable[[IndexUpdate], None]) -> None:
    update = IndexUpdate(ix)
    try:
        change(update)
    except BaseException:
        update.cancel()
        raise
    update.commit()
