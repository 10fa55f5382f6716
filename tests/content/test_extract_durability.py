"""What the extractor makes durable, and when: every file with ``fsync=True``; with
``fsync=False`` (the importer, whose store fsyncs each blob before adopting it) only the
big files, which then leave the page cache so that a big package does not fill it."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from content import stagewriter
from content.extract import extract_package
from tests.content.hostile import end, member

BIG = b"\x1a\x45\xdf\xa3" + b"v" * (2 * 1024 * 1024)
PACKAGE = end(
    member("manifest.json", b"{}")
    + member("lessons/a.html", b"<p>a</p>")
    + member("media/clip.webm", BIG)
    + member("media/clip.en.vtt", b"WEBVTT\n")
)


class Calls:
    """The package paths that were fsynced, and those dropped from the page cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fsynced: set[str] = set()
        self.dropped: set[str] = set()

    def path(self, fd: int) -> str:
        return str(Path(f"/proc/self/fd/{fd}").readlink().relative_to(self.root))


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    if not Path("/proc/self/fd").is_dir() or stagewriter._FADVISE is None:
        pytest.skip("needs /proc and posix_fadvise (Linux)")
    seen = Calls(tmp_path)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        seen.fsynced.add(seen.path(fd))
        real_fsync(fd)

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        assert (offset, length, advice) == (0, 0, os.POSIX_FADV_DONTNEED)
        seen.dropped.add(seen.path(fd))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(stagewriter, "_FADVISE", fadvise)
    yield seen


def test_durable_extraction_fsyncs_every_file(tmp_path: Path, calls: Calls) -> None:
    extract_package(io.BytesIO(PACKAGE), tmp_path)
    assert calls.fsynced == {"lessons/a.html", "media/clip.webm", "media/clip.en.vtt"}
    assert calls.dropped == {"media/clip.webm"}
    assert (tmp_path / "media" / "clip.webm").read_bytes() == BIG  # dropped, not lost


def test_otherwise_only_big_files_are_fsynced_and_dropped(tmp_path: Path, calls: Calls) -> None:
    extracted = extract_package(io.BytesIO(PACKAGE), tmp_path, fsync=False)
    assert calls.fsynced == calls.dropped == {"media/clip.webm"}
    assert set(extracted.files) == {"lessons/a.html", "media/clip.webm", "media/clip.en.vtt"}
    assert (tmp_path / "lessons" / "a.html").read_bytes() == b"<p>a</p>"
