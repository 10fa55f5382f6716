"""Accounts: learners, educators and admins, and the secrets they sign in with.

Learners sign in with a facility id and a PIN; staff with a username and a password.
Every new or reset secret is one-time: it must be changed at the next sign-in.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from enum import StrEnum

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import SUPPORTED_LANGUAGES
from server.people import audit, passwords, pepper
from server.people.audit import Actor


class Role(StrEnum):
    ADMIN = "admin"
    EDUCATOR = "educator"
    LEARNER = "learner"

    @property
    def is_staff(self) -> bool:
        return self is not Role.LEARNER


USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
FACILITY_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,19}$")
MAX_NAME = 80


@dataclass(frozen=True)
class User:
    id: int
    role: Role
    username: str | None
    facility_id: str | None
    display_name: str
    language: str
    must_change_secret: bool
    disabled: bool
    locked: bool
    text_size: str = "normal"

    @property
    def login(self) -> str:
        login = self.facility_id if self.role is Role.LEARNER else self.username
        return login or ""

    @property
    def label(self) -> str:
        """How the audit log names this user."""
        return f"{self.role.value}:{self.login}"

    def actor(self, client_address: str = "") -> Actor:
        return Actor(self.id, self.label, client_address)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> User:
        return cls(
            id=row["id"],
            role=Role(row["role"]),
            username=row["username"],
            facility_id=row["facility_id"],
            display_name=row["display_name"],
            language=row["language"],
            must_change_secret=bool(row["must_change_secret"]),
            disabled=row["disabled_at"] is not None,
            locked=row["locked_at"] is not None,
            text_size=row["text_size"] if "text_size" in row.keys() else "normal",  # noqa: SIM118
        )


def normalize_login(role: Role, login: str) -> str:
    login = login.strip()
    return login.upper() if role is Role.LEARNER else login.lower()


def validate_login(role: Role, login: str) -> str:
    login = normalize_login(role, login)
    if role is Role.LEARNER and not FACILITY_ID_RE.match(login):
        raise ValidationError(
            N_("A facility id is 1 to 20 letters, numbers or dashes."), "facility_id"
        )
    if role.is_staff and not USERNAME_RE.match(login):
        raise ValidationError(
            N_("A username is 3 to 32 lowercase letters, numbers, dots, dashes or underscores."),
            "username",
        )
    return login


def validate_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise ValidationError(N_("A name is 1 to 80 characters."), "display_name")
    return name


def validate_language(language: str) -> str:
    if language not in SUPPORTED_LANGUAGES:
        raise ValidationError(N_("Choose English or Spanish."), "language")
    return language


def get_user(database: Database, user_id: int) -> User:
    row = database.query_one("SELECT * FROM users WHERE id = ?", [user_id])
    if row is None:
        raise NotFound()
    return User.from_row(row)


def get_user_in(db: sqlite_utils.Database, user_id: int) -> User:
    """`get_user` inside the caller's write transaction (sees what it wrote)."""
    row = db.execute("SELECT * FROM users WHERE id = ?", [user_id]).fetchone()
    if row is None:
        raise NotFound()
    return User.from_row(row)


def find_user(database: Database, role: Role, login: str) -> tuple[User, str] | None:
    """The account a sign-in names, with its stored hash; learners and staff apart."""
    return find_user_in(database.reader, role, login)


def find_user_in(db: sqlite_utils.Database, role: Role, login: str) -> tuple[User, str] | None:
    """`find_user` on a given connection, e.g. inside the caller's write transaction."""
    login = normalize_login(role, login)
    if role is Role.LEARNER:
        sql = "SELECT * FROM users WHERE facility_id = ? AND role = 'learner'"
    else:
        sql = "SELECT * FROM users WHERE username = ? AND role != 'learner'"
    row = db.execute(sql, [login]).fetchone()
    return (User.from_row(row), row["secret_hash"]) if row else None


def failure_key(role: Role, login: str) -> str:
    """The key under which wrong tries for this account (or unknown id) are counted."""
    prefix = "learner" if role is Role.LEARNER else "staff"
    return f"{prefix}:{normalize_login(role, login).lower()}"


def login_taken(db: sqlite_utils.Database, role: Role, login: str) -> bool:
    column = "facility_id" if role is Role.LEARNER else "username"
    return db.execute(f"SELECT 1 FROM users WHERE {column} = ?", [login]).fetchone() is not None  # noqa: S608


def secret_hash_in(db: sqlite_utils.Database, role: Role, secret: str) -> str:
    """The record to store for a secret: a learner's PIN is keyed with the pepper of the
    database's data folder (`server.people.pepper`), a staff password is not."""
    if role is Role.LEARNER:
        return passwords.hash_pin(secret, pepper.keyring_in(db))
    return passwords.hash_secret(secret)


def new_one_time_secret(role: Role) -> str:
    return passwords.one_time_pin() if role is Role.LEARNER else passwords.one_time_password()


def insert_user(
    db: sqlite_utils.Database,
    actor: Actor,
    role: Role,
    login: str,
    display_name: str,
    language: str,
) -> tuple[int, str]:
    """Insert inside an open write transaction; returns (id, one-time secret)."""
    login = validate_login(role, login)
    display_name = validate_name(display_name)
    language = validate_language(language)
    if login_taken(db, role, login):
        raise ValidationError(N_("This id is already used by another account."), "login")
    secret = new_one_time_secret(role)
    stamp = clock.iso()
    cursor = db.execute(
        "INSERT INTO users (role, username, facility_id, display_name, language, secret_hash,"
        " must_change_secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
        [
            role.value,
            None if role is Role.LEARNER else login,
            login if role is Role.LEARNER else None,
            display_name,
            language,
            secret_hash_in(db, role, secret),
            stamp,
            stamp,
        ],
    )
    user_id = int(cursor.lastrowid or 0)
    # Wrong tries counted while this id named nobody must not lock the new account.
    db.execute("DELETE FROM sign_in_failures WHERE key = ?", [failure_key(role, login)])
    audit.record(db, actor, "account.create", f"{role.value}:{login}", role=role.value)
    return user_id, secret


def create_user(
    database: Database, actor: Actor, role: Role, login: str, display_name: str, language: str
) -> tuple[User, str]:
    """Create an account; returns it with its one-time secret (shown once, never stored)."""
    with database.write() as db:
        user_id, secret = insert_user(db, actor, role, login, display_name, language)
    return get_user(database, user_id), secret


def update_profile(
    database: Database, actor: Actor, user_id: int, display_name: str, language: str
) -> User:
    user = get_user(database, user_id)
    with database.write() as db:
        return update_profile_in(db, actor, user, display_name, language)


def update_profile_in(
    db: sqlite_utils.Database, actor: Actor, user: User, display_name: str, language: str
) -> User:
    """Change a person's name and language, audited, in the caller's transaction."""
    name = validate_name(display_name)
    lang = validate_language(language)
    db.execute(
        "UPDATE users SET display_name = ?, language = ?, updated_at = ? WHERE id = ?",
        [name, lang, clock.iso(), user.id],
    )
    audit.record(db, actor, "account.update", user.label, language=lang)
    return get_user_in(db, user.id)


def set_language(database: Database, user: User, language: str) -> None:
    lang = validate_language(language)
    with database.write() as db:
        db.execute("UPDATE users SET language = ? WHERE id = ?", [lang, user.id])


TEXT_SIZES = ("normal", "large", "larger")


def set_text_size(database: Database, user: User, size: str) -> None:
    """The learner's reading size; one of `TEXT_SIZES` (the caller checks)."""
    if size not in TEXT_SIZES:
        raise ValueError(f"unknown text size {size!r}")
    with database.write() as db:
        db.execute("UPDATE users SET text_size = ? WHERE id = ?", [size, user.id])


def reset_secret(database: Database, actor: Actor, user_id: int) -> str:
    """A new one-time PIN or password; ends the user's sessions and clears a lock."""
    user = get_user(database, user_id)
    secret = new_one_time_secret(user.role)
    with database.write() as db:
        db.execute(
            "UPDATE users SET secret_hash = ?, must_change_secret = 1, locked_at = NULL,"
            " updated_at = ? WHERE id = ?",
            [secret_hash_in(db, user.role, secret), clock.iso(), user_id],
        )
        _end_sessions(db, user_id, "secret-reset")
        _clear_failures(db, user)
        audit.record(db, actor, "account.reset-secret", user.label)
    return secret


def check_new_secret(user: User, current: str, new: str, facility_name: str = "") -> None:
    """Raise ValidationError when the PIN or password a user chose is not allowed."""
    if user.role is Role.LEARNER:
        passwords.check_pin(new)
    else:
        passwords.check_password(new, user.login, facility_name)
    if new == current:
        raise ValidationError(
            N_("Choose a new PIN, not the one you have now.")
            if user.role is Role.LEARNER
            else N_("Choose a new password, not the one you have now."),
            "new",
        )


def set_own_secret_in(db: sqlite_utils.Database, user: User, new: str) -> None:
    """Store the secret a user chose; every session of theirs ends (the caller starts a
    new one for the browser that made the change)."""
    db.execute(
        "UPDATE users SET secret_hash = ?, must_change_secret = 0, updated_at = ? WHERE id = ?",
        [secret_hash_in(db, user.role, new), clock.iso(), user.id],
    )
    ended = _end_sessions(db, user.id, "secret-changed")
    audit.record(db, user.actor(), "account.change-secret", user.label, sessions_ended=ended)


def rehash_secret(database: Database, user: User, secret: str) -> None:
    """Store the hash again with today's parameters (after a successful sign-in)."""
    with database.write() as db:
        db.execute(
            "UPDATE users SET secret_hash = ? WHERE id = ?",
            [secret_hash_in(db, user.role, secret), user.id],
        )


def set_disabled(database: Database, actor: Actor, user_id: int, disabled: bool) -> None:
    user = get_user(database, user_id)
    if actor.id == user_id and disabled:
        raise ValidationError(N_("You cannot disable your own account."))
    with database.write() as db:
        db.execute(
            "UPDATE users SET disabled_at = ?, updated_at = ? WHERE id = ?",
            [clock.iso() if disabled else None, clock.iso(), user_id],
        )
        if disabled:
            _end_sessions(db, user_id, "disabled")
        audit.record(db, actor, "account.disable" if disabled else "account.enable", user.label)


def lock_in(db: sqlite_utils.Database, user: User, failures: int) -> None:
    """Lock an account after too many wrong tries; its sessions end at once."""
    db.execute(
        "UPDATE users SET locked_at = ? WHERE id = ? AND locked_at IS NULL", [clock.iso(), user.id]
    )
    _end_sessions(db, user.id, "locked")
    audit.record(db, Actor.system(), "account.locked", user.label, failures=failures)


def unlock(database: Database, actor: Actor, user_id: int) -> None:
    user = get_user(database, user_id)
    with database.write() as db:
        db.execute("UPDATE users SET locked_at = NULL WHERE id = ?", [user_id])
        _clear_failures(db, user)
        audit.record(db, actor, "account.unlock", user.label)


def end_sessions(database: Database, actor: Actor, user_id: int) -> int:
    user = get_user(database, user_id)
    with database.write() as db:
        ended = _end_sessions(db, user_id, "ended-by-staff")
        audit.record(db, actor, "account.end-sessions", user.label, sessions=ended)
    return ended


def _end_sessions(db: sqlite_utils.Database, user_id: int, reason: str) -> int:
    cursor = db.execute(
        "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE user_id = ? AND ended_at IS NULL",
        [clock.now(), reason, user_id],
    )
    return int(cursor.rowcount)


def _clear_failures(db: sqlite_utils.Database, user: User) -> None:
    db.execute("DELETE FROM sign_in_failures WHERE key = ?", [failure_key(user.role, user.login)])


@dataclass(frozen=True)
class UserQuery:
    role: str = ""
    text: str = ""
    status: str = ""
    limit: int = 100
    offset: int = 0


def list_users(database: Database, query: UserQuery) -> tuple[list[User], int]:
    """Users for the admin list, filtered; returns (page, total)."""
    clauses, params = ["1 = 1"], []
    if query.role in {r.value for r in Role}:
        clauses.append("role = ?")
        params.append(query.role)
    if query.text:
        clauses.append("(display_name LIKE ? OR username LIKE ? OR facility_id LIKE ?)")
        like = "%" + query.text.replace("%", "") + "%"
        params += [like, like, like]
    if query.status == "disabled":
        clauses.append("disabled_at IS NOT NULL")
    elif query.status == "locked":
        clauses.append("locked_at IS NOT NULL")
    elif query.status == "active":
        clauses.append("disabled_at IS NULL")
    where = " AND ".join(clauses)
    total = database.query_one(f"SELECT count(*) FROM users WHERE {where}", params)  # noqa: S608
    rows = database.query(
        f"SELECT * FROM users WHERE {where} ORDER BY role, display_name"  # noqa: S608
        " LIMIT ? OFFSET ?",
        [*params, query.limit, query.offset],
    )
    return [User.from_row(r) for r in rows], int(total[0]) if total else 0
