"""Hashing and policy for staff passwords and learner PINs.

argon2id with parameters that live inside each hash string, so a later release can raise
them and re-hash at the next successful sign-in (`needs_rehash`).

Staff passwords use OWASP's baseline. A learner PIN is first keyed with the facility's
pepper (HMAC-SHA256, `server.people.pepper`) and then hashed with cheaper parameters: with
at most 10^8 PINs no argon2 cost would save a leaked database on its own, the pepper kept
outside it does, and the cheaper hash lets a shift change sign in without a queue. The
stored record is ``$pepper$<id>`` followed by the argon2 string; PIN hashes made before
the pepper (plain argon2 strings) still verify and are re-hashed at the next sign-in.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import os
import secrets
import threading
from dataclasses import dataclass
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.core.errors import N_, ValidationError
from server.people.pepper import PEPPERED, Keyring, pepper_id


@dataclass(frozen=True)
class Hashers:
    staff: PasswordHasher
    pin: PasswordHasher


_HASHERS = Hashers(
    # OWASP's argon2id baseline: 19 MiB memory, 2 passes, 1 lane.
    staff=PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1),
    # 8 MiB, 1 pass: about a fifth of the staff cost (docs/admin-guide.md, "PINs and the
    # pepper"). Still memory-hard, so whoever holds the pepper as well gains little from
    # a GPU; without the pepper the database gives them nothing to try.
    pin=PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),
)
# How many hashes (or checks) run at once in this process: one per core. More would not
# sign anyone in sooner (each is CPU work), but each holds its argon2 memory (8 MiB for a
# PIN, 19 MiB for a password) while it waits for a core: a shift change of hundreds of
# sign-ins in one worker then grew it by hundreds of MB that the allocator kept.
_KDF_SLOTS = threading.BoundedSemaphore(max(1, len(os.sched_getaffinity(0))))
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
# Unambiguous characters for one-time passwords that staff read aloud or copy by hand.
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# Hashes of a random secret, verified when the account does not exist, so a wrong id
# costs the same time as a wrong secret: one per set of parameters, made on first use
# (not at import, which every worker and command would pay for).
_DUMMY_HASHES: dict[tuple[int, ...], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len)
    if params not in _DUMMY_HASHES:
        with _KDF_SLOTS:
            _DUMMY_HASHES[params] = hasher.hash(secrets.token_hex(16))
    return _DUMMY_HASHES[params]


def use_hashers(hashers: Hashers) -> Hashers:
    """Hash and verify with ``hashers`` from now on; returns the hashers they replace.

    For test suites: tests that are not about passwords run with cheap parameters. Each
    hash carries its own parameters, so hashes made with either still verify.
    """
    global _HASHERS
    # An unknown account keeps costing what a wrong secret costs: its dummy hash is made
    # with the parameters in use (`_dummy_hash`).
    replaced, _HASHERS = _HASHERS, hashers
    return replaced


def hashers_in_use() -> Hashers:
    return _HASHERS


def hash_secret(secret: str) -> str:
    """A staff password's hash (and, before the pepper, every secret's)."""
    with _KDF_SLOTS:
        return _HASHERS.staff.hash(secret)


def _keyed(key: bytes, pin: str) -> str:
    return hmac.new(key, pin.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_pin(pin: str, peppers: Keyring) -> str:
    """A learner PIN's record: keyed with the current pepper, then hashed."""
    pepper = peppers.current
    with _KDF_SLOTS:
        hashed = _HASHERS.pin.hash(_keyed(pepper.key, pin))
    return f"{PEPPERED}{pepper.id}{hashed}"


def to_check(stored: str | None, secret: str, peppers: Keyring | None) -> tuple[str | None, str]:
    """What `verify_secret` checks for this record: the argon2 hash and the string to
    verify against it. With ``peppers`` (a learner), a missing record is checked against a
    dummy hash at the PIN cost, and a peppered one with its pepper.

    Raises PepperMissing when the record names a pepper the keyring lacks.
    """
    if peppers is None:
        return stored, secret
    if stored is None:
        return _dummy_hash(_HASHERS.pin), _keyed(peppers.current.key, secret)
    pepper = peppers.pepper_for(stored)
    if pepper is None:
        return stored, secret  # made before the pepper: plain argon2 of the PIN
    return stored[len(PEPPERED) + len(pepper.id) :], _keyed(pepper.key, secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when `secret` matches; always spends one hash verification."""
    try:
        hashed = stored_hash or _dummy_hash(_HASHERS.staff)
        with _KDF_SLOTS:
            matched = _HASHERS.staff.verify(hashed, secret)
        return matched and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, peppers: Keyring | None = None) -> bool:
    """True when a record that just verified should be stored again: older parameters,
    or (a learner's, with ``peppers``) no pepper yet or not the current one."""
    if peppers is None:
        return _HASHERS.staff.check_needs_rehash(stored_hash)
    named = pepper_id(stored_hash)
    if named is None or named != peppers.current.id:
        return True
    return _HASHERS.pin.check_needs_rehash(stored_hash[len(PEPPERED) + len(named) :])


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("server.people").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def _letters_and_digits(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _facility_words(facility_name: str) -> list[str]:
    """The facility's name run together ("northunit"), and each of its long words
    ("riverside"): a password built on either is among the first that someone who knows
    the place tries. Short words ("north", "unit") are left alone: they are everywhere in
    good passphrases."""
    whole = _letters_and_digits(facility_name)
    words = [_letters_and_digits(w) for w in facility_name.split()]
    return [w for w in words if len(w) >= 7] + ([whole] if len(whole) >= 5 else [])


def check_password(password: str, username: str = "", facility_name: str = "") -> None:
    """Raise ValidationError when a staff password breaks the policy; the message says
    which rule it breaks, so the person knows what to change."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(N_("Use at least 10 characters."), "password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(N_("Use at most 256 characters."), "password")
    lowered = password.lower()
    if lowered in common_passwords():
        raise ValidationError(_TOO_EASY_COMMON, "password")
    if username and username.lower() in lowered:
        raise ValidationError(_TOO_EASY_USERNAME, "password")
    bare = _letters_and_digits(password)
    if any(word in bare for word in _facility_words(facility_name)):
        raise ValidationError(_TOO_EASY_FACILITY, "password")
    if len(set(lowered)) < 4:
        raise ValidationError(_TOO_EASY_REPEATS, "password")


_TOO_EASY_COMMON = N_(
    "This password is too easy to guess: it is on the list of passwords that attackers"
    " try first. Choose another one."
)
_TOO_EASY_USERNAME = N_(
    "This password is too easy to guess: it contains your username. Choose another one."
)
_TOO_EASY_FACILITY = N_(
    "This password is too easy to guess: it contains the name of the facility. Choose another one."
)
_TOO_EASY_REPEATS = N_(
    "This password is too easy to guess: it repeats the same few characters. Use at"
    " least 4 different characters."
)


def check_pin(pin: str) -> None:
    """Raise ValidationError when a PIN a learner chose is not allowed."""
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise ValidationError(N_("A PIN is 4 to 8 numbers."), "pin")
    digits = [int(d) for d in pin]
    steps = {b - a for a, b in itertools.pairwise(digits)}
    if len(set(pin)) == 1 or steps in ({1}, {-1}):
        raise ValidationError(
            N_("This PIN is too easy to guess, like 1111 or 1234. Choose another one."), "pin"
        )


def one_time_password() -> str:
    """A random 12-character password in three groups, e.g. `k7mq-2xrt-9wfp`."""
    chars = "".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(12))
    return "-".join(chars[i : i + 4] for i in range(0, 12, 4))


def one_time_pin() -> str:
    """A random 6-digit PIN that passes `check_pin`."""
    while True:
        pin = f"{secrets.randbelow(10**6):06d}"
        try:
            check_pin(pin)
        except ValidationError:
            continue
        return pin
