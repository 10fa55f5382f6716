"""``build_package``: a course source folder → ``<course-id>-v<version>.tar``.

The package is written to a temporary file in ``dist`` and moved into place with
``os.replace`` only when complete, so a failed build leaves nothing half-written. Media are
never read whole: they are hashed in chunks (first pass, because the manifest with every
hash comes first in the tar) and then copied by the kernel (second pass). The second pass
checks each file's size and modification time so a file edited mid-build is caught.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from content.durable import new_file_mode
from content.errors import LintFailed, PackageError, has_errors
from content.format.analyse import Analysis, MediaFile, analyse_course, package_lesson_path
from content.format.limits import DEFAULT_LIMITS, Limits
from content.format.lint import package_name, sort_problems
from content.package.manifest import (
    LESSON_MEDIA_TYPE,
    MANIFEST_NAME,
    build_manifest,
    dumps,
    validate_manifest,
)
from content.package.tarwriter import TarWriter
from content.progress_bar import ByteProgress, open_progress

HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class HashedMedia:
    """A media file with its digest and the stat seen while hashing it."""

    media: MediaFile
    path: Path
    sha256: str
    stamp: tuple[int, int, int]  # size, mtime_ns, inode


def build_package(
    src: Path, dist: Path, *, limits: Limits = DEFAULT_LIMITS, progress: bool | None = None
) -> Path:
    """Lint ``src`` and, when there are no errors, write its package into ``dist``.

    Returns the package path. Raises :class:`LintFailed` (with every problem) when lint
    finds errors, :class:`PackageError` when writing fails. ``progress`` shows a progress
    bar on stderr (default: only when stderr is a terminal).
    """
    src, dist = Path(src), Path(dist)
    analysis = analyse_course(src, limits)
    if has_errors(analysis.report.problems):
        raise LintFailed(sort_problems(analysis.report.problems))
    assert analysis.course is not None
    show = sys.stderr.isatty() if progress is None else progress
    media = sorted(analysis.media.values(), key=lambda m: m.package_path)
    on_disk = [m for m in media if m.data is None]
    with open_progress(show, 2 * sum(m.size for m in on_disk)) as bar:
        hashed = [hash_media(src, m, bar) for m in on_disk]
        lessons = {
            package_lesson_path(key): (rendered.html.encode("utf-8"), LESSON_MEDIA_TYPE)
            for key, rendered in analysis.rendered.items()
        }
        # A book's pictures come out of its EPUB: written from memory like the lessons.
        lessons |= {m.package_path: (m.data, m.media_type) for m in media if m.data is not None}
        manifest = _manifest(analysis, lessons, hashed)
        target = dist / package_name(analysis.course.id, analysis.course.version)
        _write_atomically(target, manifest, lessons, hashed, bar)
    return target


def hash_media(root: Path, media: MediaFile, bar: ByteProgress) -> HashedMedia:
    """SHA-256 of one media file, read in chunks."""
    path = root / media.source
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as stream:
        stamp = _stamp(os.fstat(stream.fileno()))
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
            bar.advance(len(chunk))
    if stamp[0] != media.size:
        raise PackageError(
            "file changed while the package was being built; build again", media.source
        )
    return HashedMedia(media, path, digest.hexdigest(), stamp)


def _stamp(info: os.stat_result) -> tuple[int, int, int]:
    return info.st_size, info.st_mtime_ns, info.st_ino


def _manifest(
    analysis: Analysis, lessons: dict[str, tuple[bytes, str]], hashed: list[HashedMedia]
) -> bytes:
    files: list[dict[str, Any]] = [
        {
            "path": path,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "media_type": media_type,
        }
        for path, (data, media_type) in lessons.items()
    ]
    files += [
        {
            "path": h.media.package_path,
            "size": h.media.size,
            "sha256": h.sha256,
            "media_type": h.media.media_type,
        }
        for h in hashed
    ]
    manifest = build_manifest(analysis, files)
    validate_manifest(manifest)
    return dumps(manifest)


def _write_atomically(
    target: Path,
    manifest: bytes,
    lessons: dict[str, tuple[bytes, str]],
    hashed: list[HashedMedia],
    bar: ByteProgress,
) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_in(target.parent) as (out, temp):
        writer = TarWriter(out)
        writer.add_bytes(MANIFEST_NAME, manifest)
        members: list[tuple[str, bytes | HashedMedia]] = [(p, d) for p, (d, _) in lessons.items()]
        members += [(h.media.package_path, h) for h in hashed]
        for name, content in sorted(members, key=lambda m: m[0]):
            if isinstance(content, bytes):
                writer.add_bytes(name, content)
            else:
                _add_media(writer, content, bar)
        writer.close()
        out.flush()
        os.fsync(out.fileno())
        temp.replace(target)


@contextlib.contextmanager
def _temporary_in(folder: Path) -> Iterator[tuple[Any, Path]]:
    """An unbuffered temporary file in ``folder``, removed unless it was moved away."""
    fd, name = tempfile.mkstemp(prefix=".building-", suffix=".tar", dir=folder)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb", buffering=0) as out:
            os.fchmod(out.fileno(), new_file_mode())  # as open() would, not mkstemp's 0600
            yield out, temp
    finally:
        temp.unlink(missing_ok=True)


def _add_media(writer: TarWriter, item: HashedMedia, bar: ByteProgress) -> None:
    with item.path.open("rb", buffering=0) as stream:
        if _stamp(os.fstat(stream.fileno())) != item.stamp:
            raise PackageError(
                "file changed while the package was being built; build again", item.media.source
            )
        writer.add_file(item.media.package_path, stream.fileno(), item.media.size, bar.advance)
        if _stamp(os.fstat(stream.fileno())) != item.stamp:
            raise PackageError(
                "file changed while the package was being built; build again", item.media.source
            )
