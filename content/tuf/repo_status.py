"""Read-only views of a publisher repository (status) and export to a stick or mirror.

Split from :mod:`content.tuf.repository`, which re-exports everything here; no keys are needed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile, Targets

from content.durable import fsync_dir
from content.tuf.fingerprint import RootFingerprint, root_fingerprint
from content.tuf.metadata import Published, RemoteTarget, RepoConfig, repo_lock, utcnow
from content.tuf.signing_keys import PublisherError

_CHUNK = 1024 * 1024
_WARN_DAYS = 30


# The publisher's view of a target is the same record the facility's client reads.
PublishedTarget = RemoteTarget


@dataclass(frozen=True)
class RoleStatus:
    """Version, expiry and key count of one role."""

    version: int
    expires: datetime
    keys: int
    threshold: int


@dataclass(frozen=True)
class RepoStatus:
    """What ``stepstone publisher status`` shows."""

    name: str
    namespace: str
    roles: dict[str, RoleStatus]
    targets: list[PublishedTarget]
    root_fingerprint: RootFingerprint
    warnings: list[str] = field(default_factory=list)


def custom_of(target: TargetFile) -> dict[str, Any]:
    custom = target.custom
    return custom if isinstance(custom, dict) else {}


def published_targets(targets: Targets) -> list[PublishedTarget]:
    found = []
    for name, target in sorted(targets.targets.items()):
        custom = custom_of(target)
        found.append(
            PublishedTarget(
                name=name,
                course_id=str(custom.get("course_id", "")),
                version=int(custom.get("version", 0)),
                retracted=bool(custom.get("retracted", False)),
                length=target.length,
                sha256=target.hashes.get("sha256", ""),
            )
        )
    return found


def status(repo: Path) -> RepoStatus:
    """What is published and when each role expires (no keys needed)."""
    repo = Path(repo)
    config = RepoConfig.load(repo)
    published = Published(repo)
    root_md = published.root()
    root = root_md.signed
    mds = {
        "root": root,
        "targets": published.targets().signed,
        "snapshot": published.snapshot().signed,
        "timestamp": published.timestamp().signed,
    }
    roles = {
        role: RoleStatus(
            md.version, md.expires, len(root.roles[role].keyids), root.roles[role].threshold
        )
        for role, md in mds.items()
    }
    targets_md = mds["targets"]
    assert isinstance(targets_md, Targets)
    # The file as handed to facilities, byte for byte: what they pin is what they hash.
    root_file = published.metadata_dir / f"{published.root_version()}.root.json"
    fingerprint = root_fingerprint(root_file.read_bytes())
    return RepoStatus(
        config.name,
        config.namespace,
        roles,
        published_targets(targets_md),
        fingerprint,
        _warnings(roles),
    )


def _warnings(roles: dict[str, RoleStatus]) -> list[str]:
    warnings = []
    root = roles["root"]
    if root.threshold == 1:
        warnings.append(
            f"root is {root.threshold}-of-{root.keys}: one lost or stolen key is enough to "
            "lose or abuse this repository; consider --root-keys 3 --threshold 2"
        )
    now = utcnow()
    for role, info in roles.items():
        left = (info.expires - now).days
        if info.expires <= now:
            warnings.append(f"{role} expired on {info.expires:%Y-%m-%d}; run `publisher refresh`")
        elif left < _WARN_DAYS:
            warnings.append(f"{role} expires in {left} day(s) ({info.expires:%Y-%m-%d})")
    return warnings


@dataclass(frozen=True)
class ExportReport:
    """What an export did: files (re)written, and files checked on the stick afterwards."""

    written: int
    verified: int


def export_repository(repo: Path, dest: Path) -> ExportReport:
    """Copy ``published/`` to ``dest`` (a USB stick or mirror folder), then check it.

    A file already on the stick is kept only when its bytes hash to what the repository
    expects; any other (missing, damaged, same size but other bytes) is rewritten under a
    temporary name and renamed. ``timestamp.json`` goes last, so an interrupted export
    leaves the previous consistent repository on the stick. Every file written is then read
    back from the stick and hashed again; a mismatch is an error naming the file. Keys are
    never copied.
    """
    repo, dest = Path(repo), Path(dest)
    published = Published(repo)
    RepoConfig.load(repo)
    if dest.resolve().is_relative_to(repo.resolve()):
        raise PublisherError("DEST must be outside the repository folder")
    with repo_lock(repo):
        files = sorted(
            p for p in published.root_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
        )
        last = published.metadata_dir / "timestamp.json"
        expected = _target_hashes(published)
        written: list[tuple[Path, str]] = []
        for path in [p for p in files if p != last] + [last]:
            relative = path.relative_to(published.root_dir).as_posix()
            want = expected.get(relative) or _sha256(path)
            target = dest / relative
            if target.is_file() and _sha256(target) == want:
                continue
            _copy(path, target, want)
            written.append((target, want))
        for target, want in written:
            _forget_cached(target)
            if _sha256(target) != want:
                raise PublisherError(
                    f"{target} reads back different from what was written; the stick may be "
                    "failing: use another stick"
                )
        return ExportReport(len(written), len(files))


def _target_hashes(published: Published) -> dict[str, str]:
    """The signed SHA-256 of each package file, by its path under ``published/``.

    Checking a package against the hash in targets metadata (not just against the file in
    the repository) also catches a package damaged inside the repository itself.
    """
    hashes = {}
    for target in published_targets(published.targets().signed):
        folder, _, filename = target.name.rpartition("/")
        hashes[f"targets/{folder}/{target.sha256}.{filename}"] = target.sha256
    return hashes


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(source: Path, target: Path, want: str) -> None:
    """Write ``target`` under a temporary name, durably, and rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}"
    digest = hashlib.sha256()
    with source.open("rb") as src, tmp.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    if digest.hexdigest() != want:
        tmp.unlink()
        raise PublisherError(
            f"{source} does not match its signed hash; the repository copy is damaged "
            "(rebuild the package and publish it again)"
        )
    tmp.replace(target)
    fsync_dir(target.parent)


def _forget_cached(path: Path) -> None:
    """Ask the kernel to drop its cached pages of ``path``, so reading it back reads the
    stick rather than memory (advice only: where unsupported, the read is still a check)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass  # some file systems (FUSE, network) ignore or refuse the advice
    finally:
        os.close(fd)
