"""What a reviewer sees: a version's lessons, what changed since the live version, flags."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from content.importing.store import ContentStore
from server.core.db import Database
from server.core.errors import N_, NotFound

FLAG_LABELS = {
    "external-link": N_("Address outside the facility"),
    "sanitized": N_("Removed by the safety filter"),
    "email": N_("E-mail address"),
    "phone": N_("Phone number"),
    "missing-captions": N_("Video or audio without captions"),
    "type-mismatch": N_("File type did not match"),
    "svg": N_("Drawing (SVG): open it and look at it"),
    "web-address": N_("Web address"),
    "pdf-action": N_("PDF that runs or opens something"),
    "caption-html": N_("HTML in captions"),
    "confusable-name": N_("File name that looks like another"),
    "watch-word": N_("Word on the facility's watch list"),
}
_MEDIA_ATTR = re.compile(r'(src|href)="media/([^"]+)"')
_LESSON_LINK = re.compile(r'href="lessons/([a-z0-9][a-z0-9-]*)\.html(#[^"]*)?"')


@dataclass(frozen=True)
class LessonChange:
    key: str
    title: str
    change: str  # added | changed | removed | same


@dataclass(frozen=True)
class Review:
    version: dict[str, Any]
    live: dict[str, Any] | None
    lessons: list[dict[str, Any]]
    changes: list[LessonChange]
    new_media: list[dict[str, Any]]
    flags: list[dict[str, Any]]


def _lessons(database: Database, version_id: int) -> dict[str, dict[str, Any]]:
    rows = database.query(
        "SELECT key, title, kind, html_sha256, data, position FROM lessons WHERE version_id = ?"
        " ORDER BY position",
        [version_id],
    )
    return {r["key"]: dict(r) for r in rows}


def load_review(database: Database, version_id: int) -> Review:
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
    mine = _lessons(database, version_id)
    theirs = _lessons(database, live_id) if live is not None else {}
    changes = [_change(key, lesson, theirs.get(key)) for key, lesson in mine.items()]
    changes += [
        LessonChange(k, old["title"], "removed") for k, old in theirs.items() if k not in mine
    ]
    return Review(
        version,
        live,
        list(mine.values()),
        changes,
        _new_media(database, version_id, live_id if live else None),
        json.loads(version["review_flags"]),
    )


def _change(key: str, lesson: dict[str, Any], before: dict[str, Any] | None) -> LessonChange:
    if before is None:
        return LessonChange(key, lesson["title"], "added")
    same = all(lesson[f] == before[f] for f in ("title", "kind", "html_sha256", "data"))
    return LessonChange(key, lesson["title"], "same" if same else "changed")


def _new_media(database: Database, version_id: int, live_id: int | None) -> list[dict[str, Any]]:
    rows = database.query(
        "SELECT path, size, media_type FROM assets WHERE version_id = ? AND sha256 NOT IN"
        " (SELECT sha256 FROM assets WHERE version_id = ?) ORDER BY path",
        [version_id, live_id if live_id is not None else -1],
    )
    return [dict(r) for r in rows]


def lesson_preview(store: ContentStore, version_id: int, html_sha256: str | None) -> Markup:
    """The lesson's sanitized HTML (sanitized again at import), with package links made
    to point at this review page and its files."""
    if not html_sha256 or not store.has(html_sha256):
        return Markup("")
    html = Path(store.path_for(html_sha256)).read_text(encoding="utf-8")
    base = f"/admin/content/versions/{version_id}/files/media/"
    html = _MEDIA_ATTR.sub(lambda m: f'{m.group(1)}="{base}{m.group(2)}"', html)
    html = _LESSON_LINK.sub(lambda m: f'href="#lesson-{m.group(1)}"', html)
    return Markup(html)  # noqa: S704 - produced by the sanitizer, re-run at import


def asset(database: Database, version_id: int, path: str) -> dict[str, Any]:
    row = database.query_one(
        "SELECT sha256, media_type, size FROM assets WHERE version_id = ? AND path = ?",
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
