"""Lint of an html5 lesson's app folder: its files, its entry, its references, its size.

The folder scan (``content.format.tree``) only lists an app's files; here each is checked
by the rules of apps (``content.format.apps``), the entry and every file a page or style
sheet refers to must be there, and each address that reaches outside the app is reported
(a warning for the author) and flagged (for the facility's reviewer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from content.errors import Report
from content.format.apps import (
    app_entry,
    app_file_problem,
    app_media_type,
    decode_text,
    is_outside,
    package_app_root,
    references,
    resolve_in_app,
    scans_references,
)
from content.format.h5p import MANIFEST as H5P_MANIFEST
from content.format.h5p import H5pError, missing_files, read_h5p_json
from content.format.limits import Limits
from content.format.mediatypes import read_head
from content.format.model import Lesson
from content.format.scorm import MANIFEST, ScormError, read_manifest
from content.format.tree import CourseFiles

# A page or style sheet larger than this is not read for references (a minified
# library can be megabytes; its own addresses are still found at import).
_SCAN_BYTES = 4 * 1024 * 1024

AppFile = tuple[str, str, int, str]  # course path, package path, size, media type


def check_app(
    root: Path,
    lesson: Lesson,
    files: CourseFiles,
    limits: Limits,
    report: Report,
    flags: list[dict[str, str]],
) -> list[AppFile]:
    """Check the app of ``lesson``; return its files as they go into the package."""
    assert lesson.app is not None
    folder = lesson.app.rstrip("/") + "/"
    names = sorted(
        name
        for name in files.app_files
        if name.startswith(folder) and not any(p.startswith(".") for p in name.split("/"))
    )
    inside = {name.removeprefix(folder): name for name in names}
    line = lesson.line("app")
    entry = app_entry(lesson.kind)
    if entry not in inside:
        report.error(
            lesson.source,
            line,
            f"the app folder '{lesson.app}' has no {entry}; the app starts from it",
        )
    elif lesson.kind == "scorm":
        lesson.scorm = _scorm(root / inside[entry], lesson, set(inside), report)
    elif lesson.kind == "h5p":
        _h5p(root / inside[entry], lesson, set(inside), report)
    _check_size(lesson, folder, [files.sizes[n] for n in names], limits, report)
    found: list[AppFile] = []
    for relative, name in inside.items():
        media_type = _checked_type(root, name, files.sizes[name], limits, report)
        if media_type is None:
            continue
        found.append((name, package_app_root(lesson.key) + relative, files.sizes[name], media_type))
        if scans_references(name) and files.sizes[name] <= _SCAN_BYTES:
            _check_references(root, lesson, relative, name, set(inside), report, flags)
    return found


def _scorm(path: Path, lesson: Lesson, present: set[str], report: Report) -> dict[str, Any] | None:
    """Read a SCORM package's manifest; every SCO and listed file must be in the folder."""
    where = f"{lesson.app}/{MANIFEST}"
    try:
        package = read_manifest(path.read_bytes())
    except ScormError as exc:
        report.error(where, None, str(exc))
        return None
    launched = {sco.href for sco in package.scos}
    for name in sorted(launched | {f.partition("?")[0] for f in package.files}):
        if name not in present:
            what = "the SCO" if name in launched else "the file"
            report.error(where, None, f"{what} '{name}' is not in the package's folder")
    return package.as_json()


def _h5p(path: Path, lesson: Lesson, present: set[str], report: Report) -> None:
    """Read an H5P folder's h5p.json; its content and every library must be there."""
    where = f"{lesson.app}/{H5P_MANIFEST}"
    try:
        content = read_h5p_json(path.read_bytes())
    except H5pError as exc:
        report.error(where, None, str(exc))
        return
    for name in missing_files(content, present):
        report.error(where, None, f"'{name}' is not in the H5P folder; unzip the whole .h5p file")


def _check_size(
    lesson: Lesson, folder: str, sizes: list[int], limits: Limits, report: Report
) -> None:
    if len(sizes) > limits.max_app_files:
        report.error(
            lesson.source,
            lesson.line("app"),
            f"the app '{folder}' has {len(sizes):,} files; an app may have at most "
            f"{limits.max_app_files:,}",
        )
    if sum(sizes) > limits.max_app_bytes:
        report.error(
            lesson.source,
            lesson.line("app"),
            f"the app '{folder}' is {sum(sizes):,} bytes; an app may be at most "
            f"{limits.max_app_bytes:,}",
        )


def _checked_type(root: Path, name: str, size: int, limits: Limits, report: Report) -> str | None:
    if size > limits.max_file_bytes:
        report.error(name, None, f"file is {size:,} bytes; the limit is {limits.max_file_bytes:,}")
        return None
    try:
        problem = app_file_problem(name, read_head(root / name))
    except OSError as exc:
        report.error(name, None, f"cannot read file: {exc.strerror}")
        return None
    if problem:
        report.error(name, None, problem)
        return None
    return app_media_type(name)


def _check_references(
    root: Path,
    lesson: Lesson,
    relative: str,
    name: str,
    present: set[str],
    report: Report,
    flags: list[dict[str, Any]],
) -> None:
    seen: set[str] = set()
    text = decode_text((root / name).read_bytes())
    for ref in references(relative, text):
        if ref.address in seen:
            continue
        seen.add(ref.address)
        if is_outside(ref.address):
            report.warning(
                name,
                ref.line,
                f"'{ref.address[:120]}' reaches outside the app; the sandbox blocks it "
                "(tablets have no internet), and it is flagged for review",
            )
            flags.append(
                {
                    "kind": "app-outside",
                    "lesson": lesson.key,
                    "detail": f"{relative}: {ref.address}",
                }
            )
            continue
        if ref.address.strip().startswith("/") and not ref.address.strip().startswith("//"):
            report.error(
                name,
                ref.line,
                f"'{ref.address[:120]}' starts with /; write it relative to this file, "
                "as the app is served from its own folder",
            )
            continue
        target = resolve_in_app(relative, ref.address)
        if target is not None and target not in present and _is_file_reference(name):
            report.error(
                name,
                ref.line,
                f"'{ref.address[:120]}' is not a file of the app; add it or fix the name "
                "(names are case-sensitive)",
            )


def _is_file_reference(name: str) -> bool:
    # Only pages and style sheets are read for their relative addresses; a script's
    # strings are not addresses unless they are full ones.
    return name.lower().endswith((".html", ".htm", ".css"))
