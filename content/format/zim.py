"""Reference collections: ZIM files (Kiwix/openZIM), read with libzim.

This is the only module that imports libzim. A ZIM file is never unpacked: a package
carries it whole (a media file of its own kind), the import hashes it into the content
store like a video, and the server reads articles, pictures, metadata and its own search
indexes (Xapian) straight from the stored file.

Nothing read here is trusted: an article's HTML goes through ``content.format.zimhtml``
before anyone sees it; of its other files only pictures are ever served (raster ones,
and SVG drawings that pass ``content.format.svg``'s check).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libzim.reader import Archive
from libzim.search import Query, Searcher
from libzim.suggestion import SuggestionSearcher

from content.errors import ContentError

ZIM_MAGIC = b"ZIM\x04"
ZIM_MEDIA_TYPE = "application/x-zim"
# An article bigger than this is not shown (the lesson file limit).
MAX_ARTICLE_BYTES = 4 * 1024 * 1024
# A picture bigger than this is not served.
MAX_PICTURE_BYTES = 16 * 1024 * 1024
# Metadata texts are cut to these lengths.
_TITLE_CHARS = 200
_DESCRIPTION_CHARS = 2_000
# Redirects followed at most (a ZIM may hold a loop).
_MAX_REDIRECTS = 10
# A sample of articles looks at most this many entries per article it wants.
_SCAN_PER_ARTICLE = 50
# The search and suggestions never answer with more than this many hits.
MAX_HITS = 50


@dataclass(frozen=True)
class ZimInfo:
    """What a reviewer and the Library show of a collection: its own metadata."""

    title: str
    language: str
    description: str
    article_count: int
    has_fulltext: bool
    main_path: str


@dataclass(frozen=True)
class ZimEntry:
    """One article or file of a collection, redirects followed."""

    path: str
    title: str
    media_type: str
    size: int

    @property
    def is_article(self) -> bool:
        """HTML: shown as a page (after sanitizing)."""
        return self.media_type.split(";")[0].strip() == "text/html"


@dataclass(frozen=True)
class ZimHit:
    """One search or suggestion hit: the article's path and title."""

    path: str
    title: str


def _metadata(archive: Archive, key: str, limit: int) -> str:
    if key not in archive.metadata_keys:
        return ""
    raw = bytes(archive.get_metadata(key))[: limit * 4]
    return " ".join(raw.decode("utf-8", errors="replace").split())[:limit]


def open_archive(path: Path, name: str = "") -> Archive:
    """Open a ZIM file; a file libzim cannot read raises :class:`ContentError`."""
    try:
        with path.open("rb") as stream:
            head = stream.read(len(ZIM_MAGIC))
        if head != ZIM_MAGIC:
            raise ContentError("not a ZIM file (its first bytes are not the ZIM mark)", name)
        return Archive(str(path))
    except ContentError:
        raise
    except (RuntimeError, OSError, ValueError) as exc:
        raise ContentError(f"the ZIM file cannot be read: {exc}", name) from exc


def read_info(path: Path, name: str = "") -> ZimInfo:
    """The metadata of the ZIM at ``path``; refuses (ContentError) a file libzim cannot
    open, or one with no main page."""
    archive = open_archive(path, name)
    try:
        main_path = archive.main_entry.get_item().path if archive.has_main_entry else ""
        count = int(archive.article_count)
        fulltext = bool(archive.has_fulltext_index)
    except (RuntimeError, KeyError) as exc:
        raise ContentError(f"the ZIM file cannot be read: {exc}", name) from exc
    if not main_path:
        raise ContentError("the ZIM file has no main page; make it with one", name)
    return ZimInfo(
        title=_metadata(archive, "Title", _TITLE_CHARS),
        language=_metadata(archive, "Language", 20),
        description=_metadata(archive, "Description", _DESCRIPTION_CHARS),
        article_count=count,
        has_fulltext=fulltext,
        main_path=main_path,
    )


class Collection:
    """An open ZIM file: entries by path, HTML articles, pictures, search, suggestions."""

    def __init__(self, path: Path):
        self._archive = open_archive(path, path.name)
        # libzim's archive is safe to share. A searcher opens the ZIM's Xapian databases
        # on its first question, which costs more than a question itself: one of each
        # kind is kept, and used by one thread at a time (Xapian's are not thread-safe).
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._suggester: SuggestionSearcher | None = None

    def entry(self, path: str) -> ZimEntry | None:
        """The entry at ``path`` (redirects followed), or None."""
        item = self._item(path)
        if item is None:
            return None
        return ZimEntry(item.path, item.title, str(item.mimetype), int(item.size))

    def _item(self, path: str) -> Any:
        try:
            if not path or not self._archive.has_entry_by_path(path):
                return None
            entry = self._archive.get_entry_by_path(path)
            for _ in range(_MAX_REDIRECTS):
                if not entry.is_redirect:
                    return entry.get_item()
                entry = entry.get_redirect_entry()
        except (RuntimeError, KeyError):
            return None
        return None

    def content(self, path: str, limit: int) -> bytes | None:
        """The bytes of the entry at ``path`` (redirects followed) when at most ``limit``."""
        item = self._item(path)
        if item is None or int(item.size) > limit:
            return None
        try:
            return bytes(item.content)
        except RuntimeError:
            return None

    def articles(self, limit: int) -> Iterator[ZimEntry]:
        """The first ``limit`` HTML articles, in the ZIM's own order (a bounded sample:
        at most ``_SCAN_PER_ARTICLE`` entries looked at per article wanted, so a ZIM whose
        first million entries are pictures does not hold an import up)."""
        seen = 0
        total = min(int(self._archive.all_entry_count), limit * _SCAN_PER_ARTICLE)
        for index in range(total):
            if seen >= limit:
                return
            try:
                entry = self._archive._get_entry_by_id(index)
                if entry.is_redirect:
                    continue
                item = entry.get_item()
            except (RuntimeError, KeyError):
                continue
            found = ZimEntry(item.path, item.title, str(item.mimetype), int(item.size))
            if found.is_article:
                seen += 1
                yield found

    def search(self, text: str, limit: int) -> list[ZimHit] | None:
        """Full-text hits (the ZIM's Xapian index), or None when the ZIM has none."""
        if not self._archive.has_fulltext_index:
            return None
        try:
            with self._lock:
                if self._searcher is None:
                    self._searcher = Searcher(self._archive)
                found = self._searcher.search(Query().set_query(text))
                paths = list(found.getResults(0, min(limit, MAX_HITS)))
        except RuntimeError:
            return []
        return self._hits(paths)

    def suggest(self, text: str, limit: int) -> list[ZimHit]:
        """Titles that start with or contain ``text`` (the ZIM's title index)."""
        try:
            with self._lock:
                if self._suggester is None:
                    self._suggester = SuggestionSearcher(self._archive)
                found = self._suggester.suggest(text)
                paths = list(found.getResults(0, min(limit, MAX_HITS)))
        except RuntimeError:
            return []
        return self._hits(paths)

    def _hits(self, paths: list[str]) -> list[ZimHit]:
        hits = []
        for path in paths:
            entry = self.entry(str(path))
            if entry is not None and entry.is_article:
                hits.append(ZimHit(str(path), entry.title or str(path)))
        return hits


class CollectionCache:
    """A few open collections, by the stored file's path: opening a big ZIM reads its
    directory, so a server keeps the ones learners read open."""

    def __init__(self, size: int = 8):
        self.size = size
        self._open: OrderedDict[str, Collection] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> Collection:
        key = str(path)
        with self._lock:
            found = self._open.get(key)
            if found is not None:
                self._open.move_to_end(key)
                return found
        collection = Collection(path)
        with self._lock:
            self._open[key] = collection
            while len(self._open) > self.size:
                self._open.popitem(last=False)
        return collection
