"""Open Badges 3.0 credentials: the structure of the 1EdTech examples, a VC-JWT any JOSE
tool checks with the public key alone, and a changed byte that fails it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.learning.certificates import Certificate
from server.records import badges

CERT = Certificate(
    code="K7QM-2XDA-PL4R-9TZE",
    user_id=7,
    course_id="org.example.finlit",
    learner_name="Alex Learner",
    facility_id="A100",
    course_title="Everyday Money",
    publisher="Example Learning",
    hours=6.0,
    credits=0.5,
    facility="North Facility",
    completed_at="2026-11-30T15:04:05+00:00",
    issued_at="2026-11-30T15:04:06+00:00",
)


def _part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _flip(token: str, index: int, at: int = 10) -> str:
    parts = token.split(".")
    chars = list(parts[index])
    chars[at] = "A" if chars[at] != "A" else "B"
    parts[index] = "".join(chars)
    return ".".join(parts)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def token(key: Ed25519PrivateKey) -> str:
    credential = badges.credential(CERT, "north-1", "North Facility")
    return badges.sign(credential, key, "ab" * 32)


def test_the_credential_has_the_fields_of_the_spec_examples() -> None:
    credential = badges.credential(CERT, "north-1", "North Facility")
    # The members of the OpenBadgeCredential example of Open Badges 3.0 (section
    # "Sample OpenBadgeCredential"), with the VC 2.0 and 3.0.3 contexts.
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["id"].startswith("urn:uuid:")
    assert credential["issuer"] == {
        "id": "urn:stepstone:facility:north-1",
        "type": ["Profile"],
        "name": "North Facility",
    }
    assert credential["validFrom"] == "2026-11-30T15:04:06Z"
    assert credential["name"] == "Everyday Money"
    subject = credential["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"]
    assert subject["identifier"] == [
        {
            "type": "IdentityObject",
            "identityHash": "Alex Learner",
            "identityType": "name",
            "hashed": False,
        }
    ]
    achievement = subject["achievement"]
    assert achievement["type"] == ["Achievement"]
    assert achievement["id"] == "urn:stepstone:course:org.example.finlit"
    assert achievement["achievementType"] == "CertificateOfCompletion"
    assert achievement["name"] == "Everyday Money"
    assert achievement["criteria"]["narrative"]
    assert "Example Learning" in achievement["description"]
    assert subject["creditsEarned"] == achievement["creditsAvailable"] == 0.5
    assert subject["activityEndDate"] == "2026-11-30T15:04:05Z"
    assert badges.certificate_codes(credential) == ["K7QM-2XDA-PL4R-9TZE"]
    # The facility number means nothing outside and is nobody else's business.
    assert "A100" not in json.dumps(credential)
    # The same certificate is the same credential, however often it is downloaded.
    assert badges.credential(CERT, "north-1", "North Facility")["id"] == credential["id"]


def test_the_jwt_is_the_vc_jwt_of_section_8_2(token: str, key: Ed25519PrivateKey) -> None:
    header, payload = _part(token, 0), _part(token, 1)
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT"
    assert header["kid"] == "urn:stepstone:facility:north-1#" + "ab" * 32
    assert header["jwk"]["kty"] == "OKP" and header["jwk"]["crv"] == "Ed25519"
    # The payload is the credential itself, with the registered claims mapped from it.
    assert payload["iss"] == payload["issuer"]["id"]
    assert payload["jti"] == payload["id"]
    assert payload["nbf"] == 1796051046  # 2026-11-30T15:04:06Z
    assert "vc" not in payload
    # Any tool with the public key checks it: Ed25519 over "header.payload", nothing else.
    signing_input, signature = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    key.public_key().verify(raw, signing_input.encode("ascii"))
    with pytest.raises(InvalidSignature):
        key.public_key().verify(raw, _flip(token, 1).rsplit(".", 1)[0].encode("ascii"))


def test_it_verifies_and_a_changed_byte_fails_it(token: str, key: Ed25519PrivateKey) -> None:
    claimed = badges.read_claims(token)
    assert (claimed.facility_id, claimed.keyid) == ("north-1", "ab" * 32)
    assert badges.verify(token, key.public_key())["name"] == "Everyday Money"
    for changed in (_flip(token, 1), _flip(token, 2), _flip(token, 0, 5)):
        with pytest.raises(badges.BadCredential):
            badges.read_claims(changed)
            badges.verify(changed, key.public_key())
    with pytest.raises(badges.BadCredential, match="changed after it was signed"):
        badges.verify(token, Ed25519PrivateKey.generate().public_key())


def test_a_changed_claim_re_encoded_fails_too(token: str, key: Ed25519PrivateKey) -> None:
    header, _payload, signature = token.split(".")
    claims = _part(token, 1)
    claims["credentialSubject"]["achievement"]["name"] = "Welding Level 3"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(badges.BadCredential):
        badges.verify(f"{header}.{forged}.{signature}", key.public_key())


@pytest.mark.parametrize(
    "text",
    ["", "not a token", "a.b.c", "eyJ9.eyJ9.AA", "x" * (badges.MAX_TOKEN_BYTES + 1)],
)
def test_what_is_not_a_credential_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(badges.BadCredential, match="not an Open Badges credential"):
        badges.read_claims(text)


def test_a_credential_without_the_required_members_is_refused(token: str) -> None:
    claims = _part(token, 1)
    for member in ("@context", "type", "issuer", "validFrom", "credentialSubject"):
        broken = {k: v for k, v in claims.items() if k != member}
        with pytest.raises(badges.BadCredential):
            badges.check_structure(broken)
    badges.check_structure(claims)
