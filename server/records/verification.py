"""Checking what a learner brings: a Learning Passport file, an Open Badges credential, or
the check code of a printed passport or certificate, from this or any trusted facility.

One entry point for ``/verify`` and ``stepstone verify``: :func:`check_file` and
:func:`check_text` give a :class:`Verdict`, genuine or not, with the reason in plain
words. What counts as trusted comes from a :class:`Trust`: on a server, the facility
cards its admins pinned (``records.identity``); on any computer, the card files given to
the standalone command, so an employer's or a parole office's laptop with the cards of
its state's facilities needs no data folder.

Revocation: a signature proves what the facility issued, not what it did afterwards.
Only the issuing facility knows that a certificate was revoked later, so the verdict
says so when it is checked there (``revoked``), and says that it cannot know elsewhere
(``revocation_known`` is false).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlite_utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.learning.certificates import Certificate
from server.records import badges, checkcodes, identity, passports
from server.records.identity import BadSignature, IdentityError, NotTrusted, VerifiedSender

Lookup = Callable[[str], Certificate | None]


class Trust(Protocol):
    """Which facility keys a verifier accepts."""

    def verify_document(self, doc: dict[str, Any]) -> VerifiedSender: ...

    def public_key(
        self, facility_id: str, keyid: str, at: str
    ) -> tuple[Ed25519PublicKey, VerifiedSender]: ...


def _moment(text: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise BadSignature(f"The date {text!r} is not a date and time.") from None
    if moment.tzinfo is None:
        raise BadSignature(f"The date {text!r} has no time zone.")
    return moment


def card_key(
    card: dict[str, Any], keyid: str, at: str, own: bool = False
) -> tuple[Ed25519PublicKey, VerifiedSender]:
    """The key ``keyid`` of a checked card, if it was valid at ``at``."""
    entry = next((k for k in card["keys"] if k.get("keyid") == keyid), None)
    if entry is None:
        raise NotTrusted(
            f"It is signed with a key that the trusted card of {card['name']} does not hold."
            " Ask for their new card."
        )
    moment = _moment(at)
    starts, ends = _moment(entry["valid_from"]), entry.get("valid_until")
    if moment < starts or (ends is not None and moment > _moment(ends)):
        raise BadSignature(f"The key that signed it was not valid at its date ({at}).")
    public = Ed25519PublicKey.from_public_bytes(identity.unb64(entry["public_key"]))
    return public, VerifiedSender(card["facility_id"], card["name"], keyid, own)


def _signed_by(public: Ed25519PublicKey, doc: dict[str, Any]) -> None:
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        public.verify(identity.unb64(doc["signature"].get("sig", "")), identity.canonical(body))
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        raise BadSignature(
            "The signature does not match: the document was changed after signing."
        ) from None


class DatabaseTrust:
    """The cards this facility trusts (its own always among them)."""

    def __init__(self, db: Database | sqlite_utils.Database) -> None:
        self.db = db

    def verify_document(self, doc: dict[str, Any]) -> VerifiedSender:
        return identity.verify_document(self.db, doc)

    def public_key(
        self, facility_id: str, keyid: str, at: str
    ) -> tuple[Ed25519PublicKey, VerifiedSender]:
        for trusted in identity.list_trusted(self.db):
            if trusted.facility_id != facility_id:
                continue
            if trusted.removed_at is not None:
                raise identity.Revoked(
                    f"{trusted.name} ({facility_id}) was removed from the trusted facilities"
                    f" on {trusted.removed_at}: what it signs is refused."
                )
            return card_key(trusted.card, keyid, at, trusted.own)
        raise NotTrusted(f"{facility_id!r} is not a trusted facility. Add its card first.")


class CardTrust:
    """Facility cards given as files, for checking on a computer without Stepstone data."""

    def __init__(self, cards: Iterable[dict[str, Any]]) -> None:
        self.cards = {card["facility_id"]: identity.check_card(card) for card in cards}

    def verify_document(self, doc: dict[str, Any]) -> VerifiedSender:
        signature = doc.get("signature")
        if not isinstance(signature, dict) or not isinstance(signature.get("keyid"), str):
            raise BadSignature("The document is not signed by a facility.")
        public, sender = self.public_key(
            str(signature.get("facility_id")), signature["keyid"], doc.get("issued_at", "")
        )
        _signed_by(public, doc)
        return sender

    def public_key(
        self, facility_id: str, keyid: str, at: str
    ) -> tuple[Ed25519PublicKey, VerifiedSender]:
        card = self.cards.get(facility_id)
        if card is None:
            raise NotTrusted(
                f"{facility_id!r} is not among the facility cards given. Add its card."
            )
        return card_key(card, keyid, at)


@dataclass(frozen=True)
class Verdict:
    """The answer of a check. ``headline`` and ``facts`` labels are message ids to
    translate; ``reason`` is the detail of a refusal, in English."""

    ok: bool
    kind: str  # passport | badge | certificate | unknown
    headline: str
    reason: str = ""
    sender: VerifiedSender | None = None
    facts: tuple[tuple[str, str], ...] = ()
    courses: tuple[dict[str, Any], ...] = ()
    goals: tuple[dict[str, Any], ...] = ()
    revoked: tuple[str, ...] = ()  # what the issuing facility (this one) revoked since
    revocation_known: bool = False

    @property
    def exit_code(self) -> int:
        return 0 if self.ok and not self.revoked else 1


NOT_GENUINE = N_("Not genuine: do not accept it.")
NOT_TRUSTED = N_("Not checked: it comes from a facility this one does not trust.")
REVOKED = N_("Revoked: the facility that issued it withdrew it.")


def _refused(kind: str, exc: IdentityError) -> Verdict:
    """An unknown or removed sender is "not checked"; anything else is "not genuine"."""
    untrusted = isinstance(exc, NotTrusted | identity.Revoked)
    return Verdict(False, kind, NOT_TRUSTED if untrusted else NOT_GENUINE, exc.message)


def _revoked(lookup: Lookup | None, sender: VerifiedSender, codes: Iterable[str]) -> list[str]:
    if lookup is None or not sender.own:
        return []
    found = [lookup(code) for code in codes]
    return [f"{c.course_title} ({c.code}): {c.revoke_reason}" for c in found if c and c.revoked]


def _with_revocation(
    verdict: Verdict, lookup: Lookup | None, sender: VerifiedSender, codes: list[str]
) -> Verdict:
    known = lookup is not None and sender.own
    revoked = tuple(_revoked(lookup, sender, codes))
    headline = REVOKED if revoked and verdict.kind != "passport" else verdict.headline
    return Verdict(
        verdict.ok,
        verdict.kind,
        headline,
        verdict.reason,
        sender,
        verdict.facts,
        verdict.courses,
        verdict.goals,
        revoked,
        known,
    )


def check_passport(trust: Trust, document: dict[str, Any], lookup: Lookup | None) -> Verdict:
    try:
        sender = trust.verify_document(document)
    except IdentityError as exc:
        return _refused("passport", exc)
    if document["facility"].get("id") != sender.facility_id:
        return Verdict(False, "passport", NOT_GENUINE, "It names another facility than its signer.")
    learner = document["learner"]
    verdict = Verdict(
        True,
        "passport",
        N_("This Learning Passport is genuine."),
        facts=(
            (N_("Learner"), f"{learner.get('name', '')} ({learner.get('facility_id', '')})"),
            (N_("Issued on"), str(document.get("issued_at", ""))),
            (N_("Passport number"), str(document.get("passport_id", ""))),
            (N_("Courses finished"), str(document.get("totals", {}).get("courses", ""))),
            (N_("Course hours"), str(document.get("totals", {}).get("course_hours", ""))),
        ),
        courses=tuple(c for c in document["courses"] if isinstance(c, dict)),
        goals=tuple(g for g in document["goals_met"] if isinstance(g, dict)),
    )
    codes = [str(c.get("certificate", "")) for c in verdict.courses]
    return _with_revocation(verdict, lookup, sender, codes)


def check_badge(trust: Trust, token: str, lookup: Lookup | None) -> Verdict:
    try:
        claimed = badges.read_claims(token)
        public, sender = trust.public_key(claimed.facility_id, claimed.keyid, claimed.signed_at)
        credential = badges.verify(token, public)
    except badges.BadCredential as exc:
        return Verdict(False, "badge", NOT_GENUINE, str(exc))
    except IdentityError as exc:
        return _refused("badge", exc)
    subject = credential["credentialSubject"]
    names = [
        i.get("identityHash", "") for i in subject.get("identifier", []) if isinstance(i, dict)
    ]
    verdict = Verdict(
        True,
        "badge",
        N_("This Open Badges credential is genuine."),
        facts=(
            (N_("Learner"), ", ".join(str(n) for n in names)),
            (N_("Course"), str(subject["achievement"].get("name", ""))),
            (N_("Finished on"), str(subject.get("activityEndDate", ""))),
            (N_("Issued on"), str(credential.get("validFrom", ""))),
        ),
    )
    return _with_revocation(verdict, lookup, sender, badges.certificate_codes(credential))


def check_code(trust: Trust, text: str, lookup: Lookup | None) -> Verdict:
    try:
        document = checkcodes.read(text)
        sender = trust.verify_document(document)
    except checkcodes.BadCheckCode as exc:
        return Verdict(False, "unknown", NOT_GENUINE, exc.message)
    except IdentityError as exc:
        return _refused(str(document.get("kind", "unknown")), exc)
    kind = document["kind"]
    facts = [(N_("Learner"), str(document.get("learner", "")))]
    if kind == "certificate":
        headline = N_("This certificate is genuine.")
        facts += [
            (N_("Course"), str(document.get("course", ""))),
            (N_("Course hours"), str(document.get("hours", ""))),
            (N_("Finished on"), str(document.get("completed_at", ""))),
            (N_("Code"), str(document.get("id", ""))),
        ]
        codes = [str(document.get("id", ""))]
    else:
        headline = N_("This Learning Passport is genuine.")
        facts += [
            (N_("Issued on"), str(document.get("dated", ""))),
            (N_("Passport number"), str(document.get("id", ""))),
            (N_("Courses finished"), str(document.get("courses", ""))),
            (N_("Course hours"), str(document.get("hours", ""))),
        ]
        codes = []
    verdict = Verdict(True, kind, headline, facts=tuple(facts))
    return _with_revocation(verdict, lookup, sender, codes)


def is_text(text: str) -> bool:
    """Whether ``text`` is meant as a check code or a pasted credential (not a file name)."""
    stripped = text.strip()
    return checkcodes.looks_like(stripped) or stripped.startswith("eyJ")


def check_text(trust: Trust, text: str, lookup: Lookup | None = None) -> Verdict:
    """A check code (scanned or typed) or a credential pasted as text."""
    stripped = text.strip()
    if checkcodes.looks_like(stripped):
        return check_code(trust, stripped, lookup)
    if stripped.startswith("eyJ"):
        return check_badge(trust, stripped, lookup)
    return Verdict(
        False,
        "unknown",
        NOT_GENUINE,
        "This is not a check code, a passport or an Open Badges credential.",
    )


def check_file(trust: Trust, data: bytes, lookup: Lookup | None = None) -> Verdict:
    """A ``.stepstone-passport`` file or an Open Badges ``.jwt`` file."""
    if data.lstrip()[:1] == b"{":
        try:
            document = passports.parse_file(data)
        except ValidationError as exc:
            return Verdict(False, "passport", NOT_GENUINE, exc.message)
        return check_passport(trust, document, lookup)
    try:
        text = data[: badges.MAX_TOKEN_BYTES + 1].decode("ascii")
    except UnicodeDecodeError:
        text = ""
    return check_text(trust, text, lookup)
