"""Checks on the course folder as a whole: what files are there, and are they allowed."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from content.errors import ContentError, Report
from content.format.limits import Limits
from content.format.mediatypes import (
    FileType,
    check_media,
    disallowed_kind,
    file_type_for,
    read_head,
)
from content.format.paths import FoundFile, walk_course

_TEXT_SUFFIXES = (".md", ".yaml")


@dataclass
class CourseFiles:
    """Every regular file of a course folder (course path → size) and the media types found."""

    sizes: dict[str, int] = field(default_factory=dict)
    types: dict[str, FileType] = field(default_factory=dict)
    app_files: set[str] = field(default_factory=set)  # checked by the app's own rules


def scan_tree(
    root: Path, limits: Limits, report: Report, apps: tuple[str, ...] = ()
) -> CourseFiles:
    """List the folder, refusing symlinks, oversize files and forbidden types.

    Files inside an app folder (``apps``: course paths of html5 lessons' folders) are only
    listed here; ``content.format.applint`` checks them by the rules of apps.
    """
    files = CourseFiles()
    prefixes = tuple(app.rstrip("/") + "/" for app in apps)
    for found in walk_course(root, limits):
        if not isinstance(found, FoundFile):
            report.error(found.path, None, found.message)
            continue
        files.sizes[found.path] = found.size
        if len(files.sizes) == limits.max_files + 1:
            report.error(
                found.path,
                None,
                f"the course folder has more than "
                f"{limits.max_files} files; remove unused files or split the course",
            )
        if found.path.startswith(prefixes):
            files.app_files.add(found.path)
            continue
        _check_file(root, found, limits, files, report)
    return files


def _check_file(
    root: Path, found: FoundFile, limits: Limits, files: CourseFiles, report: Report
) -> None:
    name = found.path
    if found.size > limits.max_member_bytes(name):
        report.error(
            name,
            None,
            f"file is {found.size:,} bytes; the limit is "
            f"{limits.max_member_bytes(name):,} — compress or split it",
        )
        return
    hidden = any(part.startswith(".") for part in name.split("/"))
    if name.lower().endswith(".epub"):
        # A book's source: read (with its own limits) by content.format.epub, and never
        # packaged itself — only the chapters and pictures converted from it are.
        return
    if name.lower().endswith(_TEXT_SUFFIXES):
        _check_text_file(root / name, name, report)
        return
    file_type = file_type_for(name)
    if file_type is None:
        _unknown_file(root / name, name, hidden, report)
        return
    if not _within_type_limit(name, found.size, file_type, limits, report):
        return
    try:
        files.types[name] = check_media(root / name, name)
    except ContentError as exc:
        report.add(exc)
    except OSError as exc:
        report.error(name, None, f"cannot read file: {exc.strerror}")


def _within_type_limit(
    name: str, size: int, file_type: FileType, limits: Limits, report: Report
) -> bool:
    # SVG and captions are parsed or served as text, so they get tighter limits.
    limit = {"image/svg+xml": limits.max_svg_bytes, "text/vtt": limits.max_captions_bytes}.get(
        file_type.media_type
    )
    if limit is not None and size > limit:
        report.error(
            name,
            None,
            f"file is {size:,} bytes; {file_type.media_type} files may be at most {limit:,}",
        )
        return False
    return True


def _check_text_file(path: Path, name: str, report: Report) -> None:
    try:
        head = read_head(path)
    except OSError as exc:
        report.error(name, None, f"cannot read file: {exc.strerror}")
        return
    bad = disallowed_kind(head)
    if bad and bad != "an HTML document":
        report.error(name, None, f"this file is {bad}, not text; remove it")
    elif b"\x00" in head:
        report.error(name, None, "this is a binary file, not text; remove it or rename it")


def _unknown_file(path: Path, name: str, hidden: bool, report: Report) -> None:
    try:
        bad = disallowed_kind(read_head(path))
    except OSError as exc:
        report.error(name, None, f"cannot read file: {exc.strerror}")
        return
    if bad:
        report.error(
            name, None, f"this file is {bad}; such files are not allowed in a course — remove it"
        )
    elif hidden:
        report.warning(name, None, "hidden file ignored; it will not be packaged")
    else:
        report.error(
            name,
            None,
            f"files of type '{path.suffix or path.name}' are not allowed "
            "in a course; remove it (allowed: .md lessons, course.yaml and media: "
            "png jpg gif webp svg webm mp4 ogg opus mp3 m4a wav vtt pdf)",
        )
