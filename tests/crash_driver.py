"""Run ``stepstone`` with a ``kill -9`` planted at one moment of an import.

Used by ``tests/server/catalog/test_crash.py`` as a separate process::

    python -m tests.crash_driver POINT DATA_DIR [stepstone arguments...]

The kill points hook what any import must do — write the staged files, rename blobs into
the store, write rows, commit — rather than our own function names where they can, so they
keep working when the importer changes. When the planted moment never comes the driver
exits with :data:`NEVER_REACHED`, and the test says which point needs updating.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

NEVER_REACHED = 97
EXTRACT_BYTES = 256 * 1024  # killed this far into writing the staged files
ADOPT_RENAMES = 2  # killed right after this many blobs were renamed into the store


def die() -> None:
    """What a power cut or the OOM killer does: no cleanup, no finally, no atexit."""
    os.kill(os.getpid(), signal.SIGKILL)


def _path_of(fd: int) -> Path | None:
    try:
        return Path(f"/proc/self/fd/{fd}").readlink()
    except OSError:
        return None


def _inside(path: Path | None, folder: Path) -> bool:
    return path is not None and folder in path.parents


def _at_extract(data: Path) -> None:
    """Half-way through a write of a member's bytes into the staging folder."""
    real_write = os.write
    written = 0

    def write(fd: int, chunk: Any) -> int:
        nonlocal written
        if _inside(_path_of(fd), data / "staging"):
            written += len(chunk)
            if written > EXTRACT_BYTES:
                real_write(fd, bytes(chunk[: len(chunk) // 2]))
                die()
        return real_write(fd, chunk)

    os.write = write


def _at_adopt(data: Path) -> None:
    """Some of the new version's blobs are renamed into the store, others are not yet."""
    real_replace = os.replace
    renamed = 0

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        nonlocal renamed
        real_replace(src, dst, **kwargs)
        if _inside(Path(dst).resolve(), data / "store"):
            renamed += 1
            if renamed >= ADOPT_RENAMES:
                die()

    os.replace = replace


def _in_transaction(_data: Path) -> None:
    """Every row of the new version is written; the transaction is still open."""
    from server.people import audit

    real_record = audit.record

    def record(db: Any, actor: Any, action: str, target: str = "", **detail: Any) -> None:
        real_record(db, actor, action, target, **detail)
        if action == "content.import":
            die()

    audit.record = record


def _at_commit(_data: Path) -> None:
    """SQLite is running the COMMIT of the transaction that records the new version."""
    from server.core import db as db_module

    real_connect = db_module.connect

    def connect(path: Path) -> Any:
        database = real_connect(path)
        writing_version = False

        def trace(sql: str) -> None:
            nonlocal writing_version
            if sql.startswith("INSERT INTO course_versions"):
                writing_version = True
            elif sql == "COMMIT" and writing_version:
                die()

        database.conn.set_trace_callback(trace)
        return database

    db_module.connect = connect


def _after_commit(_data: Path) -> None:
    """The new version is committed; the download and the run record are not cleaned up."""
    from server.catalog import library

    real_record_import = library.record_import

    def record_import(*args: Any, **kwargs: Any) -> Any:
        real_record_import(*args, **kwargs)
        die()

    library.record_import = record_import


POINTS: dict[str, Callable[[Path], None]] = {
    "extract": _at_extract,
    "adopt": _at_adopt,
    "in-transaction": _in_transaction,
    "at-commit": _at_commit,
    "after-commit": _after_commit,
}


def main() -> None:
    point, data, *arguments = sys.argv[1:]
    POINTS[point](Path(data).resolve())
    sys.argv = ["stepstone", "--data-dir", data, *arguments]
    from server.cli.main import main as stepstone

    try:
        stepstone()
    except SystemExit as exc:
        print(f"stepstone exited ({exc.code}) before the kill point {point!r}", file=sys.stderr)
    sys.exit(NEVER_REACHED)


if __name__ == "__main__":
    main()
