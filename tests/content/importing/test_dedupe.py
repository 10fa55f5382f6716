"""A new version of a course shares most of its files with the last one: an import writes
only the small files whose blob the store does not have yet, and ends with the same store,
the same checks and the same result as when it wrote every file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package import stagewriter
from content.package.build import build_package
from content.package.extract import ImportRefused, extract_package
from tests.content.conftest import COURSE, write_course
from tests.content.format.test_apps import APP_LESSON, GOOD_APP
from tests.content.hostile import end, member

SCRIPTS = {f"apps/counter/js/m{index}.js": f"var m{index} = 1;\n".encode() for index in range(40)}


def course(root: Path, version: int, changed: bytes = b"") -> Path:
    """An html5 course of many small scripts; ``changed`` is added to one of them."""
    files = {**GOOD_APP, **SCRIPTS}
    files["apps/counter/js/m7.js"] += changed
    return write_course(
        root,
        course={**COURSE, "version": version, "lessons": [*COURSE["lessons"], "lessons/03-app.md"]},
        lessons={"lessons/03-app.md": APP_LESSON},
        files=files,
    )


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The package paths of the small files the extraction writes to the staging folder."""
    paths: list[str] = []
    real = stagewriter._create_all

    def create_all(folders: object, batch: list[tuple[str, str, bytes, str]]) -> None:
        paths.extend(item[3] for item in batch)
        real(folders, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(stagewriter, "_create_all", create_all)
    return paths


def test_a_new_version_writes_only_its_changed_small_files(
    tmp_path: Path, written: list[str]
) -> None:
    first = build_package(course(tmp_path / "v1", 1), tmp_path / "d1", progress=False)
    second = build_package(course(tmp_path / "v2", 2, b"// new\n"), tmp_path / "d2", progress=False)
    store = ContentStore(tmp_path / "store")
    one = import_package(first, store)
    assert "apps/counter/js/m7.js" in written and len(written) > 40
    inodes = {sha: store.path_for(sha).stat().st_ino for sha in store.blobs()}
    written.clear()

    two = import_package(second, store)

    # Only the changed script (and the manifest, held apart) is new in the package.
    assert written == ["apps/counter/js/m7.js"]
    assert two.version == 2 and one.version == 1
    assert two.files.keys() == one.files.keys()
    changed = two.files["apps/counter/js/m7.js"].sha256
    assert changed != one.files["apps/counter/js/m7.js"].sha256
    assert store.path_for(changed).read_bytes() == SCRIPTS["apps/counter/js/m7.js"] + b"// new\n"
    assert store.path_for(changed).stat().st_mode & 0o777 == 0o444
    # Every shared blob is the very file the first import stored, untouched.
    assert {sha: store.path_for(sha).stat().st_ino for sha in inodes} == inodes
    assert set(store.blobs()) == set(inodes) | {changed}
    assert [lesson.html_sha256 for lesson in two.lessons] == [
        lesson.html_sha256 for lesson in one.lessons
    ]
    assert two.review_flags == one.review_flags
    assert list(store.staging_root.iterdir()) == []


def test_the_same_package_again_writes_no_small_file(tmp_path: Path, written: list[str]) -> None:
    package = build_package(course(tmp_path / "v1", 1), tmp_path / "d1", progress=False)
    store = ContentStore(tmp_path / "store")
    first = import_package(package, store)
    written.clear()
    assert import_package(package, store) == first
    assert written == []


def test_a_blob_gone_before_it_is_kept_fails_the_import_clearly(tmp_path: Path) -> None:
    package = build_package(course(tmp_path / "v1", 1), tmp_path / "d1", progress=False)
    store = ContentStore(tmp_path / "store")
    import_package(package, store)
    script = hashlib.sha256(SCRIPTS["apps/counter/js/m3.js"]).hexdigest()

    def gone(_course: object) -> None:  # after every check, before the blobs move in
        store.path_for(script).unlink()

    with pytest.raises(OSError, match="a blob left the store during the import"):
        import_package(package, store, confirm=gone)
    assert not store.has(script)
    assert list(store.staging_root.iterdir()) == []


def test_the_extractor_skips_small_files_the_lookup_finds(tmp_path: Path) -> None:
    small, big = b"var a = 1;\n", b"\x89PNG" + b"x" * (100 * 1024)
    kept = tmp_path / "kept"
    kept.write_bytes(small)
    asked: list[str] = []

    def lookup(sha256: str) -> str | None:
        asked.append(sha256)
        return str(kept)

    source = tmp_path / "p.tar"
    source.write_bytes(
        end(
            member("manifest.json", b"{}")
            + member("apps/a/a.js", small)
            + member("media/b.png", big)
        )
    )
    dest = tmp_path / "out"
    dest.mkdir()
    extracted = extract_package(source, dest, fsync=False, stored=lookup)
    # The small file is asked about and not written; the big one streams to disk as ever.
    assert asked == [hashlib.sha256(small).hexdigest()]
    assert extracted.files["apps/a/a.js"].sha256 == asked[0]
    assert extracted.local_path("apps/a/a.js") == kept
    assert not (dest / "apps/a/a.js").exists()
    assert extracted.local_path("media/b.png").read_bytes() == big
    assert extracted.files["media/b.png"].sha256 == hashlib.sha256(big).hexdigest()


def test_a_hostile_member_is_refused_alike_when_its_blob_is_stored(tmp_path: Path) -> None:
    """Names are judged before any lookup: a stored blob excuses nothing."""
    source = tmp_path / "p.tar"
    source.write_bytes(end(member("manifest.json", b"{}") + member("apps/../x.js", b"var a;")))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ImportRefused, match=r"contains an empty, '\.' or '\.\.' segment"):
        extract_package(source, dest, fsync=False, stored=lambda _sha: str(source))
