"""Writing a package's members into a staging folder: safely, durably, quickly.

Every file is created relative to an open folder descriptor with ``O_EXCL | O_NOFOLLOW``
and every folder is opened with ``O_NOFOLLOW``, one level at a time, so nothing (not even
a link that appeared in the staging folder) can make us write outside it. Each file's
SHA-256 is computed from the very bytes handed to ``os.write``. fsyncs run on a few threads
so the disk works while the next members are read, and big files leave the page cache once
on disk (see :class:`_Syncer`); big chunks are hashed on a second core while they are
written.

Big files are written with ``O_DIRECT`` where the file system allows it: straight from
our buffer to the disk, not copied into the page cache and written back from there. For a
1 GiB package that is the difference between about 0.06 s and 1.6 s of CPU (measured on
ext4): CPU that the two SHA-256 passes need. Only whole, aligned blocks go that way (see
``TarStream.copy_data``); the last bytes of a file that fill no block, and any write the
file system refuses, go through the page cache as usual, and the fsync after makes both
durable.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import unicodedata
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import NamedTuple

from content.errors import PackageError
from content.format.mediatypes import HEAD_BYTES
from content.package.packfile import PACKED_MAX_BYTES, PackWriter, packable
from content.package.tarstream import TarMember, TarStream

# Called on the extracting thread with a file's package path and its bytes: all of them
# when the flag is true (a small file, held in memory anyway), else its first HEAD_BYTES.
FileInspector = Callable[[str, bytes, bool], None]
# Called with a file's package path before it is written: the path of a file that should
# hold its bytes already (the content store's blob of the digest the manifest lists), or
# None. A file found there is not written again (see StagingWriter.file).
StoredLookup = Callable[[str], str | None]

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Read-only from the start, as blobs in the store are: the descriptor that creates a file
# may still write it, and sealing it for the store needs no chmod (see ContentStore).
_FILE_MODE = 0o444
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_SYNC_THREADS = 4
_MAX_BACKLOG = 64
_MAX_BACKLOG_BYTES = 16 * 1024 * 1024
_BATCH_FILES = 32  # small files handed to the creator at once (see _Syncer.create)
_BATCH_BYTES = 256 * 1024
_PARALLEL = 256 * 1024  # below this, handing a chunk to another thread costs more than it saves
_SMALL_FILE = PACKED_MAX_BYTES  # see StagingWriter.file
_BIG_FILE = 1024 * 1024  # see _Syncer
_FADVISE = getattr(os, "posix_fadvise", None)  # not on macOS
_O_DIRECT = getattr(os, "O_DIRECT", 0)  # Linux (and a few others) only
_DIRECT_ALIGN = 4096  # a write's length (and offset) must be a multiple of the disk's block


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


class ExtractedFile(NamedTuple):
    """A file written to the staging folder, with the digest of the bytes written; or,
    when ``stored`` is set, a file not written because that file (a blob of the content
    store) holds the same bytes already."""

    path: str
    size: int
    sha256: str
    stored: str | None = None
    packed: int | None = None  # its offset in the package's pack (see content.package.packfile)


class StagingWriter:
    """Creates folders and files under ``root`` through descriptors, never following links."""

    def __init__(
        self,
        root: Path,
        fsync: bool,
        inspect: FileInspector | None = None,
        stored: StoredLookup | None = None,
        pack: PackWriter | None = None,
    ):
        self.root = root
        self.fsync = fsync
        self.inspect = inspect
        self.stored = stored
        self.pack = pack
        self._hasher = ThreadPoolExecutor(max_workers=1)
        self._root_fd = -1
        self._folders: _Folders | None = None
        self._syncer: _Syncer | None = None

    def __enter__(self) -> StagingWriter:
        self._root_fd = os.open(self.root, _DIR_FLAGS)
        self._folders = _Folders(self._root_fd)
        self._syncer = _Syncer(self._root_fd, self.fsync)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._hasher.shutdown(wait=True)
        self.syncer.close()
        self._open_folders.close()
        os.close(self._root_fd)

    @property
    def syncer(self) -> _Syncer:
        """What finishes the files written (see :class:`_Syncer`); inside ``with`` only."""
        assert self._syncer is not None, "use StagingWriter in a with block"
        return self._syncer

    @property
    def _open_folders(self) -> _Folders:
        assert self._folders is not None, "use StagingWriter in a with block"
        return self._folders

    def folder(self, path: str, member: str | None = None) -> int:
        """Open ``path`` (creating each level as needed); returns a descriptor we own."""
        return self._open_folders.open(path, member)

    def file(self, path: str, member: TarMember, tar: TarStream) -> ExtractedFile:
        """Create ``path`` exclusively, copy the member's data into it, hand it to the syncer.

        Unless every file must be durable, a small file is read into memory and created
        on a thread of its own: creating a file costs more than writing a few KiB into it,
        and a package has thousands (its lessons), so the reading goes on meanwhile. The
        inspector sees the bytes meanwhile, so nothing needs to open the file again to
        check what it is. With a ``pack``, a small file of an app (under ``apps/``) is not
        created at all: its bytes are appended to the pack, and its
        :class:`ExtractedFile` has its offset there.

        A file for which ``stored`` names a file that should hold the same bytes already
        (the content store has the blob the manifest lists: a new version of a course
        shares most of its files with the last one) is read and hashed as any other, and
        inspected alike, but not written; its :class:`ExtractedFile` names that file, and
        has the digest of the bytes read, which the caller compares with the manifest's.
        """
        packed = self.pack is not None and packable(path, member.size)
        folder, _, leaf = path.rpartition("/")
        # Each folder is made here, in the package's order; a packed file needs none.
        parent = -1 if packed else self._open_folders.parent(folder, path)
        # A packed file is packed whatever the store holds: a pack depends on its package alone.
        stored = self.stored(path) if self.stored is not None and not packed else None
        if member.size <= _SMALL_FILE and (stored is not None or packed or not self.fsync):
            chunks: list[bytes] = []
            tar.copy_data(member, lambda chunk: chunks.append(bytes(chunk)))
            data = b"".join(chunks)
            digest = hashlib.sha256(data).hexdigest()
            if self.inspect is not None:
                self.inspect(path, data, True)
            if packed:
                assert self.pack is not None
                try:
                    offset = self.pack.add(digest, data)
                except OSError as exc:  # writing the pack (this file's or earlier ones)
                    raise os_refusal(exc, path) from exc
                return ExtractedFile(path, member.size, digest, packed=offset)
            if stored is not None:
                return ExtractedFile(path, member.size, digest, stored)
            self.syncer.create(folder, leaf, data, path)
            return ExtractedFile(path, member.size, digest)
        if stored is not None:
            return self._hash_only(path, member, tar, stored)
        try:
            fd = os.open(leaf, _FILE_FLAGS, _FILE_MODE, dir_fd=parent)
        except OSError as exc:
            raise os_refusal(exc, path) from exc
        out = _FileOut(fd, direct=member.size >= _BIG_FILE)
        hashing = hashlib.sha256()
        head = bytearray()

        def sink(chunk: memoryview) -> None:
            if len(head) < HEAD_BYTES:
                head.extend(chunk[: HEAD_BYTES - len(head)])
            self._write(out, chunk, hashing)

        try:
            tar.copy_data(member, sink)
        except BaseException as exc:
            os.close(fd)
            if isinstance(exc, OSError):
                raise os_refusal(exc, path) from exc
            raise
        self.syncer.hand_over(fd, path, member.size)
        if self.inspect is not None:
            self.inspect(path, bytes(head), len(head) == member.size)
        return ExtractedFile(path, member.size, hashing.hexdigest())

    def _hash_only(
        self, path: str, member: TarMember, tar: TarStream, stored: str
    ) -> ExtractedFile:
        """Read and hash a big member that ``stored`` holds already, writing nothing."""
        hashing = hashlib.sha256()
        head = bytearray()

        def sink(chunk: memoryview) -> None:
            if len(head) < HEAD_BYTES:
                head.extend(chunk[: HEAD_BYTES - len(head)])
            hashing.update(chunk)

        tar.copy_data(member, sink)
        if self.inspect is not None:
            self.inspect(path, bytes(head), len(head) == member.size)
        return ExtractedFile(path, member.size, hashing.hexdigest(), stored)

    def _write(self, out: _FileOut, data: memoryview, digest: hashlib._Hash) -> None:
        """Hash and write one chunk; big chunks are hashed on another core meanwhile."""
        hashing = self._hasher.submit(digest.update, data) if len(data) >= _PARALLEL else None
        if hashing is None:
            digest.update(data)
        try:
            out.write(data)
        finally:
            if hashing is not None:
                hashing.result()  # the buffer is reused for the next chunk after this


class _FileOut:
    """Writes one new file, bypassing the page cache (``O_DIRECT``) while it can."""

    def __init__(self, fd: int, direct: bool):
        self.fd = fd
        self.direct = False
        if direct and _O_DIRECT:
            # Set after opening, not in open(): a file system without O_DIRECT refuses it
            # here and the file is simply written through the page cache.
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            with suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT)
                self.direct = True

    def write(self, data: memoryview) -> None:
        """Write ``data`` at the end of the file (every earlier write was whole)."""
        tail = len(data) % _DIRECT_ALIGN if self.direct else 0
        if tail:
            # The file's last piece: its whole blocks still go straight to the disk (a
            # media file's last mebibyte is a quarter of a 4 MB file), the rest through
            # the page cache.
            self._write(data[: len(data) - tail])
            self._buffered()
            data = data[len(data) - tail :]
        self._write(data)

    def _write(self, data: memoryview) -> None:
        while data:
            try:
                written = os.write(self.fd, data)
            except OSError as exc:
                if not self.direct or exc.errno != errno.EINVAL:
                    raise
                # An alignment this disk does not accept (nothing of this call was
                # written): the rest goes through the page cache.
                self._buffered()
                continue
            data = data[written:]

    def _buffered(self) -> None:
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~_O_DIRECT)
        self.direct = False


class _Folders:
    """Folders under a root folder, opened one level at a time without following links;
    the last one asked for stays open. For one thread."""

    def __init__(self, root_fd: int) -> None:
        self._root_fd = root_fd
        self._last: tuple[str, int] | None = None

    def open(self, path: str, member: str | None = None) -> int:
        """Open ``path`` (creating each level as needed); returns a descriptor we own."""
        fd = os.dup(self._root_fd)
        for part in path.split("/"):
            fd = _enter(fd, part, member or path)  # closes the previous level, also on error
        return fd

    def parent(self, folder: str, member: str) -> int:
        """A descriptor of ``folder``, kept open for the next file in it (do not close it)."""
        if self._last is None or self._last[0] != folder:
            self.close()
            self._last = (folder, self.open(folder, member))
        return self._last[1]

    def close(self) -> None:
        """Close the folder kept open."""
        if self._last is not None:
            os.close(self._last[1])
            self._last = None


class _Syncer:
    """Creates small files and finishes written ones on other threads, with bounded
    backlogs (of descriptors and of bytes in memory).

    A big file is fsynced as soon as it is written and its pages are then dropped from
    the page cache: a 1 GiB package must not push 1 GiB of other files out of memory (the
    database, the search index), and the kernel reuses those pages for the next files
    instead of finding fresh ones. A small file is fsynced only when ``durable``; else
    its fsync is left to whoever makes it durable later (the store fsyncs every blob
    before renaming it in), because on ext4 every fsync forces a journal commit that
    each file created meanwhile waits for, and a package has thousands of small files.
    Those are created one at a time, on one thread: creating a file locks its folder,
    and more threads would only spin on that lock, taking a core from the hashing. They
    are handed over in batches: waking a thread for each file of a few KiB costs about
    as much as reading it.
    """

    def __init__(self, root_fd: int, durable: bool):
        self._durable = durable
        self._pool = ThreadPoolExecutor(max_workers=_SYNC_THREADS)
        self._creator = ThreadPoolExecutor(max_workers=1)
        self._creator_folders = _Folders(root_fd)  # used on the creator's thread only
        self._backlog: deque[tuple[str, Future[None], int, int]] = deque()
        self._descriptors = 0  # held by the backlog
        self._bytes = 0  # held by the backlog
        self._batch: list[tuple[str, str, bytes, str]] = []  # not handed over yet
        self._batch_bytes = 0

    def hand_over(self, fd: int, path: str, size: int) -> None:
        """Finish and close ``fd`` (``size`` bytes written); the descriptor is ours no longer."""
        if size >= _BIG_FILE:
            self._track(path, self._pool.submit(_sync_drop_and_close, fd), descriptors=1)
        elif self._durable:
            self._track(path, self._pool.submit(_sync_and_close, fd), descriptors=1)
        else:
            os.close(fd)

    def create(self, folder: str, leaf: str, data: bytes, path: str) -> None:
        """Create ``folder/leaf`` holding ``data``, on the creator's thread."""
        self._batch.append((folder, leaf, data, path))
        self._batch_bytes += len(data)
        if len(self._batch) >= _BATCH_FILES or self._batch_bytes >= _BATCH_BYTES:
            self._hand_over_batch()

    def _hand_over_batch(self) -> None:
        if self._batch:
            batch, size = self._batch, self._batch_bytes
            self._batch, self._batch_bytes = [], 0
            work = partial(_create_all, self._creator_folders, batch)
            self._track(batch[0][3], self._creator.submit(work), size=size)

    def _track(self, path: str, future: Future[None], descriptors: int = 0, size: int = 0) -> None:
        self._backlog.append((path, future, descriptors, size))
        self._descriptors += descriptors
        self._bytes += size
        # Bounded, so 20,000 tiny files cannot hold 20,000 descriptors (or their bytes).
        while self._descriptors > _MAX_BACKLOG or self._bytes > _MAX_BACKLOG_BYTES:
            self._wait_oldest()

    def _wait_oldest(self) -> None:
        path, future, descriptors, size = self._backlog.popleft()
        self._descriptors -= descriptors
        self._bytes -= size
        try:
            future.result()
        except OSError as exc:
            raise os_refusal(exc, path) from exc

    def finish(self) -> None:
        """Wait until every file handed over is finished; raise the first failure."""
        self._hand_over_batch()
        while self._backlog:
            self._wait_oldest()

    def close(self) -> None:
        """Always called: lets the threads close every descriptor handed over."""
        self._creator.shutdown(wait=True)
        self._creator_folders.close()
        self._pool.shutdown(wait=True)


def _create_all(folders: _Folders, batch: list[tuple[str, str, bytes, str]]) -> None:
    """Create small files and write them, in order (on the creator's thread)."""
    for folder, leaf, data, path in batch:
        try:
            fd = os.open(leaf, _FILE_FLAGS, _FILE_MODE, dir_fd=folders.parent(folder, path))
            try:
                if data:
                    _write_all(fd, memoryview(data))
            finally:
                os.close(fd)
        except OSError as exc:
            raise os_refusal(exc, path) from exc


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_drop_and_close(fd: int) -> None:
    """fsync, then drop the (now clean) pages from the page cache; see :class:`_Syncer`."""
    try:
        os.fsync(fd)
        if _FADVISE is not None:
            _FADVISE(fd, 0, 0, os.POSIX_FADV_DONTNEED)
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
        raise os_refusal(exc, path) from exc
    finally:
        os.close(parent)
    return child


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def os_refusal(exc: OSError, path: str) -> ImportRefused:
    """The refusal for a failure to write the package file ``path``."""
    if exc.errno == errno.ENOSPC:
        return ImportRefused(f"the disk is full while writing '{shown(path)}'", path)
    if exc.errno in (errno.EEXIST, errno.ELOOP, errno.ENOTDIR):
        return ImportRefused(f"'{shown(path)}' collides with another member", path)
    return ImportRefused(f"cannot write '{shown(path)}': {exc.strerror}", path)
