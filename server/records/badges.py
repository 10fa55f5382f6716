"""Open Badges 3.0 credentials: a course certificate as a W3C Verifiable Credential that
employers and colleges can check with common tools, away from the facility.

The credential is an ``OpenBadgeCredential`` (Verifiable Credentials Data Model 2.0 with
the Open Badges 3.0.3 context) whose subject is an ``AchievementSubject`` naming the
learner and the course's ``Achievement``. Its proof is the VC-JWT of Open Badges 3.0
(section 8.2, "JSON Web Token Proof Format"): a compact JWS whose payload is the
credential itself plus the registered claims that section maps from it (``iss`` from the
issuer's id, ``jti`` from the credential's id, ``nbf`` from ``validFrom``, and ``iat``,
when it was signed), signed with
the facility's Ed25519 key, ``alg: EdDSA``. The header names the key (``kid``: the
issuer's id, ``#``, the key id of the facility card) and carries the public key
(``jwk``) for tools that check integrity only; Stepstone itself trusts only the key of a
trusted facility card, never the one a token brings.

No JSON-LD context is fetched at any time: a JWT proof signs the bytes, not the graph.
Revocation is not modelled as a ``credentialStatus``: a status list would have to be
published where the verifier can reach it, and facilities have no outside network. The
issuing facility's ``/verify`` says whether a certificate was revoked.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jwt
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import OKPKey
from joserfc.jws import JWSRegistry

from server.core import clock
from server.core.errors import N_
from server.core.settings import Settings
from server.learning.certificates import Certificate
from server.records import identity
from server.records.cards import keyid_of, raw_public

CONTEXTS = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
MEDIA_TYPE = "application/vc+jwt"
FILE_SUFFIX = ".jwt"
MAX_TOKEN_BYTES = 64 * 1024
_ALGORITHMS = ("EdDSA", "Ed25519")
CERTIFICATE_URN = "urn:stepstone:certificate:"
_NAMESPACE = uuid.UUID("8f1f6c9e-3b7d-5a52-9a43-5e0c1d2b7a61")


class BadCredential(ValueError):
    """A token that is not a well-formed, untampered Open Badges credential; the message
    (an English message id) names the problem."""


class _Registry(JWSRegistry):
    """EdDSA only. RFC 9864 deprecates the name "EdDSA" for "Ed25519" (the same signature
    bytes), and joserfc warns on it; the Open Badges and VC-JWT verifiers in use today know
    only "EdDSA", so Stepstone signs with that name, and accepts both when it verifies."""

    def get_alg(self, name: str) -> Any:
        if name not in _ALGORITHMS:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


_REGISTRY = _Registry()


def issuer_id(facility_id: str) -> str:
    return f"urn:stepstone:facility:{facility_id}"


def _utc(iso: str) -> str:
    """A stored timestamp as the UTC ``dateTimeStamp`` the VC data model asks for."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_id(facility_id: str, code: str) -> str:
    """Stable for one certificate: the same credential however often it is downloaded."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{facility_id}/{code}')}"


def credential(cert: Certificate, facility_id: str, facility_name: str) -> dict[str, Any]:
    """The ``OpenBadgeCredential`` for a certificate, unsigned. It names the learner (the
    name on the certificate) but not their facility number, which means nothing outside."""
    hours = round(cert.hours, 1)
    achievement: dict[str, Any] = {
        "id": f"urn:stepstone:course:{cert.course_id}",
        "type": ["Achievement"],
        "achievementType": "CertificateOfCompletion",
        "name": cert.course_title,
        "description": f"The course {cert.course_title} from {cert.publisher}"
        f" ({hours:g} course hours).",
        "criteria": {"narrative": "Finished every lesson of the course, quizzes included."},
    }
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": [
            {
                "type": "IdentityObject",
                "identityHash": cert.learner_name,
                "identityType": "name",
                "hashed": False,
            }
        ],
        "achievement": achievement,
        "activityEndDate": _utc(cert.completed_at),
    }
    if cert.credits:
        achievement["creditsAvailable"] = cert.credits
        subject["creditsEarned"] = cert.credits
    return {
        "@context": list(CONTEXTS),
        "id": credential_id(facility_id, cert.code),
        "type": list(TYPES),
        "issuer": {"id": issuer_id(facility_id), "type": ["Profile"], "name": facility_name},
        "validFrom": _utc(cert.issued_at),
        "name": cert.course_title,
        "credentialSubject": subject,
        # The certificate behind the badge, so the issuing facility can say whether it
        # was revoked (and a person can type its code into that facility's /verify).
        "evidence": [
            {
                "id": f"{CERTIFICATE_URN}{cert.code}",
                "type": ["Evidence"],
                "name": f"Stepstone certificate {cert.code}",
            }
        ],
    }


def _jwk(public_key: Ed25519PublicKey) -> dict[str, Any]:
    return dict(OKPKey.import_key(public_key).as_dict(private=False))


def sign(credential: dict[str, Any], key: Ed25519PrivateKey, keyid: str) -> str:
    """The credential as a VC-JWT signed with ``key`` (the card key ``keyid``)."""
    header = {
        "alg": "EdDSA",
        "typ": "JWT",
        "kid": f"{credential['issuer']['id']}#{keyid}",
        "jwk": _jwk(key.public_key()),
    }
    claims = dict(credential)
    claims["iss"] = credential["issuer"]["id"]
    claims["jti"] = credential["id"]
    claims["nbf"] = int(datetime.fromisoformat(credential["validFrom"]).timestamp())
    # When it was signed: the key that signs a download made after a key rotation is
    # the new one, though the certificate (validFrom) is older.
    claims["iat"] = int(clock.now())
    return jwt.encode(header, claims, OKPKey.import_key(key), registry=_REGISTRY)


def issue(settings: Settings, cert: Certificate) -> str:
    """The certificate's credential, signed now with this facility's active key."""
    key = identity.load_signing_key(settings)
    body = credential(cert, identity.facility_id(settings), settings.facility_name)
    return sign(body, key, keyid_of(raw_public(key.public_key())))


@dataclass(frozen=True)
class Claimed:
    """Who a token says signed it, read before its signature is checked (to find the key)."""

    facility_id: str
    keyid: str
    signed_at: str  # when the key signed it, to check the key was valid then
    credential: dict[str, Any]


def _segment(part: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        raise BadCredential(N_("This is not an Open Badges credential.")) from None


def read_claims(token: str) -> Claimed:
    """What a token claims, unverified: the caller looks up the key and calls ``verify``."""
    token = token.strip()
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise BadCredential(N_("This is not an Open Badges credential."))
    header, payload, _ = token.split(".")
    head, body = _segment(header), _segment(payload)
    if not isinstance(head, dict) or not isinstance(body, dict):
        raise BadCredential(N_("This is not an Open Badges credential."))
    check_structure(body)
    kid = head.get("kid")
    issuer = body["issuer"]["id"]
    if not isinstance(kid, str) or not kid.startswith(issuer + "#"):
        raise BadCredential(N_("The credential does not say which facility key signed it."))
    signed_at = body.get("iat")
    if not isinstance(signed_at, int) or isinstance(signed_at, bool) or not 0 < signed_at < 10**11:
        raise BadCredential(N_("The credential does not say when it was signed."))
    return Claimed(
        facility_id=issuer.removeprefix("urn:stepstone:facility:"),
        keyid=kid[len(issuer) + 1 :],
        signed_at=clock.iso(signed_at),
        credential=body,
    )


def check_structure(body: dict[str, Any]) -> None:
    """The fields Open Badges 3.0 requires of an ``OpenBadgeCredential``."""
    subject = body.get("credentialSubject")
    issuer = body.get("issuer")
    types = body.get("type")
    problems = [
        body.get("@context") != CONTEXTS,
        not isinstance(types, list) or not set(TYPES) <= {str(t) for t in types},
        not isinstance(issuer, dict) or not str(issuer.get("id", "")).startswith("urn:"),
        not isinstance(body.get("validFrom"), str),
        not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict),
    ]
    if any(problems):
        raise BadCredential(N_("This is not an Open Badges credential."))


def verify(token: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The credential, if ``public_key`` signed exactly these bytes; else BadCredential."""
    try:
        found = jwt.decode(token.strip(), OKPKey.import_key(public_key), registry=_REGISTRY)
    except JoseError:
        raise BadCredential(
            N_("The credential was changed after it was signed, or that facility did not sign it.")
        ) from None
    claims = dict(found.claims)
    if claims.get("iss") != claims.get("issuer", {}).get("id") or claims.get("jti") != claims.get(
        "id"
    ):
        raise BadCredential(N_("The credential's claims do not agree with its contents."))
    return claims


def certificate_codes(credential: dict[str, Any]) -> list[str]:
    """The codes of the certificates a credential names as its evidence."""
    evidence = credential.get("evidence")
    items = evidence if isinstance(evidence, list) else []
    return [
        str(item["id"]).removeprefix(CERTIFICATE_URN)
        for item in items
        if isinstance(item, dict) and str(item.get("id", "")).startswith(CERTIFICATE_URN)
    ]
