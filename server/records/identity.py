"""Facility identity: the key this facility signs records with and its public card.

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

The card's format lives in ``cards`` and the list of trusted cards, with checking a
signed document against it, in ``trusted``; this module is the one to import: it names
the whole API (``__all__``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

import sqlite_utils
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.core import clock
from server.core.db import Database
from server.core.errors import ConfigError
from server.core.settings import Settings
from server.people import audit
from server.people.audit import Actor
from server.records import trusted
from server.records.cards import (
    CARD_TYPE,
    CARD_VERSION,
    FACILITY_ID,
    MAX_CARD_BYTES,
    BadSignature,
    IdentityError,
    NotTrusted,
    Revoked,
    b64,
    canonical,
    card_fingerprint,
    check_card,
    fingerprint,
    keyid_of,
    parse_card,
    raw_public,
    unb64,
)
from server.records.trusted import (
    TrustedFacility,
    VerifiedSender,
    list_trusted,
    remove_trusted_in,
    trust_card_in,
    verify_document,
)

# The API other modules use: this module's own names and the card format's.
__all__ = [
    "CARD_TYPE",
    "CARD_VERSION",
    "FACILITY_ID",
    "KEY_FILE",
    "MAX_CARD_BYTES",
    "STATE_FILE",
    "BadSignature",
    "IdentityError",
    "NotTrusted",
    "Revoked",
    "TrustedFacility",
    "VerifiedSender",
    "b64",
    "canonical",
    "card_fingerprint",
    "check_card",
    "ensure_identity",
    "facility_id",
    "fingerprint",
    "key_rotated_in",
    "list_trusted",
    "load_signing_key",
    "own_card",
    "own_fingerprint",
    "parse_card",
    "record_own_card_in",
    "remove_trusted",
    "remove_trusted_in",
    "rotate",
    "rotate_key",
    "set_up",
    "sign_document",
    "trust_card",
    "trust_card_in",
    "unb64",
    "verify_document",
]

KEY_FILE = "facility.key"
STATE_FILE = "facility.json"


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


# --- kept in the trusted list ------------------------------------------------------


def record_own_card_in(db: sqlite_utils.Database, settings: Settings) -> None:
    """This facility's card, signed now, in the trusted list (``trusted.record_own_in``)."""
    trusted.record_own_in(db, own_card(settings))


def key_rotated_in(db: sqlite_utils.Database, settings: Settings, actor: Actor) -> None:
    """After :func:`rotate_key`: the own card with the new key, and the audit entry."""
    record_own_card_in(db, settings)
    audit.record(db, actor, "facility.key_rotate", "", fingerprint=own_fingerprint(settings))


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
        return trusted.trust_card_in(db, card, confirmed_fingerprint, actor)


def remove_trusted(database: Database, facility: str, actor: Actor) -> None:
    """:func:`remove_trusted_in` in a transaction of its own."""
    with database.write() as db:
        trusted.remove_trusted_in(db, facility, actor)
