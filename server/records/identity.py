"""Facility identity: the key this facility signs records with, its public card, and the
cards of the other facilities it trusts.

Facilities are air-gapped, so whatever leaves one (a learner's transfer bundle, a Learning
Passport, a badge) travels as a file that the other end must be able to check without
asking anyone. Each facility has an Ed25519 key, ``facility.key`` (PEM, PKCS8, no
password, mode 0600) beside ``secret.key`` in the data folder, and ``facility.json``
beside it with the facility's stable id and every public key it has used. Its **card**
is that id, the facility's name and the public keys with when each was valid, signed by
the active key. Another facility pins a card after a person compares its fingerprint
(the active key's id, read out over a second channel), the same ceremony as a
publisher's root; a card is replaced the same way.

A rotation (:func:`rotate_key`) makes a new key and keeps the old public key on the card
as "retired", valid until the rotation: what it signed before still verifies, nothing it
signs after does.

Canonical bytes are ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``; a key id is the hex SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from content.tuf.fingerprint import grouped, normalised
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ConfigError, StepstoneError, ValidationError
from server.core.settings import Settings
from server.people import audit
from server.people.audit import Actor

KEY_FILE = "facility.key"
STATE_FILE = "facility.json"
CARD_TYPE = "stepstone-facility-card"
CARD_VERSION = 1
FACILITY_ID = re.compile(r"[a-z0-9][a-z0-9.-]{2,63}")
KEYID = re.compile(r"[0-9a-f]{64}")
MAX_CARD_BYTES = 64 * 1024
MAX_CARD_KEYS = 32


class IdentityError(StepstoneError):
    """A signed record or a card cannot be accepted; the message names the problem."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class NotTrusted(IdentityError):
    """The sender is not a facility this one trusts (or signed with a key its card lacks)."""


class BadSignature(IdentityError):
    """The bytes were changed after signing, or the key was not valid when it signed."""


class Revoked(IdentityError):
    """The sender was trusted once and an admin removed it."""


@dataclass(frozen=True)
class VerifiedSender:
    """Who signed a document that :func:`verify_document` accepted."""

    facility_id: str
    name: str
    keyid: str
    own: bool  # signed by this facility itself

    @property
    def fingerprint(self) -> str:
        return grouped(self.keyid)


@dataclass(frozen=True)
class TrustedFacility:
    """A facility card this facility pinned (or its own)."""

    facility_id: str
    name: str
    fingerprint: str
    own: bool
    added_by: str
    added_at: str
    removed_at: str | None
    card: dict[str, Any]


# --- bytes -------------------------------------------------------------------------


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes a signature covers."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def keyid_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def fingerprint(keyid: str) -> str:
    """A key id as people compare it: upper case, in groups of four."""
    return grouped(keyid)


# --- this facility's key and card ----------------------------------------------------


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def state_path(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


def _write_private(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a whole file (mode 0600) under another name, then put it in place: a reader
    never sees half a key; without ``replace`` the first writer wins."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            draft.replace(path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _key_entry(key: Ed25519PrivateKey, valid_from: str) -> dict[str, Any]:
    raw = raw_public(key.public_key())
    return {
        "keyid": keyid_of(raw),
        "public_key": b64(raw),
        "status": "active",
        "valid_from": valid_from,
        "valid_until": None,
    }


def _read_state(settings: Settings) -> dict[str, Any]:
    try:
        state = json.loads(state_path(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"No facility identity at {state_path(settings)}. Run `stepstone init` first."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {state_path(settings)}: {exc}") from None
    if not isinstance(state, dict) or not isinstance(state.get("keys"), list):
        raise ConfigError(f"{state_path(settings)} is damaged: restore it from a backup.")
    return state


def _write_state(settings: Settings, state: dict[str, Any]) -> None:
    text = json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    _write_private(state_path(settings), text.encode(), replace=True)


def ensure_identity(settings: Settings) -> None:
    """Make the facility key and ``facility.json`` unless they exist (at `init`, and at
    start for a folder made before facilities had keys). Idempotent."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if state_path(settings).exists():
        if not key_path(settings).exists():
            raise ConfigError(
                f"The facility key {key_path(settings)} is missing. Copy it back from the"
                " newest backup, or make a new one with `stepstone facility key rotate`."
            )
        return
    if not key_path(settings).exists():
        _write_private(key_path(settings), _pem(Ed25519PrivateKey.generate()), replace=False)
    key = load_signing_key(settings)
    state = {
        "facility_id": "fac-" + secrets.token_hex(8),
        "keys": [_key_entry(key, clock.iso())],
    }
    text = json.dumps(state, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    _write_private(state_path(settings), text.encode(), replace=False)


def facility_id(settings: Settings) -> str:
    """``STEPSTONE_FACILITY_ID``, else the random id made at `init`."""
    if settings.facility_id:
        return settings.facility_id
    return str(_read_state(settings)["facility_id"])


def load_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The facility's active private key."""
    try:
        data = key_path(settings).read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"No facility key at {key_path(settings)}. Run `stepstone init` first."
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise ConfigError(f"The facility key {key_path(settings)} is damaged.") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"The facility key {key_path(settings)} is not an Ed25519 key.")
    return key


def _active_keyid(settings: Settings, key: Ed25519PrivateKey) -> str:
    keyid = keyid_of(raw_public(key.public_key()))
    active = [k for k in _read_state(settings)["keys"] if k.get("status") == "active"]
    if [k.get("keyid") for k in active] != [keyid]:
        raise ConfigError(
            f"The facility key {key_path(settings)} is not the active key named in"
            f" {state_path(settings)}: copy both back from the same backup."
        )
    return keyid


def own_card(settings: Settings) -> dict[str, Any]:
    """This facility's card, signed now by its active key."""
    key = load_signing_key(settings)
    keyid = _active_keyid(settings, key)
    card: dict[str, Any] = {
        "type": CARD_TYPE,
        "version": CARD_VERSION,
        "facility_id": facility_id(settings),
        "name": settings.facility_name,
        "keys": _read_state(settings)["keys"],
        "issued_at": clock.iso(),
    }
    card["signatures"] = [{"keyid": keyid, "sig": b64(key.sign(canonical(card)))}]
    return card


def own_fingerprint(settings: Settings) -> str:
    return fingerprint(_active_keyid(settings, load_signing_key(settings)))


def rotate_key(settings: Settings) -> str:
    """Make a new active key; the old public key stays on the card as retired, valid for
    what it signed until now. Returns the new key's fingerprint."""
    state = _read_state(settings)
    now = clock.iso()
    for entry in state["keys"]:
        if entry.get("status") == "active":
            entry["status"] = "retired"
            entry["valid_until"] = now
    key = Ed25519PrivateKey.generate()
    state["keys"].append(_key_entry(key, now))
    # The new private key first: a crash in between leaves the old state naming the old
    # key as active, which _active_keyid reports, rather than a key nobody holds.
    _write_private(key_path(settings), _pem(key), replace=True)
    _write_state(settings, state)
    return fingerprint(keyid_of(raw_public(key.public_key())))


def sign_document(settings: Settings, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with ``"signature": {"facility_id", "keyid", "sig"}`` added, the
    signature covering the canonical bytes of the payload without ``signature``."""
    body = {k: v for k, v in payload.items() if k != "signature"}
    key = load_signing_key(settings)
    keyid = _active_keyid(settings, key)
    sig = b64(key.sign(canonical(body)))
    return {**body, "signature": {"facility_id": facility_id(settings), "keyid": keyid, "sig": sig}}


# --- cards -------------------------------------------------------------------------


def _moment(text: Any, what: str) -> datetime:
    if not isinstance(text, str):
        raise ValidationError(f"The {what} is missing or not a date and time.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"The {what} {text!r} is not a date and time.") from None
    if moment.tzinfo is None:
        raise ValidationError(f"The {what} {text!r} has no time zone.")
    return moment


def _public_keys(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = card.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_CARD_KEYS:
        raise ValidationError(f"A facility card needs between 1 and {MAX_CARD_KEYS} keys.")
    found: dict[str, dict[str, Any]] = {}
    for entry in keys:
        if not isinstance(entry, dict) or entry.get("status") not in {"active", "retired"}:
            raise ValidationError("A key on the facility card is not active or retired.")
        try:
            raw = unb64(entry.get("public_key", ""))
        except (ValueError, binascii.Error):
            raise ValidationError("A public key on the facility card is not base64url.") from None
        if len(raw) != 32 or entry.get("keyid") != keyid_of(raw):
            raise ValidationError("A key id on the facility card does not match its key.")
        _moment(entry.get("valid_from"), "key's valid_from")
        if entry.get("valid_until") is not None:
            _moment(entry["valid_until"], "key's valid_until")
        found[entry["keyid"]] = entry
    if sum(1 for e in found.values() if e["status"] == "active") != 1:
        raise ValidationError("A facility card must have exactly one active key.")
    return found


def check_card(card: Any) -> dict[str, Any]:
    """``card`` if it is a well-formed facility card signed by its own active key."""
    if not isinstance(card, dict) or card.get("type") != CARD_TYPE:
        raise ValidationError(N_("This is not a Stepstone facility card."))
    if card.get("version") != CARD_VERSION:
        raise ValidationError(f"Facility card version {card.get('version')!r} is not known.")
    if not isinstance(card.get("facility_id"), str) or not FACILITY_ID.fullmatch(
        card["facility_id"]
    ):
        raise ValidationError("The facility card's facility_id is missing or not valid.")
    if not isinstance(card.get("name"), str) or not 1 <= len(card["name"]) <= 200:
        raise ValidationError("The facility card's name is missing or too long.")
    _moment(card.get("issued_at"), "card's issued_at")
    keys = _public_keys(card)
    active = next(k for k in keys.values() if k["status"] == "active")
    body = {k: v for k, v in card.items() if k != "signatures"}
    signatures = card.get("signatures")
    if not isinstance(signatures, list):
        raise BadSignature("The facility card is not signed.")
    for signature in signatures:
        if (
            isinstance(signature, dict)
            and signature.get("keyid") == active["keyid"]
            and _verifies(active, signature.get("sig"), canonical(body))
        ):
            return card
    raise BadSignature("The facility card's signature does not match: it was changed.")


def parse_card(data: bytes) -> dict[str, Any]:
    """A card from a file's bytes, checked (:func:`check_card`)."""
    if len(data) > MAX_CARD_BYTES:
        raise ValidationError(f"A facility card is at most {MAX_CARD_BYTES // 1024} KiB.")
    try:
        card = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ValidationError(N_("This file is not a facility card (not JSON).")) from None
    return check_card(card)


def card_fingerprint(card: dict[str, Any]) -> str:
    """The fingerprint to compare before trusting ``card``: its active key's id."""
    active = next(k for k in _public_keys(card).values() if k["status"] == "active")
    return fingerprint(active["keyid"])


def _verifies(entry: dict[str, Any], sig: Any, body: bytes) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(unb64(entry["public_key"]))
        public.verify(unb64(sig), body)
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
    return True


# --- trusted cards -----------------------------------------------------------------


def _reader(db: Database | sqlite_utils.Database) -> sqlite_utils.Database:
    return db.reader if isinstance(db, Database) else db


def _facility(row: Any) -> TrustedFacility:
    return TrustedFacility(
        facility_id=row["facility_id"],
        name=row["name"],
        fingerprint=row["fingerprint"],
        own=bool(row["own"]),
        added_by=row["added_by"],
        added_at=row["added_at"],
        removed_at=row["removed_at"],
        card=json.loads(row["card"]),
    )


def record_own_card_in(db: sqlite_utils.Database, settings: Settings) -> None:
    """Keep this facility's own card in the trusted list (at start and after a rotation),
    so a record it signed itself verifies like any other."""
    card = own_card(settings)
    db.execute(
        "INSERT INTO trusted_facilities (facility_id, name, card, fingerprint, own, added_by,"
        " added_at) VALUES (?, ?, ?, ?, 1, 'this facility', ?)"
        " ON CONFLICT (facility_id) DO UPDATE SET name = excluded.name, card = excluded.card,"
        " fingerprint = excluded.fingerprint, own = 1, removed_at = NULL, removed_by = NULL",
        [card["facility_id"], card["name"], json.dumps(card), card_fingerprint(card), clock.iso()],
    )
    db.execute(
        "UPDATE trusted_facilities SET own = 0 WHERE own = 1 AND facility_id != ?",
        [card["facility_id"]],
    )


def key_rotated_in(db: sqlite_utils.Database, settings: Settings, actor: Actor) -> None:
    """After :func:`rotate_key`: the own card with the new key, and the audit entry."""
    record_own_card_in(db, settings)
    audit.record(db, actor, "facility.key_rotate", "", fingerprint=own_fingerprint(settings))


def trust_card_in(
    db: sqlite_utils.Database, card: dict[str, Any], confirmed_fingerprint: str, actor: Actor
) -> TrustedFacility:
    """Pin ``card`` (or replace the pinned card of its facility) after a person confirmed
    its fingerprint over a second channel; a card whose fingerprint differs is refused."""
    check_card(card)
    shown = card_fingerprint(card)
    if normalised(confirmed_fingerprint) != normalised(shown):
        raise ValidationError(
            N_(
                "This card does not have the fingerprint that was confirmed. Do not trust it:"
                " ask the other facility to read out its fingerprint again."
            )
        )
    own = db.execute(
        "SELECT 1 FROM trusted_facilities WHERE own = 1 AND facility_id = ?",
        [card["facility_id"]],
    ).fetchone()
    if own:
        raise ValidationError(N_("This is this facility's own card: it is always trusted."))
    db.execute(
        "INSERT INTO trusted_facilities (facility_id, name, card, fingerprint, own, added_by,"
        " added_at) VALUES (?, ?, ?, ?, 0, ?, ?)"
        " ON CONFLICT (facility_id) DO UPDATE SET name = excluded.name, card = excluded.card,"
        " fingerprint = excluded.fingerprint, added_by = excluded.added_by,"
        " added_at = excluded.added_at, removed_at = NULL, removed_by = NULL",
        [card["facility_id"], card["name"], json.dumps(card), shown, actor.label, clock.iso()],
    )
    audit.record(
        db, actor, "facility.trust", card["facility_id"], name=card["name"], fingerprint=shown
    )
    return _get_in(db, card["facility_id"])


def _get_in(db: sqlite_utils.Database, facility: str) -> TrustedFacility:
    row = db.execute(
        "SELECT * FROM trusted_facilities WHERE facility_id = ?", [facility]
    ).fetchone()
    if row is None:
        raise ValidationError(f"No trusted facility {facility!r}.")
    return _facility(row)


def list_trusted(db: Database | sqlite_utils.Database) -> list[TrustedFacility]:
    """Every pinned card, this facility's own first, removed ones last."""
    rows = _reader(db).execute(
        "SELECT * FROM trusted_facilities ORDER BY own DESC, removed_at IS NOT NULL, name"
    )
    return [_facility(row) for row in rows.fetchall()]


def remove_trusted_in(db: sqlite_utils.Database, facility: str, actor: Actor) -> None:
    """Stop trusting a facility. The row stays, marked removed, so its records are refused
    as revoked (not merely unknown) and the audit log says who did it."""
    current = _get_in(db, facility)
    if current.own:
        raise ValidationError(N_("This facility's own card cannot be removed."))
    if current.removed_at is not None:
        raise ValidationError(f"The facility {facility!r} is already removed.")
    db.execute(
        "UPDATE trusted_facilities SET removed_at = ?, removed_by = ? WHERE facility_id = ?",
        [clock.iso(), actor.label, facility],
    )
    audit.record(db, actor, "facility.remove", facility, name=current.name)


def set_up(settings: Settings, database: Database) -> None:
    """The key and ``facility.json`` (:func:`ensure_identity`) and the own card in the
    trusted list: at `init` and at every start."""
    ensure_identity(settings)
    with database.write() as db:
        record_own_card_in(db, settings)


def rotate(settings: Settings, database: Database, actor: Actor) -> str:
    """:func:`rotate_key`, then the new own card and the audit entry; the new fingerprint."""
    new = rotate_key(settings)
    with database.write() as db:
        key_rotated_in(db, settings, actor)
    return new


def trust_card(
    database: Database, card: dict[str, Any], confirmed_fingerprint: str, actor: Actor
) -> TrustedFacility:
    """:func:`trust_card_in` in a transaction of its own."""
    with database.write() as db:
        return trust_card_in(db, card, confirmed_fingerprint, actor)


def remove_trusted(database: Database, facility: str, actor: Actor) -> None:
    """:func:`remove_trusted_in` in a transaction of its own."""
    with database.write() as db:
        remove_trusted_in(db, facility, actor)


# --- verifying -----------------------------------------------------------------------


def verify_document(db: Database | sqlite_utils.Database, doc: dict[str, Any]) -> VerifiedSender:
    """The sender of ``doc`` (made by :func:`sign_document`), once its card is trusted,
    the signing key was valid at the document's ``issued_at`` and the signature matches."""
    signature = doc.get("signature") if isinstance(doc, dict) else None
    if not isinstance(signature, dict) or not isinstance(signature.get("facility_id"), str):
        raise BadSignature("The document is not signed by a facility.")
    sender = signature["facility_id"]
    row = (
        _reader(db)
        .execute("SELECT * FROM trusted_facilities WHERE facility_id = ?", [sender])
        .fetchone()
    )
    if row is None:
        raise NotTrusted(
            f"The sender {sender!r} is not a trusted facility. Add its card first"
            " (stepstone facility trust add)."
        )
    trusted = _facility(row)
    if trusted.removed_at is not None:
        raise Revoked(
            f"The sender {trusted.name} ({sender}) was removed from the trusted facilities"
            f" on {trusted.removed_at}: its records are refused."
        )
    entry = _public_keys(trusted.card).get(str(signature.get("keyid")))
    if entry is None:
        raise NotTrusted(
            f"The document is signed with a key that the trusted card of {trusted.name} does"
            " not hold. Ask for their new card and trust it again."
        )
    try:
        issued = _moment(doc.get("issued_at"), "document's issued_at")
    except ValidationError as exc:
        raise BadSignature(exc.message) from None
    starts = _moment(entry["valid_from"], "key's valid_from")
    ends = _moment(entry["valid_until"], "key's valid_until") if entry["valid_until"] else None
    if issued < starts or (ends is not None and issued > ends):
        raise BadSignature(
            f"The key that signed this document was not valid at its date ({doc['issued_at']})."
        )
    body = {k: v for k, v in doc.items() if k != "signature"}
    if not _verifies(entry, signature.get("sig"), canonical(body)):
        raise BadSignature("The signature does not match: the document was changed after signing.")
    return VerifiedSender(sender, trusted.name, entry["keyid"], trusted.own)
