"""Which files an import packs, and what a pack holds: an app's small files, each once,
in the package's order; never a big file, a PDF or captions, nor a file outside apps."""

from __future__ import annotations

import hashlib
from pathlib import Path

from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from content.package.packfile import PACKED_MAX_BYTES
from tests.content.conftest import COURSE, VTT, write_course
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
