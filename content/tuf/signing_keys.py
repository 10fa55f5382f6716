"""Private signing keys of an NGO publisher repository (``REPO/keys/<role>-<n>.key``).

Ed25519 keys in PEM PKCS#8, created with mode 0600 (never wider), optionally encrypted
with a passphrase (``cryptography``'s ``BestAvailableEncryption``). A key's TUF key id is
derived from its public half, so the files need no index: the current root says which
key ids sign which role, and the signers are the key files whose ids match. Keys replaced
by a rotation move to ``keys/retired/`` so they are never used again by mistake.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner

from content.errors import ContentError

ROLES = ("root", "targets", "snapshot", "timestamp")
_KEY_NAME = re.compile(r"(?P<role>[a-z]+)-(?P<n>[0-9]+)\.key")
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


class PublisherError(ContentError):
    """A publisher repository operation was refused; the message says what to do."""


def keys_dir(repo: Path) -> Path:
    """The folder of private keys of ``repo`` (never copied to a stick)."""
    return repo / "keys"


def _key_files(repo: Path, role: str) -> list[Path]:
    folder = keys_dir(repo)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _KEY_NAME.fullmatch(path.name)
        if match and match["role"] == role:
            found.append((int(match["n"]), path))
    return [path for _, path in sorted(found)]


def generate_key(repo: Path, role: str, passphrase: str | None) -> CryptoSigner:
    """Create a new Ed25519 key for ``role``, write it with mode 0600, return its signer."""
    folder = keys_dir(repo)
    folder.mkdir(mode=0o700, exist_ok=True)
    taken = [int(m["n"]) for p in folder.iterdir() if (m := _KEY_NAME.fullmatch(p.name))]
    number = max(taken, default=0) + 1
    private = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        if passphrase
        else serialization.NoEncryption()
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _write_private(folder / f"{role}-{number}.key", pem)
    return CryptoSigner(private)


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: never overwrite a key; 0o600 from the start, so there is no moment where
    # the key is readable by others (a chmod after writing would leave such a moment).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_signer(path: Path, passphrase: str | None) -> CryptoSigner:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        raise PublisherError(f"{path} is not a regular file; refusing to use it as a key")
    if info.st_mode & 0o077:
        raise PublisherError(
            f"{path} can be read by other users; run `chmod 600 {path}` and try again"
        )
    pem = path.read_bytes()
    password = None
    if pem.startswith(_ENCRYPTED_PEM):
        if not passphrase:
            raise PublisherError(f"{path} is protected by a passphrase; give --passphrase-file")
        password = passphrase.encode("utf-8")
    try:
        private = serialization.load_pem_private_key(pem, password)
    except ValueError as exc:
        raise PublisherError(f"cannot open {path}: wrong passphrase or damaged key") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise PublisherError(f"{path} is not an Ed25519 key")
    return CryptoSigner(private)


def load_signers(
    repo: Path, role: str, keyids: list[str], passphrase: str | None
) -> list[CryptoSigner]:
    """Signers for ``role`` whose key ids are in ``keyids`` (missing keys are skipped).

    The caller checks the threshold, so that a 2-of-3 root still signs with two keys
    while the third is kept elsewhere.
    """
    wanted = set(keyids)
    signers = []
    for path in _key_files(repo, role):
        signer = _load_signer(path, passphrase)
        if signer.public_key.keyid in wanted:
            signers.append(signer)
    return signers


def retire_keys(repo: Path, role: str, keep: list[str], passphrase: str | None) -> int:
    """Move ``role``'s key files whose ids are not in ``keep`` to ``keys/retired/``."""
    retired = keys_dir(repo) / "retired"
    moved = 0
    for path in _key_files(repo, role):
        if _load_signer(path, passphrase).public_key.keyid not in keep:
            retired.mkdir(mode=0o700, exist_ok=True)
            path.rename(retired / path.name)
            moved += 1
    return moved
