"""A deterministic, uncompressed POSIX (pax) tar writer.

``tarfile.TarFile.addfile`` would work, but it copies through Python buffers and takes its
metadata from the file system. We build each header from a fixed template (mtime 0, uid and
gid 0, empty owner names, mode 0644, regular files only) and copy file data with
``os.copy_file_range`` so the kernel moves the bytes and memory use stays flat.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from content.errors import PackageError

BLOCK = 512
RECORD = 20 * BLOCK  # GNU tar and Python pad archives to whole 10 KiB records
FIXED_MTIME = 0
_COPY_CHUNK = 8 * 1024 * 1024

Progress = Callable[[int], None]


def member_header(name: str, size: int) -> bytes:
    """The header block(s) of a regular file member, identical for identical input."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = FIXED_MTIME
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


class TarWriter:
    """Writes members to an open, unbuffered binary file, in the order they are added.

    The file must be opened with ``buffering=0``: headers go through ``out.write`` and file
    data straight to its descriptor, so a Python-side buffer would reorder them.
    """

    def __init__(self, out: BinaryIO):
        self.out = out
        self.offset = 0

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self.out.write(view)
            if not written:
                raise PackageError("could not write to the package file")
            view = view[written:]
        self.offset += len(data)

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self._write(b"\0" * (BLOCK - size % BLOCK))

    def add_bytes(self, name: str, data: bytes) -> None:
        """Add a member whose content is in memory (manifest, lesson HTML)."""
        self._write(member_header(name, len(data)))
        self._write(data)
        self._pad(len(data))

    def add_file(self, name: str, source: int, size: int, progress: Progress | None = None) -> None:
        """Add ``size`` bytes read from the open file descriptor ``source`` (from its start)."""
        self._write(member_header(name, size))
        copied = _copy(source, self.out.fileno(), size, progress)
        if copied != size:
            raise PackageError(
                f"{name} changed while the package was being built "
                f"(expected {size} bytes, read {copied}); build again"
            )
        self.offset += size
        self._pad(size)

    def close(self) -> None:
        """End the archive: two zero blocks, then pad to a whole record."""
        self._write(b"\0" * (2 * BLOCK))
        self._write(b"\0" * (-self.offset % RECORD))


def _copy(source: int, target: int, size: int, progress: Progress | None) -> int:
    """Copy from ``source`` to ``target`` in the kernel when possible, else in chunks."""
    copied = 0
    use_kernel = hasattr(os, "copy_file_range")
    while copied < size:
        want = min(_COPY_CHUNK, size - copied)
        if use_kernel:
            try:
                count = os.copy_file_range(source, target, want)
            except OSError:
                # Not supported here (old kernel, some file systems): copy in user space.
                use_kernel = False
                continue
        else:
            data = os.read(source, want)
            count = len(data)
            _write_all(target, data)
        if count == 0:
            break
        copied += count
        if progress:
            progress(count)
    return copied


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
