"""Search, wired to the catalog: which versions belong in the index, and their documents.

The index holds every version that someone may find: the live version of each course
that is not pulled (what learners and educators see), and versions waiting for review
(only admins see those, marked). `SearchIndexer` keeps it that way:

* the catalog's hooks (`published`, `withdrawn`) re-sync the course at once, in the
  same request that changed it, so search never shows a course learners can no longer
  open;
* `reconcile()` compares the whole index with the database and fixes any difference:
  a pending import or a rejection (no hook fires for those), or a hook lost to a crash.
  The server runs it at start-up and then every minute; it costs one query when
  nothing changed;
* `rebuild()` builds everything anew (`stepstone search rebuild`, or at start-up when
  the index is missing or broken).

What each user may see is still decided per search by `visible_versions`: the index
being right is the second line of defence, not the first.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from content.format.lessondata import (
    CourseInfo,
    ManifestLesson,
    stored_lesson_data,
    stored_manifest,
)
from content.importing.store import ContentStore
from search_index import (
    UPDATE_ERRORS,
    IndexUpdate,
    InvalidDocument,
    Part,
    SearchService,
    Section,
    VersionDocs,
)
from server.catalog.library import CatalogHooks
from server.catalog.sync import content_store
from server.core.db import Database
from server.core.settings import Settings

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 60.0
MAX_CAPTIONS_BYTES = 10 * 1024 * 1024
_INDEXABLE = (
    "SELECT v.id, v.status = 'pending' AS pending, c.course_id FROM course_versions v"
    " JOIN courses c ON c.id = v.course_pk WHERE c.pulled_at IS NULL"
    " AND (v.status = 'pending' OR (v.id = c.live_version_id AND v.status = 'approved'))"
)


def search_root(settings: Settings) -> Path:
    return settings.data_dir / "search"


def indexable_versions(database: Database, course_id: str | None = None) -> dict[int, bool]:
    """version id -> pending, for every version that belongs in the index."""
    if course_id is None:
        rows = database.query(_INDEXABLE)
    else:
        rows = database.query(_INDEXABLE + " AND c.course_id = ?", [course_id])
    return {int(row["id"]): bool(row["pending"]) for row in rows}


def live_versions(database: Database) -> frozenset[int]:
    """The live, unpulled versions: what a learner may see before assignment rules."""
    return frozenset(v for v, pending in indexable_versions(database).items() if not pending)


# ------------------------------------------------------------------ documents


_CUE_TIMING = re.compile(r"^\s*(\d+:)?\d+:\d+\.\d+\s+-->")
_TAG = re.compile(r"<[^>]*>")


def captions_text(vtt: str) -> str:
    """The spoken text of a WebVTT file: no header, cue ids, timings, notes or tags."""
    lines: list[str] = []
    blocks = re.split(r"\n\s*\n", vtt.replace("\r\n", "\n").replace("\r", "\n"))
    for block in (
        blocks[1:] if blocks and blocks[0].lstrip("\ufeff").startswith("WEBVTT") else blocks
    ):
        rows = block.strip("\n").split("\n")
        if not rows or rows[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        timing = next((i for i, row in enumerate(rows) if _CUE_TIMING.match(row)), None)
        if timing is None:
            continue
        for row in rows[timing + 1 :]:
            text = html.unescape(_TAG.sub("", row)).strip()
            if text:
                lines.append(text)
    return "\n".join(lines)


def lesson_sections(
    lesson: ManifestLesson, read_text: Callable[[str], str | None]
) -> Iterator[Section]:
    """The searchable parts of one lesson, from its manifest entry.

    Quiz questions give their prompt and choices, never which choice is right, the
    accepted answers or the explanations; workbook prompts give the prompt and its
    helper text. Learners' answers live in other tables and are never read here.
    """
    key, title, data = lesson.key, lesson.title, lesson.data
    for number, section in enumerate(data.sections):
        text = section.text
        if number == 0 and data.summary:
            text = f"{data.summary}\n{text}"
        yield Section(key, title, section.heading, text, section.anchor)
    for caption in data.captions:
        vtt = read_text(caption.src)
        if vtt:
            yield Section(
                key, title, caption.label, captions_text(vtt), part=Part.CAPTIONS,
                language=caption.language or None,
            )  # fmt: skip
    for question in data.questions:
        choices = [c.text for c in question.choices]
        yield Section(
            key, title, title, "\n".join([question.prompt, *choices]),
            part=Part.QUESTION, item_key=question.key,
        )  # fmt: skip
    for prompt in data.prompts:
        helpers = [prompt.hint, prompt.min_label, prompt.max_label]
        yield Section(
            key, title, title, "\n".join([prompt.prompt, *helpers, *prompt.options]),
            part=Part.PROMPT, item_key=prompt.key,
        )  # fmt: skip


def version_docs(
    version_id: int,
    course: CourseInfo,
    lessons: Sequence[ManifestLesson],
    read_text: Callable[[str], str | None],
    *,
    pending: bool = False,
    publisher: str = "",
) -> VersionDocs:
    """A course version as the index wants it, from manifest-shaped course and lessons."""
    sections = [s for lesson in lessons for s in lesson_sections(lesson, read_text)]
    return VersionDocs(
        version_id=version_id,
        course_id=course.id,
        course_title=course.title,
        category=course.category,
        language=course.language,
        sections=sections,
        course_summary=course.summary,
        keywords=course.keywords,
        pending=pending,
        publisher=publisher,
    )


def load_version_docs(database: Database, store: ContentStore, version_id: int) -> VersionDocs:
    """Read one version's documents from the database and the content store."""
    row = database.query_one(
        "SELECT v.id, v.status, v.manifest, c.course_id, p.name AS publisher"
        " FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " JOIN publishers p ON p.id = c.publisher_id WHERE v.id = ?",
        [version_id],
    )
    if row is None:
        raise InvalidDocument(f"there is no course version {version_id}")
    course = stored_manifest(row["manifest"]).course
    lessons = [
        ManifestLesson(r["key"], r["title"], r["kind"], "", stored_lesson_data(r["data"]))
        for r in database.query(
            "SELECT key, title, kind, data FROM lessons WHERE version_id = ? ORDER BY position",
            [version_id],
        )
    ]

    def read_text(path: str) -> str | None:
        asset = database.query_one(
            "SELECT sha256, size FROM assets WHERE version_id = ? AND path = ?", [version_id, path]
        )
        if asset is None or asset["size"] > MAX_CAPTIONS_BYTES:
            return None
        return store.path_for(asset["sha256"]).read_bytes().decode("utf-8", "replace")

    return version_docs(
        version_id,
        dataclasses.replace(course, id=row["course_id"]),
        lessons,
        read_text,
        pending=row["status"] == "pending",
        publisher=row["publisher"],
    )


# ----------------------------------------------------------------- keeping in step


class SearchIndexer:
    """Keeps one search index in step with one database."""

    def __init__(self, database: Database, store: ContentStore, service: SearchService) -> None:
        self.database, self.store, self.service = database, store, service

    def hooks(self) -> CatalogHooks:
        """Catalog hooks that re-sync a course the moment its live content changes."""
        return CatalogHooks(published=[self.version_changed], withdrawn=[self.course_changed])

    def version_changed(self, version_id: int) -> None:
        row = self.database.query_one(
            "SELECT c.course_id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
            " WHERE v.id = ?",
            [version_id],
        )
        if row is not None:
            self.course_changed(row["course_id"])

    def course_changed(self, course_id: str) -> None:
        """Make the index hold exactly what the database says of this course."""
        self._update(course_id)

    def reconcile(self) -> bool:
        """Fix every difference between the index and the database; True if it wrote."""
        indexed = self.service.indexed_versions()
        if indexed is None:
            return False
        desired = indexable_versions(self.database)
        if {v: m.pending for v, m in indexed.items()} == desired:
            return False
        return self._update(None)

    def _update(self, course_id: str | None) -> bool:
        try:
            return self.service.update(lambda update: self._apply(update, course_id))
        except UPDATE_ERRORS:
            # The catalog change is committed: failing it now would only hide that. The
            # minute's reconcile retries; visibility is still enforced per search.
            log.exception("search index not updated for %s", course_id or "all courses")
            return False

    def _apply(self, update: IndexUpdate, course_id: str | None) -> None:
        desired = indexable_versions(self.database, course_id)
        indexed = {
            v: meta
            for v, meta in update.indexed_versions().items()
            if course_id is None or meta.course_id == course_id
        }
        for version_id, meta in indexed.items():
            if desired.get(version_id) != meta.pending:
                update.remove(version_id)
        for version_id, pending in desired.items():
            held = indexed.get(version_id)
            if held is None or held.pending != pending:
                update.add(load_version_docs(self.database, self.store, version_id))

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Build the whole index anew from the database; returns the documents written."""
        wanted = sorted(indexable_versions(self.database))
        documents = (load_version_docs(self.database, self.store, v) for v in wanted)
        return self.service.rebuild(
            documents, progress=progress, catch_up=lambda update: self._apply(update, None)
        )

    def section_count(self) -> int:
        """Roughly how many documents a rebuild writes (for a progress bar)."""
        total = 0
        for version_id in indexable_versions(self.database):
            for row in self.database.query(
                "SELECT data FROM lessons WHERE version_id = ?", [version_id]
            ):
                data = stored_lesson_data(row["data"])
                total += len(data.sections) + len(data.captions)
                total += len(data.questions) + len(data.prompts)
            total += 1
        return total


def search_indexer(settings: Settings, database: Database) -> SearchIndexer:
    """The search service of a data folder, wired to its database and content store."""
    return SearchIndexer(database, content_store(settings), SearchService(search_root(settings)))


def search_hooks(settings: Settings, database: Database) -> CatalogHooks:
    """Catalog hooks for a command-line process (sync, demo): index what it publishes."""
    return search_indexer(settings, database).hooks()


class SearchKeeper:
    """The server's background care of the index: rebuild when needed, reconcile often."""

    def __init__(self, indexer: SearchIndexer, interval: float = RECONCILE_SECONDS) -> None:
        self.indexer, self.interval = indexer, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Never blocks start-up: a missing or broken index is rebuilt in the background."""
        self.indexer.service.ensure_ready(self.indexer.rebuild)
        self._thread = threading.Thread(target=self._run, name="search-keeper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.indexer.service.warm()
        while True:
            try:
                self.indexer.reconcile()
                # Publishes add a small segment each; merge them here, never in a request.
                self.indexer.service.merge_segments()
            except UPDATE_ERRORS:
                log.exception("search reconcile failed")
            if self._stop.wait(self.interval):
                return

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.indexer.service.wait_until_idle(timeout)
        self.indexer.service.close()
