"""Signing in: throttling, lock-out, and the audit of every attempt.

Failures are counted per account and per client address, in SQLite so every worker
process sees the same counts. After a few free tries each failure makes the next try wait
longer; a learner account locks after `learner_lock_after` failures in a row until staff
unlock it. The answer never says whether an id exists: unknown ids are counted, delayed
and locked exactly like real ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlite_utils

from server import accounts, audit, clock, passwords
from server.accounts import Role, User
from server.audit import Actor
from server.db import Database
from server.errors import N_, StepstoneError
from server.settings import Settings

ACCOUNT_FREE_TRIES = 3
ACCOUNT_MAX_DELAY = 15 * 60
ADDRESS_FREE_TRIES = 20
ADDRESS_MAX_DELAY = 5 * 60
# A client address's failures are forgotten after an hour without one.
ADDRESS_MEMORY = 3600


class SignInRefused(StepstoneError):
    """The sign-in did not succeed; `message` is safe to show, `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        self.message = message
        self.retry_after = retry_after
        super().__init__(message)


WRONG = N_("That did not work. Check your id and PIN and try again.")
WRONG_STAFF = N_("That did not work. Check your username and password and try again.")
LOCKED = N_("This account is locked after too many tries. Ask staff to unlock it.")
WAIT = N_("Too many tries. Please wait a moment and try again.")


@dataclass(frozen=True)
class Attempt:
    kind: Role  # LEARNER for the PIN form, ADMIN stands for the staff form
    login: str
    secret: str
    client_address: str

    @property
    def account_key(self) -> str:
        prefix = "learner" if self.kind is Role.LEARNER else "staff"
        return f"{prefix}:{accounts.normalize_login(self.kind, self.login).lower()}"

    @property
    def address_key(self) -> str:
        return f"address:{self.client_address}"


def _delay(failures: int, free: int, cap: int) -> int:
    if failures < free:
        return 0
    return int(min(2 ** (failures - free), cap))


def _failures(database: Database, key: str) -> tuple[int, float]:
    row = database.query_one(
        "SELECT failures, last_failure_at FROM sign_in_failures WHERE key = ?", [key]
    )
    return (int(row[0]), float(row[1])) if row else (0, 0.0)


def _check_throttle(database: Database, settings: Settings, attempt: Attempt) -> None:
    moment = clock.now()
    failures, last = _failures(database, attempt.account_key)
    if attempt.kind is Role.LEARNER and failures >= settings.learner_lock_after:
        raise SignInRefused(LOCKED)
    wait = last + _delay(failures, ACCOUNT_FREE_TRIES, ACCOUNT_MAX_DELAY) - moment
    addr_failures, addr_last = _failures(database, attempt.address_key)
    if moment - addr_last < ADDRESS_MEMORY:
        addr_wait = addr_last + _delay(addr_failures, ADDRESS_FREE_TRIES, ADDRESS_MAX_DELAY)
        wait = max(wait, addr_wait - moment)
    if wait > 0:
        raise SignInRefused(WAIT, math.ceil(wait))


def _count_failure(db: sqlite_utils.Database, key: str, forget_after: float | None) -> int:
    moment = clock.now()
    row = db.execute(
        "SELECT failures, last_failure_at FROM sign_in_failures WHERE key = ?", [key]
    ).fetchone()
    failures = int(row[0]) if row else 0
    if row and forget_after is not None and moment - float(row[1]) > forget_after:
        failures = 0
    db.execute(
        "INSERT INTO sign_in_failures (key, failures, last_failure_at) VALUES (?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET failures = excluded.failures,"
        " last_failure_at = excluded.last_failure_at",
        [key, failures + 1, moment],
    )
    return failures + 1


def _fail(
    database: Database, settings: Settings, attempt: Attempt, user: User | None, why: str
) -> SignInRefused:
    actor = Actor(None, "anonymous", attempt.client_address)
    with database.write() as db:
        failures = _count_failure(db, attempt.account_key, None)
        _count_failure(db, attempt.address_key, ADDRESS_MEMORY)
        target = user.label if user else f"unknown:{attempt.login.strip()[:40]}"
        audit.record(db, actor, "signin.failed", target, reason=why, failures=failures)
        locks = attempt.kind is Role.LEARNER and failures >= settings.learner_lock_after
        if locks and user is not None and not user.locked:
            db.execute("UPDATE users SET locked_at = ? WHERE id = ?", [clock.iso(), user.id])
            audit.record(db, Actor.system(), "account.locked", user.label, failures=failures)
    if locks:
        return SignInRefused(LOCKED)
    return SignInRefused(WRONG if attempt.kind is Role.LEARNER else WRONG_STAFF)


def sign_in(database: Database, settings: Settings, attempt: Attempt) -> User:
    """Check an attempt; returns the user, or raises SignInRefused with a safe message."""
    _check_throttle(database, settings, attempt)
    found = accounts.find_user(database, attempt.kind, attempt.login)
    user, stored = found if found else (None, None)
    if not passwords.verify_secret(stored, attempt.secret):
        raise _fail(database, settings, attempt, user, "unknown-id" if user is None else "wrong")
    assert user is not None and stored is not None
    if user.disabled:
        raise _fail(database, settings, attempt, user, "disabled")
    if user.locked:
        raise SignInRefused(LOCKED)
    with database.write() as db:
        db.execute("DELETE FROM sign_in_failures WHERE key = ?", [attempt.account_key])
        audit.record(db, user.actor(attempt.client_address), "signin", user.label)
    if passwords.needs_rehash(stored):
        accounts.rehash_secret(database, user, attempt.secret)
    return user
