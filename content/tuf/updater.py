"""The facility side of signed sync: one TUF client per trusted publisher.

The server pins each publisher's root (``trusted_root`` bytes) and gives every publisher
its own metadata folder; this module knows nothing of the database. A refresh that
fails leaves the previously trusted metadata in place: installed content is the
server's business and keeps being served.

python-tuf gotchas handled here: ``Updater`` must get ``bootstrap=`` (the pinned root) in
7.x; an ``Updater`` refreshes only once, so each :meth:`PublisherClient.refresh` builds a
new one; ngclient has no "list all targets" call, so :meth:`PublisherClient.targets`
reads the verified ``targets.json`` the refresh just persisted and takes each entry back
through ``get_targetinfo``. Targets are not fetched with the Updater's own download (it
buffers the whole file into a temporary file first): :meth:`PublisherClient.open_target`
streams one to its consumer, the importer, with the hash computed as the bytes pass (see
``content.tuf.target_stream``), so a package is never written to disk as a whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from pathlib import Path

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, TargetFile, Targets, Timestamp
from tuf.api.serialization import DeserializationError
from tuf.ngclient import Updater

from content.errors import ContentError
from content.tuf.metadata import ISSUED_FIELD, RemoteTarget
from content.tuf.sources import CHUNK, FolderSource, MirrorSource, RedirectRefused
from content.tuf.target_stream import TargetStream, close_chunks

__all__ = [
    "FolderSource",
    "MirrorSource",
    "PublisherClient",
    "RemoteTarget",
    "SyncError",
    "TargetStream",
]

GIB = 1024**3
_TIMESTAMP_MAX = 16384  # python-tuf's default bound for timestamp.json
# python-tuf's wording for a version going backwards (timestamp, or a file in snapshot).
_ROLLBACK = re.compile(r"must be >=|Expected \S+\.json version")
_TARGET_NAME = re.compile(
    r"(?P<course>[a-z0-9]+(\.[a-z0-9][a-z0-9-]*)+)/(?P=course)-v(?P<version>[1-9][0-9]{0,8})\.tar"
)


_ROLES = ("timestamp", "snapshot", "targets", "root")


class SyncError(ContentError):
    """A sync step failed; the message tells an admin what to do."""


class SourceUnavailableError(SyncError):
    """The stick, folder or mirror could not be read."""


class MetadataExpiredError(SyncError):
    """Signed metadata on the source has expired."""


class UntrustedSignatureError(SyncError):
    """Metadata is not signed by keys this facility trusts for the publisher."""


class ReplayError(SyncError):
    """The source is older than metadata already seen (rollback / replay)."""


class TargetMismatchError(SyncError):
    """A downloaded package does not match its signed length or hash."""


class TargetTooLargeError(SyncError):
    """A package is larger than this facility accepts."""


class HostNotAllowedError(SyncError):
    """A mirror address or redirect points to a host the admin did not list."""


class SyncBusyError(SyncError):
    """Another sync for the same publisher holds the lock."""


class MetadataInvalidError(SyncError):
    """Metadata is malformed or inconsistent in another way."""


class PublisherClient:
    """TUF client for one publisher, with its own metadata folder and lock."""

    def __init__(
        self,
        name: str,
        metadata_dir: Path,
        trusted_root: bytes,
        source: FolderSource | MirrorSource,
        *,
        max_target_bytes: int = 8 * GIB,
        timeout: float = 60,
        min_bytes_per_second: int = 64 * 1024,
    ) -> None:
        self.name = name
        self.metadata_dir = Path(metadata_dir)
        self.trusted_root = trusted_root
        self.source = source
        self.max_target_bytes = max_target_bytes
        self.timeout = timeout
        self.min_bytes_per_second = min_bytes_per_second
        self.skipped: list[str] = []  # target names that do not follow our conventions
        self._updater: Updater | None = None
        self._fetcher = source.fetcher(timeout)

    def close(self) -> None:
        """Release network connections (a mirror's pool); the client can still be used."""
        close = getattr(self._fetcher, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> PublisherClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- refresh ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Fetch and verify new metadata (root → timestamp → snapshot → targets)."""
        self._updater = None
        with self._locked(), self._translated():
            updater = Updater(
                str(self.metadata_dir),
                self.source.metadata_url(),
                target_base_url=self.source.targets_url(),
                fetcher=self._fetcher,
                bootstrap=self.trusted_root,
            )
            updater.refresh()
            self._updater = updater

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.metadata_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise SyncBusyError(
                    f"Another sync for {self.name} is running; try again when it ends."
                ) from exc
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Turn python-tuf's exceptions into messages an admin can act on."""
        try:
            yield
        except tuf_errors.ExpiredMetadataError as exc:
            raise self._expired(str(exc)) from exc
        except tuf_errors.UnsignedMetadataError as exc:
            raise UntrustedSignatureError(
                f"Signed by a key this facility does not trust ({exc}). Check that "
                f"{self.source.describe()} comes from {self.name}."
            ) from exc
        except tuf_errors.BadVersionNumberError as exc:
            if _ROLLBACK.search(str(exc)):
                raise ReplayError(
                    f"This stick is older than one already seen (replay): {exc} "
                    f"Ask {self.name} for a fresh stick."
                ) from exc
            raise MetadataInvalidError(
                f"Inconsistent metadata on {self._where()} ({exc}); the copy may be "
                f"incomplete. Ask {self.name} for a fresh stick."
            ) from exc
        except tuf_errors.RepositoryError as exc:
            raise MetadataInvalidError(f"Invalid metadata on {self._where()}: {exc}") from exc
        except RedirectRefused as exc:
            raise HostNotAllowedError(str(exc)) from exc
        except tuf_errors.DownloadHTTPError as exc:
            if exc.status_code == 404:
                raise SourceUnavailableError(
                    f"No signed metadata of {self.name} on {self._where()}: is the stick "
                    "mounted and the address right?"
                ) from exc
            raise SourceUnavailableError(f"Cannot read {self._where()}: {exc}") from exc
        except tuf_errors.DownloadError as exc:
            raise SourceUnavailableError(f"Cannot read {self._where()}: {exc}") from exc
        except DeserializationError as exc:
            raise MetadataInvalidError(f"Unreadable metadata on {self._where()}: {exc}") from exc
        except (ValueError, OSError) as exc:
            # Updater raises ValueError for a malformed pinned root, OSError for our folder.
            raise SyncError(f"Sync of {self.name} failed: {exc}") from exc

    def _where(self) -> str:
        return self.source.describe()

    def _expired(self, detail: str) -> SyncError:
        role = next((r for r in _ROLES if r in detail), "metadata")
        where = "this stick" if isinstance(self.source, FolderSource) else self._where()
        when = self._remote_timestamp_expiry() if role == "timestamp" else None
        on = f" on {when:%Y-%m-%d}" if when else ""
        return MetadataExpiredError(
            f"The {role} on {where} expired{on}. Ask {self.name} for a fresh stick."
        )

    def _remote_timestamp_expiry(self) -> datetime | None:
        """Expiry of the source's timestamp, if it is signed by the trusted timestamp key."""
        try:
            root = Metadata[Root].from_bytes((self.metadata_dir / "root.json").read_bytes())
            url = self.source.metadata_url() + "timestamp.json"
            data = self._fetcher.download_bytes(url, _TIMESTAMP_MAX)
            md = Metadata[Timestamp].from_bytes(data)
            root.signed.verify_delegate("timestamp", md.signed_bytes, md.signatures)
        except (
            OSError,
            DeserializationError,
            tuf_errors.DownloadError,
            tuf_errors.RepositoryError,
        ):
            return None
        return md.signed.expires

    # --- targets ---------------------------------------------------------------------

    def _require_updater(self) -> Updater:
        if self._updater is None:
            raise SyncError(f"No verified metadata of {self.name} yet: refresh first.")
        return self._updater

    def targets(self) -> list[RemoteTarget]:
        """Course packages in the verified targets metadata (after :meth:`refresh`)."""
        updater = self._require_updater()
        with self._translated():
            listed = Metadata[Targets].from_bytes((self.metadata_dir / "targets.json").read_bytes())
            found, self.skipped = [], []
            for name in sorted(listed.signed.targets):
                info = updater.get_targetinfo(name)  # the in-memory, verified entry
                target = _remote_target(info) if info is not None else None
                if target is None:
                    self.skipped.append(name)
                else:
                    found.append(target)
        return found

    @contextlib.contextmanager
    def open_target(self, target: RemoteTarget) -> Iterator[TargetStream]:
        """Stream ``target`` from the source, checked against its signed length and hash.

        The consumer reads the stream once, as it arrives, and must call its ``verify()``
        before it trusts anything it read (a sync does, in the importer's ``confirm`` hook,
        before any blob moves into the store). A source that runs past the signed length
        is cut off at once; one slower than ``min_bytes_per_second`` overall (after
        ``timeout`` seconds of grace) is dropped.

        When the consumer refuses the package (a ``ContentError``), the rest of the target
        is read and hashed first: if its bytes are not the signed ones, that is the real
        problem, and :class:`TargetMismatchError` says so rather than whatever looked
        broken in the altered package.
        """
        updater = self._require_updater()
        with self._locked():
            with self._translated():
                info = self._offered(updater, target)
                chunks = self._fetch_target(info, target.sha256)
            guarded = self._guarded(chunks, info)
            mismatch = partial(self._mismatch, info)
            try:
                with TargetStream(guarded, info.length, info.hashes["sha256"], mismatch) as stream:
                    try:
                        yield stream
                    except SyncError:
                        raise
                    except ContentError:
                        stream.verify()  # raises TargetMismatchError when the bytes differ
                        raise
            finally:
                close_chunks(chunks)  # also when nothing was read

    def download(self, target: RemoteTarget, dest_dir: Path) -> Path:
        """Download ``target`` into ``dest_dir``, verified against its signed length and hash.

        A sync does not need this (it imports from :meth:`open_target` directly); it keeps a
        verified copy of a package, for example to hand on.
        """
        with self.open_target(target) as stream:
            return _save(stream, Path(dest_dir) / target.name.rpartition("/")[2])

    def _offered(self, updater: Updater, target: RemoteTarget) -> TargetFile:
        """The verified entry of ``target``, which must still be offered and not too big."""
        info = updater.get_targetinfo(target.name)
        if info is None or _remote_target(info) != target:
            raise SyncError(f"{target.name} is not offered by {self.name} (any more).")
        if info.length > self.max_target_bytes:
            raise TargetTooLargeError(
                f"{target.name} is {info.length} bytes, above this facility's limit of "
                f"{self.max_target_bytes} bytes."
            )
        return info

    def _fetch_target(self, info: TargetFile, sha256: str) -> Iterator[bytes]:
        course, _, filename = info.path.rpartition("/")
        url = f"{self.source.targets_url()}{course}/{sha256}.{filename}"
        try:
            return self._fetcher.fetch(url)
        except tuf_errors.DownloadHTTPError as exc:
            raise SourceUnavailableError(
                f"{info.path} is missing from {self._where()} ({exc}). "
                f"Ask {self.name} for a fresh stick."
            ) from exc

    def _guarded(self, chunks: Iterator[bytes], info: TargetFile) -> Iterator[bytes]:
        """The source's chunks, with read errors in an admin's words, and a deadline: a
        source that trickles (each read within ``timeout``) cannot hold a sync forever."""
        deadline = time.monotonic() + self.timeout + info.length / self.min_bytes_per_second
        try:
            for chunk in chunks:
                if time.monotonic() > deadline:
                    raise SourceUnavailableError(
                        f"{info.path} arrives too slowly from {self._where()} (less than "
                        f"{self.min_bytes_per_second:,} bytes per second); sync stopped."
                    )
                yield chunk
        except tuf_errors.DownloadError as exc:
            raise SourceUnavailableError(
                f"Cannot read {info.path} from {self._where()}: {exc}"
            ) from exc

    def _mismatch(self, info: TargetFile, why: str) -> TargetMismatchError:
        return TargetMismatchError(
            f"Package does not match its signed hash: {info.path} on {self._where()} ({why}). "
            f"Ask {self.name} for a fresh stick."
        )

    def newest_metadata_time(self) -> datetime | None:
        """The newest issue time signed into the trusted metadata (for clock sanity checks).

        A server clock earlier than this is wrong. ``None`` before the first refresh or
        for metadata from a repository that does not record issue times.
        """
        newest = None
        for role in ("timestamp", "snapshot", "targets"):
            try:
                md = Metadata.from_bytes((self.metadata_dir / f"{role}.json").read_bytes())
                issued = datetime.fromisoformat(str(md.signed.unrecognized_fields[ISSUED_FIELD]))
            except (OSError, DeserializationError, KeyError, ValueError):
                continue
            newest = issued if newest is None else max(newest, issued)
        return newest


def metadata_expiry(metadata_dir: Path) -> datetime | None:
    """When a facility's trusted timestamp for a publisher (in ``metadata_dir``) expires;
    None before the first sync or when it cannot be read."""
    try:
        timestamp = Metadata[Timestamp].from_bytes((metadata_dir / "timestamp.json").read_bytes())
    except (OSError, DeserializationError):
        return None
    return timestamp.signed.expires


def _save(stream: TargetStream, final: Path) -> Path:
    """Write ``stream`` to ``final`` through a temporary file, renamed once verified."""
    final.parent.mkdir(parents=True, exist_ok=True)
    partial_file = final.with_name(f".{final.name}.part")
    partial_file.unlink(missing_ok=True)
    try:
        fd = os.open(partial_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            buffer = memoryview(bytearray(CHUNK))
            while count := stream.readinto(buffer):
                out.write(buffer[:count])
            out.flush()
            os.fsync(out.fileno())
        stream.verify()
        partial_file.replace(final)
    finally:
        partial_file.unlink(missing_ok=True)
    return final


def _remote_target(info: TargetFile) -> RemoteTarget | None:
    """A :class:`RemoteTarget` when the entry follows our naming and ``custom`` rules."""
    match = _TARGET_NAME.fullmatch(info.path)
    custom = info.custom
    sha256 = info.hashes.get("sha256")
    if match is None or not isinstance(custom, dict) or not sha256:
        return None
    course_id, version = match["course"], int(match["version"])
    if custom.get("course_id") != course_id or custom.get("version") != version:
        return None
    retracted = custom.get("retracted", False)
    if not isinstance(retracted, bool):
        return None
    return RemoteTarget(info.path, course_id, version, retracted, info.length, sha256)
