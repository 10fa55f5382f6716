"""The facilities this one trusts: their pinned cards in ``trusted_facilities``, and
checking a signed document against them (the sender is trusted and not removed, the key
was valid at the document's date, the signature matches).

A card is pinned after a person compared its fingerprint over a second channel, the
ceremony publishers' roots go through; a removed card stays in the table, so what its
facility signs is refused as revoked (not merely unknown) and the audit log says who
removed it. This facility's own card is always in the list (``identity``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from content.tuf.fingerprint import grouped, normalised
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.people import audit
from server.people.audit import Actor
from server.records.cards import (
    BadSignature,
    NotTrusted,
    Revoked,
    canonical,
    card_fingerprint,
    check_card,
    moment,
    public_keys,
    verifies,
)


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


def record_own_in(db: sqlite_utils.Database, card: dict[str, Any]) -> None:
    """Keep this facility's own ``card`` in the trusted list (at start and after a
    rotation), so a record it signed itself verifies like any other; a card under an
    earlier id stays, as any other trusted card."""
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
    entry = public_keys(trusted.card).get(str(signature.get("keyid")))
    if entry is None:
        raise NotTrusted(
            f"The document is signed with a key that the trusted card of {trusted.name} does"
            " not hold. Ask for their new card and trust it again."
        )
    try:
        issued = moment(doc.get("issued_at"), "document's issued_at")
    except ValidationError as exc:
        raise BadSignature(exc.message) from None
    starts = moment(entry["valid_from"], "key's valid_from")
    ends = moment(entry["valid_until"], "key's valid_until") if entry["valid_until"] else None
    if issued < starts or (ends is not None and issued > ends):
        raise BadSignature(
            f"The key that signed this document was not valid at its date ({doc['issued_at']})."
        )
    body = {k: v for k, v in doc.items() if k != "signature"}
    if not verifies(entry, signature.get("sig"), canonical(body)):
        raise BadSignature("The signature does not match: the document was changed after signing.")
    return VerifiedSender(sender, trusted.name, entry["keyid"], trusted.own)
