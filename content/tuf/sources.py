"""Where a facility reads a publisher's repository from: a folder or an HTTP mirror.

Both plug into python-tuf's ``Updater`` as a ``FetcherInterface``. Gotcha: the Updater
probes for the next root version until it gets ``DownloadHTTPError`` with status 404, so
the folder fetcher must raise exactly that for a missing file. The mirror fetcher does
not read proxy settings from the environment (a closed network has none) and follows
redirects itself, only to hosts the admin listed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import urllib3
from tuf.api.exceptions import DownloadError, DownloadHTTPError, SlowRetrievalError
from tuf.ngclient.fetcher import FetcherInterface

CHUNK = 1024 * 1024
FOLDER_SCHEME = "stepstone-folder:"
_MAX_REDIRECTS = 5


class RedirectRefused(DownloadError):
    """A mirror redirected to a host that is not allowed (carries a plain message)."""


@dataclass(frozen=True)
class FolderSource:
    """A mounted USB stick or an inbox folder holding ``metadata/`` and ``targets/``."""

    root: Path

    def describe(self) -> str:
        """How an admin would name this source in a sentence."""
        return f"the folder {self.root}"

    def metadata_url(self) -> str:
        """Base URL the Updater uses for metadata."""
        return f"{FOLDER_SCHEME}metadata/"

    def targets_url(self) -> str:
        """Base URL for target files."""
        return f"{FOLDER_SCHEME}targets/"

    def fetcher(self, timeout: float) -> FetcherInterface:
        """A fetcher reading from this folder."""
        return FolderFetcher(Path(self.root))


@dataclass(frozen=True)
class MirrorSource:
    """An HTTP(S) mirror on the closed network; only ``allowed_hosts`` are ever contacted."""

    base_url: str
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"{self.base_url!r} is not an http(s) address")
        if parts.hostname.lower() not in self.hosts():
            raise ValueError(f"host {parts.hostname} of {self.base_url} is not in allowed_hosts")

    def hosts(self) -> frozenset[str]:
        """Allowed host names, lower case."""
        return frozenset(h.lower() for h in self.allowed_hosts)

    def describe(self) -> str:
        """How an admin would name this source in a sentence."""
        return f"the mirror {self.base_url}"

    def metadata_url(self) -> str:
        """Base URL of the metadata folder on the mirror."""
        return urljoin(self.base_url.rstrip("/") + "/", "metadata/")

    def targets_url(self) -> str:
        """Base URL of the targets folder on the mirror."""
        return urljoin(self.base_url.rstrip("/") + "/", "targets/")

    def fetcher(self, timeout: float) -> FetcherInterface:
        """A fetcher that only talks to this mirror's allowed hosts."""
        return MirrorFetcher(self.hosts(), timeout)


Source = FolderSource | MirrorSource


class FolderFetcher(FetcherInterface):
    """Reads ``stepstone-folder:<relative path>`` URLs from a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, url: str) -> Path:
        if not url.startswith(FOLDER_SCHEME):
            raise DownloadError(f"not a folder address: {url}")
        relative = url.removeprefix(FOLDER_SCHEME)
        parts = relative.split("/")
        if any(p in {"", ".", ".."} for p in parts) or "\\" in relative or "\x00" in relative:
            raise DownloadError(f"unsafe path in {url}")
        return self.root.joinpath(*parts)

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = self._path(url)
        try:
            # O_NOFOLLOW: a symlink planted on a stick must not make us read local files.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError as exc:
            raise DownloadHTTPError(f"{path} not found", 404) from exc
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise DownloadError(f"{path} is a symbolic link; refusing it") from exc
            if exc.errno in {errno.ENOTDIR, errno.EISDIR}:
                raise DownloadHTTPError(f"{path} not found", 404) from exc
            raise DownloadError(f"cannot read {path}: {exc.strerror}") from exc
        return _FileChunks(fd, path)


class _FileChunks(Iterator[bytes]):
    """A file's bytes, chunk by chunk; owns the descriptor from the start, so closing it
    before (or without) reading a chunk closes the file too (a generator would not)."""

    def __init__(self, fd: int, path: Path) -> None:
        self._file = os.fdopen(fd, "rb", buffering=0)
        self._path = path

    def __next__(self) -> bytes:
        try:
            chunk = self._file.read(CHUNK)
        except OSError as exc:
            # A stick pulled out mid-read: a download error, not a crash.
            self.close()
            raise DownloadError(f"cannot read {self._path}: {exc.strerror}") from exc
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        """Close the file (again: no harm)."""
        self._file.close()


class MirrorFetcher(FetcherInterface):
    """HTTP(S) fetcher that refuses any host not allowed, also on redirects."""

    def __init__(self, hosts: frozenset[str], timeout: float) -> None:
        self.hosts = hosts
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.pool = urllib3.PoolManager(retries=False)

    def close(self) -> None:
        """Close pooled connections."""
        self.pool.clear()

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in {"http", "https"} or host not in self.hosts:
            raise RedirectRefused(
                f"{url} is on host {host or '?'}, which is not an allowed host for this "
                "publisher; ask the admin to check the mirror address"
            )

    def _fetch(self, url: str) -> Iterator[bytes]:
        for _ in range(_MAX_REDIRECTS + 1):
            self._check(url)
            response = self._request(url)
            if response.status in {301, 302, 303, 307, 308}:
                location = response.headers.get("Location", "")
                response.release_conn()
                url = urljoin(url, location)
                continue
            if response.status >= 400:
                response.release_conn()
                raise DownloadHTTPError(f"{url}: HTTP status {response.status}", response.status)
            return self._chunks(response)
        raise DownloadError(f"{url}: too many redirects")

    def _request(self, url: str) -> urllib3.BaseHTTPResponse:
        try:
            return self.pool.request(
                "GET", url, preload_content=False, redirect=False, timeout=self.timeout
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise SlowRetrievalError(f"{url}: the mirror did not answer in time") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError(f"{url}: cannot reach the mirror ({exc})") from exc

    @staticmethod
    def _chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        try:
            yield from response.stream(CHUNK)
        except urllib3.exceptions.TimeoutError as exc:
            raise SlowRetrievalError("the mirror stopped sending data") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise DownloadError(f"the mirror connection broke: {exc}") from exc
        finally:
            response.release_conn()
