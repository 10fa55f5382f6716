"""The record of sync runs: one row per run, opened when it starts and always closed
with a status and a message, and a lock held for the whole run.

The lock is what tells a run that is going on from one whose process is gone (killed,
power cut): the kernel drops it when the process ends, however it ends. The next run of
the publisher closes such a row as interrupted, and `stepstone check` reports it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlite_utils

from server.catalog import trust
from server.catalog.library import Publisher
from server.core import clock
from server.core.db import Database
from server.core.settings import Settings
from server.people import audit
from server.people.audit import Actor


@dataclass
class RunReport:
    """What one run did, as the admin reads it: the run's status and its one message."""

    publisher: str
    status: str = "ok"
    imported: list[str] = field(default_factory=list)
    retracted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        parts = [f"imported {len(self.imported)}", f"retracted {len(self.retracted)}"]
        if self.refused:
            parts.append(f"refused {len(self.refused)}")
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)}")
        return "; ".join(parts + self.problems + self.refused + self.skipped)

    def settle(self) -> None:
        """An ok run that refused, skipped or met a problem is only partly done."""
        if self.status == "ok" and (self.refused or self.skipped or self.problems):
            self.status = "partial"


RUN_LOCK = ".run.lock"
INTERRUPTED = "interrupted: the sync process stopped before the run ended"
_LOCK_TRIES = 5


@contextlib.contextmanager
def run_lock(settings: Settings, publisher: Publisher) -> Iterator[bool]:
    """Hold the publisher's run lock for a whole run; yields False when another process
    (or thread) holds it. The kernel drops it when the process ends, however it ends: a
    "running" row whose lock is free belongs to a process that is gone."""
    folder = trust.metadata_dir(settings, publisher)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / RUN_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield _try_lock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    # A few tries: `stepstone check` takes the lock for an instant to see if it is free.
    for attempt in range(_LOCK_TRIES):
        if attempt:
            time.sleep(0.1 * attempt)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        return True
    return False


def sync_in_progress(settings: Settings, publisher: Publisher) -> bool:
    """Whether a live process is syncing ``publisher`` now. Reads only; for the checks."""
    try:
        fd = os.open(trust.metadata_dir(settings, publisher) / RUN_LOCK, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:  # not ours to read (another user runs the check): assume it runs
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock when it was taken
    return False


def start_run(database: Database, publisher: Publisher, trigger: str, *, alone: bool) -> int:
    """Record a run as running; ``alone`` (the run lock is ours) closes dead ones first."""
    with database.write() as db:
        if alone:
            # This process holds the run lock: any run still "running" was left by a
            # process that died (killed, power cut); say so instead of "running" forever.
            db.execute(
                "UPDATE sync_runs SET status = 'failed', finished_at = ?, message = ?"
                " WHERE publisher_id = ? AND status = 'running'",
                [clock.iso(), INTERRUPTED, publisher.id],
            )
        cursor = db.execute(
            "INSERT INTO sync_runs (publisher_id, trigger, started_at, status)"
            " VALUES (?, ?, ?, 'running')",
            [publisher.id, trigger, clock.iso()],
        )
    return int(cursor.lastrowid or 0)


def finish_run(
    database: Database, run_id: int, source_id: int | None, report: RunReport, actor: Actor
) -> None:
    """Close the run with its status; when the database refuses (a full disk), try the
    run's own row alone, which needs no new page, then give up: the next run, and
    `stepstone check`, see a "running" row without its lock and report it."""
    try:
        with database.write() as db:
            _close_run_in(db, run_id, source_id, report)
            audit.record(
                db,
                actor,
                "sync.run",
                f"publisher:{report.publisher}",
                status=report.status,
                imported=len(report.imported),
                refused=len(report.refused),
            )
        return
    except sqlite3.Error as exc:
        report.problems.append(f"the end of the run could not be written in full ({exc})")
    report.status = "failed"
    try:
        with database.write() as db:
            _close_run_in(db, run_id, source_id, report)
    except sqlite3.Error as exc:
        report.problems.append(f"the run could not be recorded ({exc})")


def _close_run_in(
    db: sqlite_utils.Database, run_id: int, source_id: int | None, report: RunReport
) -> None:
    db.execute(
        "UPDATE sync_runs SET finished_at = ?, status = ?, message = ?, imported = ?,"
        " retracted = ?, refused = ?, source_id = ? WHERE id = ?",
        [
            clock.iso(),
            report.status,
            report.message[:4000],
            len(report.imported),
            len(report.retracted),
            len(report.refused),
            source_id,
            run_id,
        ],
    )


def reason(exc: BaseException) -> str:
    """An unexpected failure in words an admin can pass on."""
    if isinstance(exc, sqlite3.Error):
        return f"the database refused the change ({exc}); is the disk full?"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, KeyboardInterrupt):
        return "stopped by hand"
    return f"unexpected error {type(exc).__name__}: {str(exc)[:300]}"


def recent_runs(database: Database, publisher_id: int, limit: int = 5) -> list[sqlite3.Row]:
    """The publisher's last runs, newest first, as the publishers page lists them."""
    return database.query(
        "SELECT * FROM sync_runs WHERE publisher_id = ? ORDER BY id DESC LIMIT ?",
        [publisher_id, limit],
    )


# The timer starts up to 30 minutes late on purpose and a big import takes a while; past
# that, a missed sync means the timer is not running.
SYNC_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class NextSync:
    at: str  # ISO 8601, UTC, like the run times beside it
    late: bool


def next_syncs(
    database: Database, publishers: list[Publisher], every_hours: int
) -> dict[int, NextSync | None]:
    """When stepstone-sync.timer should next sync each publisher, or None if it never did
    (no timer is installed, or it has not run yet).

    The server cannot ask systemd, so this is the last timed run (`stepstone sync --timer`,
    which the timer starts) plus the period the admin set to match the timer.
    """
    rows = database.query(
        "SELECT publisher_id, max(started_at) FROM sync_runs WHERE trigger = 'timer'"
        " GROUP BY publisher_id"
    )
    last = {int(row[0]): datetime.fromisoformat(row[1]) for row in rows}
    now = clock.now()
    result: dict[int, NextSync | None] = {}
    for publisher in publishers:
        started = last.get(publisher.id)
        if started is None:
            result[publisher.id] = None
            continue
        due = started + timedelta(hours=every_hours)
        late = (due + SYNC_GRACE).timestamp() < now
        result[publisher.id] = NextSync(clock.iso(due.timestamp()), late)
    return result
