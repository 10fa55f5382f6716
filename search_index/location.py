"""Where the index lives on disk, and how a rebuilt one replaces the old one atomically.

Layout of the search folder (``DATA_DIR/search``)::

    CURRENT              the name of the live index folder (replaced by one rename)
    index-<stamp>/       a Whoosh index, plus `stepstone-index.json` (schema version)
                         and `stepstone-files.json` (checksums of the live generation)
    write.lock           flock: held by whoever changes the index, in any process
                         (shared by readers while they check and open it)
    rebuild.lock         flock: held by the one process that rebuilds

A rebuild writes a whole new `index-*` folder and then points CURRENT at it, so readers
see either the old index or the new one, never half of one. Old folders stay for a grace
period because searchers in other worker processes may still be reading them.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from search_index.schema import SCHEMA_VERSION

POINTER = "CURRENT"
MARKER = "stepstone-index.json"
_FOLDER = re.compile(r"index-[0-9]{8}T[0-9]{6}-[0-9a-f]{8}")
GRACE_SECONDS = 3600.0


class IndexLocation:
    """The search folder of one data folder. Creates nothing until asked to."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._thread_locks = {"write": threading.Lock(), "rebuild": threading.Lock()}

    def current(self) -> Path | None:
        """The live index folder, or None when there is none (yet)."""
        try:
            name = (self.root / POINTER).read_text(encoding="ascii").strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        if not _FOLDER.fullmatch(name):
            return None
        return self.root / name

    def stamp(self) -> tuple[int, int] | None:
        """Changes whenever CURRENT is replaced: a cheap test for "was it rebuilt?"."""
        try:
            st = (self.root / POINTER).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def new_folder(self) -> Path:
        """A new, empty index folder (not live until `swap`)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o750)
        name = f"index-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
        folder = self.root / name
        folder.mkdir(mode=0o750)
        (folder / MARKER).write_text(json.dumps({"schema": SCHEMA_VERSION}), encoding="ascii")
        return folder

    def swap(self, folder: Path) -> None:
        """Make `folder` the live index in one atomic rename, durably."""
        if folder.parent != self.root or not _FOLDER.fullmatch(folder.name):
            raise ValueError(f"{folder} is not an index folder of {self.root}")
        temporary = self.root / f".{POINTER}.{secrets.token_hex(4)}"
        with temporary.open("w", encoding="ascii") as handle:
            handle.write(folder.name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.root / POINTER)
        _fsync_dir(self.root)

    def sweep(self, grace: float = GRACE_SECONDS) -> int:
        """Remove index folders that are not live and older than `grace` seconds."""
        if not self.root.is_dir():
            return 0
        live = self.current()
        cutoff = time.time() - grace
        removed = 0
        for entry in self.root.iterdir():
            if entry == live or not _FOLDER.fullmatch(entry.name) or entry.is_symlink():
                continue
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed

    def write_lock(self) -> AbstractContextManager[None]:
        """Held while the index changes: one writer at a time, across threads and processes.

        Whoever holds it resolves CURRENT *after* taking it, which is what makes a rebuild's
        swap safe against an update that arrives while the rebuild runs.
        """
        return self._flock("write")

    def settled(self) -> AbstractContextManager[None]:
        """Held (shared) while a reader checks and opens the index: no commit lands between
        a generation's files and their recorded checksums meanwhile."""
        return self._flock("write", shared=True)

    def rebuild_lock(self) -> AbstractContextManager[None]:
        """Held for a whole rebuild, so that worker processes starting together build once."""
        return self._flock("rebuild")

    @contextmanager
    def _flock(self, name: str, shared: bool = False) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o750)
        # flock excludes other open files, even in this process; the thread lock only
        # keeps this process's threads from each opening one.
        with self._thread_locks[name]:
            path = self.root / f"{name}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)


def schema_matches(folder: Path) -> bool:
    """True when the folder was written with this code's schema version."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("schema") == SCHEMA_VERSION


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
