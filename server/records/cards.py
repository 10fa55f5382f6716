"""The facility card format: canonical bytes, public keys and their ids, and checking a
card's shape and its signature by its own active key (``identity`` keeps the cards).

Canonical bytes are ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``; a key id is the hex SHA-256 of the raw 32-byte public key; the
fingerprint people compare is the active key's id in groups of four, the form publisher
fingerprints take (``content.tuf.fingerprint``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from content.tuf.fingerprint import grouped
from server.core.errors import N_, StepstoneError, ValidationError

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


# --- cards -------------------------------------------------------------------------


def moment(text: Any, what: str) -> datetime:
    if not isinstance(text, str):
        raise ValidationError(f"The {what} is missing or not a date and time.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"The {what} {text!r} is not a date and time.") from None
    if moment.tzinfo is None:
        raise ValidationError(f"The {what} {text!r} has no time zone.")
    return moment


def public_keys(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
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
        moment(entry.get("valid_from"), "key's valid_from")
        if entry.get("valid_until") is not None:
            moment(entry["valid_until"], "key's valid_until")
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
    moment(card.get("issued_at"), "card's issued_at")
    keys = public_keys(card)
    active = next(k for k in keys.values() if k["status"] == "active")
    body = {k: v for k, v in card.items() if k != "signatures"}
    signatures = card.get("signatures")
    if not isinstance(signatures, list):
        raise BadSignature("The facility card is not signed.")
    for signature in signatures:
        if (
            isinstance(signature, dict)
            and signature.get("keyid") == active["keyid"]
            and verifies(active, signature.get("sig"), canonical(body))
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
    active = next(k for k in public_keys(card).values() if k["status"] == "active")
    return fingerprint(active["keyid"])


def verifies(entry: dict[str, Any], sig: Any, body: bytes) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(unb64(entry["public_key"]))
        public.verify(unb64(sig), body)
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        return False
    return True
