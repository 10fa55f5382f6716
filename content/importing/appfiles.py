"""Interactive apps at import: each app file checked again, and what the apps reach for.

The package's build checked its apps (``content.format.applint``), but the server never
trusts a package: every file under ``apps/`` must belong to an html5 lesson of the
manifest, be of a type an app may hold and be what its name says, and every app stays
within its limits. Then each page, style sheet and script is read for addresses outside
the app, and each one found is a flag for the reviewer: the sandbox blocks them anyway,
but a person should know what an app tried to reach.

A SCORM package has thousands of small files, so both checks run on the bytes the
extraction has in hand (:class:`AppFileNotes`), while it streams the package: what they
find is noted, and acted on later, in the same order and with the same messages as when
a file is read back from the staging folder (which is what happens for a file the notes
do not cover, such as a script bigger than the extraction holds in memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from content.format.apps import (
    APP_ROOT,
    app_file_problem,
    app_media_type,
    decode_text,
    is_outside,
    may_reference,
    references,
    scans_references,
)
from content.format.h5p import MANIFEST as H5P_MANIFEST
from content.format.h5p import H5pError, missing_files, read_h5p_json
from content.format.limits import Limits
from content.format.mediatypes import HEAD_BYTES
from content.format.scorm import MANIFEST as SCORM_MANIFEST
from content.format.scorm import ScormError
from content.format.scorm import read_manifest as read_scorm
from content.importing.flags import Flag
from content.package.extract import ExtractedPackage, ImportRefused, shown

# Larger files are not read for addresses (a minified library can be megabytes).
SCAN_BYTES = 4 * 1024 * 1024
MAX_FLAGS_PER_APP = 50
# Outside addresses kept by AppFileNotes for the whole package: beyond this, files are read
# again for them, so a package full of addresses cannot make the notes big.
MAX_NOTED_ADDRESSES = 10_000
_SHOWN_ADDRESS = 200  # characters of an address in its flag


class AppFileNotes:
    """What each app file's bytes say, noted as the extraction streams them by.

    Pass :meth:`inspect` to ``extract_package``: for each file under ``apps/`` it notes
    the type check's verdict on the file's first bytes (``app_file_problem``) and, for a
    small page, style sheet or script held whole, the addresses it reaches outside the
    app. Nothing is refused here: the import acts on the notes at the step it always did.
    """

    def __init__(self) -> None:
        self.problems: dict[str, str | None] = {}
        self.outside: dict[str, list[tuple[int, str]]] = {}
        self._addresses = 0

    def inspect(self, path: str, data: bytes, whole: bool) -> None:
        """Note what ``data`` (all of the file when ``whole``, else its head) says."""
        if not path.startswith(APP_ROOT + "/"):
            return
        self.problems[path] = app_file_problem(path, data[:HEAD_BYTES])
        if whole and scans_references(path) and len(data) <= SCAN_BYTES:
            found = outside_addresses(path, data)
            if self._addresses + len(found) <= MAX_NOTED_ADDRESSES:
                self.outside[path] = found
                self._addresses += len(found)


def outside_addresses(path: str, data: bytes) -> list[tuple[int, str]]:
    """(line, address) of each address the app file ``path`` reaches outside the app,
    each address once, in the file's order, as a flag shows it (its first 200 characters);
    at most :data:`MAX_FLAGS_PER_APP`, as no more are flagged for one app. So what
    :class:`AppFileNotes` keeps stays small, whatever a file holds."""
    found: list[tuple[int, str]] = []
    if not may_reference(path, data):
        return found  # most scripts: no need to decode them
    seen: set[str] = set()
    for ref in references(path, decode_text(data)):
        if ref.address in seen or not is_outside(ref.address):
            continue
        seen.add(ref.address)
        found.append((ref.line, ref.address[:_SHOWN_ADDRESS]))
        if len(found) == MAX_FLAGS_PER_APP:
            break
    return found


def app_roots(manifest: Mapping[str, Any]) -> dict[str, str]:
    """Each html5 lesson's app folder in the package (``apps/<key>/``) → its lesson key."""
    return {
        str(lesson["app"]): str(lesson["key"]) for lesson in manifest["lessons"] if "app" in lesson
    }


def check_app_file(
    extracted: ExtractedPackage,
    path: str,
    declared: str,
    apps: Mapping[str, str],
    notes: AppFileNotes | None = None,
) -> str:
    """Refuse an app file that no lesson owns, of a type an app may not hold, or that is
    not what its name says; returns its media type."""
    root = APP_ROOT + "/" + path.split("/")[1] + "/"
    if root not in apps:
        raise ImportRefused(f"'{shown(path)}' is not a file of any lesson's app", path)
    if notes is not None and path in notes.problems:
        problem = notes.problems[path]
    else:
        problem = app_file_problem(path, extracted.read_head(path))
    if problem:
        raise ImportRefused(f"'{shown(path)}': {problem}", path)
    media_type = app_media_type(path)
    if declared != media_type:
        raise ImportRefused(
            f"'{shown(path)}': the manifest says {declared} but an app file of this name is "
            f"{media_type}",
            path,
        )
    return str(media_type)


def check_app_limits(manifest: Mapping[str, Any], limits: Limits) -> None:
    """Refuse a package one of whose apps has too many files or bytes."""
    counts: dict[str, list[int]] = {}
    for entry in manifest["files"]:
        path = str(entry["path"])
        if path.startswith(APP_ROOT + "/"):
            counts.setdefault(path.split("/")[1], []).append(int(entry["size"]))
    for key, sizes in sorted(counts.items()):
        if len(sizes) > limits.max_app_files or sum(sizes) > limits.max_app_bytes:
            raise ImportRefused(
                f"the app of lesson '{key}' has {len(sizes):,} files and {sum(sizes):,} bytes;"
                f" the limits are {limits.max_app_files:,} files and"
                f" {limits.max_app_bytes:,} bytes",
                f"{APP_ROOT}/{key}/",
            )


def check_scorm(extracted: ExtractedPackage, manifest: Mapping[str, Any]) -> None:
    """A scorm lesson's organization, as the manifest gives it, must be what its own
    imsmanifest.xml says (read again here): the lesson page launches what is listed."""
    for lesson in manifest["lessons"]:
        if lesson["kind"] != "scorm":
            continue
        path = f"{lesson['app']}{SCORM_MANIFEST}"
        try:
            package = read_scorm(extracted.read_bytes(path))
        except ScormError as exc:
            raise ImportRefused(f"'{shown(path)}': {exc}", path) from exc
        if package.as_json() != lesson.get("scorm"):
            raise ImportRefused(
                f"lesson '{lesson['key']}': the manifest's SCORM organization is not what "
                f"{SCORM_MANIFEST} says",
                path,
            )
        missing = [
            sco.href for sco in package.scos if f"{lesson['app']}{sco.href}" not in extracted.files
        ]
        if missing:
            raise ImportRefused(
                f"lesson '{lesson['key']}': the SCO '{missing[0]}' is missing", path
            )


def check_h5p(extracted: ExtractedPackage, manifest: Mapping[str, Any]) -> None:
    """An h5p lesson's folder holds what its h5p.json needs (read again here)."""
    for lesson in manifest["lessons"]:
        if lesson["kind"] != "h5p":
            continue
        path = f"{lesson['app']}{H5P_MANIFEST}"
        try:
            content = read_h5p_json(extracted.read_bytes(path))
        except H5pError as exc:
            raise ImportRefused(f"'{shown(path)}': {exc}", path) from exc
        present = {
            p.removeprefix(lesson["app"]) for p in extracted.files if p.startswith(lesson["app"])
        }
        missing = missing_files(content, present)
        if missing:
            raise ImportRefused(f"lesson '{lesson['key']}': '{missing[0]}' is missing", path)


def app_flags(
    extracted: ExtractedPackage, manifest: Mapping[str, Any], notes: AppFileNotes | None = None
) -> list[Flag]:
    """A flag for every address an app's files reach outside the app."""
    flags: list[Flag] = []
    for root, key in sorted(app_roots(manifest).items()):
        found: list[Flag] = []
        for path in sorted(p for p in extracted.files if p.startswith(root)):
            if not scans_references(path) or extracted.files[path].size > SCAN_BYTES:
                continue
            if notes is not None and path in notes.outside:
                addresses = notes.outside[path]
            else:
                addresses = outside_addresses(path, extracted.read_bytes(path))
            found += (
                {
                    "kind": "app-outside",
                    "lesson": key,
                    "where": path,
                    "detail": f"{path}:{line}: {address}",
                    "source": "import",
                }
                for line, address in addresses
            )
            if len(found) >= MAX_FLAGS_PER_APP:
                break
        flags += found[:MAX_FLAGS_PER_APP]
    return flags
