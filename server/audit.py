"""The append-only audit log: every row carries the hash of the one before it.

Triggers in the schema refuse UPDATE and DELETE; the hash chain shows any change made
around them (for example with a hex editor). `verify_chain` finds the first broken link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from server import clock
from server.db import Database

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, or the system itself (CLI, sync)."""

    id: int | None
    label: str
    client_address: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(None, label)


def _row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    body = json.dumps(
        [
            prev_hash,
            row["at"],
            row["actor_id"],
            row["actor"],
            row["action"],
            row["target"],
            row["detail"],
            row["client_address"],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    db: sqlite_utils.Database,
    actor: Actor,
    action: str,
    target: str = "",
    **detail: Any,
) -> None:
    """Append one entry. Call inside the write transaction of the change it records."""
    last = db.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    prev_hash = last[0] if last else GENESIS
    row = {
        "at": clock.iso(),
        "actor_id": actor.id,
        "actor": actor.label,
        "action": action,
        "target": target,
        "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str),
        "client_address": actor.client_address,
    }
    row["prev_hash"] = prev_hash
    row["hash"] = _row_hash(prev_hash, row)
    db.execute(
        "INSERT INTO audit_log (at, actor_id, actor, action, target, detail, client_address,"
        " prev_hash, hash) VALUES (:at, :actor_id, :actor, :action, :target, :detail,"
        " :client_address, :prev_hash, :hash)",
        row,
    )


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify_chain(database: Database) -> ChainReport:
    """Walk the whole log in order and report the first entry that does not link up."""
    prev_hash = GENESIS
    checked = 0
    cursor = database.reader.conn.execute("SELECT * FROM audit_log ORDER BY id")
    for row in cursor:
        if row["prev_hash"] != prev_hash:
            return ChainReport(checked, row["id"], "does not point to the entry before it")
        if _row_hash(prev_hash, row) != row["hash"]:
            return ChainReport(checked, row["id"], "was changed after it was written")
        prev_hash = row["hash"]
        checked += 1
    return ChainReport(checked, None)


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""
    actor: str = ""
    target: str = ""
    before_id: int | None = None
    limit: int = 50


def list_entries(database: Database, where: AuditFilter) -> Iterator[Mapping[str, Any]]:
    """Newest first, filtered; for the admin's audit page."""
    clauses, params = [], []
    if where.action:
        clauses.append("action LIKE ?")
        params.append(where.action.replace("%", "") + "%")
    if where.actor:
        clauses.append("actor LIKE ?")
        params.append("%" + where.actor.replace("%", "") + "%")
    if where.target:
        clauses.append("target LIKE ?")
        params.append("%" + where.target.replace("%", "") + "%")
    if where.before_id is not None:
        clauses.append("id < ?")
        params.append(str(where.before_id))
    sql = "SELECT * FROM audit_log"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(str(where.limit))
    for row in database.query(sql, params):
        entry = dict(row)
        entry["detail"] = json.loads(entry["detail"])
        yield entry
