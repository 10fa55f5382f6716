"""The catalog: courses, their versions, and the review that stands between a signed
package and a learner's tablet.

A course version arrives as *pending* (or approved at once when the admin set its
publisher to auto-publish). Approving makes it the live version; the previous live one
stays approved so an admin can roll back to it. Rejecting, retiring, a publisher's
retraction and pulling a course all take content away from learners at once.

Our own rules on top of TUF: a publisher only publishes course ids inside its namespace,
and a course's version never goes back (a high-water mark kept here, so a lost TUF cache
or a replayed stick cannot reinstall an old version).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from content.importing.importer import StagedPackage
from content.tuf.metadata import in_namespace
from server.catalog import collections
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.audit import Actor


class CatalogRefused(ValidationError):
    """A package breaks one of our rules; nothing was recorded."""


@dataclass
class CatalogHooks:
    """The seam where search (and anything else) learns that live content changed.

    `published(version_id)` runs after a version became live; `withdrawn(course_id)` after
    a course stopped being visible (retired, retracted, rejected while live, pulled).
    """

    published: list[Callable[[int], None]] = field(default_factory=list)
    withdrawn: list[Callable[[str], None]] = field(default_factory=list)

    def fire_published(self, version_id: int) -> None:
        for listener in self.published:
            listener(version_id)

    def fire_withdrawn(self, course_id: str) -> None:
        for listener in self.withdrawn:
            listener(course_id)


@dataclass(frozen=True)
class Publisher:
    id: int
    name: str
    display_name: str
    namespace: str
    auto_publish: bool
    demo: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Publisher:
        return cls(
            row["id"],
            row["name"],
            row["display_name"],
            row["namespace"],
            bool(row["auto_publish"]),
            bool(row["demo"]),
        )


def check_target(
    conn: sqlite3.Connection, publisher: Publisher, course_id: str, version: int
) -> None:
    """Refuse what our rules refuse: called before any download and again when recording."""
    if not in_namespace(course_id, publisher.namespace):
        raise CatalogRefused(
            f"{publisher.name} may only publish courses named {publisher.namespace}.*, "
            f"not {course_id}."
        )
    row = conn.execute(
        "SELECT high_water_version, publisher_id FROM courses WHERE course_id = ?", [course_id]
    ).fetchone()
    if row is not None and row["publisher_id"] != publisher.id:
        raise CatalogRefused(f"The course {course_id} belongs to another publisher.")
    if row is not None and version <= row["high_water_version"]:
        raise CatalogRefused(
            f"{course_id} version {version} is not newer than version "
            f"{row['high_water_version']}, which this facility already has."
        )


@dataclass(frozen=True)
class Recorded:
    version_id: int
    live: bool


def record_import(
    database: Database,
    hooks: CatalogHooks,
    publisher: Publisher,
    staged: StagedPackage,
    package_sha256: str,
    actor: Actor,
) -> Recorded:
    """Write a verified package's course version in one transaction."""
    flags = list(staged.review_flags)
    with database.write() as db:
        check_target(db.conn, publisher, staged.course_id, staged.version)
        course_pk = _upsert_course(db, publisher, staged.course_id, staged.version)
        version_id = _insert_version(db, course_pk, staged, package_sha256, flags)
        live = publisher.auto_publish
        if live:
            _approve(db, version_id, "auto-publish")
            db.execute(
                "UPDATE courses SET live_version_id = ? WHERE id = ?", [version_id, course_pk]
            )
        audit.record(
            db,
            actor,
            "content.import",
            f"{staged.course_id} v{staged.version}",
            publisher=publisher.name,
            status="approved" if live else "pending",
            flags=len(flags),
        )
    if live:
        hooks.fire_published(version_id)
    return Recorded(version_id, live)


def _upsert_course(
    db: sqlite_utils.Database, publisher: Publisher, course_id: str, version: int
) -> int:
    row = db.execute("SELECT id FROM courses WHERE course_id = ?", [course_id]).fetchone()
    if row is None:
        cursor = db.execute(
            "INSERT INTO courses (course_id, publisher_id, high_water_version) VALUES (?, ?, ?)",
            [course_id, publisher.id, version],
        )
        return int(cursor.lastrowid or 0)
    db.execute("UPDATE courses SET high_water_version = ? WHERE id = ?", [version, row[0]])
    return int(row[0])


def _insert_version(
    db: sqlite_utils.Database,
    course_pk: int,
    staged: StagedPackage,
    package_sha256: str,
    flags: list[dict[str, Any]],
) -> int:
    course = staged.course
    cursor = db.execute(
        "INSERT INTO course_versions (course_pk, version, status, title, summary, category,"
        " language, level, estimated_hours, credits, license, manifest, package_sha256,"
        " review_flags, imported_at, cover, cover_alt, editions)"
        " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            course_pk,
            staged.version,
            course["title"],
            course["summary"],
            course["category"],
            course["language"],
            course["level"],
            float(course["estimated_hours"]),
            float(course.get("credits", 0) or 0),
            str(course.get("license", "")),
            json.dumps(staged.manifest, sort_keys=True),
            package_sha256,
            json.dumps(flags, sort_keys=True),
            clock.iso(),
            (course.get("cover") or {}).get("src"),
            (course.get("cover") or {}).get("alt", ""),
            json.dumps(course.get("editions") or {}, sort_keys=True),
        ],
    )
    version_id = int(cursor.lastrowid or 0)
    for lesson in staged.lessons:
        db.execute(
            "INSERT INTO lessons (version_id, key, position, title, kind, html_sha256, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                version_id,
                lesson.key,
                lesson.position,
                lesson.title,
                lesson.kind,
                lesson.html_sha256,
                json.dumps(lesson.data, sort_keys=True),
            ],
        )
    book = course.get("book")
    if isinstance(book, dict):
        db.execute(
            "INSERT INTO books (version_id, authors, subjects, reading_level, cover, epub_version)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                version_id,
                json.dumps(book["authors"]),
                json.dumps(book["subjects"]),
                book["reading_level"],
                book["cover"],
                book["epub_version"],
            ],
        )
    collections.record_in(db, version_id, staged)
    for item in staged.files.values():
        db.execute(
            "INSERT INTO assets (version_id, path, sha256, size, media_type, pack_sha256,"
            " pack_offset) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                version_id,
                item.path,
                item.sha256,
                item.size,
                item.media_type,
                item.pack_sha256,
                item.pack_offset,
            ],
        )
    return version_id


def _approve(db: sqlite_utils.Database, version_id: int, reviewer: str, reason: str = "") -> None:
    db.execute(
        "UPDATE course_versions SET status = 'approved', reviewed_at = ?, reviewed_by = ?,"
        " review_reason = ? WHERE id = ?",
        [clock.iso(), reviewer, reason, version_id],
    )


@dataclass(frozen=True)
class VersionInfo:
    id: int
    course_pk: int
    course_id: str
    version: int
    status: str
    title: str
    live: bool
    publisher: str


def get_version(database: Database, version_id: int) -> VersionInfo:
    row = database.query_one(
        "SELECT v.id, v.course_pk, c.course_id, v.version, v.status, v.title,"
        " c.live_version_id = v.id AS live, p.name AS publisher FROM course_versions v"
        " JOIN courses c ON c.id = v.course_pk JOIN publishers p ON p.id = c.publisher_id"
        " WHERE v.id = ?",
        [version_id],
    )
    if row is None:
        raise NotFound()
    return VersionInfo(
        row["id"],
        row["course_pk"],
        row["course_id"],
        row["version"],
        row["status"],
        row["title"],
        bool(row["live"]),
        row["publisher"],
    )


def approve(database: Database, hooks: CatalogHooks, actor: Actor, version_id: int) -> None:
    """Approve a pending version; it goes live unless a newer version already is."""
    info = get_version(database, version_id)
    if info.status != "pending":
        raise ValidationError(N_("Only a version waiting for review can be approved."))
    with database.write() as db:
        _approve(db, version_id, actor.label)
        current = db.execute(
            "SELECT v.version FROM courses c JOIN course_versions v ON v.id = c.live_version_id"
            " WHERE c.id = ?",
            [info.course_pk],
        ).fetchone()
        goes_live = current is None or current[0] < info.version
        if goes_live:
            db.execute(
                "UPDATE courses SET live_version_id = ? WHERE id = ?", [version_id, info.course_pk]
            )
        audit.record(db, actor, "content.approve", f"{info.course_id} v{info.version}")
    if goes_live:
        hooks.fire_published(version_id)


def _fall_back(db: sqlite_utils.Database, course_pk: int, leaving_id: int) -> int | None:
    """After the live version leaves: the newest other approved version goes live, if any."""
    row = db.execute(
        "SELECT id FROM course_versions WHERE course_pk = ? AND status = 'approved' AND id != ?"
        " ORDER BY version DESC LIMIT 1",
        [course_pk, leaving_id],
    ).fetchone()
    new_live = int(row[0]) if row else None
    db.execute("UPDATE courses SET live_version_id = ? WHERE id = ?", [new_live, course_pk])
    return new_live


def _take_down(
    database: Database, hooks: CatalogHooks, actor: Actor, version_id: int, status: str, action: str
) -> None:
    info = get_version(database, version_id)
    with database.write() as db:
        db.execute("UPDATE course_versions SET status = ? WHERE id = ?", [status, version_id])
        new_live = _fall_back(db, info.course_pk, version_id) if info.live else None
        audit.record(
            db,
            actor,
            action,
            f"{info.course_id} v{info.version}",
            was_live=info.live,
            now_live=new_live,
        )
    if info.live:
        hooks.fire_withdrawn(info.course_id)
        if new_live is not None:
            hooks.fire_published(new_live)


def retire(database: Database, hooks: CatalogHooks, actor: Actor, version_id: int) -> None:
    """Stop using a version; if it was live, the previous approved version takes over."""
    _take_down(database, hooks, actor, version_id, "retired", "content.retire")


def retract(
    database: Database, hooks: CatalogHooks, actor: Actor, course_id: str, version: int
) -> bool:
    """Apply a publisher's retraction; returns True if something changed."""
    row = database.query_one(
        "SELECT v.id, v.status FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = ? AND v.version = ?",
        [course_id, version],
    )
    if row is None or row["status"] == "retracted":
        return False
    _take_down(database, hooks, actor, row["id"], "retracted", "content.retracted")
    return True


def make_live(database: Database, hooks: CatalogHooks, actor: Actor, version_id: int) -> None:
    """Roll back (or forward) to an approved version."""
    info = get_version(database, version_id)
    if info.status != "approved":
        raise ValidationError(N_("Only an approved version can be made live."))
    with database.write() as db:
        db.execute(
            "UPDATE courses SET live_version_id = ? WHERE id = ?", [version_id, info.course_pk]
        )
        audit.record(db, actor, "content.make-live", f"{info.course_id} v{info.version}")
    hooks.fire_published(version_id)


def pull_course(
    database: Database, hooks: CatalogHooks, actor: Actor, course_pk: int, reason: str
) -> None:
    """Hide a course from every learner at once, whatever its versions say."""
    row = database.query_one("SELECT course_id FROM courses WHERE id = ?", [course_pk])
    if row is None:
        raise NotFound()
    if not reason.strip():
        raise ValidationError(N_("Write why you pull the course. It goes into the audit log."))
    with database.write() as db:
        db.execute(
            "UPDATE courses SET pulled_at = ?, pulled_reason = ? WHERE id = ?",
            [clock.iso(), reason.strip()[:500], course_pk],
        )
        audit.record(db, actor, "content.pull", row["course_id"], reason=reason.strip()[:500])
    hooks.fire_withdrawn(row["course_id"])


def restore_course(database: Database, hooks: CatalogHooks, actor: Actor, course_pk: int) -> None:
    row = database.query_one(
        "SELECT course_id, live_version_id FROM courses WHERE id = ?", [course_pk]
    )
    if row is None:
        raise NotFound()
    with database.write() as db:
        db.execute(
            "UPDATE courses SET pulled_at = NULL, pulled_reason = '' WHERE id = ?", [course_pk]
        )
        audit.record(db, actor, "content.restore", row["course_id"])
    if row["live_version_id"] is not None:
        hooks.fire_published(int(row["live_version_id"]))
