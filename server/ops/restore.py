"""Restoring a backup made by `server.ops.backup`, and checking it first.

Nothing is trusted: the manifest may only name files a backup holds (no ``..``, no
absolute paths), every file must match its size and SHA-256 before anything is written
and again where it landed, and the database must pass SQLite's integrity check. The
database is put in place last, under its real name, so a restore that stops midway never
leaves a folder the server would start on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from content.durable import fsync_dir
from server import __version__
from server.core import clock
from server.ops.backup import (
    BLOB,
    DATABASE,
    DATABASE_FILES,
    FORMAT,
    MANIFEST,
    STAMP,
    THREADS,
    TOP_FILE,
    TUF_FILE,
    UPGRADE_PREFIX,
    BackupError,
    FileEntry,
    copy_file,
    hash_file,
    list_backups,
)
from server.ops.migrations import migrations


@dataclass
class Manifest:
    """A backup's manifest, checked for shape and for paths that stay inside."""

    created_at: str
    stepstone_version: str
    schema: list[str]
    files: list[FileEntry]
    problems: list[str]

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.files)


def read_manifest(backup: Path) -> Manifest:
    """The manifest of the backup folder ``backup``, or BackupError saying what is wrong."""
    path = backup / MANIFEST
    if not path.is_file():
        found = list_backups(backup) + list_backups(backup, UPGRADE_PREFIX)
        hint = f" Backups in it: {', '.join(p.name for p in found)}." if found else ""
        raise BackupError(f"{backup} is not a Stepstone backup: it has no {MANIFEST}.{hint}")
    try:
        raw = json.loads(path.read_bytes())
        if raw.get("format") != FORMAT:
            raise BackupError(
                f"{path}: backup format {raw.get('format')!r}, this Stepstone reads {FORMAT}."
            )
        files = [FileEntry(str(f["path"]), int(f["size"]), str(f["sha256"])) for f in raw["files"]]
        manifest = Manifest(
            str(raw["created_at"]),
            str(raw["stepstone_version"]),
            [str(name) for name in raw["schema"]],
            files,
            [str(problem) for problem in raw.get("problems", [])],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path} is damaged or not a backup manifest ({exc}).") from None
    for entry in files:
        if not _allowed_path(entry.path):
            raise BackupError(f"{path} names a file a backup never holds: {entry.path[:120]!r}.")
    if DATABASE not in {entry.path for entry in files}:
        raise BackupError(f"{path} lists no {DATABASE}: this backup is incomplete.")
    return manifest


def _allowed_path(relative: str) -> bool:
    if relative == DATABASE:
        return True
    if TOP_FILE.fullmatch(relative):
        return relative not in DATABASE_FILES and relative != MANIFEST
    return bool(BLOB.fullmatch(relative) or TUF_FILE.fullmatch(relative))


def verify_files(root: Path, files: list[FileEntry]) -> list[str]:
    """Problems with the files under ``root`` against the manifest (empty: all whole)."""

    def check(entry: FileEntry) -> str:
        path = root / entry.path
        try:
            if path.is_symlink() or not path.is_file():
                return f"{entry.path}: missing"
            size, digest = hash_file(path)
        except OSError as exc:
            return f"{entry.path}: cannot be read ({exc.strerror})"
        if size != entry.size:
            return f"{entry.path}: {size:,} bytes, the manifest says {entry.size:,}"
        if digest != entry.sha256:
            return f"{entry.path}: its bytes changed (SHA-256 does not match the manifest)"
        return ""

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return [problem for problem in pool.map(check, files) if problem]


@dataclass
class RestoreResult:
    manifest: Manifest
    data_dir: Path
    moved_aside: Path | None  # where the target's earlier contents went (with --force)


def restore_backup(
    backup: Path, data_dir: Path, *, force: bool = False, allow_links: bool = True
) -> RestoreResult:
    """Restore ``backup`` into ``data_dir`` and check the result.

    Every file is verified against the manifest before anything is written and again
    where it landed; the database gets ``PRAGMA integrity_check`` and is put in place
    last, so a restore that fails midway never leaves a folder the server would start on.
    """
    manifest = read_manifest(backup)
    unknown = [name for name in manifest.schema if name not in _known_migrations()]
    if unknown:
        raise BackupError(
            f"This backup was made by Stepstone {manifest.stepstone_version}, newer than this "
            f"one ({__version__}): its database has migrations this version does not know "
            f"({', '.join(unknown)}). Install that version to restore it."
        )
    if backup.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError(
            f"The backup {backup} is inside {data_dir}, the folder to restore into. Restore "
            "into a new folder, then swap the two folders (see the admin guide)."
        )
    _refuse_damage(backup, manifest.files, "The backup is damaged; nothing was restored.")
    moved_aside = _prepare_target(data_dir, force)
    pending = data_dir / f".{DATABASE}.restoring"
    others = [entry for entry in manifest.files if entry.path != DATABASE]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(lambda entry: _place(backup, data_dir, entry, allow_links), others))
    copy_file(backup / DATABASE, pending, 0o600)
    placed = [
        FileEntry(pending.name, entry.size, entry.sha256) if entry.path == DATABASE else entry
        for entry in manifest.files
    ]
    _refuse_damage(data_dir, placed, f"The restore into {data_dir} did not copy cleanly.")
    _integrity_check(pending)
    pending.rename(data_dir / DATABASE)
    fsync_dir(data_dir)
    return RestoreResult(manifest, data_dir, moved_aside)


def _place(backup: Path, data_dir: Path, entry: FileEntry, allow_links: bool) -> None:
    """Put one file in place: a blob (read-only, never changed) is hard-linked from the
    backup when both are on one file system, anything else is copied. Checked after."""
    source, target = backup / entry.path, data_dir / entry.path
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    blob = entry.path.startswith("store/")
    if blob and allow_links:
        try:
            os.link(source, target, follow_symlinks=False)
            return
        except OSError:  # another file system, or links not allowed: copy
            pass
    copy_file(source, target, 0o444 if blob else 0o600)


def _known_migrations() -> set[str]:
    return {m.name for m in migrations.pending(sqlite_utils.Database(memory=True))}


def _refuse_damage(root: Path, files: list[FileEntry], summary: str) -> None:
    problems = verify_files(root, files)
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise BackupError(f"{summary}\n  {shown}{more}")


def _prepare_target(data_dir: Path, force: bool) -> Path | None:
    """An empty target; with ``force``, a non-empty one's contents are moved aside
    (inside it, so the move is a rename on the same file system) rather than deleted."""
    if data_dir.exists() and not data_dir.is_dir():
        raise BackupError(f"{data_dir} is a file, not a folder.")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    existing = sorted(data_dir.iterdir())
    if not existing:
        return None
    if not force:
        raise BackupError(
            f"{data_dir} is not empty. Restore into a new folder, or add --force to move its "
            "contents aside (stop the server first)."
        )
    aside = data_dir / f"before-restore-{time.strftime(STAMP, time.gmtime(clock.now()))}"
    aside.mkdir(mode=0o700)
    for entry in existing:
        entry.rename(aside / entry.name)
    return aside


def _integrity_check(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn:
        try:
            rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            rows = [str(exc)]
    if rows != ["ok"]:
        raise BackupError(f"The restored database fails its integrity check: {'; '.join(rows[:5])}")
