"""Everything a learner will see of a lesson, laid out for the person who reviews it.

A reviewer who cannot read every question, prompt, caption and page approves blind. So
a lesson under review is shown whole: its sanitized HTML with the package's links made
to point at the review's own files, the descriptions (alt text) of its pictures, the
words of its captions, the text of its PDF, and its quiz or workbook from the stored
lesson data. PDF text is read once per file and kept in ``pdf_text`` by digest.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from content.format.lessondata import CaptionTrack, LessonData, stored_lesson_data
from content.format.pdftext import PdfTextError, pdf_pages
from content.importing.store import ContentStore
from server.core import clock
from server.core.db import Database, write_refused

MAX_CAPTION_BYTES = 512 * 1024
_MEDIA_ATTR = re.compile(r'(src|href|poster)="media/([^"]+)"')
_LESSON_LINK = re.compile(r'href="lessons/([a-z0-9][a-z0-9-]*)\.html(#[^"]*)?"')
_CUE_TIMING = re.compile(r"^\s*(\d+:)?\d+:\d+[.,]\d+\s+-->")
_VTT_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Picture:
    """A picture in a lesson's text and the words a screen reader says for it."""

    src: str
    alt: str


@dataclass(frozen=True)
class Captions:
    track: CaptionTrack
    url: str | None
    lines: tuple[str, ...]  # the words of each cue, in order


@dataclass(frozen=True)
class PdfText:
    pages: tuple[str, ...]
    error: str  # why the file could not be read; empty when it was


@dataclass(frozen=True)
class LessonView:
    """One lesson as the review page shows it."""

    key: str
    title: str
    kind: str
    data: LessonData
    html: Markup
    text: str  # the lesson's words without markup, for the diff
    pictures: tuple[Picture, ...]
    media: dict[str, Any] | None  # the asset row of a video, audio or PDF, with its url
    poster_url: str | None
    captions: tuple[Captions, ...]
    pdf: PdfText | None
    # An interactive lesson's app: each of its files (asset rows with their review url).
    app_files: tuple[dict[str, Any], ...] = ()
    # The narration's audio asset row with its url, and who made it ("" for the package)
    narration: dict[str, Any] | None = None


def file_url(version_id: int, path: str) -> str:
    """Where the review page reads a file of a version (staff only; sandboxed)."""
    return f"/admin/content/versions/{version_id}/files/{quote(path)}"


def lesson_views(
    database: Database,
    store: ContentStore,
    version_id: int,
    lessons: list[dict[str, Any]],
    assets: dict[str, dict[str, Any]],
) -> list[LessonView]:
    """Each of ``lessons`` (rows of a version, in order) as the reviewer reads it."""
    return [_view(database, store, version_id, lesson, assets) for lesson in lessons]


def _view(
    database: Database,
    store: ContentStore,
    version_id: int,
    lesson: dict[str, Any],
    assets: dict[str, dict[str, Any]],
) -> LessonView:
    data = stored_lesson_data(lesson["data"])
    html = lesson_preview(store, version_id, lesson["html_sha256"])
    media = assets.get(data.media) if data.media else None
    pdf = None
    if lesson["kind"] == "pdf":
        pdf = pdf_text(database, store, media["sha256"]) if media else PdfText((), "missing")
    return LessonView(
        key=lesson["key"],
        title=lesson["title"],
        kind=lesson["kind"],
        data=data,
        html=html,
        text="\n".join(f"{s.heading}\n{s.text}" for s in data.sections),
        pictures=_pictures(str(html)),
        media={**media, "url": file_url(version_id, data.media)} if media else None,
        poster_url=file_url(version_id, data.poster) if data.poster in assets else None,
        captions=tuple(
            Captions(
                track,
                file_url(version_id, track.src) if track.src in assets else None,
                _caption_lines(store, assets.get(track.src)),
            )
            for track in data.captions
        ),
        pdf=pdf,
        app_files=tuple(
            {**row, "url": file_url(version_id, path)}
            for path, row in sorted(assets.items())
            if data.app and path.startswith(data.app)
        ),
        narration=_narration(version_id, data, assets),
    )


def _narration(
    version_id: int, data: LessonData, assets: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """The lesson's narration audio for the reviewer to listen to, and who made it: the
    package, or this facility at import (``made_by``)."""
    if data.narration is None or data.narration.audio not in assets:
        return None
    asset = assets[data.narration.audio]
    return {**asset, "url": file_url(version_id, asset["path"]), "made_by": data.narration.made_by}


def lesson_preview(store: ContentStore, version_id: int, html_sha256: str | None) -> Markup:
    """The lesson's sanitized HTML (sanitized again at import), with package links made
    to point at this review page and its files."""
    if not html_sha256 or not store.has(html_sha256):
        return Markup("")
    html = Path(store.path_for(html_sha256)).read_text(encoding="utf-8")
    html = _MEDIA_ATTR.sub(
        lambda m: f'{m.group(1)}="{file_url(version_id, "media/" + m.group(2))}"', html
    )
    html = _LESSON_LINK.sub(lambda m: f'href="#lesson-{m.group(1)}"', html)
    return Markup(html)  # noqa: S704 - produced by the sanitizer, re-run at import


class _PictureFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.pictures: list[Picture] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            found = dict(attrs)
            self.pictures.append(Picture(found.get("src") or "", found.get("alt") or ""))


def _pictures(html: str) -> tuple[Picture, ...]:
    finder = _PictureFinder()
    finder.feed(html)
    finder.close()
    return tuple(finder.pictures)


def _caption_lines(store: ContentStore, asset: dict[str, Any] | None) -> tuple[str, ...]:
    """The words of a WebVTT file: cue settings, times, notes and voice tags left out."""
    if asset is None or not store.has(asset["sha256"]):
        return ()
    with store.path_for(asset["sha256"]).open("rb") as file:
        text = file.read(MAX_CAPTION_BYTES).decode("utf-8", errors="replace")
    lines: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        rows = block.strip().split("\n")
        timing = next((i for i, row in enumerate(rows) if _CUE_TIMING.match(row)), None)
        if timing is None:
            continue  # the header, a NOTE, a STYLE or REGION block
        words = " ".join(_VTT_TAG.sub("", row).strip() for row in rows[timing + 1 :])
        if words.strip():
            lines.append(words.strip())
    return tuple(lines)


def pdf_text(database: Database, store: ContentStore, sha256: str) -> PdfText:
    """The text of a PDF file by page, read from the store the first time and kept."""
    row = database.query_one("SELECT pages, error FROM pdf_text WHERE sha256 = ?", [sha256])
    if row is not None:
        return PdfText(tuple(json.loads(row["pages"])), row["error"])
    if not store.has(sha256):
        return PdfText((), "missing")
    try:
        found = PdfText(pdf_pages(store.path_for(sha256).read_bytes()), "")
    except PdfTextError as exc:
        found = PdfText((), str(exc))
    _keep(database, sha256, found)
    return found


def _keep(database: Database, sha256: str, found: PdfText) -> None:
    """Keep the text for next time; a full disk only means reading it again then."""
    try:
        with database.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO pdf_text (sha256, pages, error, read_at)"
                " VALUES (?, ?, ?, ?)",
                [sha256, json.dumps(list(found.pages)), found.error, clock.iso()],
            )
    except (sqlite3.Error, OSError) as exc:
        if not write_refused(exc):
            raise
