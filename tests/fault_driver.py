"""Run ``stepstone`` with a storage fault planted, as a separate process::

    python -m tests.fault_driver FAULT[,FAULT...] [stepstone arguments...]

Faults:

``readonly``
    Every SQLite connection of the process is read-only (``PRAGMA query_only``): writes
    fail with SQLite's "attempt to write a readonly database", as on a file system
    remounted read-only. Tests run as root, which file modes do not stop.
``full``
    Every connection may not grow the database past the size it had when the process
    opened it (``PRAGMA max_page_count``), and the first one leaves no free page in it
    (``VACUUM``; a migration that rebuilds a table leaves some): writes that need a new
    page fail with "database or disk is full", as on a full disk.
``filesize=BYTES``
    The kernel refuses to grow any file of the process past BYTES (``RLIMIT_FSIZE``;
    Python ignores SIGXFSZ, so writes fail with EFBIG): a full disk for every file.
``slow-upgrade``
    One more migration is pending, and it takes a second and a half: long enough for a
    second process started at the same moment to meet the first one's upgrade.

With ``serve``, use one worker: the faults live in this process only.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import sqlite_utils

from server.cli.main import main
from server.core import db
from server.ops import migrations

SLOW_MIGRATION = "9998_slow_upgrade"


def _plant_pragma(statement: str, vacuum_first: bool = False) -> None:
    real_connect = db.connect
    vacuumed: list[Path] = []

    def connect(path: Path) -> sqlite_utils.Database:
        opened = real_connect(path)
        if vacuum_first and path not in vacuumed:
            opened.conn.execute("VACUUM")
            vacuumed.append(path)
        pages = opened.conn.execute("PRAGMA page_count").fetchone()[0]
        opened.conn.execute(statement.format(pages=pages))
        return opened

    db.connect = connect


def _slow_upgrade(database: sqlite_utils.Database) -> None:
    time.sleep(1.5)
    database.execute("ALTER TABLE groups ADD COLUMN colour TEXT NOT NULL DEFAULT ''")


def plant(fault: str) -> None:
    if fault == "readonly":
        _plant_pragma("PRAGMA query_only=ON")
    elif fault == "full":
        _plant_pragma("PRAGMA max_page_count={pages}", vacuum_first=True)
    elif fault.startswith("filesize="):
        limit = int(fault.removeprefix("filesize="))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    elif fault == "slow-upgrade":
        extra = migrations.migrations._Migration(SLOW_MIGRATION, _slow_upgrade)
        migrations.migrations._migrations.append(extra)
    else:
        raise SystemExit(f"unknown fault {fault!r}")


if __name__ == "__main__":
    for name in sys.argv[1].split(","):
        plant(name)
    sys.argv = ["stepstone", *sys.argv[2:]]
    main()
