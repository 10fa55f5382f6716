"""The append-only audit log: every row carries a keyed hash of itself and the one before it.

Triggers in the schema refuse UPDATE and DELETE; the chain shows any change made around
them. A plain hash would not: whoever can write the database can drop the triggers, edit a
row and compute every later hash again. So each link is an HMAC-SHA256 with a key that
lives outside the database, in the data folder's ``audit.key`` (mode 0600): without it
nobody can make a row that verifies.

Whoever holds the key as well (the server's own account, or a backup, which carries the
key so that a restored server can go on checking its log) could still write a whole new
chain. Against that the head of the chain is kept outside the server: each backup's
manifest records it, the admin's audit page shows it to write down, and
``verify_chain(database, against=...)`` checks that a head noted earlier is still in the
chain, where a rewritten history would have replaced it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import StepstoneError

GENESIS = "0" * 64
KEY_FILE = "audit.key"
# A row as written (a dict) or as read back (sqlite3.Row, which is not a Mapping to mypy).
Row = Mapping[str, Any] | sqlite3.Row
HEAD_RE = re.compile(r"[0-9a-f]{64}")


class AuditKeyMissing(StepstoneError):
    """The audit key file is gone, so the chain cannot be checked."""


def key_path(database_path: Path) -> Path:
    """The audit key sits in the data folder, beside (never inside) the database."""
    return database_path.parent / KEY_FILE


def ensure_key(database_path: Path) -> Path:
    """Create the audit key (32 random bytes, hex, mode 0600) unless it exists."""
    path = key_path(database_path)
    if path.exists():
        return path
    # Written whole under another name, then linked in: two processes starting on a new
    # folder never read a half-written key, and the first one's key wins.
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
    return path


def read_key(database_path: Path) -> bytes:
    """The audit key of the database at ``database_path``; raises :class:`AuditKeyMissing`."""
    path = key_path(database_path)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise AuditKeyMissing(
            f"The audit key {path} is missing, so the audit log cannot be checked. "
            "Copy audit.key back from the newest backup of this server."
        ) from None
    if not HEAD_RE.fullmatch(text):
        raise AuditKeyMissing(f"The audit key {path} is damaged: it must be 64 hex digits.")
    return bytes.fromhex(text)


def database_file(db: sqlite_utils.Database) -> Path | None:
    """The file behind a connection (None for an in-memory database)."""
    for row in db.execute("PRAGMA database_list").fetchall():
        if row[1] == "main" and row[2]:
            return Path(row[2])
    return None


# Keys read by this process, by file identity: a data folder made again at the same
# path (`stepstone demo --reset`) has a new key file, so it is read again.
_KEYS: dict[tuple[str, int, int], bytes] = {}


def _writer_key(db: sqlite_utils.Database) -> bytes:
    path = database_file(db)
    if path is None:
        raise AuditKeyMissing("An in-memory database has no audit key.")
    try:
        found = key_path(path).stat()
    except FileNotFoundError:
        # The first entry of a new data folder makes the key (`stepstone init` already has).
        found = ensure_key(path).stat()
    identity = (str(path), found.st_ino, found.st_mtime_ns)
    key = _KEYS.get(identity)
    if key is None:
        key = _KEYS[identity] = read_key(path)
    return key


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, or the system itself (CLI, sync)."""

    id: int | None
    label: str
    client_address: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(None, label)


def _row_body(prev_hash: str, row: Row) -> bytes:
    text = json.dumps(
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
    return text.encode("utf-8")


def _row_hash(key: bytes, prev_hash: str, row: Row) -> str:
    return hmac.new(key, _row_body(prev_hash, row), hashlib.sha256).hexdigest()


def plain_row_hash(prev_hash: str, row: Row) -> str:
    """The unkeyed SHA-256 link that logs written before the audit key used."""
    return hashlib.sha256(_row_body(prev_hash, row)).hexdigest()


def record(
    db: sqlite_utils.Database,
    actor: Actor,
    action: str,
    target: str = "",
    **detail: Any,
) -> None:
    """Append one entry. Call inside the write transaction of the change it records."""
    key = _writer_key(db)
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
    row["hash"] = _row_hash(key, prev_hash, row)
    db.execute(
        "INSERT INTO audit_log (at, actor_id, actor, action, target, detail, client_address,"
        " prev_hash, hash) VALUES (:at, :actor_id, :actor, :action, :target, :detail,"
        " :client_address, :prev_hash, :hash)",
        row,
    )


@dataclass(frozen=True)
class Head:
    """The newest entry of the chain: what an admin notes down, and backups record."""

    id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.id}:{self.hash}"


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_id: int | None
    problem: str = ""
    head: Head | None = None
    against: Head | None = None  # the saved head that was looked for
    against_found: bool = True

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None and self.against_found


def parse_head(text: str) -> Head:
    """``"<entry>:<hash>"`` as shown on the audit page and in backup manifests."""
    entry, _, digest = text.strip().partition(":")
    if not entry.isdigit() or not HEAD_RE.fullmatch(digest.lower()):
        raise ValueError(
            "A saved head looks like 1234:<64 hex digits>, as the audit page shows it."
        )
    return Head(int(entry), digest.lower())


def current_head(db: sqlite_utils.Database | Database) -> Head | None:
    """The newest entry's id and hash (None while the log is empty)."""
    conn = db.reader.conn if isinstance(db, Database) else db.conn
    row = conn.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return Head(int(row[0]), str(row[1])) if row else None


def verify_chain(database: Database, against: Head | None = None) -> ChainReport:
    """Walk the whole log in order and report the first entry that does not link up.

    With ``against`` (a head noted earlier), the log must also still hold that very
    entry with that hash: a history rewritten by someone holding the key would not.
    """
    key = read_key(database.path)
    cursor = database.reader.conn.execute("SELECT * FROM audit_log ORDER BY id")
    report = check_rows(key, cursor)
    if against is None or report.first_broken_id is not None:
        return report
    found = database.query_one(
        "SELECT 1 FROM audit_log WHERE id = ? AND hash = ?", [against.id, against.hash]
    )
    return ChainReport(
        report.checked, None, "", report.head, against, against_found=found is not None
    )


def check_rows(key: bytes, rows: Iterable[Row]) -> ChainReport:
    """Check rows (in id order) as one chain from the start."""
    prev_hash = GENESIS
    checked = 0
    head = None
    for row in rows:
        if row["prev_hash"] != prev_hash:
            return ChainReport(checked, row["id"], "does not point to the entry before it")
        if not hmac.compare_digest(_row_hash(key, prev_hash, row), row["hash"]):
            return ChainReport(checked, row["id"], "was changed after it was written")
        prev_hash = row["hash"]
        head = Head(row["id"], prev_hash)
        checked += 1
    return ChainReport(checked, None, head=head)


def reseal_rows(key: bytes, rows: Iterable[Row]) -> Iterator[tuple[int, str, str]]:
    """``(id, prev_hash, hash)`` for each row linked again with ``key``, in order."""
    prev_hash = GENESIS
    for row in rows:
        digest = _row_hash(key, prev_hash, row)
        yield row["id"], prev_hash, digest
        prev_hash = digest


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
