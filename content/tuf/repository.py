"""The NGO publisher's TUF repository: keys, signing, publishing, retraction, rotation.

Layout of ``REPO``::

    keys/<role>-<n>.key     private keys, mode 0600, optional passphrase — never on a stick
    published/metadata/     N.root.json, N.targets.json, N.snapshot.json, timestamp.json
    published/targets/      <course-id>/<sha256>.<course-id>-v<version>.tar
    repo.json               name, namespace, thresholds, expiry settings (not secret)

``published/`` is exactly what goes on a USB stick or a mirror (:func:`export_repository`).
Every change bumps targets → snapshot → timestamp; ``timestamp.json`` is written last.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from pathlib import Path

from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp

from content.durable import fsync_dir, new_file_mode
from content.format.limits import DEFAULT_LIMITS
from content.format.lint import package_name
from content.package.reader import inspect_package
from content.tuf.metadata import (
    CONFIG_NAME,
    Expiry,
    Published,
    RepoConfig,
    in_namespace,
    repo_lock,
    sign,
    stamp,
    utcnow,
    write_atomic,
)
from content.tuf.repo_status import (
    ExportReport,
    PublishedTarget,
    RepoStatus,
    RoleStatus,
    custom_of,
    export_repository,
    published_targets,
    status,
)
from content.tuf.signing_keys import ROLES, PublisherError, generate_key, load_signers, retire_keys

__all__ = [
    "Expiry",
    "ExportReport",
    "PublishedTarget",
    "PublisherError",
    "RepoStatus",
    "RoleStatus",
    "add_packages",
    "export_repository",
    "init_repository",
    "refresh",
    "retract",
    "rotate_key",
    "status",
]

_NAMESPACE = re.compile(r"[a-z0-9]+(\.[a-z0-9][a-z0-9-]*)+")
_CHUNK = 1024 * 1024


# --- helpers -------------------------------------------------------------------------


class _Session:
    """One locked operation on a repository: loads config and root, signs, commits."""

    def __init__(self, repo: Path, passphrase: str | None) -> None:
        self.repo = repo
        self.passphrase = passphrase
        self.config = RepoConfig.load(repo)
        self.published = Published(repo)
        self.root = self.published.root()

    def signers(self, role: str, root: Root | None = None) -> list[Signer]:
        keyids = (root or self.root.signed).roles[role].keyids
        return list(load_signers(self.repo, role, keyids, self.passphrase))

    def commit(
        self, targets: Metadata[Targets] | None, snapshot: bool = True, days: int | None = None
    ) -> None:
        """Sign and write the changed roles in order: targets, snapshot, timestamp.

        ``days`` is the timestamp's validity; no role is made to expire before it.
        """
        root = self.root.signed
        expiry = self.config.expiry
        days = days or expiry.timestamp_days
        snap = self.published.snapshot()
        if targets is not None:
            targets.signed.version += 1
            stamp(targets.signed, max(expiry.targets_days, days))
            sign(targets, self.signers("targets"), [root])
            data = self.published.write(targets)
            snap.signed.meta["targets.json"] = MetaFile.from_data(
                targets.signed.version, data, ["sha256"]
            )
        if snapshot or targets is not None:
            snap.signed.version += 1
            stamp(snap.signed, max(expiry.snapshot_days, days))
            sign(snap, self.signers("snapshot"), [root])
            self.published.write(snap)
        self._timestamp(snap, days)

    def _timestamp(self, snap: Metadata[Snapshot], days: int) -> None:
        ts = self.published.timestamp()
        ts.signed.version += 1
        data = snap.to_bytes()
        ts.signed.snapshot_meta = MetaFile.from_data(snap.signed.version, data, ["sha256"])
        stamp(ts.signed, days)
        sign(ts, self.signers("timestamp"), [self.root.signed])
        self.published.write(ts)


# --- init ----------------------------------------------------------------------------


def init_repository(
    repo: Path,
    name: str,
    namespace: str,
    *,
    threshold: int = 1,
    root_keys: int = 1,
    passphrase: str | None = None,
    expiry: Expiry = Expiry(),  # noqa: B008 - frozen dataclass, safe as a default
) -> RepoStatus:
    """Create keys and a first signed (empty) repository in the new folder ``repo``."""
    repo = Path(repo)
    _check_init(repo, name, namespace, threshold, root_keys)
    repo.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(name, namespace, threshold, root_keys, expiry)
    write_atomic(repo / CONFIG_NAME, config.to_json())
    root = Root(consistent_snapshot=True)
    signers: dict[str, list[Signer]] = {}
    for role in ROLES:
        count = root_keys if role == "root" else 1
        signers[role] = [generate_key(repo, role, passphrase) for _ in range(count)]
        for signer in signers[role]:
            root.add_key(signer.public_key, role)
    root.roles["root"].threshold = threshold
    published = Published(repo)
    published.targets_dir.mkdir(parents=True, exist_ok=True)
    _write_first_versions(published, config, root, signers)
    return status(repo)


def _check_init(repo: Path, name: str, namespace: str, threshold: int, root_keys: int) -> None:
    if repo.exists() and any(repo.iterdir()):
        raise PublisherError(f"{repo} exists and is not empty; choose a new folder")
    if not name.strip():
        raise PublisherError("the publisher name must not be empty")
    if not _NAMESPACE.fullmatch(namespace):
        raise PublisherError(
            f"namespace {namespace!r} must look like org.example (lowercase, dot-separated)"
        )
    if not 1 <= root_keys <= 9:
        raise PublisherError("--root-keys must be between 1 and 9")
    if not 1 <= threshold <= root_keys:
        raise PublisherError(f"--threshold must be between 1 and --root-keys ({root_keys})")


def _write_first_versions(
    published: Published, config: RepoConfig, root: Root, signers: dict[str, list[Signer]]
) -> None:
    stamp(root, config.expiry.root_days)
    root_md = Metadata(root)
    sign(root_md, signers["root"], [root])
    published.write(root_md)
    targets = Metadata(Targets())
    stamp(targets.signed, config.expiry.targets_days)
    sign(targets, signers["targets"], [root])
    data = published.write(targets)
    snapshot = Metadata(Snapshot(meta={"targets.json": MetaFile.from_data(1, data, ["sha256"])}))
    stamp(snapshot.signed, config.expiry.snapshot_days)
    sign(snapshot, signers["snapshot"], [root])
    snap_data = published.write(snapshot)
    timestamp = Metadata(Timestamp(snapshot_meta=MetaFile.from_data(1, snap_data, ["sha256"])))
    stamp(timestamp.signed, config.expiry.timestamp_days)
    sign(timestamp, signers["timestamp"], [root])
    published.write(timestamp)


# --- add, retract, refresh -----------------------------------------------------------


def add_packages(repo: Path, packages: list[Path], passphrase: str | None = None) -> list[str]:
    """Publish course packages as new targets; returns the target names.

    Each package is copied into ``published/targets`` and verified there (the bytes that
    are signed are the bytes that were checked). Refused: a course id outside the
    repository's namespace, or a version not greater than one already published.
    """
    repo = Path(repo)
    with repo_lock(repo):
        session = _Session(repo, passphrase)
        targets = session.published.targets()
        newest = _newest_versions(targets.signed)
        names = []
        for package in packages:
            target = _publish_package(session, Path(package), newest)
            targets.signed.targets[target.path] = target
            names.append(target.path)
        if names:
            session.commit(targets)
        return names


def _newest_versions(targets: Targets) -> dict[str, int]:
    newest: dict[str, int] = {}
    for item in published_targets(targets):
        newest[item.course_id] = max(newest.get(item.course_id, 0), item.version)
    return newest


def _publish_package(session: _Session, package: Path, newest: dict[str, int]) -> TargetFile:
    if not package.is_file():
        raise PublisherError(f"{package}: no such package file")
    staged, sha256, length = _copy_hashed(package, session.published.targets_dir)
    try:
        info = inspect_package(staged, DEFAULT_LIMITS)
        course_id, version = info.course_id, info.version
        if not in_namespace(course_id, session.config.namespace):
            raise PublisherError(
                f"{package}: course id {course_id} is outside this repository's namespace: "
                f"ids must start with {session.config.namespace}."
            )
        if version <= newest.get(course_id, 0):
            raise PublisherError(
                f"{package}: {course_id} version {version} is not newer than the published "
                f"version {newest[course_id]}; raise `version` in course.yaml and build again"
            )
        name = f"{course_id}/{package_name(course_id, version)}"
        filename = package_name(course_id, version)
        final = session.published.targets_dir / course_id / f"{sha256}.{filename}"
        final.parent.mkdir(exist_ok=True)
        staged.replace(final)
        fsync_dir(final.parent)
    finally:
        staged.unlink(missing_ok=True)
    newest[course_id] = version
    custom = {"course_id": course_id, "version": version, "retracted": False}
    return TargetFile(length, {"sha256": sha256}, name, {"custom": custom})


def _copy_hashed(source: Path, folder: Path) -> tuple[Path, str, int]:
    """Copy ``source`` to a temporary file in ``folder``, hashing the bytes written."""
    staged = folder / f".tmp-{os.getpid()}-{source.name}"
    digest = hashlib.sha256()
    length = 0
    with source.open("rb") as src, staged.open("wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            length += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    staged.chmod(new_file_mode())
    return staged, digest.hexdigest(), length


def retract(repo: Path, course_id: str, version: int, passphrase: str | None = None) -> None:
    """Mark a published course version as retracted (facilities hide it at next sync)."""
    repo = Path(repo)
    with repo_lock(repo):
        session = _Session(repo, passphrase)
        targets = session.published.targets()
        name = f"{course_id}/{package_name(course_id, version)}"
        target = targets.signed.targets.get(name)
        if target is None:
            raise PublisherError(f"{course_id} version {version} is not published here")
        custom = dict(custom_of(target))
        if custom.get("retracted"):
            raise PublisherError(f"{course_id} version {version} is already retracted")
        custom["retracted"] = True
        target.unrecognized_fields["custom"] = custom
        session.commit(targets)


def refresh(repo: Path, passphrase: str | None = None, days: int | None = None) -> None:
    """Re-sign timestamp and snapshot with a fresh expiry (do this for every new stick).

    ``days`` sets the timestamp's validity (default: the repository's setting). Targets
    and root are re-signed too when they would expire before the new timestamp.
    """
    repo = Path(repo)
    if days is not None and not 1 <= days <= 3650:
        raise PublisherError("--days must be between 1 and 3650")
    with repo_lock(repo):
        session = _Session(repo, passphrase)
        ts_days = days or session.config.expiry.timestamp_days
        horizon = utcnow().timestamp() + ts_days * 86400
        if session.root.signed.expires.timestamp() <= horizon:
            _new_root(session, _copy_root(session.root.signed), session.signers("root"))
        targets = session.published.targets()
        stale = targets.signed.expires.timestamp() <= horizon
        session.commit(targets if stale else None, snapshot=True, days=ts_days)


# --- rotation ------------------------------------------------------------------------


def rotate_key(repo: Path, role: str, passphrase: str | None = None) -> None:
    """Replace every key of ``role`` with a new one, in a new root version.

    The new root is signed by the old root keys (meeting the old threshold) and by the
    new ones, so facilities follow the rotation on their next sync. The old key files
    move to ``keys/retired/``.
    """
    repo = Path(repo)
    if role not in ROLES:
        raise PublisherError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    with repo_lock(repo):
        session = _Session(repo, passphrase)
        old = session.root.signed
        old_signers = session.signers("root")
        new = _copy_root(old)
        for keyid in list(old.roles[role].keyids):
            new.revoke_key(keyid, role)
        fresh: list[Signer] = [generate_key(repo, role, passphrase) for _ in old.roles[role].keyids]
        for signer in fresh:
            new.add_key(signer.public_key, role)
        root_signers = old_signers + fresh if role == "root" else old_signers
        _new_root(session, new, root_signers, previous=old)
        retire_keys(repo, role, new.roles[role].keyids, passphrase)
        if role != "root":
            targets = session.published.targets() if role == "targets" else None
            session.commit(targets, snapshot=role != "timestamp")


def _copy_root(root: Root) -> Root:
    # deepcopy, not from_dict(to_dict()): to_dict shares the keyids lists with the original.
    return copy.deepcopy(root)


def _new_root(
    session: _Session, root: Root, signers: list[Signer], previous: Root | None = None
) -> None:
    """Write ``root`` as the next root version, signed so both old and new root accept it."""
    old = previous or session.root.signed
    root.version = old.version + 1
    stamp(root, session.config.expiry.root_days)
    md = Metadata(root)
    sign(md, signers, [old, root])
    session.published.write(md)
    session.root = md


# --- status and export ---------------------------------------------------------------
