"""Server-side sessions: a random id in a signed cookie, a row in SQLite.

The database keeps only a SHA-256 of each session id, so a copy of the database does not
let anyone take over a live session. Idle and absolute timeouts are enforced here, on the
server, whatever the browser does with its cookie, and so is the rule that a locked or
disabled account has no live session.

Loading a session is a read: the writes it makes (the idle clock, ending a session that
timed out) are best-effort, so a read-only database or a full disk never fails a page
that only reads.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.settings import Settings
from server.people.accounts import Role, User

# Writing last_seen on every request would turn each page view into a write; a minute of
# slack on a 15-minute idle timeout is fine.
TOUCH_INTERVAL = 60.0

log = logging.getLogger("stepstone.sessions")


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    id: str
    user: User
    csrf_secret: str
    expires_at: float


def idle_seconds(settings: Settings, role: Role) -> int:
    minutes = settings.learner_idle_minutes if role is Role.LEARNER else settings.staff_idle_minutes
    return minutes * 60


def start(
    database: Database, settings: Settings, user: User, client_address: str, user_agent: str
) -> str:
    """A new session for `user`; returns the raw id that goes (signed) into the cookie."""
    with database.write() as db:
        return start_in(db, settings, user, client_address, user_agent)


def start_in(
    db: sqlite_utils.Database, settings: Settings, user: User, client_address: str, user_agent: str
) -> str:
    """`start` inside the caller's write transaction (which has just checked the account)."""
    session_id = secrets.token_urlsafe(32)
    moment = clock.now()
    db.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_secret, created_at, last_seen_at,"
        " expires_at, client_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            _digest(session_id),
            user.id,
            secrets.token_urlsafe(32),
            moment,
            moment,
            moment + settings.session_max_hours * 3600,
            client_address,
            user_agent[:200],
        ],
    )
    return session_id


def load(
    database: Database, settings: Settings, session_id: str, *, touch: bool = True
) -> Session | None:
    """The live session for this id, or None (ending it if it just timed out). Without
    `touch`, the request does not count as activity (a page asking the server whether
    tablets are still open is not the learner doing something)."""
    row = database.query_one(
        "SELECT s.*, u.role, u.disabled_at, u.locked_at FROM sessions s"
        " JOIN users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.ended_at IS NULL",
        [_digest(session_id)],
    )
    if row is None:
        return None
    moment = clock.now()
    reason = None
    if row["disabled_at"] is not None:
        reason = "disabled"
    elif row["locked_at"] is not None:
        reason = "locked"
    elif moment >= row["expires_at"]:
        reason = "expired"
    elif moment - row["last_seen_at"] > idle_seconds(settings, Role(row["role"])):
        reason = "idle"
    if reason:
        _best_effort(end, database, session_id, reason)
        return None
    if touch and moment - row["last_seen_at"] > TOUCH_INTERVAL:
        _best_effort(_touch, database, row["id_hash"], moment)
    user_row = database.query_one("SELECT * FROM users WHERE id = ?", [row["user_id"]])
    if user_row is None:
        return None
    return Session(session_id, User.from_row(user_row), row["csrf_secret"], row["expires_at"])


def _touch(database: Database, id_hash: str, moment: float) -> None:
    with database.write() as db:
        db.execute("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", [moment, id_hash])


def _best_effort(write: Callable[..., object], database: Database, *args: object) -> None:
    """Run a write that a read can do without: when the database refuses it (read-only,
    full disk, I/O error, still locked after the busy timeout) the page goes on. Missing
    a touch only makes the idle clock run a little early."""
    try:
        write(database, *args)
    except sqlite3.OperationalError as exc:
        log.warning("session write skipped: %s", exc, extra={"event": "session.write-failed"})


def end_best_effort(database: Database, session_id: str, reason: str) -> None:
    """End a session from a read path (a request refused by the access check)."""
    _best_effort(end, database, session_id, reason)


def end(database: Database, session_id: str, reason: str) -> bool:
    with database.write() as db:
        return end_in(db, session_id, reason)


def end_in(db: sqlite_utils.Database, session_id: str, reason: str) -> bool:
    """`end` inside the caller's write transaction."""
    cursor = db.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id_hash = ? AND ended_at IS NULL",
        [clock.now(), reason, _digest(session_id)],
    )
    return bool(cursor.rowcount)


def active_count(database: Database, user_id: int) -> int:
    row = database.query_one(
        "SELECT count(*) FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?",
        [user_id, clock.now()],
    )
    return int(row[0]) if row else 0


def purge(database: Database, older_than_days: int = 90) -> int:
    """Delete session rows that ended (or expired) long ago."""
    cutoff = clock.now() - older_than_days * 86400
    with database.write() as db:
        cursor = db.execute(
            "DELETE FROM sessions WHERE coalesce(ended_at, expires_at) < ?", [cutoff]
        )
    return int(cursor.rowcount)
