"""The root fingerprint a publisher reads aloud and a facility admin compares."""

from __future__ import annotations

import hashlib
import json

from content.tuf.fingerprint import grouped, normalised, root_fingerprint


def test_groups_of_four_upper_case() -> None:
    assert grouped("3f2a91c4e0") == "3F2A 91C4 E0"
    assert normalised(" 3f2a:91C4 e0\n") == "3F2A91C4E0"


def test_hash_of_the_exact_bytes_and_every_key_id() -> None:
    roles = {"root": {"keyids": ["bb22", "aa11"]}, "targets": {"keyids": ["cc33"]}}
    data = json.dumps({"signed": {"keys": {}, "roles": roles}}).encode()
    fingerprint = root_fingerprint(data)
    digest = hashlib.sha256(data).hexdigest()
    assert fingerprint.lines() == [f"SHA256 root: {grouped(digest)}", "key: AA11", "key: BB22"]
    assert fingerprint.matches(grouped(digest).lower())
    assert not fingerprint.matches(grouped(digest)[:-1] + "0" * (digest[-1] != "0"))
    # Any change to the file, even one a JSON parser would ignore, changes the fingerprint.
    assert root_fingerprint(data + b" ").root != fingerprint.root


def test_not_a_root_still_has_a_hash() -> None:
    fingerprint = root_fingerprint(b"not json")
    assert fingerprint.key_ids == () and len(fingerprint.lines()) == 1
