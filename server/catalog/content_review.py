"""What a reviewer sees: a version's lessons whole, what changed since the live version,
flags; and the version list the review starts from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from content.format.lessondata import CourseInfo, stored_lesson_data, stored_manifest
from content.importing.store import ContentStore
from server.catalog.review_diff import (
    FileChange,
    ItemChange,
    LessonDiff,
    compare,
    course_items,
    file_changes,
    lesson_diff,
)
from server.catalog.review_lessons import LessonView, file_url, lesson_views
from server.core.db import Database
from server.core.errors import N_, NotFound

FLAG_LABELS = {
    "external-link": N_("Address outside the facility"),
    "sanitized": N_("Removed by the safety filter"),
    "email": N_("E-mail address"),
    "phone": N_("Phone number"),
    "missing-captions": N_("Video or audio without captions"),
    "type-mismatch": N_("File type did not match"),
    "app-outside": N_("Interactive app reaches outside itself"),
    "svg": N_("Drawing (SVG): open it and look at it"),
    "web-address": N_("Web address"),
    "pdf-action": N_("PDF that runs or opens something"),
    "caption-html": N_("HTML in captions"),
    "confusable-name": N_("File name that looks like another"),
    "watch-word": N_("Word on the facility's watch list"),
    "remote-image": N_("Picture from outside the book (removed)"),
    "missing-image": N_("Picture the book names but does not hold"),
    "dropped-image": N_("Picture that is not a picture (removed)"),
    "missing-alt": N_("Picture without a description"),
    "narration-made": N_("Read aloud at import: listen before approving"),
    "narration-missing": N_("No narration made at import"),
}


@dataclass(frozen=True)
class LessonChange:
    key: str
    title: str
    change: str  # added | changed | removed | same


@dataclass(frozen=True)
class Review:
    """A version as its reviewer sees it: every lesson whole and, when another version
    is live, what changed since it, item by item."""

    version: dict[str, Any]
    live: dict[str, Any] | None
    course: CourseInfo
    lessons: list[LessonView]
    changes: list[LessonChange]
    course_changes: list[ItemChange]  # the course's own texts, since the live version
    diffs: dict[str, LessonDiff]  # by lesson key, for changed lessons
    files: list[FileChange]  # files added, changed or removed since the live version
    flags: list[dict[str, Any]]
    cover_url: str = ""  # the course's cover picture, shown whole to the reviewer


def _lessons(database: Database, version_id: int) -> dict[str, dict[str, Any]]:
    rows = database.query(
        "SELECT key, title, kind, html_sha256, data, position FROM lessons WHERE version_id = ?"
        " ORDER BY position",
        [version_id],
    )
    return {r["key"]: dict(r) for r in rows}


def _assets(database: Database, version_id: int) -> dict[str, dict[str, Any]]:
    rows = database.query(
        "SELECT path, sha256, size, media_type FROM assets WHERE version_id = ? ORDER BY path",
        [version_id],
    )
    return {r["path"]: {**dict(r), "url": file_url(version_id, r["path"])} for r in rows}


def load_review(database: Database, store: ContentStore, version_id: int) -> Review:
    """Everything the review page of ``version_id`` shows."""
    row = database.query_one(
        "SELECT v.*, c.course_id, c.live_version_id, c.pulled_at, c.id AS course_pk,"
        " p.name AS publisher FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " JOIN publishers p ON p.id = c.publisher_id WHERE v.id = ?",
        [version_id],
    )
    if row is None:
        raise NotFound()
    version = dict(row)
    live_id = version["live_version_id"]
    live = None
    if live_id is not None and live_id != version_id:
        live_row = database.query_one("SELECT * FROM course_versions WHERE id = ?", [live_id])
        live = dict(live_row) if live_row else None
    mine, assets = _lessons(database, version_id), _assets(database, version_id)
    views = lesson_views(database, store, version_id, list(mine.values()), assets)
    course = stored_manifest(version["manifest"]).course
    flags = json.loads(version["review_flags"])
    cover_url = str(assets.get(course.cover_src, {}).get("url", ""))
    if live is None:
        added = [LessonChange(k, r["title"], "added") for k, r in mine.items()]
        return Review(version, None, course, views, added, [], {}, [], flags, cover_url)
    course_changes, _ = compare(
        course_items(live, stored_manifest(live["manifest"]).course),
        course_items(version, course),
    )
    theirs, their_assets = _lessons(database, live["id"]), _assets(database, live["id"])
    changed = [
        v
        for v in views
        if v.key in theirs and not _same(mine[v.key], assets, theirs[v.key], their_assets)
    ]
    befores = lesson_views(
        database, store, live["id"], [theirs[v.key] for v in changed], their_assets
    )
    diffs = {v.key: lesson_diff(b, v) for b, v in zip(befores, changed, strict=True)}
    changes = [
        LessonChange(k, r["title"], "changed" if k in diffs else "same" if k in theirs else "added")
        for k, r in mine.items()
    ]
    changes += [LessonChange(k, r["title"], "removed") for k, r in theirs.items() if k not in mine]
    files = file_changes(assets, their_assets)
    return Review(
        version, live, course, views, changes, course_changes, diffs, files, flags, cover_url
    )


def _same(
    lesson: dict[str, Any],
    assets: dict[str, dict[str, Any]],
    before: dict[str, Any],
    their_assets: dict[str, dict[str, Any]],
) -> bool:
    """Whether a lesson is the same in two versions: its row, and the files it shows as
    its own (a new PDF or captions file at the same path is a change to read)."""
    if any(lesson[f] != before[f] for f in ("title", "kind", "html_sha256", "data")):
        return False
    data = stored_lesson_data(lesson["data"])
    paths = [data.media, *(track.src for track in data.captions)]
    return all(
        (assets.get(p) or {}).get("sha256") == (their_assets.get(p) or {}).get("sha256")
        for p in paths
        if p
    )


def asset(database: Database, version_id: int, path: str) -> dict[str, Any]:
    row = database.query_one(
        "SELECT path, sha256, media_type, size, pack_sha256, pack_offset FROM assets"
        " WHERE version_id = ? AND path = ?",
        [version_id, path],
    )
    if row is None:
        raise NotFound()
    return dict(row)


def versions(database: Database) -> list[dict[str, Any]]:
    """Every course version for the admin's content list: pending ones first, then by
    course and newest version, each with whether it is the live one."""
    rows = database.query(
        "SELECT v.id, v.version, v.status, v.title, v.imported_at, c.course_id, c.id AS course_pk,"
        " c.pulled_at, c.live_version_id = v.id AS live, p.name AS publisher"
        " FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " JOIN publishers p ON p.id = c.publisher_id"
        " ORDER BY v.status != 'pending', c.course_id, v.version DESC"
    )
    return [dict(r) for r in rows]


def newest_version_id(database: Database, course_pk: int) -> int | None:
    """The course's most recently imported version (what the review page shows when a
    take-down of the whole course is refused)."""
    row = database.query_one("SELECT max(id) FROM course_versions WHERE course_pk = ?", [course_pk])
    return int(row[0]) if row is not None and row[0] is not None else None


def flag_href(version_id: int, where: str) -> str:
    """Where on the review page (or in which file) a flag's place is: a flag names it as a
    package path with a fragment (``content.importing.flags``). Lessons are shown whole on
    the page, so a lesson place is an anchor of it; a file place opens the file itself,
    keeping its fragment (a PDF's ``#page=3`` is honoured by the viewer)."""
    path, _, fragment = where.partition("#")
    if path.startswith("lessons/") and path.endswith(".html"):
        key = path.removeprefix("lessons/").removesuffix(".html")
        for prefix, short in (("question-", "q"), ("prompt-", "p")):
            if fragment.startswith(prefix):
                return f"#lesson-{key}-{short}-{fragment.removeprefix(prefix)}"
        return f"#lesson-{key}"
    if path:
        return file_url(version_id, path) + (f"#{fragment}" if fragment else "")
    return ""
