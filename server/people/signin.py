"""Checking a secret someone types: signing in, and the current PIN or password that the
account page asks for before it changes it.

Tries are counted per account and per client address, in SQLite so every worker process
sees the same counts. A try is counted *before* its hash is checked, in the same write
transaction that checks the throttle: tries sent at the same moment each see the ones
counted before them, so no more than the free tries reach the hash at once. After a few
free tries each one makes the next wait longer; a learner account locks after
`learner_lock_after` tries in a row that did not succeed, until staff unlock it, and a
locked account's sessions end. The transaction that starts a session checks the account
again. The answer never says whether an id exists: unknown ids are counted, delayed and
locked exactly like real ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, StepstoneError, ValidationError
from server.core.settings import Settings
from server.people import access_gate, accounts, audit, passwords, pepper, sessions
from server.people.accounts import Role, User
from server.people.audit import Actor
from server.people.pepper import Keyring

ACCOUNT_FREE_TRIES = 3
ACCOUNT_MAX_DELAY = 15 * 60
# An account's (or unknown id's) tries are forgotten after a day without one. A real
# learner's lock is kept on the account until staff unlock it; a lock on an id that names
# nobody wears off, so it cannot lock an account made for that id later.
ACCOUNT_MEMORY = 24 * 3600
ADDRESS_FREE_TRIES = 20
ADDRESS_MAX_DELAY = 5 * 60
# A client address's tries are forgotten after an hour without one.
ADDRESS_MEMORY = 3600


class SignInRefused(StepstoneError):
    """The sign-in did not succeed; `message` is safe to show, `retry_after` in seconds,
    `tries_left` the wrong tries a learner has before the account locks, when few."""

    def __init__(self, message: str, retry_after: int = 0, tries_left: int = 0) -> None:
        self.message = message
        self.retry_after = retry_after
        self.tries_left = tries_left
        super().__init__(message)


# A learner is told how many wrong tries are left once this few remain: a lock needs
# staff to undo it, so it should never come as a surprise. The count is kept per id
# typed, known or not, so the warning says nothing about which ids exist.
WARN_TRIES_LEFT = 2


class SignedOutAfterWrongTries(StepstoneError):
    """Too many wrong tries of the current PIN or password: the session was ended."""


WRONG = N_("That did not work. Check your id and PIN and try again.")
WRONG_STAFF = N_("That did not work. Check your username and password and try again.")
WRONG_CURRENT_PIN = N_("That is not your PIN now.")
WRONG_CURRENT_PASSWORD = N_("That is not your password now.")
LOCKED = N_("This account is locked after too many tries. Ask staff to unlock it.")
WAIT = N_("Too many tries. Please wait a moment and try again.")
CLOSED = {
    access_gate.HOURS: N_(
        "Tablets are closed for you at this time. Come back in your tablet hours."
    ),
    access_gate.HOLIDAY: N_("Tablets are closed today for a holiday."),
    access_gate.LOCKDOWN: N_("Tablets are paused for your unit right now. Your work is saved."),
}


@dataclass(frozen=True)
class Attempt:
    kind: Role  # LEARNER for the PIN form; any staff role stands for the staff form
    login: str
    secret: str
    client_address: str
    user_agent: str = ""

    @property
    def account_key(self) -> str:
        return accounts.failure_key(self.kind, self.login)

    @property
    def address_key(self) -> str:
        return f"address:{self.client_address}"


@dataclass(frozen=True)
class Ticket:
    """A try that was counted: its number among the account's tries, and what it names."""

    number: int
    user: User | None
    stored_hash: str | None
    peppers: Keyring | None = None  # a learner's: the pepper keys PINs are checked with

    def check(self, secret: str) -> bool:
        """Whether `secret` opens the account (one hash verification, even for no account)."""
        stored, keyed = passwords.to_check(self.stored_hash, secret, self.peppers)
        return passwords.verify_secret(stored, keyed)

    def needs_rehash(self) -> bool:
        return self.stored_hash is not None and passwords.needs_rehash(
            self.stored_hash, self.peppers
        )


@dataclass(frozen=True)
class Counter:
    failures: int  # tries since the last one that succeeded, including tries in flight
    last_at: float  # when the last try was counted
    attempts: int  # every try ever counted; each try takes the next number

    @property
    def base(self) -> int:
        """The number of the last try that succeeded (or was forgotten)."""
        return self.attempts - self.failures


def _delay(failures: int, free: int, cap: int) -> int:
    if failures < free:
        return 0
    return int(min(2 ** (failures - free), cap))


def _counter_in(db: sqlite_utils.Database, key: str, forget_after: float) -> Counter:
    row = db.execute(
        "SELECT failures, last_failure_at, attempts FROM sign_in_failures WHERE key = ?", [key]
    ).fetchone()
    if row is None:
        return Counter(0, 0.0, 0)
    counter = Counter(int(row[0]), float(row[1]), int(row[2]))
    if clock.now() - counter.last_at > forget_after:
        return Counter(0, counter.last_at, counter.attempts)
    return counter


def _save_in(db: sqlite_utils.Database, key: str, counter: Counter) -> None:
    db.execute(
        "INSERT INTO sign_in_failures (key, failures, last_failure_at, attempts)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures,"
        " last_failure_at = excluded.last_failure_at, attempts = excluded.attempts",
        [key, counter.failures, counter.last_at, counter.attempts],
    )


def _locks(settings: Settings, kind: Role, failures: int) -> bool:
    return kind is Role.LEARNER and failures >= settings.learner_lock_after


def _refusal_in(
    db: sqlite_utils.Database, settings: Settings, attempt: Attempt, user: User | None
) -> SignInRefused | None:
    """Why this try may not be checked now, if it may not."""
    account = _counter_in(db, attempt.account_key, ACCOUNT_MEMORY)
    if user is not None and user.locked:
        return SignInRefused(LOCKED)
    if _locks(settings, attempt.kind, account.failures):
        if user is not None:  # e.g. the limit was lowered since these tries
            accounts.lock_in(db, user, account.failures)
        return SignInRefused(LOCKED)
    moment = clock.now()
    wait = account.last_at + _delay(account.failures, ACCOUNT_FREE_TRIES, ACCOUNT_MAX_DELAY)
    address = _counter_in(db, attempt.address_key, ADDRESS_MEMORY)
    wait = max(
        wait, address.last_at + _delay(address.failures, ADDRESS_FREE_TRIES, ADDRESS_MAX_DELAY)
    )
    if wait > moment:
        return SignInRefused(WAIT, math.ceil(wait - moment))
    return None


def wrong_tries(database: Database, settings: Settings, user: User) -> tuple[int, bool]:
    """For the admin page: tries in a row that did not succeed, and whether they lock
    the account (its next try is refused until staff unlock it)."""
    key = accounts.failure_key(user.role, user.login)
    failures = _counter_in(database.reader, key, ACCOUNT_MEMORY).failures
    return failures, user.locked or _locks(settings, user.role, failures)


def _count_in(db: sqlite_utils.Database, key: str, forget_after: float) -> int:
    """Count one more try under `key`; returns its number."""
    counter = _counter_in(db, key, forget_after)
    number = counter.attempts + 1
    _save_in(db, key, Counter(counter.failures + 1, clock.now(), number))
    return number


def admit(database: Database, settings: Settings, attempt: Attempt) -> Ticket:
    """Count a try, or raise SignInRefused when it must wait or the account is locked.

    Raises PepperMissing, before anything is counted, when the PIN's hash names a pepper
    the server does not have: no learner is locked out by a lost key file."""
    with database.write() as db:
        found = accounts.find_user_in(db, attempt.kind, attempt.login)
        user, stored = found if found else (None, None)
        peppers = pepper.keyring_in(db) if attempt.kind is Role.LEARNER else None
        if peppers is not None and stored is not None:
            peppers.pepper_for(stored)
        refusal = _refusal_in(db, settings, attempt, user)
        if refusal is None:
            number = _count_in(db, attempt.account_key, ACCOUNT_MEMORY)
            _count_in(db, attempt.address_key, ADDRESS_MEMORY)
    if refusal is not None:
        raise refusal
    return Ticket(number, user, stored, peppers)


def _fail_in(
    db: sqlite_utils.Database,
    settings: Settings,
    attempt: Attempt,
    ticket: Ticket,
    audit_as: tuple[Actor, str, str],
) -> int:
    """Record a try that failed; returns how many tries in a row have failed with it (it
    was counted when admitted). Locks a learner account that reached the limit."""
    actor, action, why = audit_as
    in_a_row = ticket.number - _counter_in(db, attempt.account_key, ACCOUNT_MEMORY).base
    target = ticket.user.label if ticket.user else f"unknown:{attempt.login.strip()[:40]}"
    audit.record(db, actor, action, target, reason=why, failures=max(in_a_row, 0))
    if _locks(settings, attempt.kind, in_a_row) and ticket.user is not None:
        accounts.lock_in(db, ticket.user, in_a_row)
    return in_a_row


def _succeed_in(db: sqlite_utils.Database, attempt: Attempt, ticket: Ticket) -> None:
    """Settle a try that succeeded: tries counted before it no longer count, tries counted
    after it (still being checked) still do; it does not count against the address."""
    account = _counter_in(db, attempt.account_key, ACCOUNT_MEMORY)
    failures = min(account.failures, account.attempts - ticket.number)
    _save_in(db, attempt.account_key, Counter(failures, account.last_at, account.attempts))
    address = _counter_in(db, attempt.address_key, ADDRESS_MEMORY)
    if address.failures > 0:
        after = Counter(address.failures - 1, address.last_at, address.attempts)
        _save_in(db, attempt.address_key, after)


def _recheck_in(db: sqlite_utils.Database, attempt: Attempt, ticket: Ticket) -> User | str:
    """The account as it is now, if the secret that was checked still opens it; otherwise
    why not (disabled, or the secret was changed while it was being checked)."""
    found = accounts.find_user_in(db, attempt.kind, attempt.login)
    if found is None or found[1] != ticket.stored_hash:
        return "changed"
    return "disabled" if found[0].disabled else found[0]


def _wrong(kind: Role) -> str:
    return WRONG if kind is Role.LEARNER else WRONG_STAFF


def _settle_sign_in_in(
    db: sqlite_utils.Database, settings: Settings, attempt: Attempt, ticket: Ticket, good: bool
) -> tuple[User, str] | SignInRefused:
    """Start a session for a good try, in the transaction that checks the account again."""
    now = _recheck_in(db, attempt, ticket) if good else "wrong"
    if isinstance(now, User):
        if now.locked:  # by tries that failed while this one was being checked
            return SignInRefused(LOCKED)
        _succeed_in(db, attempt, ticket)
        audit.record(db, now.actor(attempt.client_address), "signin", now.label)
        return now, sessions.start_in(db, settings, now, attempt.client_address, attempt.user_agent)
    why = "unknown-id" if ticket.user is None else now
    anonymous = Actor(None, "anonymous", attempt.client_address)
    in_a_row = _fail_in(db, settings, attempt, ticket, (anonymous, "signin.failed", why))
    if _locks(settings, attempt.kind, in_a_row):
        return SignInRefused(LOCKED)
    left = settings.learner_lock_after - in_a_row if attempt.kind is Role.LEARNER else 0
    return SignInRefused(_wrong(attempt.kind), tries_left=left if left <= WARN_TRIES_LEFT else 0)


def sign_in(database: Database, settings: Settings, attempt: Attempt) -> tuple[User, str]:
    """Check an attempt; returns the user and the id of their new session, or raises
    SignInRefused with a safe message."""
    ticket = admit(database, settings, attempt)
    good = ticket.check(attempt.secret)
    if good and ticket.user is not None and ticket.user.role is Role.LEARNER:
        _refuse_when_closed(database, settings, attempt, ticket)
    with database.write() as db:
        outcome = _settle_sign_in_in(db, settings, attempt, ticket, good)
    if isinstance(outcome, SignInRefused):
        raise outcome
    user, session_id = outcome
    if ticket.needs_rehash():  # newer parameters, or a PIN's pepper
        accounts.rehash_secret(database, user, attempt.secret)
    return user, session_id


def _refuse_when_closed(
    database: Database, settings: Settings, attempt: Attempt, ticket: Ticket
) -> None:
    """A learner with the right PIN outside their tablet hours, on a holiday or in a
    lockdown: no session, and no wrong try counted against them. Checked only after the
    PIN, so the answer says nothing about an id whose PIN the person does not know."""
    assert ticket.user is not None
    verdict = access_gate.verdict(database, settings, ticket.user.id)
    if verdict.open:
        return
    with database.write() as db:
        _succeed_in(db, attempt, ticket)
        actor = ticket.user.actor(attempt.client_address)
        audit.record(db, actor, "signin.closed", ticket.user.label, reason=verdict.reason)
    raise SignInRefused(CLOSED[verdict.reason])


def sign_out(database: Database, session_id: str, actor: Actor, label: str) -> None:
    """End the session (an empty id: none to end) and audit the sign-out, together."""
    with database.write() as db:
        sessions.end_in(db, session_id, "signed-out")
        audit.record(db, actor, "signout", label)


def _settle_change_in(
    db: sqlite_utils.Database,
    settings: Settings,
    session: sessions.Session,
    attempt: Attempt,
    ticket: Ticket,
    good: bool,
    new: str,
) -> str | StepstoneError:
    now = _recheck_in(db, attempt, ticket) if good else "wrong"
    if isinstance(now, User) and now.id == session.user.id:
        if now.locked:
            return SignInRefused(LOCKED)
        _succeed_in(db, attempt, ticket)
        accounts.set_own_secret_in(db, now, new)
        return sessions.start_in(db, settings, now, attempt.client_address, attempt.user_agent)
    actor = session.user.actor(attempt.client_address)
    why = now if isinstance(now, str) else "changed"
    in_a_row = _fail_in(db, settings, attempt, ticket, (actor, "account.secret-check.failed", why))
    if _locks(settings, attempt.kind, in_a_row):
        return SignInRefused(LOCKED)
    if in_a_row >= ACCOUNT_FREE_TRIES:
        sessions.end_in(db, session.id, "wrong-current-secret")
        return SignedOutAfterWrongTries()
    if attempt.kind is Role.LEARNER:
        return ValidationError(WRONG_CURRENT_PIN, "current_pin")
    return ValidationError(WRONG_CURRENT_PASSWORD, "current_password")


def change_own_secret(
    database: Database,
    settings: Settings,
    session: sessions.Session,
    attempt: Attempt,
    new: str,
) -> str:
    """Change the signed-in user's PIN or password, `attempt.secret` being the current one.

    Returns the id of a new session for this browser; every other session of the user
    ends. The current one is checked like a sign-in: counted, delayed, locked and audited.
    Raises ValidationError (the new one is not allowed, or the current one is wrong),
    SignInRefused (wait, or locked) or SignedOutAfterWrongTries (this session ended).
    """
    user = session.user
    accounts.check_new_secret(user, attempt.secret, new, settings.facility_name)
    ticket = admit(database, settings, attempt)
    good = ticket.check(attempt.secret)
    with database.write() as db:
        outcome = _settle_change_in(db, settings, session, attempt, ticket, good, new)
    if isinstance(outcome, StepstoneError):
        raise outcome
    return outcome
