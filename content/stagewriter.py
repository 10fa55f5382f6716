"""Writing a package's members into a staging folder: safely, durably, quickly.

Every file is created relative to an open folder descriptor with ``O_EXCL | O_NOFOLLOW``
and every folder is opened with ``O_NOFOLLOW``, one level at a time, so nothing (not even
a link that appeared in the staging folder) can make us write outside it. Each file's
SHA-256 is computed from the very bytes handed to ``os.write``. fsyncs run on a few threads
so the disk works while the next members are read; big chunks are hashed on a second core
while they are written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import unicodedata
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from content.errors import PackageError
from content.tarstream import TarMember, TarStream

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SYNC_THREADS = 4
_MAX_BACKLOG = 64
_PARALLEL = 256 * 1024  # below this, handing a chunk to another thread costs more than it saves


class ImportRefused(PackageError):
    """A package was refused; the message names the problem and the member involved."""

    def __init__(self, message: str, member: str | None = None):
        super().__init__(message)
        self.member = member


def shown(name: str, limit: int = 200) -> str:
    """A member name safe to put in a message: control characters escaped, length bounded."""
    text = "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
        if unicodedata.category(c) in ("Cc", "Cf", "Cs")
        else c
        for c in name
    )
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class ExtractedFile:
    """A file written to the staging folder, with the digest of the bytes written."""

    path: str
    size: int
    sha256: str


class StagingWriter:
    """Creates folders and files under ``root`` through descriptors, never following links."""

    def __init__(self, root: Path, fsync: bool):
        self.root = root
        self.syncer = _Syncer(fsync)
        self._hasher = ThreadPoolExecutor(max_workers=1)
        self._root_fd = -1
        self._parent: tuple[str, int] | None = None  # the last parent folder, kept open

    def __enter__(self) -> StagingWriter:
        self._root_fd = os.open(self.root, _DIR_FLAGS)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._hasher.shutdown(wait=True)
        self.syncer.close()
        self._forget_parent()
        os.close(self._root_fd)

    def _forget_parent(self) -> None:
        if self._parent is not None:
            os.close(self._parent[1])
            self._parent = None

    def folder(self, path: str, member: str | None = None) -> int:
        """Open ``path`` (creating each level as needed); returns a descriptor we own."""
        fd = os.dup(self._root_fd)
        for part in path.split("/"):
            fd = _enter(fd, part, member or path)  # closes the previous level, also on error
        return fd

    def _parent_fd(self, folder: str, member: str) -> int:
        if self._parent is None or self._parent[0] != folder:
            self._forget_parent()
            self._parent = (folder, self.folder(folder, member))
        return self._parent[1]

    def file(self, path: str, member: TarMember, tar: TarStream) -> ExtractedFile:
        """Create ``path`` exclusively, copy the member's data into it, fsync it."""
        folder, _, leaf = path.rpartition("/")
        try:
            fd = os.open(leaf, _FILE_FLAGS, 0o644, dir_fd=self._parent_fd(folder, path))
        except OSError as exc:
            raise _os_refusal(exc, path) from exc
        digest = hashlib.sha256()
        try:
            tar.copy_data(member, lambda data: self._write(fd, data, digest))
        except BaseException as exc:
            os.close(fd)
            if isinstance(exc, OSError):
                raise _os_refusal(exc, path) from exc
            raise
        self.syncer.hand_over(fd, path)
        return ExtractedFile(path, member.size, digest.hexdigest())

    def _write(self, fd: int, data: memoryview, digest: hashlib._Hash) -> None:
        """Hash and write one chunk; big chunks are hashed on another core meanwhile."""
        hashing = self._hasher.submit(digest.update, data) if len(data) >= _PARALLEL else None
        if hashing is None:
            digest.update(data)
        try:
            _write_all(fd, data)
        finally:
            if hashing is not None:
                hashing.result()  # the buffer is reused for the next chunk after this


class _Syncer:
    """fsyncs and closes written files on a few threads, with a bounded backlog."""

    def __init__(self, enabled: bool):
        self._pool = ThreadPoolExecutor(max_workers=_SYNC_THREADS) if enabled else None
        self._backlog: deque[tuple[str, Future[None]]] = deque()

    def hand_over(self, fd: int, path: str) -> None:
        """fsync (when enabled) and close ``fd``; the descriptor is ours no longer."""
        if self._pool is None:
            os.close(fd)
            return
        self._backlog.append((path, self._pool.submit(_sync_and_close, fd)))
        # Bounded, so 20,000 tiny files cannot hold 20,000 descriptors open.
        while len(self._backlog) > _MAX_BACKLOG:
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        path, future = self._backlog.popleft()
        try:
            future.result()
        except OSError as exc:
            raise _os_refusal(exc, path) from exc

    def finish(self) -> None:
        """Wait until every file is on disk; raise the first failure."""
        while self._backlog:
            self._wait_oldest()

    def close(self) -> None:
        """Always called: lets the threads close every descriptor handed over."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _enter(parent: int, part: str, path: str) -> int:
    """Open (creating if needed) the folder ``part`` inside ``parent``; closes ``parent``."""
    try:
        # Made for an earlier member; O_NOFOLLOW below refuses anything but a real folder.
        with suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=parent)
        child = os.open(part, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        raise _os_refusal(exc, path) from exc
    finally:
        os.close(parent)
    return child


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _os_refusal(exc: OSError, path: str) -> ImportRefused:
    if exc.errno == errno.ENOSPC:
        return ImportRefused(f"the disk is full while writing '{shown(path)}'", path)
    if exc.errno in (errno.EEXIST, errno.ELOOP, errno.ENOTDIR):
        return ImportRefused(f"'{shown(path)}' collides with another member", path)
    return ImportRefused(f"cannot write '{shown(path)}': {exc.strerror}", path)
