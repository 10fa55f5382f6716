"""Upgrades: a new Stepstone version migrates the database when it starts, after a backup.

`stepstone serve` (and every other command that opens the database, the sync timer's
included) calls :func:`migrate`. When migrations are pending on a database that already
holds data, the data folder is first backed up into ``DATA_DIR/backups/pre-upgrade-<time>``
(rotated like other backups, `backup_keep`). All pending migrations then run in one
transaction: a failure leaves the database exactly as it was, and the error says where
the backup is and what to do. Rolling back is restoring that backup and reinstalling the
previous version (docs/admin-guide.md). Processes that start together take turns: the
first upgrades, the others wait for it and then find nothing left to do.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from server.core.db import Database
from server.core.settings import Settings
from server.ops.backup import (
    UPGRADE_PREFIX,
    BackupError,
    BackupResult,
    create_backup,
    record_backup,
)
from server.ops.migrations import apply_migrations, migrations, pending_migrations
from server.people.audit import Actor

log = logging.getLogger("stepstone.upgrade")
UPGRADE_LOCK = ".upgrade.lock"


def migrate(settings: Settings, database: Database) -> list[str]:
    """Apply pending migrations; when the database already holds data, back it up first
    into ``DATA_DIR/backups/pre-upgrade-<time>`` (rotated like other backups).

    All pending migrations run in one transaction, so a failure leaves the database
    exactly as it was (the backup is noted in the audit log only after success); the
    error names the backup and what to do.
    """
    if not pending_migrations(database):
        return []
    with _upgrade_lock(settings):
        # Another process may have upgraded while this one waited for the lock.
        pending = pending_migrations(database)
        if not pending:
            return []
        return _upgrade(settings, database, pending)


@contextmanager
def _upgrade_lock(settings: Settings) -> Iterator[None]:
    """One upgrade at a time per data folder: the server, the sync timer and an admin's
    command may all start at once after an update, and the others wait, however long
    the backup and the migrations take (the database's busy timeout is only seconds)."""
    fd = os.open(settings.data_dir / UPGRADE_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _upgrade(settings: Settings, database: Database, pending: list[str]) -> list[str]:
    made: BackupResult | None = None
    if migrations.applied(database.reader):
        made = create_backup(
            settings,
            settings.data_dir / "backups",
            keep=settings.backup_keep,
            prefix=UPGRADE_PREFIX,
        )
        log.warning("backed up the data folder before upgrading", extra={"backup": str(made.path)})
    try:
        applied = apply_migrations(database)
    except (sqlite3.Error, ValueError) as exc:
        kept = f" A backup taken just before is in {made.path}." if made else ""
        raise BackupError(
            f"Upgrading the database failed ({', '.join(pending)}): {exc}. The database was "
            f"left as it was.{kept} Reinstall the previous Stepstone version to keep "
            "serving, and report this error."
        ) from exc
    if made is not None:
        record_backup(database, Actor.system("upgrade"), made)
        log.warning("database upgraded", extra={"migrations": applied})
    return applied
