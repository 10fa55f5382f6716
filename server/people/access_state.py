"""The version of the facility's access rules (windows, holidays, lockdowns).

Every change to them moves the version in the same transaction, so each server process
can keep the rules in memory and read them again only when the version moved: a
learner's request then costs one small read, not a read of every rule.
"""

from __future__ import annotations

import sqlite_utils

from server.core.db import Database


def bump_in(db: sqlite_utils.Database) -> None:
    """Inside the write transaction that changes a rule."""
    db.execute("UPDATE access_rules_state SET version = version + 1 WHERE id = 1")


def version(database: Database) -> int:
    row = database.query_one("SELECT version FROM access_rules_state WHERE id = 1")
    return int(row[0]) if row else 0
