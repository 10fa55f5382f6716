"""Reading and verifying packages without trusting them.

Members are read one at a time from the stream; nothing is extracted to disk here (and
``extractall`` is never used). ``inspect_package`` checks every byte against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from content.errors import PackageError
from content.format.apps import app_entry
from content.format.limits import DEFAULT_LIMITS, Limits
from content.format.rules import manifest_lesson_problems
from content.package.manifest import MANIFEST_NAME, validate_manifest

_CHUNK = 1024 * 1024
# Sizes, versions and minutes fit in far fewer digits; a longer number can only be an
# attack on the parser or on what stores it (SQLite holds 19 digits at most).
MAX_NUMBER_DIGITS = 15
_PACKAGE_PATH = re.compile(r"(lessons|media|apps)/[^/\\\x00]+(/[^/\\\x00]+)*")
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


def is_package_path(name: str) -> bool:
    """True for a safe member name: under lessons/, media/ or apps/, relative, no
    ``.``/``..``."""
    return _PACKAGE_PATH.fullmatch(name) is not None and not _DOT_SEGMENT.search(name)


@dataclass(frozen=True)
class PackageFile:
    """One file listed in a manifest."""

    path: str
    size: int
    sha256: str
    media_type: str


@dataclass
class PackageInfo:
    """A package's manifest and file list; ``verified`` once every byte was checked."""

    path: Path
    manifest: dict[str, Any]
    files: list[PackageFile] = field(default_factory=list)
    verified: bool = False

    @property
    def course_id(self) -> str:
        """The course id from the manifest."""
        return str(self.manifest["course"]["id"])

    @property
    def version(self) -> int:
        """The course version from the manifest."""
        return int(self.manifest["course"]["version"])

    def file(self, path: str) -> PackageFile | None:
        """The manifest entry for a package path, if listed."""
        return next((f for f in self.files if f.path == path), None)


def read_manifest(stream: IO[bytes], size: int, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Parse and validate a manifest read from ``stream`` (``size`` bytes, bounded)."""
    if size > limits.max_manifest_bytes:
        raise PackageError(
            f"manifest.json is {size:,} bytes; the limit is {limits.max_manifest_bytes:,}",
            MANIFEST_NAME,
        )
    try:
        manifest = _parse(stream.read(size).decode("utf-8"))
        validate_manifest(manifest)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"manifest.json is not valid JSON: {exc}", MANIFEST_NAME) from exc
    except RecursionError:
        # The parser and the validators recurse once per level: a manifest nested
        # thousands of levels deep must be a refusal, not a crash of the whole sync.
        raise PackageError("manifest.json is nested too deeply", MANIFEST_NAME) from None
    _check_manifest_consistency(manifest, limits)
    return dict(manifest)


def _parse(text: str) -> Any:
    """JSON with every number checked as it is read (see :data:`MAX_NUMBER_DIGITS`)."""
    return json.loads(
        text, parse_int=_whole_number, parse_float=_number, parse_constant=_not_a_number
    )


def _whole_number(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise PackageError(
            f"manifest.json has a number with more than {MAX_NUMBER_DIGITS} digits",
            MANIFEST_NAME,
        )
    return int(text)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise PackageError(
            f"manifest.json has a number that is too big: {text[:20]}", MANIFEST_NAME
        )
    return value


def _not_a_number(text: str) -> float:
    raise PackageError(
        f"manifest.json has {text}, which is not a number JSON allows", MANIFEST_NAME
    )


def _check_manifest_consistency(manifest: dict[str, Any], limits: Limits) -> None:
    listed = [f["path"] for f in manifest["files"]]
    if len(set(listed)) != len(listed):
        raise PackageError("manifest.json lists a file twice", MANIFEST_NAME)
    keys = [lesson["key"] for lesson in manifest["lessons"]]
    if len(set(keys)) != len(keys):
        raise PackageError("manifest.json lists a lesson key twice", MANIFEST_NAME)
    known = set(listed)
    _check_cover(manifest, limits)
    for lesson in manifest["lessons"]:
        refs = [lesson["html"], lesson.get("media"), lesson.get("poster")]
        refs += [c["src"] for c in lesson.get("captions", [])]
        refs += list(lesson.get("narration", {}).values())
        missing = [r for r in refs if r is not None and r not in known]
        if lesson.get("app") and lesson["app"] + app_entry(lesson["kind"]) not in known:
            missing.append(lesson["app"] + app_entry(lesson["kind"]))
        if missing:
            raise PackageError(
                f"lesson '{lesson['key']}' refers to {missing[0]}, which is not in the package",
                MANIFEST_NAME,
            )
        problems = manifest_lesson_problems(lesson)
        if problems:
            raise PackageError(
                f"lesson '{lesson['key']}' is broken: {'; '.join(problems[:5])}", MANIFEST_NAME
            )


def _check_cover(manifest: dict[str, Any], limits: Limits) -> None:
    """A cover must be an image file of the package, and small: every catalog page shows
    it, so a hostile package must not make each one heavy."""
    cover = manifest["course"].get("cover")
    if cover is None:
        return
    entry = next((f for f in manifest["files"] if f["path"] == cover["src"]), None)
    if entry is None:
        raise PackageError(f"the cover {cover['src']} is not in the package", MANIFEST_NAME)
    if not entry["media_type"].startswith("image/"):
        raise PackageError(f"the cover {cover['src']} is not an image", MANIFEST_NAME)
    if entry["size"] > limits.max_cover_bytes:
        raise PackageError(
            f"the cover {cover['src']} is {entry['size']:,} bytes; the limit is "
            f"{limits.max_cover_bytes:,}",
            MANIFEST_NAME,
        )


def _open(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:")
    except (OSError, tarfile.TarError) as exc:
        raise PackageError(f"not a readable package (uncompressed tar): {exc}", str(path)) from exc


def _manifest_from(tar: tarfile.TarFile, path: Path, limits: Limits) -> PackageInfo:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isreg():
        raise PackageError("the first member of a package must be manifest.json", str(path))
    stream = tar.extractfile(first)
    assert stream is not None  # a regular file always has a stream
    manifest = read_manifest(stream, first.size, limits)
    files = [
        PackageFile(f["path"], f["size"], f["sha256"], f["media_type"]) for f in manifest["files"]
    ]
    return PackageInfo(path, manifest, files)


def read_package(path: Path, limits: Limits = DEFAULT_LIMITS) -> PackageInfo:
    """Read and validate only the manifest (the first member); fast, no hashing."""
    path = Path(path)
    with _open(path) as tar:
        try:
            return _manifest_from(tar, path, limits)
        except tarfile.TarError as exc:
            raise PackageError(f"damaged package: {exc}", str(path)) from exc


def inspect_package(path: Path, limits: Limits = DEFAULT_LIMITS) -> PackageInfo:
    """Read the whole package and verify each file's size and SHA-256 against the manifest.

    Raises :class:`PackageError` on the first difference: a member that is not a regular
    file, has an unsafe name, is not listed, is listed but missing, or has other bytes.
    """
    path = Path(path)
    with _open(path) as tar:
        try:
            info = _manifest_from(tar, path, limits)
            _verify_members(tar, info, limits)
        except tarfile.TarError as exc:
            raise PackageError(f"damaged package: {exc}", str(path)) from exc
    info.verified = True
    return info


def _verify_members(tar: tarfile.TarFile, info: PackageInfo, limits: Limits) -> None:
    expected = {f.path: f for f in info.files}
    seen: set[str] = set()
    while (member := tar.next()) is not None:
        name = member.name
        if not member.isreg() or not is_package_path(name):
            raise PackageError(f"member '{name}' is not an allowed regular file", str(info.path))
        if name in seen or name not in expected:
            raise PackageError(
                f"member '{name}' is not listed in the manifest (or repeated)", str(info.path)
            )
        if len(seen) >= limits.max_files:
            raise PackageError(f"more than {limits.max_files} files", str(info.path))
        seen.add(name)
        _verify_member(tar, member, expected[name], info.path)
    missing = sorted(set(expected) - seen)
    if missing:
        raise PackageError(f"'{missing[0]}' is listed in the manifest but missing", str(info.path))


def _verify_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, listed: PackageFile, path: Path
) -> None:
    if member.size != listed.size:
        raise PackageError(
            f"'{member.name}' is {member.size} bytes; the manifest says {listed.size}", str(path)
        )
    stream = tar.extractfile(member)
    assert stream is not None
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    if digest.hexdigest() != listed.sha256:
        raise PackageError(
            f"'{member.name}' does not match its SHA-256 in the manifest; the "
            "package was damaged or altered",
            str(path),
        )


def read_member_text(path: Path, name: str, limit: int = 16 * 1024 * 1024) -> str:
    """Read one small text member (such as a lesson's HTML) from a package."""
    with _open(Path(path)) as tar:
        try:
            member = tar.getmember(name)
        except KeyError as exc:
            raise PackageError(f"no member '{name}'", str(path)) from exc
        stream = tar.extractfile(member) if member.isreg() else None
        if stream is None or member.size > limit:
            raise PackageError(f"'{name}' is not a small regular file", str(path))
        return stream.read(limit).decode("utf-8")
