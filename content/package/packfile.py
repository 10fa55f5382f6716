"""A pack: the small files of a package's apps, one after the other in one file.

An interactive lesson exported by an LMS (SCORM) or an authoring tool holds thousands of
small files: scripts, styles, pictures, pages. Stored one blob each, a 300 MB package
cost 3,000 file creations, renames and checks at import, several times what its bytes
cost (see ``bench/interactive.py``). Packed, they are one blob of the store: a file is
then the byte range ``offset, size`` of the pack, and each keeps its own SHA-256, which
the import checked against the manifest and which serving and ``verify`` check again.

A pack is nothing but the files' bytes, in the order the package holds them, each file
once (a file listed twice with the same bytes is stored once): the database says where
each one is, so a damaged pack is found by its own digest, and each damaged file by its.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

# Only files up to this size are packed (larger ones are blobs of their own, written
# with O_DIRECT; see ``content.package.stagewriter``).
PACKED_MAX_BYTES = 64 * 1024
# Never packed: documents that other parts read as files of their own (the reviewer's
# flags and the watch list read PDFs and captions, search reads captions).
UNPACKED_SUFFIXES = (".pdf", ".vtt")


def packable(path: str, size: int) -> bool:
    """Whether the package file ``path`` of ``size`` bytes goes into its package's pack:
    a small file of an app (under ``apps/``) that no other part reads as a file."""
    return (
        size <= PACKED_MAX_BYTES
        and path.startswith("apps/")
        and not path.lower().endswith(UNPACKED_SUFFIXES)
    )


_FLUSH_BYTES = 1024 * 1024
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Pack:
    """A finished pack file: where it is, its SHA-256 and its size."""

    path: Path
    sha256: str
    size: int


class PackWriter:
    """Appends files to a new pack file at ``path`` (created exclusively, read-only).

    The pack is hashed and written a mebibyte at a time on a thread of its own: one call
    of each per mebibyte instead of one hash per file, and the reading of the package's
    next members goes on meanwhile (SHA-256 and ``write`` run without the GIL).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, _FLAGS, 0o444)
        self._digest = hashlib.sha256()
        self._pieces: list[bytes] = []  # not handed over yet
        self._pending = 0  # their bytes
        self._size = 0
        self._offsets: dict[str, int] = {}  # file digest -> offset
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._writing: Future[None] | None = None  # the last pieces handed over

    def add(self, sha256: str, data: bytes) -> int:
        """Add a file whose bytes have the digest ``sha256``; returns its offset."""
        found = self._offsets.get(sha256)
        if found is not None:
            return found
        offset = self._size
        self._offsets[sha256] = offset
        self._pieces.append(data)
        self._pending += len(data)
        self._size += len(data)
        if self._pending >= _FLUSH_BYTES:
            self._hand_over()
        return offset

    def finish(self) -> Pack | None:
        """Write what is left and close; the pack, or None (and no file) when it is empty."""
        try:
            self._hand_over()
            self._wait()
        finally:
            self._close()
        if not self._offsets:
            self.path.unlink()
            return None
        return Pack(self.path, self._digest.hexdigest(), self._size)

    def abandon(self) -> None:
        """Close without finishing (the import failed; its staging folder goes anyway)."""
        with suppress(OSError):
            self._wait()
        self._close()

    def _hand_over(self) -> None:
        """Hash and write the files added since the last time, on the pack's thread (after
        the ones before)."""
        if not self._pieces:
            return
        self._wait()  # so at most two mebibytes are held
        pieces, self._pieces, self._pending = self._pieces, [], 0
        self._writing = self._thread.submit(self._write, pieces)

    def _write(self, pieces: list[bytes]) -> None:
        data = b"".join(pieces)
        self._digest.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def _wait(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def _close(self) -> None:
        self._thread.shutdown(wait=True)
        os.close(self._fd)


def read_member(pack: str | Path, offset: int, size: int) -> bytes:
    """The ``size`` bytes at ``offset`` of the pack file at ``pack`` (never through a link).

    Raises ``OSError`` when the pack is missing, and ``EOFError`` when it is shorter than
    the range: a damaged pack, which ``verify`` reports.
    """
    fd = os.open(pack, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        data = os.pread(fd, size, offset)
    finally:
        os.close(fd)
    if len(data) != size:
        raise EOFError(f"{pack}: {size:,} bytes at {offset:,} asked, {len(data):,} there")
    return data
