"""The files of an index generation as they were written: recorded at each commit,
checked before a searcher trusts them.

Whoosh reads what is on disk without question: a segment overwritten in place gives
wrong or no results, a garbled table of contents fails only the next process that opens
it. So every commit records the size and SHA-256 of each file of the new generation in
`stepstone-files.json` beside them, and a reader checks them when it opens a generation
(≈ 16 ms per 20 MB, with files it already checked skipped) and, before each search, that
none of them changed since (one `stat` per file). Whoosh never changes a file once it is
written, so any change is damage.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from whoosh.index import TOC, FileIndex

MANIFEST = "stepstone-files.json"
_TOC = re.compile(r"_MAIN_([0-9]+)\.toc")

# What identifies a file's content without reading it: a write changes the size or the
# times, a replacement the inode; ctime cannot be set back by hand.
StatKey = tuple[int, int, int, int]


class IndexDamaged(RuntimeError):
    """A file of the live index is missing, or differs from what was written."""


@dataclass(frozen=True)
class Recorded:
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    generation: int
    files: dict[str, Recorded]


def record(ix: FileIndex, folder: Path) -> None:
    """Write the manifest of the index's newest generation (call it right after a commit,
    still holding the write lock). Files recorded before are not hashed again: Whoosh
    never changes a file once written, and the old record is the one to trust anyway."""
    toc = ix._read_toc()  # the one way to know a generation's segments
    names = [TOC._filename(ix.indexname, toc.generation)]
    for segment in toc.segments:
        names.extend(sorted(segment.list_files(ix.storage)))
    try:
        known = read_manifest(folder).files
    except IndexDamaged:
        known = {}
    files = {}
    for name in names:
        old = known.get(name)
        size = (folder / name).stat().st_size
        files[name] = old if old is not None and old.size == size else _hash(folder / name)
    _write_manifest(folder, Manifest(toc.generation, files))


def read_manifest(folder: Path) -> Manifest:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="ascii"))
        files = {
            str(name): Recorded(int(entry["size"]), str(entry["sha256"]))
            for name, entry in data["files"].items()
        }
        return Manifest(int(data["generation"]), files)
    except FileNotFoundError:
        raise IndexDamaged(f"{folder.name} has no {MANIFEST}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexDamaged(f"{folder / MANIFEST} is unreadable: {exc}") from None


def latest_generation(folder: Path) -> int:
    """The newest generation whose table of contents is in the folder (-1: none)."""
    found = (_TOC.fullmatch(entry.name) for entry in folder.iterdir())
    return max((int(match.group(1)) for match in found if match), default=-1)


class Checker:
    """Checks generations against their manifests; remembers which files already
    passed, by their `stat`, so that each file is hashed once per process."""

    def __init__(self) -> None:
        self._passed: dict[Path, StatKey] = {}
        self._lock = threading.Lock()

    def verify(self, folder: Path) -> dict[Path, StatKey]:
        """Check the newest generation; returns the `stat` of each of its files.

        Raises IndexDamaged naming the first file that is missing or changed, or when
        the newest generation was never recorded (a commit cut short, say).
        """
        manifest = read_manifest(folder)
        newest = latest_generation(folder)
        if manifest.generation != newest:
            raise IndexDamaged(
                f"{folder.name}: generation {newest} on disk, {manifest.generation} recorded"
            )
        seen: dict[Path, StatKey] = {}
        for name, expected in manifest.files.items():
            path = folder / name
            key = _stat_key(path)
            if key is None or key[1] != expected.size:
                raise IndexDamaged(f"{path} is missing or has the wrong size")
            with self._lock:
                passed = self._passed.get(path) == key
            if not passed:
                if _hash(path) != expected:
                    raise IndexDamaged(f"{path} differs from what was written")
                with self._lock:
                    self._passed[path] = key
            seen[path] = key
        return seen

    def forget(self, keep: Iterable[Path]) -> None:
        """Drop what is known of files other than these (removed generations)."""
        kept = set(keep)
        with self._lock:
            self._passed = {p: k for p, k in self._passed.items() if p in kept}


def unchanged(seen: dict[Path, StatKey]) -> bool:
    """True when every file is as it was when checked (one `stat` each)."""
    return all(_stat_key(path) == key for path, key in seen.items())


def _stat_key(path: Path) -> StatKey | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _hash(path: Path) -> Recorded:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return Recorded(os.fstat(handle.fileno()).st_size, digest)


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    data = {
        "generation": manifest.generation,
        "files": {n: {"size": r.size, "sha256": r.sha256} for n, r in manifest.files.items()},
    }
    temporary = folder / f".{MANIFEST}.{secrets.token_hex(4)}"
    with temporary.open("w", encoding="ascii") as handle:
        json.dump(data, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(folder / MANIFEST)
