"""The strict extractor on its own: what it writes, and what it writes nowhere else."""

from __future__ import annotations

import hashlib
import io
import tarfile
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from content.format.limits import Limits
from content.package.extract import ImportRefused, _fold, check_name, extract_package
from tests.content.hostile import end, member

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MANIFEST = b'{"not": "checked here"}'


def package(*members: bytes) -> bytes:
    return end(member("manifest.json", MANIFEST) + b"".join(members))


def test_extracts_files_with_their_digests(tmp_path: Path) -> None:
    data = b"\x89PNG" + bytes(range(256)) * 10
    name = "media/caf\u00e9/" + "n" * 120 + ".png"  # non-ASCII and long: pax headers
    source = tmp_path / "p.tar"
    source.write_bytes(package(member("lessons/a.html", b"<p>a</p>"), member(name, data)))
    dest = tmp_path / "out"
    dest.mkdir()
    extracted = extract_package(source, dest)
    assert extracted.manifest == MANIFEST
    assert set(extracted.files) == {"lessons/a.html", name}
    assert extracted.files[name].sha256 == hashlib.sha256(data).hexdigest()
    assert extracted.local_path(name).read_bytes() == data
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(
        extracted.files
    )


def test_reads_from_a_stream_and_accepts_folder_entries(tmp_path: Path) -> None:
    data = package(member("media/", kind=tarfile.DIRTYPE), member("media/x.vtt", b"WEBVTT\n"))
    extracted = extract_package(io.BytesIO(data), tmp_path, Limits(), fsync=False)
    assert (tmp_path / "media" / "x.vtt").read_bytes() == b"WEBVTT\n"
    assert list(extracted.files) == ["media/x.vtt"]


def test_needs_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"")
    with pytest.raises(ValueError, match="empty folder"):
        extract_package(io.BytesIO(package()), tmp_path)


def test_never_writes_through_a_symlink_in_dest(tmp_path: Path) -> None:
    # Belt and braces: even if something put a link in the staging folder mid-import,
    # O_NOFOLLOW / O_EXCL refuse to write through it.
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    data = package(member("media/a.vtt", b"WEBVTT\n"), member("lessons/b.html", b"x"))
    stream = io.BytesIO(data)

    class Sneaky(io.BytesIO):
        def readinto(self, buffer: WriteableBuffer, /) -> int:
            if (dest / "media").exists() and not (dest / "lessons").exists():
                (dest / "lessons").symlink_to(outside)
            return stream.readinto(buffer)

    with pytest.raises(ImportRefused, match=r"lessons/b\.html"):
        extract_package(Sneaky(), dest)
    assert list(outside.iterdir()) == []


def test_missing_package_file(tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match="cannot read the package"):
        extract_package(tmp_path / "nope.tar", tmp_path)


def test_member_limits_are_configurable(tmp_path: Path) -> None:
    data = package(member("media/a/b/c.vtt", b"WEBVTT\n"))
    with pytest.raises(ImportRefused, match="4 levels deep; the limit is 3"):
        extract_package(io.BytesIO(data), tmp_path, Limits(max_depth=2))


@pytest.mark.parametrize("char", [chr(c) for c in range(128) if chr(c) not in "/\\"])
def test_every_ascii_character_is_judged_as_unicode_says(char: str) -> None:
    name = f"media/a{char}b.png"
    control = unicodedata.category(char) in ("Cc", "Cf", "Cs")
    if control:
        with pytest.raises(ImportRefused, match="contains a control character"):
            check_name(name, False, Limits())
    else:
        assert check_name(name, False, Limits()) == name
    # Names compare ignoring case: ASCII alike with and without the full Unicode rules.
    assert _fold(name + "É") == _fold(name) + "é"
