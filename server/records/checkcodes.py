"""Check codes: what the QR code on a printed passport or certificate carries, so that any
Stepstone server that trusts the issuing facility's card can check the paper offline.

A certificate's short code (``K7QM-2XDA-PL4R-9TZE``) is keyed by the issuing facility's
secret: only that facility can check it. The check code is instead a small document
signed with the facility key (``records.identity.sign_document``) that says what the
paper says (who, what, when), written as ``STEPSTONE:`` and the base64url of its
canonical bytes, a few hundred characters that a QR code holds and a scanner types into
``/verify``. A valid signature proves the facility issued exactly that; it cannot say
whether the facility revoked it later, which only the issuing facility knows.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

from server.core import clock
from server.core.errors import N_, ValidationError
from server.core.settings import Settings
from server.learning.certificates import Certificate
from server.records import identity
from server.records.passports import Passport

PREFIX = "STEPSTONE:"
TYPE = "stepstone-check"
MAX_CHARS = 4096


class BadCheckCode(ValidationError):
    """Text that is not a check code."""


def _encode(settings: Settings, fields: dict[str, Any]) -> str:
    # Signed now, with the key active now: a reprint after a key rotation carries a code
    # the new key signed, dated when it was (what it vouches for keeps its own dates).
    signed = identity.sign_document(settings, {"type": TYPE, **fields, "issued_at": clock.iso()})
    return PREFIX + identity.b64(identity.canonical(signed))


def for_passport(settings: Settings, passport: Passport) -> str:
    document = passport.document
    return _encode(
        settings,
        {
            "kind": "passport",
            "id": passport.id,
            "learner": document["learner"]["name"],
            "dated": passport.issued_at,
            "courses": document["totals"]["courses"],
            "hours": document["totals"]["course_hours"],
        },
    )


def for_certificate(settings: Settings, cert: Certificate) -> str:
    return _encode(
        settings,
        {
            "kind": "certificate",
            "id": cert.code,
            "learner": cert.learner_name,
            "course": cert.course_title,
            "completed_at": cert.completed_at,
            "hours": round(cert.hours, 1),
            "dated": cert.issued_at,
        },
    )


def looks_like(text: str) -> bool:
    return text.strip().upper().startswith(PREFIX)


def read(text: str) -> dict[str, Any]:
    """The signed document a check code carries, unverified."""
    text = "".join(text.split())
    if len(text) > MAX_CHARS or not looks_like(text):
        raise BadCheckCode(N_("This is not a Stepstone check code."))
    try:
        document = json.loads(identity.unb64(text[len(PREFIX) :]).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCheckCode(
            N_("This check code is damaged: scan it again or type it exactly.")
        ) from None
    if (
        not isinstance(document, dict)
        or document.get("type") != TYPE
        or document.get("kind") not in {"passport", "certificate"}
    ):
        raise BadCheckCode(N_("This is not a Stepstone check code."))
    return document
