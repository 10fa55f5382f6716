"""What the extractor makes durable, and when: every file with ``fsync=True``; with
``fsync=False`` (the importer, whose store makes each blob durable before adopting it)
only the big files, which then leave the page cache so that a big package does not fill
it. Big files are written past the page cache (``O_DIRECT``) where the disk allows it,
and through it where it does not, byte for byte the same."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from content.package import stagewriter
from content.package.extract import extract_package
from tests.content.hostile import end, member

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

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


MIB = 1024 * 1024
# Three whole chunks, then a piece that no disk block size divides.
ODD = b"\x1a\x45\xdf\xa3" + os.urandom(3 * MIB + 4093)
ODD_PACKAGE = end(member("manifest.json", b"{}") + member("media/odd.webm", ODD))


class Trickle(io.BytesIO):
    """A source that hands out a few hundred bytes at a time (a slow stick or mirror)."""

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        return super().readinto(memoryview(buffer)[:777])


def direct_io_works(folder: Path) -> bool:
    """Whether this file system takes O_DIRECT (ext4 and xfs do; some others do not)."""
    if not getattr(os, "O_DIRECT", 0):
        return False
    fd = os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
    except OSError:
        return False
    finally:
        os.close(fd)
        (folder / "probe").unlink()
    return True


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, int]]:
    """(written past the page cache?, length) of each piece of a big file written."""
    seen: list[tuple[bool, int]] = []
    real = stagewriter._FileOut._write

    def write(self: stagewriter._FileOut, data: memoryview) -> None:
        real(self, data)
        seen.append((self.direct, len(data)))  # how it went: a refused write switches

    monkeypatch.setattr(stagewriter._FileOut, "_write", write)
    return seen


def test_big_files_skip_the_page_cache_in_whole_chunks(
    tmp_path: Path, writes: list[tuple[bool, int]]
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    extracted = extract_package(Trickle(ODD_PACKAGE), dest, fsync=False)
    assert (dest / "media" / "odd.webm").read_bytes() == ODD
    assert extracted.files["media/odd.webm"].sha256 == hashlib.sha256(ODD).hexdigest()
    # Whole 1 MiB chunks whatever the source hands out; only the last piece is odd, and
    # its whole blocks go past the page cache too: just the last byte goes through it.
    assert [length for _, length in writes] == [MIB, MIB, MIB, 4096, 1]
    if direct_io_works(tmp_path):
        assert [direct for direct, _ in writes] == [True, True, True, True, False]


@pytest.mark.parametrize("refused_at", ["fcntl", "write", "second-half"])
def test_a_disk_that_refuses_direct_writes_gets_buffered_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused_at: str
) -> None:
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        pytest.skip("no O_DIRECT on this system")
    real_fcntl, real_write = fcntl.fcntl, os.write

    def no_direct_fcntl(fd: int, command: int, arg: int = 0) -> int:
        if command == fcntl.F_SETFL and arg & direct:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_fcntl(fd, command, arg)

    halves: list[int] = []

    def no_direct_write(fd: int, data: memoryview) -> int:
        if not real_fcntl(fd, fcntl.F_GETFL) & direct:
            return real_write(fd, data)
        if refused_at == "second-half" and not halves:
            halves.append(len(data) // 2)  # a short write, then a refusal for the rest
            return real_write(fd, data[: halves[0]])
        raise OSError(errno.EINVAL, "Invalid argument")

    # The very module objects the stage writer calls through (it imports them whole).
    if refused_at == "fcntl":
        monkeypatch.setattr(fcntl, "fcntl", no_direct_fcntl)
    else:
        monkeypatch.setattr(os, "write", no_direct_write)
    extract_package(io.BytesIO(ODD_PACKAGE), tmp_path, fsync=False)
    assert (tmp_path / "media" / "odd.webm").read_bytes() == ODD
