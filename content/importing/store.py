"""The content store: blobs named by their SHA-256, deduplicated, read-only on disk.

Layout (``ROOT`` is, for example, ``var/store``)::

    ROOT/ab/abcdef0123...      one blob per distinct content, mode 0444 (the small
                               files of a package's apps make one blob, its pack:
                               see content.package.packfile and read_packed)
    ROOT/../staging/<random>/  one folder per import in progress (same file system, so
                               moving a verified file into the store is one rename)

A blob is only ever added by renaming a complete, durable file into place, so a crash
leaves either no blob or a whole one. Blobs that no database row refers to (an import
that failed after moving some of its verified files in, or a version that was removed)
are harmless and are removed by :meth:`ContentStore.gc`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

from content.durable import fsync_dir
from content.package.packfile import read_member

_HEX = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
_STAGING_PREFIX = "import-"
_SYNC_THREADS = 8
_BLOB_MODE = 0o444
_STAGING_TRIES = 5


class ContentStore:
    """Content-addressed blobs: ``ROOT/ab/abcdef...`` (sha256 hex), deduplicated, read-only."""

    def __init__(self, root: Path) -> None:
        # Nothing is created here: folders are made by ensure(), at start-up.
        self.root = Path(root)
        self._root_text = str(self.root)
        self.staging_root = self.root.parent / "staging"

    def ensure(self) -> None:
        """Create the store and the staging folder (no error when they exist)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging_root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        """The path of a blob; raises ``ValueError`` unless ``sha256`` is 64 lowercase hex."""
        return Path(self._blob_path(sha256))

    def _blob_path(self, sha256: str) -> str:
        # Plain strings, not pathlib: an import adopts thousands of blobs.
        if not isinstance(sha256, str) or not _HEX.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 in lowercase hex: {sha256!r:.80}")
        return os.path.join(self._root_text, sha256[:2], sha256)

    def has(self, sha256: str) -> bool:
        """True when the blob is in the store (its content is not re-checked: see verify)."""
        if not isinstance(sha256, str) or not _HEX.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 in lowercase hex: {sha256!r:.80}")
        # Plain strings, not pathlib: this runs for every media request.
        return os.path.isfile(os.path.join(self._root_text, sha256[:2], sha256))

    def stored_path(self, sha256: str) -> str | None:
        """The path of the blob when the store has it as a regular file, else None.

        An import asks this for each small file before writing it (see
        ``content.package.extract``): a file whose blob is here is not written again.
        """
        path = self._blob_path(sha256)
        try:
            return path if stat.S_ISREG(os.lstat(path).st_mode) else None
        except FileNotFoundError:
            return None

    def adopt(self, staged_file: Path, sha256: str) -> Path:
        """Move a staged file whose digest was already verified into the store.

        The file is made read-only, fsynced, renamed into place, and its folder fsynced.
        When the blob is already there (another version had the same file) nothing moves.
        """
        target = self.path_for(sha256)
        self._move_in(Path(staged_file), target)
        fsync_dir(target.parent)
        return target

    def adopt_all(self, items: Iterable[tuple[str | Path, str]]) -> None:
        """:meth:`adopt` for many files: the same guarantees, much faster.

        On Linux, one ``syncfs`` makes every staged file durable and a second one the
        renames: a package has thousands of small files (its lessons), and each fsync
        costs a journal commit or a disk cache flush. Elsewhere the fsyncs run on a few
        threads and each touched folder is fsynced once.
        """
        pairs = [(os.fspath(staged), self._blob_path(sha256)) for staged, sha256 in items]
        # Deduplicated: identical content already stored stays as it is.
        new = {target: staged for staged, target in pairs if not os.path.isfile(target)}
        for target, staged in new.items():
            if staged == target:
                # An import found this blob and did not write it again; nothing else
                # removes blobs but the gc, which does not run during a sync.
                raise OSError(errno.ENOENT, "a blob left the store during the import", target)
        parents = {os.path.dirname(target) for target in new}
        if _SYNCFS is None:
            self._adopt_fsyncing_each(new, parents | {os.path.dirname(t) for _, t in pairs})
        elif new:
            for staged in new.values():
                _make_read_only(staged)
            self._make_parents(parents)
            _sync_file_system(self.root)
            for target, staged in new.items():
                os.replace(staged, target)
            _sync_file_system(self.root)

    def _adopt_fsyncing_each(self, new: dict[str, str], folders: set[str]) -> None:
        with ThreadPoolExecutor(max_workers=_SYNC_THREADS) as pool:
            sealing = pool.map(_seal, new.values())
            self._make_parents({os.path.dirname(target) for target in new})
            list(sealing)
            for target, staged in new.items():
                os.replace(staged, target)
            list(pool.map(fsync_dir, sorted(folders)))

    def _move_in(self, staged: Path, target: Path) -> None:
        if target.is_file():
            return  # deduplicated: identical content is already stored
        _seal(staged)
        self._make_parents({str(target.parent)})
        staged.replace(target)

    def _make_parents(self, folders: set[str]) -> None:
        """Create the missing blob folders; one fsync of the root makes them all durable
        (a new store gets 256 of them in its first import)."""
        missing = [folder for folder in folders if not os.path.isdir(folder)]
        for folder in missing:
            with suppress(FileExistsError):
                os.mkdir(folder)
        if missing:
            fsync_dir(self.root)

    def add_bytes(self, data: bytes) -> str:
        """Store ``data`` (for example sanitized lesson HTML); returns its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        if self.has(sha256):
            return sha256
        with self.staging() as folder:
            staged = folder / "blob"
            with staged.open("xb") as out:
                out.write(data)
            self.adopt(staged, sha256)
        return sha256

    def read_packed(self, pack_sha256: str, offset: int, size: int, sha256: str) -> bytes | None:
        """The bytes of a small app file stored in its package's pack (see
        ``content.package.packfile``), checked against the file's own digest ``sha256``;
        None when the pack is missing, too short, or holds other bytes there."""
        try:
            data = read_member(self._blob_path(pack_sha256), offset, size)
        except (OSError, EOFError):
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None

    def verify(self, sha256: str) -> bool:
        """Re-hash the blob from disk; False when it is missing or its bytes changed."""
        digest = hashlib.sha256()
        try:
            with self.path_for(sha256).open("rb", buffering=0) as stream:
                while chunk := stream.read(_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256

    def blobs(self) -> Iterator[str]:
        """Every blob digest in the store (in no particular order)."""
        for folder in self.root.iterdir():
            if len(folder.name) == 2 and folder.is_dir():
                yield from (p.name for p in folder.iterdir() if _HEX.fullmatch(p.name))

    def gc(self, keep: set[str]) -> int:
        """Remove every blob not in ``keep``; returns how many were removed.

        Run it only when no import is between moving its blobs in and recording them in
        the database (for example while holding the sync lock), or it may remove those.
        """
        removed = 0
        for sha256 in list(self.blobs()):
            if sha256 not in keep:
                self.path_for(sha256).unlink(missing_ok=True)
                removed += 1
        return removed

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh, private folder for one import; removed on exit, also on error.

        The folder is locked (``flock``) while in use so that :meth:`sweep_staging` in
        another process never removes an import that is still running.
        """
        self.staging_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder, lock = self._new_locked_folder()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            os.close(lock)

    def _new_locked_folder(self) -> tuple[Path, int]:
        """Make and lock a staging folder that a concurrent sweep has not removed.

        Between ``mkdir`` and ``flock`` the folder is new and unlocked, so a sweep in another
        process (a server starting while ``stepstone sync`` runs) may remove it. A removed
        folder has no links left once we hold the lock: then start again with a new one.
        """
        for _ in range(_STAGING_TRIES):
            folder = self.staging_root / f"{_STAGING_PREFIX}{secrets.token_hex(8)}"
            folder.mkdir(mode=0o700)
            try:
                lock = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            fcntl.flock(lock, fcntl.LOCK_EX)
            if os.fstat(lock).st_nlink > 0:
                return folder, lock
            os.close(lock)
        raise OSError(f"cannot keep a staging folder in {self.staging_root}: it keeps vanishing")

    def sweep_staging(self) -> int:
        """Remove staging folders left by a crash (not those in use); returns the count."""
        if not self.staging_root.is_dir():
            return 0
        removed = 0
        for entry in self.staging_root.iterdir():
            if entry.is_dir() and not entry.is_symlink() and _remove_if_unlocked(entry):
                removed += 1
            elif not entry.is_dir() or entry.is_symlink():
                entry.unlink(missing_ok=True)
                removed += 1
        return removed


def _remove_if_unlocked(folder: Path) -> bool:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # an import in another process is using it
        shutil.rmtree(folder, ignore_errors=True)
        return True
    finally:
        os.close(fd)


def _seal(staged: str | Path) -> None:
    """Make a staged file read-only and durable before it is renamed into the store."""
    fd = os.open(staged, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        # The extractor creates files read-only already; a chmod would change the inode
        # and make the fsync commit the journal even for a file that is on disk.
        if stat.S_IMODE(os.fstat(fd).st_mode) != _BLOB_MODE:
            os.fchmod(fd, _BLOB_MODE)
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_read_only(staged: str) -> None:
    """Give a staged regular file the blob mode, unless the extractor created it so."""
    info = os.lstat(staged)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"not a regular file: {staged}")
    if stat.S_IMODE(info.st_mode) != _BLOB_MODE:
        os.chmod(staged, _BLOB_MODE)


def _syncfs_function() -> Callable[[int], int] | None:
    """libc's ``syncfs`` (Linux): flush one whole file system, data and journal, at once."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_SYNCFS = _syncfs_function()


def _sync_file_system(folder: Path) -> None:
    """Make everything written to ``folder``'s file system durable (``syncfs``), or raise."""
    assert _SYNCFS is not None
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _SYNCFS(fd) != 0:
            code = ctypes.get_errno() or errno.EIO
            raise OSError(code, os.strerror(code), str(folder))
    finally:
        os.close(fd)
