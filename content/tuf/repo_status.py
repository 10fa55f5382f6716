"""Read-only views of a publisher repository (status) and export to a stick or mirror.

Split from :mod:`content.tuf.repository`, which re-exports everything here; no keys are needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile, Targets

from content.durable import fsync_dir
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
    root_fingerprint: str
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
    fingerprint = hashlib.sha256(root_md.to_bytes()).hexdigest()
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


def export_repository(repo: Path, dest: Path) -> int:
    """Copy ``published/`` to ``dest`` (a USB stick or mirror folder); returns files copied.

    Each file is written under a temporary name and renamed; files already there with
    the same bytes are skipped. ``timestamp.json`` goes last, so an interrupted export
    leaves the previous consistent repository on the stick. Keys are never copied.
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
        copied = 0
        for path in [p for p in files if p != last] + [last]:
            copied += _export_file(path, dest / path.relative_to(published.root_dir))
        return copied


def _export_file(source: Path, target: Path) -> int:
    if target.is_file() and target.stat().st_size == source.stat().st_size:
        # Consistent-snapshot names (N.role.json, <sha256>.<file>) never change content.
        versioned = target.name not in {"timestamp.json", "root.json"}
        if versioned or target.read_bytes() == source.read_bytes():
            return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}"
    with source.open("rb") as src, tmp.open("wb") as dst:
        shutil.copyfileobj(src, dst, _CHUNK)
        dst.flush()
        os.fsync(dst.fileno())
    tmp.replace(target)
    fsync_dir(target.parent)
    return 1
