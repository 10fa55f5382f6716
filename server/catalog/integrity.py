"""Is every file a course needs still in the content store, whole and unchanged?

The store names each blob by its SHA-256, so checking a blob is re-hashing it. Drift comes
from outside Stepstone: a failing disk, a restore from an incomplete backup, someone
editing files by hand. Imports never leave a partial blob (see ``content.importing.store``), so a
blob that does not match its name is news an admin must hear about.

:class:`StoreCheck` compares the store with every blob the database refers to — lesson
HTML and media of every course version still recorded, live or not, because an admin
can roll back to any approved version. `stepstone content verify` runs it; the admin
health page can too. :func:`collect_garbage` removes blobs nothing refers to, and only
when that cannot race an import.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from content.format.lessondata import stored_manifest
from content.importing.store import ContentStore
from content.package.packfile import read_member
from server.catalog import teacher_files
from server.core import clock
from server.core.db import Database
from server.core.errors import ValidationError
from server.people import audit
from server.people.audit import Actor

_CHUNK = 1024 * 1024
# Hashing releases the GIL, so two threads keep both cores (or the disk) busy.
_HASH_THREADS = 2
GC_MIN_AGE_SECONDS = 3600
# A sync run still marked "running" after this long was interrupted (killed, power cut):
# a whole sync is bounded by the download timeout and the package size limit.
STALE_RUN = timedelta(hours=24)


@dataclass(frozen=True)
class BlobRef:
    """One database row that needs a blob: a lesson's HTML or a media file of a version."""

    course_id: str
    version: int
    status: str
    live: bool
    path: str  # the package path, e.g. media/pic.png or lessons/intro.html
    sha256: str
    size: int | None  # recorded for media; lesson HTML is sanitized at import, no size kept
    # A small app file is `size` bytes at `pack_offset` of the pack blob `pack_sha256`.
    pack_sha256: str | None = None
    pack_offset: int | None = None

    @property
    def blob(self) -> str:
        """The digest of the blob that holds the file: its own, or its pack's."""
        return self.pack_sha256 if self.pack_sha256 is not None else self.sha256

    @property
    def version_label(self) -> str:
        """How the course version is named in a report line."""
        live = ", live" if self.live else ""
        return f"{self.course_id} v{self.version} ({self.status}{live})"


@dataclass(frozen=True)
class _Found:
    """What the store holds under one digest."""

    exists: bool
    regular: bool = True
    size: int = 0
    sha256: str = ""


@dataclass(frozen=True)
class Drift:
    """A referenced blob that is not as the database expects."""

    ref: BlobRef
    problem: str  # missing | not-a-file | wrong-size | cut-short | changed | bad-digest
    found_size: int | None = None
    found_sha256: str | None = None

    @property
    def message(self) -> str:
        """One sentence for the admin; the full digest is the blob's file name in the store
        and in a backup of it."""
        blob = f"(blob {self.ref.sha256})"
        if self.ref.pack_sha256 is not None:
            blob = f"(in pack blob {self.ref.pack_sha256}, at byte {self.ref.pack_offset:,})"
        if self.problem == "missing":
            return f"missing from the store {blob}"
        if self.problem == "not-a-file":
            return f"not a regular file in the store {blob}"
        if self.problem == "bad-digest":
            return f"the database holds an invalid SHA-256 ({self.ref.sha256[:80]!r})"
        if self.problem == "cut-short":
            return f"the pack ends before this file's bytes {blob}"
        if self.problem == "wrong-size":
            return (
                f"wrong size: {self.found_size:,} bytes in the store, {self.ref.size:,} "
                f"expected {blob}"
            )
        return f"changed bytes: now hashes to {(self.found_sha256 or '')[:12]}… {blob}"


@dataclass(frozen=True)
class Orphan:
    """A blob in the store that no database row refers to."""

    sha256: str
    size: int
    intact: bool  # its bytes still match its name


@dataclass
class StoreReport:
    """The outcome of one :class:`StoreCheck`."""

    versions: int
    blobs: int
    bytes_checked: int
    drift: list[Drift] = field(default_factory=list)
    orphans: list[Orphan] | None = None  # None: unreferenced blobs were not checked

    @property
    def damaged_orphans(self) -> list[Orphan]:
        """Unreferenced blobs whose bytes no longer match their name (a disk problem)."""
        return [o for o in self.orphans or [] if not o.intact]

    @property
    def ok(self) -> bool:
        """True when every checked blob is whole and unchanged."""
        return not self.drift and not self.damaged_orphans

    def drift_by_version(self) -> dict[str, list[Drift]]:
        """Problems grouped by course version label, in course and version order."""
        grouped: dict[str, list[Drift]] = {}
        for item in self.drift:
            grouped.setdefault(item.ref.version_label, []).append(item)
        return grouped


def blob_references(database: Database) -> list[BlobRef]:
    """Every (course version, file) → blob the database records, in course order."""
    versions = database.query(
        "SELECT v.id, c.course_id, v.version, v.status, c.live_version_id = v.id AS live,"
        " v.manifest FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " ORDER BY c.course_id, v.version"
    )
    refs: list[BlobRef] = []
    for row in versions:
        head = (row["course_id"], row["version"], row["status"], bool(row["live"]))
        html_paths = _lesson_html_paths(row["manifest"])
        for lesson in database.query(
            "SELECT key, html_sha256 FROM lessons WHERE version_id = ? AND html_sha256"
            " IS NOT NULL ORDER BY position",
            [row["id"]],
        ):
            path = html_paths.get(lesson["key"], f"lesson {lesson['key']}")
            refs.append(BlobRef(*head, path, lesson["html_sha256"], None))
        for asset in database.query(
            "SELECT path, sha256, size, pack_sha256, pack_offset FROM assets"
            " WHERE version_id = ? ORDER BY path",
            [row["id"]],
        ):
            refs.append(BlobRef(*head, *asset))
    return refs


def _lesson_html_paths(manifest: str) -> dict[str, str]:
    """Lesson key → its HTML's path in the package (for report lines an admin recognises)."""
    lessons = stored_manifest(manifest).lessons
    return {lesson.key: lesson.html for lesson in lessons if lesson.key and lesson.html}


class StoreCheck:
    """One check of the store against the database.

    Built in two steps so a caller can show progress: creating it lists and stats the
    blobs (fast), :meth:`run` hashes them (:attr:`total_bytes` in all).
    """

    def __init__(self, database: Database, store: ContentStore, *, all_blobs: bool = False) -> None:
        self.store = store
        self.references = blob_references(database)
        self.versions = len({(r.course_id, r.version) for r in self.references})
        self._referenced = {
            r.blob for r in self.references if _valid_digest(store, r.sha256, r.pack_sha256)
        }
        self.unreferenced: list[str] | None = None
        if all_blobs:
            listed = set(store.blobs()) if store.root.is_dir() else set()
            # Educators' files are referenced by their own table, not by a version.
            educators = teacher_files.blobs_in(database.reader)
            self.unreferenced = sorted(listed - self._referenced - educators)
        wanted = self._referenced | set(self.unreferenced or [])
        self._stats = {sha256: _stat(store, sha256) for sha256 in sorted(wanted)}
        self.total_bytes = sum(s.size for s in self._stats.values() if s.exists and s.regular)

    def run(self, advance: Callable[[int], None] | None = None) -> StoreReport:
        """Hash every blob once (shared blobs are read once); ``advance(n)`` after n bytes."""
        on_bytes = advance or _ignore
        with ThreadPoolExecutor(max_workers=_HASH_THREADS) as pool:
            found = dict(
                zip(
                    self._stats,
                    pool.map(lambda s: self._hash(s, on_bytes), self._stats),
                    strict=True,
                )
            )
        whole = [found[sha256] for sha256 in self._referenced]
        report = StoreReport(
            self.versions,
            len({r.blob for r in self.references}),
            sum(f.size for f in whole if f.exists and f.regular),
        )
        report.drift = [d for r in self.references if (d := _drift(self.store, r, found))]
        if self.unreferenced is not None:
            report.orphans = [
                Orphan(sha256, found[sha256].size, found[sha256].sha256 == sha256)
                for sha256 in self.unreferenced
                if found[sha256].exists
            ]
        return report

    def _hash(self, sha256: str, advance: Callable[[int], None]) -> _Found:
        before = self._stats[sha256]
        if not before.exists or not before.regular:
            return before
        try:
            return _hash_blob(self.store, sha256, advance)
        except FileNotFoundError:
            return _Found(exists=False)  # removed since it was listed (by gc, by hand)


def check_store(database: Database, store: ContentStore, *, all_blobs: bool = False) -> StoreReport:
    """Check the store without showing progress (see :class:`StoreCheck`)."""
    return StoreCheck(database, store, all_blobs=all_blobs).run()


def _ignore(_count: int) -> None:
    """No progress to show."""


def _valid_digest(store: ContentStore, *digests: str | None) -> bool:
    try:
        for sha256 in digests:
            if sha256 is not None:
                store.path_for(sha256)
    except ValueError:
        return False
    return True


def _stat(store: ContentStore, sha256: str) -> _Found:
    try:
        info = store.path_for(sha256).lstat()
    except FileNotFoundError:
        return _Found(exists=False)
    return _Found(exists=True, regular=stat.S_ISREG(info.st_mode), size=info.st_size)


def _hash_blob(store: ContentStore, sha256: str, advance: Callable[[int], None]) -> _Found:
    """Re-hash one blob, never following a link someone put in the store."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    size = 0
    fd = os.open(store.path_for(sha256), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as stream:
        while count := stream.readinto(view):
            digest.update(view[:count])
            size += count
            advance(count)
    return _Found(exists=True, size=size, sha256=digest.hexdigest())


def _drift(store: ContentStore, ref: BlobRef, found: dict[str, _Found]) -> Drift | None:
    if not _valid_digest(store, ref.sha256, ref.pack_sha256):
        return Drift(ref, "bad-digest")
    blob = found[ref.blob]
    if not blob.exists:
        return Drift(ref, "missing")
    if not blob.regular:
        return Drift(ref, "not-a-file")
    if ref.pack_sha256 is not None:
        return None if blob.sha256 == ref.pack_sha256 else _packed_drift(store, ref)
    if ref.size is not None and blob.size != ref.size:
        return Drift(ref, "wrong-size", blob.size, blob.sha256)
    if blob.sha256 != ref.sha256:
        return Drift(ref, "changed", blob.size, blob.sha256)
    return None


def _packed_drift(store: ContentStore, ref: BlobRef) -> Drift | None:
    """A pack whose bytes changed: is this file's own range among them?"""
    assert ref.pack_sha256 is not None and ref.pack_offset is not None and ref.size is not None
    try:
        data = read_member(store.path_for(ref.pack_sha256), ref.pack_offset, ref.size)
    except FileNotFoundError:
        return Drift(ref, "missing")
    except EOFError:
        return Drift(ref, "cut-short")
    found = hashlib.sha256(data).hexdigest()
    return None if found == ref.sha256 else Drift(ref, "changed", len(data), found)


def record_check(database: Database, actor: Actor, report: StoreReport) -> None:
    """Write the check's outcome to the audit log."""
    with database.write() as db:
        audit.record(
            db,
            actor,
            "content.verify",
            "store",
            versions=report.versions,
            blobs=report.blobs,
            bytes=report.bytes_checked,
            problems=len(report.drift),
            orphans=None if report.orphans is None else len(report.orphans),
            damaged_orphans=len(report.damaged_orphans),
        )


# --- garbage collection --------------------------------------------------------------


class GarbageCollectionRefused(ValidationError):
    """Removing unreferenced blobs now could race an import."""


@dataclass(frozen=True)
class GcReport:
    removed: int
    removed_bytes: int
    kept_young: int  # unreferenced, but too recent to be sure no import is about to use it


def collect_garbage(
    database: Database,
    store: ContentStore,
    actor: Actor,
    *,
    min_age_seconds: float = GC_MIN_AGE_SECONDS,
) -> GcReport:
    """Remove blobs that no course version refers to and that are older than the age.

    Why this cannot remove a blob an import is about to record: an import moves its blobs
    into the store (or finds them already there, deduplicated) *before* the transaction
    that records them, and every import runs inside a sync run whose "running" row is
    committed before it downloads anything. Here, one write transaction holds the
    database's write lock — so no sync run can start — while it checks that none is
    running, reads what is referenced and removes the rest. Blobs younger than
    ``min_age_seconds`` are kept as a second guard.
    """
    cutoff = time.time() - min_age_seconds  # file times are the real clock's
    with database.write() as db:
        _refuse_if_syncing(
            db.execute(
                "SELECT p.name, r.started_at FROM sync_runs r JOIN publishers p"
                " ON p.id = r.publisher_id WHERE r.status = 'running'"
            ).fetchall()
        )
        keep = {
            str(row[0])
            for row in db.execute(
                "SELECT sha256 FROM assets WHERE pack_sha256 IS NULL"
                " UNION SELECT pack_sha256 FROM assets WHERE pack_sha256 IS NOT NULL"
                " UNION SELECT html_sha256 FROM lessons WHERE html_sha256 IS NOT NULL"
            )
        } | teacher_files.blobs_in(db)
        removed, removed_bytes, young = _remove_unreferenced(store, keep, cutoff)
        audit.record(
            db,
            actor,
            "content.gc",
            "store",
            removed=removed,
            bytes=removed_bytes,
            kept_young=young,
        )
    return GcReport(removed, removed_bytes, young)


def _refuse_if_syncing(running: Iterable[tuple[str, str]]) -> None:
    now = datetime.fromtimestamp(clock.now(), UTC)
    for name, started_at in running:
        started = datetime.fromisoformat(started_at)
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        if now - started < STALE_RUN:
            raise GarbageCollectionRefused(
                f"A sync of {name} is running (started {started_at}); unreferenced blobs "
                "are only removed when no sync runs. Try again when it has finished."
            )


def _remove_unreferenced(
    store: ContentStore, keep: set[str], cutoff: float
) -> tuple[int, int, int]:
    removed = removed_bytes = young = 0
    if not store.root.is_dir():
        return 0, 0, 0
    for sha256 in list(store.blobs()):
        if sha256 in keep:
            continue
        path = store.path_for(sha256)
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        # ctime moves when the blob is sealed and renamed in, mtime when it was written.
        if max(info.st_mtime, info.st_ctime) > cutoff:
            young += 1
            continue
        path.unlink(missing_ok=True)
        removed += 1
        removed_bytes += info.st_size
    return removed, removed_bytes, young
