"""A facility with a course from a real, signed NGO repository — and checks of its database
and content store that read SQLite and the files directly, so they do not trust the code
under test.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

from content.package.build import build_package
from content.tuf.fingerprint import root_fingerprint
from server.catalog import library, trust
from server.core.db import Database
from server.people.audit import Actor
from tests.content.conftest import COURSE, PNG, write_course

COURSE_ID = "org.example.course"
NAMESPACE = "org.example"
PUBLISHER = "example-ngo"
ADMIN = Actor(None, "admin:test")
# Rows that every run adds (its own record); everything else must stay as it was.
RUN_TABLES = ("sync_runs", "audit_log")


def course_package(
    base: Path,
    version: int,
    *,
    photos: int = 2,
    photo_bytes: int = 2000,
    course_id: str = COURSE_ID,
) -> Path:
    """Build ``course_id`` v``version``: the test course plus a lesson of ``photos`` images.

    The images are random bytes, so each version brings new blobs; the two default
    lessons are the same in every version, so some blobs are shared (deduplicated).
    """
    names = [f"media/photo-{version}-{n}.png" for n in range(photos)]
    body = "\n\n".join(f"![Photo {n}](../{name})" for n, name in enumerate(names))
    lesson = f"---\nkey: photos\ntitle: Photos of version {version}\nkind: reading\n---\n"
    src = write_course(
        base / f"src-{course_id}-{version}",
        course={
            "id": course_id,
            "version": version,
            "lessons": [*COURSE["lessons"], "lessons/03-photos.md"],
        },
        lessons={"lessons/03-photos.md": f"{lesson}# Version {version}\n\n{body}\n"},
        files={name: PNG + os.urandom(photo_bytes) for name in names},
    )
    return build_package(src, base / "dist", progress=False)


def trust_ngo(
    database: Database,
    repo: Path,
    *,
    auto_publish: bool = True,
    namespace: str = NAMESPACE,
    folder: Path | None = None,
    name: str = PUBLISHER,
) -> library.Publisher:
    """Pin ``repo``'s first root for :data:`PUBLISHER` (or ``name``), reading from a folder
    source."""
    root = (repo / "published" / "metadata" / "1.root.json").read_bytes()
    publisher = trust.add_publisher(
        database,
        ADMIN,
        name,
        namespace,
        root,
        confirmed=root_fingerprint(root).root,
        auto_publish=auto_publish,
    )
    source = folder or repo / "published"
    trust.add_source(database, ADMIN, publisher, "folder", str(source))
    return publisher


# --- looking at the database and the store directly -----------------------------------


def _connect(database: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    return conn


def catalog_dump(database: Path) -> list[str]:
    """Every row of every table as SQL, except the run records (sync_runs, audit_log)."""
    conn = _connect(database)
    try:
        skip = tuple(f'INSERT INTO "{table}"' for table in RUN_TABLES)
        return [line for line in conn.iterdump() if not line.startswith(skip)]
    finally:
        conn.close()


def integrity_check(database: Path) -> list[str]:
    """SQLite's own check of the file (``["ok"]`` when sound) and foreign key problems."""
    conn = _connect(database)
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        return found + [str(tuple(row)) for row in conn.execute("PRAGMA foreign_key_check")]
    finally:
        conn.close()


def query(database: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    conn = _connect(database)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def live_version(database: Path, course_id: str = COURSE_ID) -> int | None:
    """The version number learners get, read from the courses row."""
    rows = query(
        database,
        "SELECT v.version FROM courses c JOIN course_versions v ON v.id = c.live_version_id"
        " WHERE c.course_id = ?",
        (course_id,),
    )
    return int(rows[0][0]) if rows else None


def version_blobs(database: Path, version: int, course_id: str = COURSE_ID) -> dict[str, str]:
    """Package path → blob digest of every file one course version refers to."""
    rows = query(
        database,
        "SELECT a.path, a.sha256 FROM assets a JOIN course_versions v ON v.id = a.version_id"
        " JOIN courses c ON c.id = v.course_pk WHERE c.course_id = ? AND v.version = ?"
        " UNION ALL SELECT 'lesson ' || l.key, l.html_sha256 FROM lessons l"
        " JOIN course_versions v ON v.id = l.version_id JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = ? AND v.version = ?",
        (course_id, version, course_id, version),
    )
    return {row[0]: row[1] for row in rows}


def store_listing(store: Path) -> dict[str, tuple[int, int]]:
    """Every file under the store: relative path → (size, permission bits)."""
    listing = {}
    for path in sorted(store.rglob("*")):
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):
            listing[str(path.relative_to(store))] = (info.st_size, stat.S_IMODE(info.st_mode))
    return listing


def assert_store_whole(store: Path) -> set[str]:
    """Each file in the store is a whole, read-only blob named by its SHA-256; returns them.

    This is the store's crash promise: a blob is there entirely or not at all.
    """
    digests = set()
    for relative, (_size, mode) in store_listing(store).items():
        folder, _, name = relative.partition("/")
        path = store / relative
        assert stat.S_ISREG(path.lstat().st_mode), f"{relative} is not a regular file"
        assert folder == name[:2], f"{relative} is in the wrong folder"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == name, f"{relative} is partial"
        assert mode == 0o444, f"{relative} is writable ({mode:o})"
        digests.add(name)
    return digests
