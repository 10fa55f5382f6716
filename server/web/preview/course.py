"""A course folder as the preview shows it: what lint finds, and the lessons in the form
the learner pages take them from a facility's database.

Nothing is packaged or signed: the folder is analysed exactly as `stepstone package
build` analyses it (the same Markdown rendering and sanitizer), each lesson's manifest
entry is made the way the builder makes it, and its HTML is sanitized once more, as the
import at a facility does. A folder with errors still gives every lesson that could be
read; the problems go on the page instead of stopping it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from content.errors import Problem
from content.format.analyse import Analysis, analyse_course, cover_json
from content.format.lessondata import lesson_data
from content.format.limits import DEFAULT_LIMITS
from content.format.lint import sort_problems
from content.format.model import Course as SourceCourse
from content.format.sanitize import sanitize_html
from content.package.manifest import lesson_entry
from server.learning.visibility import Course, Cover, Lesson
from server.web.lessonpage import link_lesson_html

PUBLISHER = "Preview"


@dataclass(frozen=True)
class MediaEntry:
    """A course file the preview may send: where it is and what it is."""

    path: Path
    media_type: str
    data: bytes | None = None  # a book's picture, taken out of its EPUB


@dataclass
class PreviewCourse:
    """One reading of the folder; a new one is made whenever a file changes."""

    stamp: str
    course: Course | None
    lessons: list[Lesson] = field(default_factory=list)
    html: dict[str, Markup] = field(default_factory=dict)
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, MediaEntry] = field(default_factory=dict)  # URL token -> file
    problems: list[Problem] = field(default_factory=list)


def folder_stamp(root: Path) -> str:
    """A digest of every file's name, size and modification time: it changes when a
    file is saved, added, renamed or removed. Hidden files and folders (`.git`, an
    editor's swap files) do not count; links are not followed."""
    digest = hashlib.sha256()
    seen = 0
    for folder, folders, files in os.walk(root, followlinks=False):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder, name)
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # removed while we looked: the next poll sees it gone
            digest.update(
                f"{path.relative_to(root)}\0{info.st_size}\0{info.st_mtime_ns}\n".encode()
            )
            seen += 1
            if seen > DEFAULT_LIMITS.max_files:
                return digest.hexdigest()  # lint reports the folder as too big
    return digest.hexdigest()


def media_token(package_path: str, path: Path) -> str:
    """The URL part of a course file: a digest of its path, size and modification time,
    so a picture the author replaces gets a new URL and the browser never shows the old
    one from its cache. (A facility uses the file's SHA-256; reading every video on
    each save would make the preview slow.)"""
    try:
        info = path.stat()
    except OSError:
        return hashlib.sha256(package_path.encode()).hexdigest()
    return hashlib.sha256(
        f"{package_path}\0{info.st_size}\0{info.st_mtime_ns}".encode()
    ).hexdigest()


def read_course(root: Path, stamp: str) -> PreviewCourse:
    """Analyse the folder and turn what could be read into learner-page lessons."""
    analysis = analyse_course(root)
    found = PreviewCourse(stamp, None, problems=sort_problems(analysis.report.problems))
    if analysis.course is None:
        return found
    _add_media(found, analysis, root)
    source = analysis.course
    for position, lesson in enumerate(source.lessons):
        rendered = analysis.rendered.get(lesson.key)
        if rendered is None or any(other.key == lesson.key for other in found.lessons):
            continue  # a key used twice: lint said so; the first one is shown
        entry = lesson_entry(lesson, analysis)
        found.lessons.append(
            Lesson(lesson.key, position, lesson.title, lesson.kind, None, lesson_data(entry))
        )
        clean = sanitize_html(rendered.html).html  # again, as the facility's import does
        found.html[lesson.key] = link_lesson_html(clean, found.assets, source.id)
    found.course = Course(
        course_pk=0,
        course_id=source.id or "preview",
        version_id=0,
        version=source.version,
        title=source.title,
        summary=source.summary,
        category=source.category,
        language=source.language,
        level=source.level,
        estimated_hours=source.estimated_hours,
        credits=source.credits,
        publisher=PUBLISHER,
        lesson_count=len(found.lessons),
        enrolled=True,
        cover=_cover(found, source),
        editions=dict(source.editions),
    )
    return found


def _cover(found: PreviewCourse, source: SourceCourse) -> Cover | None:
    cover = cover_json(source)
    if cover is None or cover["src"] not in found.assets:
        return None
    return Cover(cover["src"], found.assets[cover["src"]]["sha256"], cover["alt"])


def _add_media(found: PreviewCourse, analysis: Analysis, root: Path) -> None:
    for media in analysis.media.values():
        if media.data is not None:
            token = hashlib.sha256(media.data).hexdigest()
            found.assets[media.package_path] = {"path": media.package_path, "sha256": token}
            found.media[token] = MediaEntry(root, media.media_type, media.data)
            continue
        path = root / media.source
        token = media_token(media.package_path, path)
        # `lessonpage` names the URL part sha256, as a facility's store does.
        found.assets[media.package_path] = {"path": media.package_path, "sha256": token}
        found.media[token] = MediaEntry(path, media.media_type)


class CourseWatcher:
    """The folder's current reading, made again only when a file changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._current: PreviewCourse | None = None

    def stamp(self) -> str:
        return folder_stamp(self.root)

    def current(self) -> PreviewCourse:
        stamp = self.stamp()
        with self._lock:
            if self._current is None or self._current.stamp != stamp:
                self._current = read_course(self.root, stamp)
            return self._current
