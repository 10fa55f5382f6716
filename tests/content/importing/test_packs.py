"""Which files an import packs, and what a pack holds: an app's small files, each once,
in the package's order; never a big file, a PDF or captions, nor a file outside apps."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pytest

from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from content.package.extract import ImportRefused
from content.package.packfile import PACKED_MAX_BYTES, PackWriter, read_member
from tests.content.conftest import COURSE, PNG, VTT, write_course
from tests.content.format.test_apps import APP_LESSON, GOOD_APP

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
EXTRA = {
    "apps/counter/js/copy.js": GOOD_APP["apps/counter/app.js"],  # the same bytes twice
    "apps/counter/js/big.js": b"var big = 1;\n" * (PACKED_MAX_BYTES // 13 + 1),
    "apps/counter/doc/sheet.pdf": PDF,
    "apps/counter/doc/words.vtt": VTT,
}


def test_an_import_packs_the_apps_small_files_each_once(tmp_path: Path) -> None:
    source = write_course(
        tmp_path / "src",
        course={**COURSE, "lessons": [*COURSE["lessons"], "lessons/03-app.md"]},
        lessons={"lessons/03-app.md": APP_LESSON},
        files={**GOOD_APP, **EXTRA},
    )
    store = ContentStore(tmp_path / "store")
    staged = import_package(build_package(source, tmp_path / "dist", progress=False), store)

    packed = {path: f for path, f in staged.files.items() if f.pack_sha256 is not None}
    assert set(packed) == {*GOOD_APP, "apps/counter/js/copy.js"}
    (pack_sha256,) = {f.pack_sha256 for f in packed.values()}
    assert pack_sha256 is not None
    pack = store.path_for(pack_sha256).read_bytes()
    assert hashlib.sha256(pack).hexdigest() == pack_sha256
    files = {**GOOD_APP, **EXTRA}
    for path, file in packed.items():
        assert file.pack_offset is not None
        assert pack[file.pack_offset : file.pack_offset + file.size] == files[path]
        # No blob of its own (the star is also the course's picture, media/pic.png).
        assert store.has(file.sha256) == (path == "apps/counter/img/star.png")
    # The same bytes are in the pack once, and the pack holds nothing else.
    assert (
        packed["apps/counter/js/copy.js"].pack_offset == packed["apps/counter/app.js"].pack_offset
    )
    assert len(pack) == sum(len(data) for data in {files[path] for path in packed})
    # A big script, a PDF and captions are blobs of their own, as is everything outside apps.
    for path in ("apps/counter/js/big.js", "apps/counter/doc/sheet.pdf", "media/v.en.vtt"):
        assert staged.files[path].pack_sha256 is None
        assert store.path_for(staged.files[path].sha256).read_bytes() == (files.get(path) or VTT)
    assert staged.files["apps/counter/doc/words.vtt"].pack_sha256 is None


def test_a_package_without_apps_has_no_pack(tmp_path: Path) -> None:
    source = write_course(tmp_path / "src")
    store = ContentStore(tmp_path / "store")
    staged = import_package(build_package(source, tmp_path / "dist", progress=False), store)
    assert all(f.pack_sha256 is None for f in staged.files.values())
    assert set(store.blobs()) == {f.sha256 for f in staged.files.values()} | {
        lesson.html_sha256 for lesson in staged.lessons
    }
    assert list(store.staging_root.iterdir()) == []


def test_a_pack_of_many_mebibytes_holds_each_file_where_it_says(tmp_path: Path) -> None:
    writer = PackWriter(tmp_path / "apps.pack")
    files = [os.urandom(PACKED_MAX_BYTES - n) for n in range(60)]  # 3.8 MiB: handed over 3 times
    offsets = [writer.add(hashlib.sha256(data).hexdigest(), data) for data in files]
    assert writer.add(hashlib.sha256(files[7]).hexdigest(), files[7]) == offsets[7]
    pack = writer.finish()
    assert pack is not None
    whole = pack.path.read_bytes()
    assert (pack.size, pack.sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert whole == b"".join(files)
    for offset, data in zip(offsets, files, strict=True):
        assert read_member(pack.path, offset, len(data)) == data
    assert not stat.S_IMODE(pack.path.stat().st_mode) & 0o222  # read-only, as blobs are


@pytest.mark.parametrize("app_bytes", ["small", "several-mebibytes"])
def test_a_full_disk_while_packing_refuses_the_import_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_bytes: str
) -> None:
    extra = {}
    if app_bytes == "several-mebibytes":  # the pack is written while the package is read
        extra = {f"apps/counter/img/p{n}.png": PNG + os.urandom(60_000) for n in range(40)}
    source = write_course(
        tmp_path / "src",
        course={**COURSE, "lessons": [*COURSE["lessons"], "lessons/03-app.md"]},
        lessons={"lessons/03-app.md": APP_LESSON},
        files={**GOOD_APP, **extra},
    )
    package = build_package(source, tmp_path / "dist", progress=False)
    real_write = os.write

    def write(fd: int, data: bytes) -> int:
        if Path(f"/proc/self/fd/{fd}").readlink().name == "apps.pack":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc (Linux)")
    monkeypatch.setattr(os, "write", write)
    store = ContentStore(tmp_path / "store")
    with pytest.raises(ImportRefused, match="the disk is full while writing 'apps/"):
        import_package(package, store)
    assert list(store.blobs()) == []
    assert list(store.staging_root.iterdir()) == []
