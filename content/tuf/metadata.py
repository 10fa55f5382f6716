"""Reading, signing and writing the published TUF metadata of a publisher repository.

``REPO/published/`` is the single source of truth: the current version of each role is
found from ``timestamp.json`` (→ snapshot version → targets version) and the highest
``N.root.json``. Files are written to a temporary name, fsynced and renamed, and
``timestamp.json`` is always written last: it is the commit point, so a crash mid-way
leaves the previous consistent repository in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from securesystemslib.signer import Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Signed, Snapshot, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from content.durable import fsync_dir, new_file_mode
from content.tuf.signing_keys import PublisherError

T = TypeVar("T", Root, Timestamp, Snapshot, Targets)
ISSUED_FIELD = "x-stepstone-issued"
_ROOT_FILE = re.compile(r"([1-9][0-9]*)\.root\.json")
CONFIG_NAME = "repo.json"


def utcnow() -> datetime:
    """The current time in UTC, whole seconds (one place, so tests can move the clock)."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Expiry:
    """How many days each role's metadata stays valid after it is signed."""

    timestamp_days: int = 60
    snapshot_days: int = 180
    targets_days: int = 180
    root_days: int = 365

    def days(self, role: str) -> int:
        """Validity in days of ``role``."""
        return int(getattr(self, f"{role}_days"))


def in_namespace(course_id: str, namespace: str) -> bool:
    """Whether a publisher whose namespace is ``org.example`` may publish ``course_id``:
    ``org.example.finlit`` yes; ``org.example`` itself, ``org.examples.x`` and
    ``org.other.x`` no. The publisher tool and the facility apply this same rule."""
    return course_id.startswith(namespace + ".")


@dataclass(frozen=True)
class RepoConfig:
    """``REPO/repo.json``: not secret, kept beside the keys."""

    name: str
    namespace: str
    threshold: int
    root_keys: int
    expiry: Expiry

    def to_json(self) -> bytes:
        """Serialise for ``repo.json``."""
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode("utf-8") + b"\n"

    @classmethod
    def load(cls, repo: Path) -> RepoConfig:
        """Read ``repo.json``; a clear error when ``repo`` is not a publisher repository."""
        path = repo / CONFIG_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                name=str(data["name"]),
                namespace=str(data["namespace"]),
                threshold=int(data["threshold"]),
                root_keys=int(data["root_keys"]),
                expiry=Expiry(**data["expiry"]),
            )
        except FileNotFoundError as exc:
            raise PublisherError(
                f"{repo} is not a publisher repository (no {CONFIG_NAME}); "
                "create one with `stepstone publisher init`"
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise PublisherError(f"{path} is damaged: {exc}") from exc


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a fsynced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        Path(tmp).chmod(new_file_mode())  # readable by others under the usual umask
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def repo_lock(repo: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``REPO/.lock`` so two commands never interleave."""
    fd = os.open(repo / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise PublisherError(f"another publisher command is working on {repo}") from exc
        yield
    finally:
        os.close(fd)


class Published:
    """The ``published/`` folder: what goes on a USB stick or an HTTP mirror."""

    def __init__(self, repo: Path) -> None:
        self.root_dir = repo / "published"
        self.metadata_dir = self.root_dir / "metadata"
        self.targets_dir = self.root_dir / "targets"

    def _read(self, name: str, role: type[T]) -> Metadata[T]:
        path = self.metadata_dir / name
        try:
            md = Metadata[T].from_bytes(path.read_bytes())
        except FileNotFoundError as exc:
            raise PublisherError(f"{path} is missing; the repository is incomplete") from exc
        except DeserializationError as exc:
            raise PublisherError(f"{path} is damaged: {exc}") from exc
        if not isinstance(md.signed, role):
            raise PublisherError(f"{path} does not hold {role.type} metadata")
        return md

    def root_version(self) -> int:
        """The highest root version published."""
        names = (p.name for p in self.metadata_dir.glob("*.root.json"))
        versions = [int(m[1]) for name in names if (m := _ROOT_FILE.fullmatch(name))]
        if not versions:
            raise PublisherError(f"no root metadata in {self.metadata_dir}")
        return max(versions)

    def root(self) -> Metadata[Root]:
        """The current root metadata."""
        return self._read(f"{self.root_version()}.root.json", Root)

    def timestamp(self) -> Metadata[Timestamp]:
        """The current timestamp metadata."""
        return self._read("timestamp.json", Timestamp)

    def snapshot(self) -> Metadata[Snapshot]:
        """The snapshot the current timestamp points at."""
        version = self.timestamp().signed.snapshot_meta.version
        return self._read(f"{version}.snapshot.json", Snapshot)

    def targets(self) -> Metadata[Targets]:
        """The targets metadata the current snapshot points at."""
        version = self.snapshot().signed.meta["targets.json"].version
        return self._read(f"{version}.targets.json", Targets)

    def write(self, md: Metadata[Any]) -> bytes:
        """Write signed metadata under its consistent-snapshot name; return the bytes."""
        data = md.to_bytes()
        role = md.signed.type
        if role == Timestamp.type:
            write_atomic(self.metadata_dir / "timestamp.json", data)
        else:
            write_atomic(self.metadata_dir / f"{md.signed.version}.{role}.json", data)
        if role == Root.type:
            # An unversioned copy of the newest root: the file a facility pins.
            write_atomic(self.metadata_dir / "root.json", data)
        return data


def stamp(signed: Signed, days: int) -> None:
    """Set a fresh expiry and the issue time (a field clients use for clock checks)."""
    now = utcnow()
    signed.expires = now + timedelta(days=days)
    signed.unrecognized_fields[ISSUED_FIELD] = now.strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(md: Metadata[Any], signers: list[Signer], verifiers: list[Root]) -> None:
    """Replace ``md``'s signatures with ``signers``' and check every verifier's threshold."""
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)
    role = md.signed.type
    for root in verifiers:
        try:
            root.verify_delegate(role, md.signed_bytes, md.signatures)
        except UnsignedMetadataError as exc:
            needed = root.roles[role].threshold
            raise PublisherError(
                f"{role} needs {needed} signature(s) from root v{root.version}'s {role} keys "
                f"but only {len(signers)} key(s) are available in keys/; bring the missing "
                "key(s) back and try again"
            ) from exc


@dataclass(frozen=True)
class RemoteTarget:
    """One course package version as signed in a publisher's targets metadata."""

    name: str
    course_id: str
    version: int
    retracted: bool
    length: int
    sha256: str
