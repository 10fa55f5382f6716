"""Backups of a data folder, taken while the server runs (`server.ops.restore` restores them).

A backup is one folder, ``stepstone-<UTC time>``, holding::

    manifest.json   every file below with its size and SHA-256, the schema (applied
                    migrations), the Stepstone version and the time
    stepstone.db    the database as of one commit (SQLite's online backup API)
    store/ab/...    the content-store blobs that this database refers to (course files,
                    and the files educators shared)
    tuf/<name>/...  each trusted publisher's signed metadata
    secret.key ...  the data folder's own files: keys (mode 0600), stepstone.toml; the
                    audit key too, so a restored server can check its audit log

Why it is consistent without stopping the server:

* The database is copied in one step of ``sqlite3.Connection.backup``, which reads it in
  one read transaction: the copy is the database as of one commit, and in WAL mode the
  server's writers go on meanwhile (a reader never blocks them).
* Blobs are chosen from the *copy's* rows, after the snapshot. An import puts its blobs
  in the store before the transaction that records them, and only blobs nothing refers
  to are ever removed, so every blob the snapshot needs is there. Blobs never change in
  place (they are read-only and named by their hash), so a hard link is as good as a
  copy and costs no space: to the previous backup's blob, else to the store's, else the
  blob is copied. Either way every byte is hashed against its name, so a damaged blob
  is reported, not backed up.
* TUF metadata is copied after the snapshot, so it is never older than the database.
* Everything is written under a hidden ``.partial`` name and renamed when complete: a
  half backup is never taken for a whole one. A lock file stops two backups into one
  folder from racing; the next backup removes what a killed one left.

Left out because the server rebuilds them or never needs them again: the search index,
staging and download folders, roster uploads, metrics and other backups.

A backup holds the secret and audit keys and every learner's records: keep it as safe as
the server. The manifest also names the audit log's head at the snapshot (``audit_head``):
kept apart from the backup, it shows later whether the log was rewritten (server.people.audit).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from content.durable import fsync_dir, fsync_file
from server import __version__
from server.core import clock
from server.core.db import BUSY_TIMEOUT_MS, Database, refusal, write_refused
from server.core.errors import StepstoneError
from server.core.settings import Settings
from server.ops.migrations import migrations
from server.people import audit
from server.people.audit import Actor

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "stepstone.db"
BACKUP_PREFIX = "stepstone-"
UPGRADE_PREFIX = "pre-upgrade-"
LOCK_FILE = ".backup.lock"
DATABASE_FILES = {DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", f"{DATABASE}-journal"}
_CHUNK = 1024 * 1024
# Hashing and copying release the GIL: two threads keep two cores or one disk busy.
THREADS = 2
STAMP = "%Y%m%dT%H%M%SZ"
# What a manifest may name; anything else (``..``, absolute paths) is refused outright.
TOP_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
BLOB = re.compile(r"store/([0-9a-f]{2})/(\1[0-9a-f]{62})")
# python-tuf keeps each trusted root in root_history/ and root.json as a symlink to the
# newest, which it makes again whenever a client starts: the symlink is not backed up.
TUF_FILE = re.compile(
    r"tuf/[a-z0-9][a-z0-9-]{1,39}/(root_history/)?[A-Za-z0-9][A-Za-z0-9._-]{0,80}\.json"
)


class BackupError(StepstoneError):
    """A backup could not be made or restored; the message says what to do."""


@dataclass(frozen=True)
class FileEntry:
    """One file of a backup, as the manifest records it."""

    path: str  # relative, with forward slashes
    size: int
    sha256: str


@dataclass
class BackupResult:
    """What :func:`create_backup` made."""

    path: Path
    created_at: str
    files: list[FileEntry]
    linked: int  # blobs hard-linked rather than copied
    problems: list[str]  # blobs that could not be backed up (the backup is still usable)
    audit_head: audit.Head | None = None  # the audit log's newest entry in the snapshot
    removed: list[Path] = field(default_factory=list)  # older backups rotated away

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.files)


# --- making a backup ----------------------------------------------------------------


def create_backup(
    settings: Settings,
    dest: Path,
    *,
    keep: int | None = None,
    prefix: str = BACKUP_PREFIX,
    allow_links: bool = True,
) -> BackupResult:
    """Back up ``settings.data_dir`` into a new folder under ``dest``, then keep only the
    newest ``keep`` backups with the same prefix there (all of them when None)."""
    if not settings.database_path.is_file():
        raise BackupError(f"No Stepstone database in {settings.data_dir}: nothing to back up.")
    try:
        return _create_backup(settings, dest, keep, prefix, allow_links)
    except (OSError, sqlite3.Error) as exc:
        if not write_refused(exc):
            raise
        raise BackupError(
            f"The backup into {dest} could not be written: {refusal(exc)}. Nothing of it was"
            " kept. Free some space on that disk (or check it) and try again."
        ) from None


def _create_backup(
    settings: Settings, dest: Path, keep: int | None, prefix: str, allow_links: bool
) -> BackupResult:
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(dest):
        _remove_partials(dest)
        created = clock.now()
        name = _free_name(dest, prefix, created)
        work = dest / f".{name}.partial"
        work.mkdir(mode=0o700)
        try:
            result = _fill(settings, work, prefix, allow_links, created)
            _fsync_tree(work)
            final = dest / name
            work.rename(final)
            fsync_dir(dest)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        result.path = final
        if keep is not None:
            result.removed = rotate(dest, keep, prefix)
    return result


def _fill(
    settings: Settings, work: Path, prefix: str, allow_links: bool, created: float
) -> BackupResult:
    schema = _snapshot_database(settings.database_path, work / DATABASE)
    with closing(sqlite3.connect(work / DATABASE)) as copy:
        head = audit.current_head(sqlite_utils.Database(copy))
    earlier = list_backups(work.parent, prefix)[-1:]
    copier = _Copier(work, [*earlier, settings.data_dir] if allow_links else [])
    files = [copier.hash_entry(DATABASE)]
    blob_files, problems = copier.blobs(settings.data_dir / "store", _referenced_blobs(work))
    files += blob_files
    files += copier.tuf(settings.data_dir)
    files += copier.top_files(settings.data_dir)
    created_at = clock.iso(created)
    manifest = {
        "format": FORMAT,
        "created_at": created_at,
        "stepstone_version": __version__,
        "schema": schema,
        "data_dir": str(settings.data_dir.resolve()),
        "files": [entry.__dict__ for entry in files],
        "problems": problems,
        # The newest audit entry as of the snapshot: `stepstone audit verify --against`
        # with it shows whether the log was rewritten since (see server.people.audit).
        "audit_head": str(head) if head else None,
    }
    _write_private(work / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
    return BackupResult(work, created_at, files, copier.linked, problems, head)


def _snapshot_database(source: Path, target: Path) -> list[str]:
    """Copy the live database in one backup step; returns the applied migrations."""
    _write_private(target, b"")
    with (
        closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)) as live,
        closing(sqlite3.connect(target)) as copy,
    ):
        live.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        live.backup(copy)  # pages=-1: everything in one step, inside one read transaction
        # One self-contained file: no -wal beside it. The server turns WAL on again.
        copy.execute("PRAGMA journal_mode=DELETE")
        applied = [m.name for m in migrations.applied(sqlite_utils.Database(copy))]
    fsync_file(target)
    return applied


def _referenced_blobs(work: Path) -> list[str]:
    """Course files and lesson HTML, and educators' files (a database not yet upgraded,
    as the backup before an upgrade sees it, has no table of them)."""
    with closing(sqlite3.connect(work / DATABASE)) as copy:
        sql = (
            "SELECT sha256 FROM assets UNION SELECT html_sha256 FROM lessons"
            " WHERE html_sha256 IS NOT NULL"
        )
        columns = {row[1] for row in copy.execute("PRAGMA table_info(assets)")}
        if "pack_sha256" in columns:
            # A small app file is in its package's pack (its own digest names no blob).
            sql = (
                "SELECT sha256 FROM assets WHERE pack_sha256 IS NULL"
                " UNION SELECT pack_sha256 FROM assets WHERE pack_sha256 IS NOT NULL"
                " UNION SELECT html_sha256 FROM lessons WHERE html_sha256 IS NOT NULL"
            )
        tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}
        if "teacher_files" in tables:
            sql += " UNION SELECT sha256 FROM teacher_files"
        rows = copy.execute(sql).fetchall()
    return sorted(str(row[0]) for row in rows)


class _Copier:
    """Puts files into a backup and hashes what it put there.

    A blob is hard-linked instead of copied when one of ``link_bases`` holds it at the
    same relative path on the same file system, and the link is kept only if its bytes
    hash to the blob's name. For a backup the bases are the newest earlier backup
    in the same folder, then the data folder: so nightly backups share their blobs even
    when systemd makes the data folder a mount of its own (``ReadWritePaths=``), where a
    link to it fails and the first backup copies.
    """

    def __init__(self, root: Path, link_bases: list[Path]) -> None:
        self.root = root
        self.link_bases = link_bases
        self.linked = 0
        self._count = threading.Lock()

    def hash_entry(self, relative: str) -> FileEntry:
        size, digest = hash_file(self.root / relative)
        return FileEntry(relative, size, digest)

    def blobs(self, store: Path, digests: list[str]) -> tuple[list[FileEntry], list[str]]:
        """Link or copy each blob; a blob missing or not matching its name is a problem."""
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            outcomes = list(pool.map(lambda digest: self._blob(store, digest), digests))
        entries = [entry for entry, _ in outcomes if entry is not None]
        return entries, [problem for _, problem in outcomes if problem]

    def _blob(self, store: Path, digest: str) -> tuple[FileEntry | None, str]:
        relative = f"store/{digest[:2]}/{digest}"
        if not BLOB.fullmatch(relative):
            return None, f"the database names an invalid blob {digest[:80]!r}"
        linked = self._link(relative, digest)
        if linked is not None:
            return linked, ""
        source = store / digest[:2] / digest
        if not source.exists():
            return None, f"blob {digest} is missing from the content store"
        if source.is_symlink() or not source.is_file():
            return None, f"blob {digest} in the content store is not a regular file"
        entry = self.copy(source, relative, 0o444)
        if entry.sha256 != digest:
            (self.root / relative).unlink()
            return None, f"blob {digest} in the content store is damaged (its bytes changed)"
        return entry, ""

    def copy(self, source: Path, relative: str, mode: int) -> FileEntry:
        """Copy a file in, hashing the bytes as they pass."""
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        size, digest = copy_file(source, target, mode)
        return FileEntry(relative, size, digest)

    def _link(self, relative: str, expected: str) -> FileEntry | None:
        target = self.root / relative
        for base in self.link_bases:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                os.link(base / relative, target, follow_symlinks=False)
            except OSError:  # not there, another file system, or links not allowed
                continue
            try:
                entry = self.hash_entry(relative)
            except OSError:  # a symlink was linked (O_NOFOLLOW refuses it)
                entry = None
            if entry is not None and entry.sha256 == expected:
                with self._count:
                    self.linked += 1
                return entry
            target.unlink()
        return None

    def tuf(self, data_dir: Path) -> list[FileEntry]:
        """Each publisher's metadata: ``tuf/<name>/*.json`` and its ``root_history/``."""
        base = data_dir / "tuf"
        entries = []
        for path in sorted([*base.glob("*/*.json"), *base.glob("*/root_history/*.json")]):
            relative = path.relative_to(data_dir).as_posix()
            if TUF_FILE.fullmatch(relative) and _regular(path, data_dir):
                entries.append(self.copy(path, relative, 0o600))
        return entries

    def top_files(self, data_dir: Path) -> list[FileEntry]:
        """The data folder's own files (keys, settings), but not the live database."""
        entries = []
        for path in sorted(data_dir.iterdir()):
            if path.name in DATABASE_FILES or not TOP_FILE.fullmatch(path.name):
                continue
            if path.is_file() and not path.is_symlink():
                entries.append(self.copy(path, path.name, 0o600))
        return entries


def _regular(path: Path, root: Path) -> bool:
    """A regular file reached without following any symlink below ``root``."""
    here = path
    while here != root:
        if here.is_symlink():
            return False
        here = here.parent
    return path.is_file()


# --- rotation ---------------------------------------------------------------------------


def list_backups(dest: Path, prefix: str = BACKUP_PREFIX) -> list[Path]:
    """The complete backups in ``dest`` with this prefix, oldest first."""
    pattern = re.compile(re.escape(prefix) + r"([0-9]{8}T[0-9]{6}Z)(?:-([0-9]{1,4}))?")
    found = []
    for entry in dest.iterdir() if dest.is_dir() else []:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir() and (entry / MANIFEST).is_file():
            found.append((match.group(1), int(match.group(2) or 0), entry))
    return [entry for *_, entry in sorted(found)]


def rotate(dest: Path, keep: int, prefix: str = BACKUP_PREFIX) -> list[Path]:
    """Remove all but the newest ``keep`` backups with this prefix; returns those removed."""
    if keep < 1:
        raise BackupError("Keep at least one backup.")
    old = list_backups(dest, prefix)[:-keep]
    for path in old:
        shutil.rmtree(path)
    return old


def _free_name(dest: Path, prefix: str, moment: float) -> str:
    """``prefix`` + the time; within one second, ``-2``, ``-3``… after the highest taken
    (not the first free one: a name freed by rotation must not sort as the oldest)."""
    base = prefix + time.strftime(STAMP, time.gmtime(moment))
    taken = re.compile(re.escape(base) + r"(?:-([0-9]+))?")
    numbers = [
        int(match.group(1) or 1)
        for entry in dest.iterdir()
        if (match := taken.fullmatch(entry.name.removeprefix(".").removesuffix(".partial")))
    ]
    return f"{base}-{max(numbers) + 1}" if numbers else base


def _remove_partials(dest: Path) -> None:
    """Remove what a killed backup left (safe: we hold the folder's backup lock)."""
    for entry in dest.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(".partial") and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    fd = os.open(dest / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"Another backup into {dest} is running. Wait for it to finish."
            ) from None
        yield
    finally:
        os.close(fd)


# --- the audit log ------------------------------------------------------------------


def record_backup(database: Database, actor: Actor, made: BackupResult) -> None:
    """Note the backup in the audit log (the status page shows the last one)."""
    with database.write() as db:
        audit.record(
            db,
            actor,
            "backup.create",
            made.path.name,
            files=len(made.files),
            bytes=made.size,
            problems=len(made.problems),
        )


# --- files ------------------------------------------------------------------------------


def hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb", buffering=0) as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def copy_file(source: Path, target: Path, mode: int) -> tuple[int, str]:
    """Copy, hashing the bytes as they pass and making the copy durable."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    out_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "rb", buffering=0) as stream, os.fdopen(out_fd, "wb") as out:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fchmod(out.fileno(), mode)
        os.fsync(out.fileno())
    return size, digest.hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _fsync_tree(root: Path) -> None:
    """Make every folder entry of a finished backup durable before it is renamed."""
    for folder, _, _ in os.walk(root):
        fsync_dir(Path(folder))
