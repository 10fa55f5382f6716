"""The PIN pepper: a secret key, kept outside the database, that every learner PIN hash is
keyed with.

A PIN has at most 10^8 values, so whoever copies the database alone could try them all
against a hash however slow it is. With each PIN first keyed by HMAC-SHA256 with the
pepper, the database alone is not enough: without the key file there is nothing to try.
That is what lets PINs use a cheaper argon2id than staff passwords (`passwords`), so a
shift change does not queue learners for minutes.

The file ``pepper.key`` sits in the data folder beside the database, mode 0600, and is
backed up and restored with the other keys. One pepper a line, ``<id> <64 hex digits>``;
the first line is the current one, used for every new PIN hash; the lines after it are
older peppers, kept while a PIN hash still names them (each hash records its pepper's id),
and re-hashed with the current one at the learner's next sign-in. `rotate` puts a new
pepper first; `retire` drops the older ones no hash names any more.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from server.core.db import Database
from server.core.errors import N_, HTTPError
from server.people.audit import Actor, database_file, record

KEY_FILE = "pepper.key"
PEPPERED = "$pepper$"
_LINE = re.compile(r"([0-9a-f]{8}) ([0-9a-f]{64})")
_HEADER = (
    "# Stepstone PIN pepper: without this file no learner can sign in. Keep it private and\n"
    "# in every backup; never edit it by hand (stepstone pepper rotate / retire).\n"
)


class PepperMissing(HTTPError):
    """PIN hashes name a pepper the key file does not hold (or the file is gone)."""

    status = 503
    default_message = N_(
        "Learners cannot sign in on this server right now: a key file is missing. Please tell"
        " staff."
    )

    def __init__(self, detail: str) -> None:
        super().__init__()
        self.detail = detail  # for the admin and the log, never shown to a learner


@dataclass(frozen=True)
class Pepper:
    id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Keyring:
    """The peppers of one data folder, the current one first."""

    peppers: tuple[Pepper, ...]

    @property
    def current(self) -> Pepper:
        return self.peppers[0]

    def get(self, pepper_id: str) -> Pepper | None:
        return next((p for p in self.peppers if p.id == pepper_id), None)

    def pepper_for(self, stored_hash: str) -> Pepper | None:
        """The pepper a stored hash was keyed with (None: made before the pepper).

        Raises PepperMissing when it names one this keyring lacks: a server that lost
        its key file must say so, not count every learner's right PIN as a wrong one."""
        named = pepper_id(stored_hash)
        if named is None:
            return None
        found = self.get(named)
        if found is None:
            raise PepperMissing(
                f"A PIN hash names pepper {named}, which {KEY_FILE} does not hold. Copy"
                f" {KEY_FILE} back from the newest backup that has it."
            )
        return found


def key_path(database_path: Path) -> Path:
    """The pepper sits in the data folder, beside (never inside) the database."""
    return database_path.parent / KEY_FILE


def pepper_id(stored_hash: str | None) -> str | None:
    """The id of the pepper a stored hash was keyed with (None: not peppered)."""
    if stored_hash is None or not stored_hash.startswith(PEPPERED):
        return None
    return stored_hash[len(PEPPERED) :].split("$", 1)[0]


def _new_pepper() -> Pepper:
    return Pepper(secrets.token_hex(4), secrets.token_bytes(32))


def _text(ring: Keyring) -> str:
    return _HEADER + "".join(f"{p.id} {p.key.hex()}\n" for p in ring.peppers)


def _write_draft(path: Path, ring: Keyring) -> Path:
    """The whole file under a hidden name, flushed to disk, mode 0600."""
    draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(_text(ring))
        handle.flush()
        os.fsync(handle.fileno())
    return draft


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_key(database_path: Path) -> Path:
    """Create the pepper file with one new pepper unless it exists.

    Only for a folder whose PIN hashes name no pepper (`keyring_in` checks): a new pepper
    in place of a lost one would open nothing."""
    path = key_path(database_path)
    if path.exists():
        return path
    # Linked in whole: two processes starting on a new folder never read half a file,
    # and the first one's pepper wins.
    draft = _write_draft(path, Keyring((_new_pepper(),)))
    try:
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
    _sync_folder(path.parent)
    return path


def read_keyring(database_path: Path) -> Keyring:
    """The peppers of the data folder; raises PepperMissing when the file is gone or damaged."""
    path = key_path(database_path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise PepperMissing(
            f"The PIN pepper {path} is missing. Copy {KEY_FILE} back from the newest backup"
            " of this server; until then no learner can sign in."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PepperMissing(f"The PIN pepper {path} cannot be read: {exc}.") from None
    lines = [line.strip() for line in text.splitlines()]
    found = [_LINE.fullmatch(line) for line in lines if line and not line.startswith("#")]
    if not found or not all(found):
        raise PepperMissing(
            f"The PIN pepper {path} is damaged: each line must be an 8-digit id and 64 hex"
            f" digits. Copy {KEY_FILE} back from the newest backup of this server."
        )
    return Keyring(tuple(Pepper(m[1], bytes.fromhex(m[2])) for m in found if m))


# Keyrings read by this process, by file identity: `rotate` replaces the file, so every
# worker reads it again at its next PIN check.
_RINGS: dict[tuple[str, int, int], Keyring] = {}


def keyring_in(db: sqlite_utils.Database) -> Keyring:
    """The keyring of the database behind ``db``, made on first use in a folder that has
    none yet and no peppered hash (an existing facility after the upgrade)."""
    path = database_file(db)
    if path is None:
        raise PepperMissing("An in-memory database has no PIN pepper.")
    try:
        found = key_path(path).stat()
    except FileNotFoundError:
        if _peppered_hashes_in(db):
            read_keyring(path)  # raises PepperMissing with what to do
        found = ensure_key(path).stat()
    identity = (str(path), found.st_ino, found.st_mtime_ns)
    ring = _RINGS.get(identity)
    if ring is None:
        ring = _RINGS[identity] = read_keyring(path)
    return ring


def _peppered_hashes_in(db: sqlite_utils.Database) -> bool:
    row = db.execute(
        "SELECT 1 FROM users WHERE substr(secret_hash, 1, ?) = ? LIMIT 1",
        [len(PEPPERED), PEPPERED],
    ).fetchone()
    return row is not None


def usage_in(db: sqlite_utils.Database) -> Counter[str | None]:
    """How many learner PIN hashes name each pepper id (None: not peppered yet)."""
    rows = db.execute("SELECT secret_hash FROM users WHERE role = 'learner'").fetchall()
    return Counter(pepper_id(str(row[0])) for row in rows)


@dataclass(frozen=True)
class Status:
    """What `stepstone pepper status` and the health check report."""

    current: str
    kept: tuple[str, ...]  # older peppers still in the file
    usage: Counter[str | None]

    @property
    def unknown(self) -> int:
        """PIN hashes that name a pepper the file does not hold: they cannot sign in."""
        known = {self.current, *self.kept, None}
        return sum(n for pid, n in self.usage.items() if pid not in known)


def status(database: Database) -> Status:
    ring = keyring_in(database.reader)
    usage = usage_in(database.reader)
    return Status(ring.current.id, tuple(p.id for p in ring.peppers[1:]), usage)


def _replace_in(db: sqlite_utils.Database, ring: Keyring) -> None:
    path = database_file(db)
    assert path is not None  # keyring_in has refused an in-memory database
    target = key_path(path)
    draft = _write_draft(target, ring)
    draft.replace(target)
    _sync_folder(target.parent)


def rotate(database: Database, actor: Actor) -> Pepper:
    """Make a new current pepper; the old ones stay until no PIN hash names them."""
    with database.write() as db:  # one rotation or retirement at a time, across processes
        ring = keyring_in(db)
        new = _new_pepper()
        record(db, actor, "pepper.rotate", f"pepper:{new.id}", replaced=ring.current.id)
        _replace_in(db, Keyring((new, *ring.peppers)))
    return new


def retire(database: Database, actor: Actor) -> tuple[list[str], dict[str, int]]:
    """Drop the older peppers that no PIN hash names; returns those dropped and, for the
    ones kept, how many PINs still use them (re-hashed at each learner's next sign-in, or
    made new by a PIN reset)."""
    with database.write() as db:
        ring = keyring_in(db)
        usage = usage_in(db)
        old = ring.peppers[1:]
        dropped = [p.id for p in old if usage[p.id] == 0]
        if dropped:
            kept = tuple(p for p in ring.peppers if p.id not in dropped)
            record(db, actor, "pepper.retire", "pepper", retired=",".join(dropped))
            _replace_in(db, Keyring(kept))
    return dropped, {p.id: usage[p.id] for p in old if usage[p.id] > 0}
