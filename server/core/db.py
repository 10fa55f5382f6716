"""SQLite access: WAL mode, one read connection per thread, one serialised writer.

Reads use a connection owned by the current thread. Writes go through `Database.write()`,
which holds a process-wide lock and opens the transaction with `BEGIN IMMEDIATE`, so two
writers never deadlock on a lock upgrade; `busy_timeout` covers other worker processes.
"""

from __future__ import annotations

import errno
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

BUSY_TIMEOUT_MS = 5000
MAX_INTEGER = 2**63 - 1  # SQLite's largest INTEGER; a bigger Python int cannot be bound
_DIGITS = re.compile(r"[0-9]{1,19}")


def row_id(text: str) -> int | None:
    """`text` as a row id: plain ASCII digits that fit SQLite's INTEGER, else None.

    Anything a person typed or put in a URL goes through here before a query, so an
    overlong number is refused instead of overflowing the query (and `"²".isdigit()`,
    true in Python, is no number at all)."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_INTEGER else None


# SQLite's answers when a write cannot happen now but nothing is damaged: a full disk, a
# read-only file or file system, an I/O error, a lock held past the busy timeout.
_REFUSED_BY_SQLITE = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_BUSY}
)
_REFUSED_BY_DISK = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


def write_refused(exc: BaseException) -> bool:
    """True when ``exc`` says the disk or the database refused a write (full, read-only,
    I/O error, locked too long): the kind of fault to answer with "try again later"."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _REFUSED_BY_SQLITE
    return isinstance(exc, OSError) and exc.errno in _REFUSED_BY_DISK


def refusal(exc: sqlite3.Error | OSError) -> str:
    """What refused the write, in the words of SQLite or of the system."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({exc.filename})" if exc.filename else exc.strerror
    return str(exc)


def connect(path: Path) -> sqlite_utils.Database:
    """Open one connection with the pragmas every Stepstone connection needs."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return sqlite_utils.Database(conn)


class Database:
    """The database of one Stepstone data folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._writer: sqlite_utils.Database | None = None
        self._all: list[sqlite_utils.Database] = []
        self._all_lock = threading.Lock()

    def _open(self) -> sqlite_utils.Database:
        db = connect(self.path)
        with self._all_lock:
            self._all.append(db)
        return db

    @property
    def reader(self) -> sqlite_utils.Database:
        """This thread's connection, for reads."""
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            db = self._open()
            self._local.db = db
        return db

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return list(self.reader.conn.execute(sql, params))

    def query_one(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.reader.conn.execute(sql, params).fetchone()
        return row

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction: everything inside commits together or not at all."""
        with self._write_lock:
            if self._writer is None:
                self._writer = self._open()
            db = self._writer
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.conn.rollback()
                raise
            else:
                db.conn.commit()

    def close(self) -> None:
        with self._all_lock:
            for db in self._all:
                db.close()
            self._all.clear()
        self._writer = None
        self._local = threading.local()
