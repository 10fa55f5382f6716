"""Is this server healthy? One function runs every check; `stepstone check`, `GET /healthz`
and the admin status page all show its answer.

Each check says ok, warn or fail, and one sentence an admin can act on. *fail* is for
what hurts learners now or soon (a damaged database or course file, a full disk, an
expired certificate, a wrong clock); *warn* is for what needs a look (a sync that failed,
signed metadata about to expire, no recent backup) while everything installed keeps
working.

Sentences are message ids with named ``%(name)s`` fields and string parameters: the
status page translates them, the command line and ``/healthz`` show the English.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import random
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509

from content.importing.store import ContentStore
from content.tuf.updater import FolderSource, PublisherClient, metadata_expiry
from search_index import INDEX_ERRORS, SearchService
from server.catalog import integrity, trust
from server.catalog.library import Publisher
from server.catalog.search import indexable_versions, search_root
from server.catalog.sync import content_store
from server.catalog.sync_runs import sync_in_progress
from server.core import clock, filemodes
from server.core.db import Database, write_refused
from server.core.errors import N_
from server.core.settings import Settings
from server.ops.migrations import pending_migrations
from server.people import pepper

# Quick store check (healthz, status page): stat every course file, re-hash a sample.
SAMPLE_FILES = 16
SAMPLE_BYTES = 64 * 1024 * 1024
# The NGO's laptop clock may run a little fast; only more than this is our clock's fault.
CLOCK_SLACK = timedelta(hours=1)
METADATA_WARN = timedelta(days=14)
CERTIFICATE_WARN = timedelta(days=30)
BACKUP_MAX_AGE = timedelta(days=2)
# systemd stops `stepstone sync` after 3 hours (TimeoutStartSec in deploy/): a run still
# going after that is stuck.
SYNC_TOO_LONG = timedelta(hours=3)

# The monitoring report every worker answers from (hidden: never backed up).
SHARED_REPORT = ".health.json"
# A database that cannot take this many more pages (a few learners' answers) is full.
FULL_HEADROOM_PAGES = 16


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


_RANK = {Status.OK: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    key: str  # stable name for monitoring: database, disk, store, sync:<publisher>, ...
    label: str  # message id
    status: Status
    message: str  # message id; its %(name)s fields are filled from `params`
    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The sentence in English."""
        return self.message % self.params

    @property
    def title(self) -> str:
        return self.label % self.params


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    checked_at: str

    @property
    def status(self) -> Status:
        """The worst status of any check."""
        return max((c.status for c in self.checks), key=_RANK.__getitem__, default=Status.OK)

    def to_state(self, at: float) -> dict[str, Any]:
        """Everything needed to rebuild this report in another process."""
        checks = [dataclasses.asdict(check) for check in self.checks]
        return {"at": at, "checked_at": self.checked_at, "checks": checks}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> tuple[float, Report]:
        checks = [
            Check(c["key"], c["label"], Status(c["status"]), c["message"], dict(c["params"]))
            for c in state["checks"]
        ]
        return float(state["at"]), cls(checks, str(state["checked_at"]))

    def to_json(self) -> dict[str, Any]:
        """What `/healthz` and `stepstone check --json` print: statuses and sentences only."""
        return {
            "status": self.status.value,
            "checked_at": self.checked_at,
            "checks": {c.key: {"status": c.status.value, "message": c.text} for c in self.checks},
        }


def run_checks(settings: Settings, database: Database, *, full_store: bool = False) -> Report:
    """Every check. ``full_store`` re-hashes every course file (minutes on a big store);
    otherwise a sample is re-hashed and the rest only looked at."""
    now = datetime.fromtimestamp(clock.now(), UTC)
    publishers = trust.list_publishers(database, settings)
    checks = [
        check_database(database),
        check_disk(settings),
        check_file_modes(settings),
        check_store(settings, database, full=full_store),
        check_search(settings, database),
        *[check_sync(settings, database, p, now) for p in publishers],
        check_certificate(settings, now),
        check_clock(settings, publishers, now),
        check_backup(database, now),
        check_pepper(database),
    ]
    if not publishers:
        checks.insert(5, Check("sync", N_("Sync"), Status.OK, N_("No publisher is trusted yet.")))
    return Report(checks, clock.iso(now.timestamp()))


# --- database, disk ---------------------------------------------------------------------


def check_database(database: Database) -> Check:
    label = N_("Database")
    try:
        rows = [str(row[0]) for row in database.query("PRAGMA quick_check")]
        pending = pending_migrations(database)
    except sqlite3.DatabaseError as exc:
        rows, pending = [str(exc)], []
    if rows != ["ok"]:
        return Check(
            "database",
            label,
            Status.FAIL,
            N_("The database is damaged (%(detail)s). Restore the last backup."),
            {"detail": "; ".join(rows[:3])[:300]},
        )
    size = sum(_size_of(Path(f"{database.path}{end}")) for end in ("", "-wal"))
    if pending:
        return Check(
            "database",
            label,
            Status.WARN,
            N_("%(count)s database upgrade(s) wait for a restart of the server."),
            {"count": str(len(pending))},
        )
    refused = _write_refused(database)
    if refused:
        return Check(
            "database",
            label,
            Status.FAIL,
            N_(
                "It cannot save (%(detail)s): learners can read but their work is not saved."
                " Free some disk space or check the disk, then restart the server."
            ),
            {"detail": refused[:300]},
        )
    return Check("database", label, Status.OK, N_("Intact (%(size)s)."), {"size": _bytes(size)})


def _write_refused(database: Database) -> str:
    """Why the database cannot take a write now, or "" when it can.

    A real write, committed: `BEGIN IMMEDIATE`, one row, `COMMIT` (about 0.1 ms), so a
    read-only file or file system, a failing disk or a lock that is never let go shows
    here, not first in a learner's answer. SQLite grows the database only when it needs a
    new page, so one small row cannot tell whether the next page fits: that is asked of
    SQLite's page counts (and the disk check looks at the free space).
    """
    try:
        with database.write() as db:
            db.execute(
                "INSERT INTO health_probe (id, written_at) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at",
                [clock.iso()],
            )
        conn = database.reader.conn
        pages, limit, free = (
            int(conn.execute(f"PRAGMA {name}").fetchone()[0])
            for name in ("page_count", "max_page_count", "freelist_count")
        )
    except sqlite3.Error as exc:
        if not write_refused(exc):
            raise
        return str(exc)
    if limit - pages + free < FULL_HEADROOM_PAGES:
        return "database or disk is full"
    return ""


def check_disk(settings: Settings) -> Check:
    label = N_("Disk space")
    usage = shutil.disk_usage(settings.data_dir)
    minimum = settings.min_free_disk_mb * 1024 * 1024
    params = {"free": _bytes(usage.free), "total": _bytes(usage.total), "minimum": _bytes(minimum)}
    if usage.free < minimum / 4:
        message = N_(
            "Only %(free)s free: when the disk is full the server cannot save learners' work."
            " Free some space or add a disk."
        )
        return Check("disk", label, Status.FAIL, message, params)
    if usage.free < minimum:
        message = N_("%(free)s free, less than the %(minimum)s set in min_free_disk_mb.")
        return Check("disk", label, Status.WARN, message, params)
    return Check("disk", label, Status.OK, N_("%(free)s free of %(total)s."), params)


def check_file_modes(settings: Settings) -> Check:
    """Nothing in the data folder but published course files may be read by others."""
    label = N_("File permissions")
    loose = filemodes.loose_paths(settings.data_dir)
    if loose:
        first = loose[0]
        params = {
            "count": str(len(loose)),
            "first": str(first.path),
            "mode": first.octal,
        }
        message = N_(
            "%(count)s file(s) or folder(s) in the data folder can be read by other users,"
            " first %(first)s (mode %(mode)s). The database holds private answers: run"
            " `stepstone init` as the server's user to make them private."
        )
        return Check("file_modes", label, Status.FAIL, message, params)
    return Check("file_modes", label, Status.OK, N_("Only the server's user can read the data."))


# --- content store, search ------------------------------------------------------------


def check_store(settings: Settings, database: Database, *, full: bool) -> Check:
    """Store drift, with `server.catalog.integrity`'s findings and wording."""
    label = N_("Course files")
    store = content_store(settings)
    if full:
        report = integrity.check_store(database, store)
        drift, count, hashed = report.drift, report.blobs, report.blobs
    else:
        drift, count, hashed = _sampled_drift(database, store)
    if drift:
        first = drift[0]
        return Check(
            "store",
            label,
            Status.FAIL,
            N_(
                "%(problems)s course file(s) missing or changed, first %(first)s. Run"
                " `stepstone content verify` and restore the files from a backup."
            ),
            {
                "problems": str(len(drift)),
                "first": f"{first.ref.version_label}: {first.ref.path}: {first.message}"[:300],
            },
        )
    return Check(
        "store",
        label,
        Status.OK,
        N_("%(count)s course files present, %(hashed)s of them re-hashed: all whole."),
        {"count": str(count), "hashed": str(hashed)},
    )


def _sampled_drift(
    database: Database, store: ContentStore
) -> tuple[list[integrity.Drift], int, int]:
    """Look at every referenced blob (missing, not a file, wrong size) and re-hash a
    random sample: quick enough for every monitoring poll, and over many polls it
    covers the store."""
    first_ref: dict[str, integrity.BlobRef] = {}
    for ref in integrity.blob_references(database):
        first_ref.setdefault(ref.blob, ref)  # a pack once, for the first of its files
    drift, whole = [], []
    for digest, ref in first_ref.items():
        try:
            info = store.path_for(digest).lstat()
        except ValueError:
            drift.append(integrity.Drift(ref, "bad-digest"))
            continue
        except FileNotFoundError:
            drift.append(integrity.Drift(ref, "missing"))
            continue
        if not stat.S_ISREG(info.st_mode):
            drift.append(integrity.Drift(ref, "not-a-file"))
        elif ref.pack_sha256 is None and ref.size is not None and info.st_size != ref.size:
            drift.append(integrity.Drift(ref, "wrong-size", info.st_size))
        else:
            whole.append((ref, info.st_size))
    hashed, budget = 0, SAMPLE_BYTES
    for ref, size in random.sample(whole, min(SAMPLE_FILES, len(whole))):
        if size > budget:
            continue
        budget -= size
        hashed += 1
        if not store.verify(ref.blob):
            drift.append(integrity.Drift(ref, "changed"))
    return drift, len(first_ref), hashed


def check_search(settings: Settings, database: Database) -> Check:
    """The search index against the catalog (``server.catalog.search`` offers no health call of
    its own: this asks its service which versions the live index holds, which checks
    every file of the index against its recorded checksum, ≈ 16 ms per 20 MB)."""
    label = N_("Search index")
    service = SearchService(search_root(settings))
    try:
        indexed = service.indexed_versions()
    except INDEX_ERRORS:
        indexed = None
    finally:
        service.close()
    wanted = indexable_versions(database)
    if indexed is None:
        if not wanted:
            return Check("search", label, Status.OK, N_("Nothing to index yet."))
        if service.location.current() is None:
            return Check(
                "search",
                label,
                Status.WARN,
                N_("Not built yet: the server builds it in the background after it starts."),
            )
        return Check(
            "search",
            label,
            Status.FAIL,
            N_(
                "The index is damaged or cannot be read. The server rebuilds it by itself in"
                " a few minutes; if this stays, run: stepstone search rebuild"
            ),
        )
    missing = [v for v in wanted if v not in indexed]
    extra = [v for v in indexed if v not in wanted]
    if missing or extra:
        return Check(
            "search",
            label,
            Status.WARN,
            N_(
                "Out of step with the catalog: %(missing)s course version(s) missing, %(extra)s"
                " that should be gone. The server fixes this within minutes; restart it if not."
            ),
            {"missing": str(len(missing)), "extra": str(len(extra))},
        )
    return Check(
        "search",
        label,
        Status.OK,
        N_("%(count)s course version(s) indexed."),
        {"count": str(len(indexed))},
    )


# --- sync, certificate, clock, backups ---------------------------------------------------


def check_sync(
    settings: Settings, database: Database, publisher: Publisher, now: datetime
) -> Check:
    label = N_("Sync from %(publisher)s")
    key = f"sync:{publisher.name}"
    last = database.query_one(
        "SELECT status, started_at, finished_at, message FROM sync_runs WHERE publisher_id = ?"
        " ORDER BY id DESC LIMIT 1",
        [publisher.id],
    )
    expires = metadata_expiry(trust.metadata_dir(settings, publisher))
    params = {"publisher": publisher.name, "expires": _day(expires) if expires else ""}

    def warn(message: str, **more: str) -> Check:
        return Check(key, label, Status.WARN, message, params | more)

    if last is None:
        return warn(N_("Never synced. Start one under Admin, Publishers, or run `stepstone sync`."))
    when = _minute(last["finished_at"] or last["started_at"])
    if last["status"] == "running":
        status, message = _running_sync(settings, publisher, parse_time(last["started_at"]), now)
        return Check(key, label, status, message, params | {"when": when})
    if last["status"] in ("failed", "partial"):
        detail = str(last["message"])[:300]
        if last["status"] == "failed":
            return warn(N_("The last sync (%(when)s) failed: %(detail)s"), when=when, detail=detail)
        return warn(
            N_("The last sync (%(when)s) refused something: %(detail)s"), when=when, detail=detail
        )
    if expires is not None and expires <= now:
        return warn(
            N_(
                "Its signed metadata expired on %(expires)s. Courses here keep working; the next"
                " sync needs a fresh USB stick or mirror from %(publisher)s."
            )
        )
    if expires is not None and expires - now < METADATA_WARN:
        return warn(N_("Its signed metadata expires on %(expires)s: ask for a fresh USB stick."))
    if expires is None:
        return Check(key, label, Status.OK, N_("Last sync %(when)s."), params | {"when": when})
    message = N_("Last sync %(when)s; signed metadata valid until %(expires)s.")
    return Check(key, label, Status.OK, message, params | {"when": when})


def _running_sync(
    settings: Settings, publisher: Publisher, started: datetime, now: datetime
) -> tuple[Status, str]:
    """A run recorded as running: going on, stuck, or left by a process that is gone."""
    if not sync_in_progress(settings, publisher):
        return Status.WARN, N_(
            "A sync started %(when)s stopped before it ended (the process was stopped)."
            " Start a new one."
        )
    if now - started > SYNC_TOO_LONG:
        return Status.WARN, N_(
            "A sync started %(when)s is still running, for too long. Stop it and start a new one."
        )
    return Status.OK, N_("A sync is running since %(when)s.")


def check_certificate(settings: Settings, now: datetime) -> Check:
    label = N_("TLS certificate")
    if not settings.tls_certificate:
        return Check("tls", label, Status.OK, N_("No certificate set (tls_certificate)."))
    path = Path(settings.tls_certificate)
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        return Check(
            "tls",
            label,
            Status.FAIL,
            N_("Cannot read the certificate %(path)s: %(error)s"),
            {"path": str(path), "error": str(exc)[:200]},
        )
    expires, starts = cert.not_valid_after_utc, cert.not_valid_before_utc
    params = {"expires": _day(expires), "starts": _day(starts), "days": str((expires - now).days)}
    if expires <= now:
        message = N_("It expired on %(expires)s: tablets refuse to connect. Renew it now.")
        return Check("tls", label, Status.FAIL, message, params)
    if now < starts:
        message = N_("It is valid only from %(starts)s: the clock or the certificate is wrong.")
        return Check("tls", label, Status.FAIL, message, params)
    if expires - now < CERTIFICATE_WARN:
        message = N_("It expires on %(expires)s, in %(days)s days. Renew it before then.")
        return Check("tls", label, Status.WARN, message, params)
    return Check("tls", label, Status.OK, N_("Valid until %(expires)s."), params)


def check_clock(settings: Settings, publishers: list[Publisher], now: datetime) -> Check:
    """A clock earlier than metadata that was already signed is wrong (signing happened in
    the past): it breaks sign-in timeouts, audit times and TUF expiry checks."""
    label = N_("Clock")
    newest, by = None, ""
    for publisher in publishers:
        folder = trust.metadata_dir(settings, publisher)
        signed = PublisherClient(publisher.name, folder, b"", FolderSource(folder))
        issued = signed.newest_metadata_time()
        if issued is not None and (newest is None or issued > newest):
            newest, by = issued, publisher.name
    params = {"now": _minute(now.isoformat())}
    if newest is None:
        return Check(
            "clock", label, Status.OK, N_("Nothing signed yet to compare it with."), params
        )
    params |= {"signed": _minute(newest.isoformat()), "publisher": by}
    if now + CLOCK_SLACK < newest:
        message = N_(
            "The clock says %(now)s, but %(publisher)s signed metadata at %(signed)s: the clock"
            " is behind. Set the date and time, then restart the server."
        )
        return Check("clock", label, Status.FAIL, message, params)
    message = N_("%(now)s, after the newest signed metadata (%(signed)s).")
    return Check("clock", label, Status.OK, message, params)


def check_backup(database: Database, now: datetime) -> Check:
    label = N_("Backups")
    row = database.query_one(
        "SELECT at, target FROM audit_log WHERE action = 'backup.create' ORDER BY id DESC LIMIT 1"
    )
    if row is None:
        message = N_("No backup yet. Run `stepstone backup` every night (see the admin guide).")
        return Check("backup", label, Status.WARN, message)
    params = {"when": _minute(row["at"]), "name": str(row["target"])}
    if now - parse_time(row["at"]) > BACKUP_MAX_AGE:
        message = N_("The last backup (%(name)s) is from %(when)s, more than two days ago.")
        return Check("backup", label, Status.WARN, message, params)
    return Check("backup", label, Status.OK, N_("Last backup %(when)s (%(name)s)."), params)


def check_pepper(database: Database) -> Check:
    """The key file learner PINs are hashed with is there and holds every pepper a PIN
    names: without it, no learner can sign in (`server.people.pepper`)."""
    label = N_("PIN pepper")
    usage = pepper.usage_in(database.reader)
    try:
        ring = pepper.read_keyring(database.path)
    except pepper.PepperMissing:
        peppered = sum(n for pepper_id, n in usage.items() if pepper_id is not None)
        if not peppered and not pepper.key_path(database.path).exists():
            message = N_("Not made yet: the server makes it at its next start.")
            return Check("pepper", label, Status.WARN, message)
        message = N_(
            "The key file pepper.key is missing or damaged: %(count)s learner(s) cannot sign"
            " in. Copy it back from the newest backup (see the admin guide)."
        )
        return Check("pepper", label, Status.FAIL, message, {"count": str(peppered)})
    known = {p.id for p in ring.peppers} | {None}
    lost = sum(n for pepper_id, n in usage.items() if pepper_id not in known)
    if lost:
        message = N_(
            "%(count)s learner PIN(s) use a pepper that pepper.key does not hold: they cannot"
            " sign in. Copy pepper.key back from the newest backup, or reset those PINs."
        )
        return Check("pepper", label, Status.FAIL, message, {"count": str(lost)})
    moving = sum(n for pepper_id, n in usage.items() if pepper_id != ring.current.id)
    params = {"id": ring.current.id, "moving": str(moving)}
    if moving:
        message = N_("Current pepper %(id)s; %(moving)s PIN(s) move to it at their next sign-in.")
        return Check("pepper", label, Status.OK, message, params)
    return Check("pepper", label, Status.OK, N_("Every PIN uses pepper %(id)s."), params)


# --- a cached report for monitoring ------------------------------------------------------


class Monitor:
    """The quick checks, run at most once per ``max_age`` seconds: a monitor polling
    `/healthz` every few seconds never costs more than one run of them.

    With ``shared`` (a file in the data folder) every worker process answers from the
    same report: the first to find it stale runs the checks while the others wait for it,
    so two polls a moment apart never disagree because they reached different workers.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        max_age: float = 60.0,
        run: Callable[[Settings, Database], Report] = run_checks,
        shared: Path | None = None,
    ) -> None:
        self.settings, self.database, self.max_age, self._run = settings, database, max_age, run
        self.shared = shared
        self._lock = threading.Lock()
        self._cached: tuple[float, Report] | None = None

    def report(self, max_age: float | None = None) -> Report:
        limit = self.max_age if max_age is None else max_age
        with self._lock, self._shared_lock():
            cached = self._read_shared() if self.shared else self._cached
            if cached is not None and 0 <= time.time() - cached[0] < limit:
                return cached[1]
            report = self._run(self.settings, self.database)
            self._cached = (time.time(), report)
            if self.shared is not None:
                _write_atomically(self.shared, json.dumps(report.to_state(self._cached[0])))
            return report

    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        if self.shared is None:
            yield
            return
        fd = os.open(self.shared.with_name(self.shared.name + ".lock"), _LOCK_FLAGS, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_shared(self) -> tuple[float, Report] | None:
        assert self.shared is not None
        try:
            return Report.from_state(json.loads(self.shared.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # none yet, or unreadable: run the checks again


_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError:
        # A full disk must not break the health check that reports it: the report is
        # still answered, only not shared this time.
        partial.unlink(missing_ok=True)


# --- formatting ---------------------------------------------------------------------------


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _bytes(count: float) -> str:
    """Sizes as `df -h` counts them (1 GB = 1024 MB), like min_free_disk_mb."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TB"


def parse_time(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _minute(iso: str) -> str:
    """An ISO time as ``2025-01-31 14:05 UTC``."""
    return f"{parse_time(iso).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _day(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d}"
