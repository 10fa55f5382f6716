"""The fingerprint of a publisher's TUF root: what the NGO reads out and the admin compares.

Pinning a root is the one moment of trust, so a person checks it over a second channel (a
phone call, a letter). Both sides must see the very same text: the publisher tool, the
facility's CLI and its web page all call :func:`root_fingerprint`. Hex is upper case in
groups of four, which is easy to read aloud ("three F two A") and to compare by eye.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

_GROUP = 4


def grouped(hex_digest: str) -> str:
    """``3f2a91c4…`` as ``3F2A 91C4 …``."""
    digits = hex_digest.upper()
    return " ".join(digits[i : i + _GROUP] for i in range(0, len(digits), _GROUP))


def normalised(text: str) -> str:
    """A fingerprint as typed by a person, compared without spaces, colons or case."""
    return "".join(c for c in text.upper() if c in "0123456789ABCDEF")


@dataclass(frozen=True)
class RootFingerprint:
    """SHA-256 of the root file's bytes, and the id of each key that may sign a root."""

    root_sha256: str
    key_ids: tuple[str, ...]

    @property
    def root(self) -> str:
        """The root file's hash in groups, the one line to compare first."""
        return grouped(self.root_sha256)

    def lines(self) -> list[str]:
        """What to read aloud: the root file's hash, then each key id."""
        return [f"SHA256 root: {self.root}"] + [f"key: {grouped(k)}" for k in self.key_ids]

    def matches(self, typed: str) -> bool:
        """Whether ``typed`` (any spacing or case) is the root file's hash."""
        return normalised(typed) == self.root_sha256.upper()


def root_fingerprint(data: bytes) -> RootFingerprint:
    """The fingerprint of a root.json exactly as stored (these bytes, not a re-encoding).

    Key ids are those of the root role (``signed.roles.root.keyids``): the keys that
    decide every later change of trust. A file that is not JSON of that shape has only its
    hash (the caller checks that it is a valid root).
    """
    key_ids: tuple[str, ...] = ()
    try:
        document = json.loads(data)
        keys = document["signed"]["roles"]["root"]["keyids"]
        if isinstance(keys, list):
            key_ids = tuple(sorted(str(k) for k in keys))
    except (ValueError, KeyError, TypeError):
        pass  # not a root: the hash alone still identifies the file
    return RootFingerprint(hashlib.sha256(data).hexdigest(), key_ids)
