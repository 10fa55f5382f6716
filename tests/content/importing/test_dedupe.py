"""A new version of a course shares most of its files with the last one: an import writes
no big file whose blob the store has already, packs the apps' small files into one new
blob, and ends with the same checks and the same result as when it wrote every file."""

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
from tests.content.hostile import archive, end, member, take_apart

SCRIPTS = {f"apps/counter/js/m{index}.js": f"var m{index} = 1;\n".encode() for index in range(40)}
BIG = {"apps/counter/js/big.js": b"var big = 1;\n" * 10_000}  # past the 64 KiB held in memory


def course(root: Path, version: int, changed: bytes = b"") -> Path:
    """An html5 course of many small scripts; ``changed`` is added to one of them."""
    files = {**GOOD_APP, **SCRIPTS, **BIG}
    files["apps/counter/js/m7.js"] += changed
    return write_course(
        root,
        course={**COURSE, "version": version, "lessons": [*COURSE["lessons"], "lessons/03-app.md"]},
        lessons={"lessons/03-app.md": APP_LESSON},
        files=files,
    )


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The package paths of the files the extraction writes to the staging folder (small
    ones are created in batches, big ones handed over once written)."""
    paths: list[str] = []
    create_all = stagewriter._create_all
    hand_over = stagewriter._Syncer.hand_over

    def creating(folders: object, batch: list[tuple[str, str, bytes, str]]) -> None:
        paths.extend(item[3] for item in batch)
        create_all(folders, batch)  # type: ignore[arg-type]

    def handing_over(syncer: stagewriter._Syncer, fd: int, path: str, size: int) -> None:
        paths.append(path)
        hand_over(syncer, fd, path, size)

    monkeypatch.setattr(stagewriter, "_create_all", creating)
    monkeypatch.setattr(stagewriter._Syncer, "hand_over", handing_over)
    return paths


def test_a_new_version_writes_a_new_pack_and_only_its_changed_big_files(
    tmp_path: Path, written: list[str]
) -> None:
    first = build_package(course(tmp_path / "v1", 1), tmp_path / "d1", progress=False)
    second = build_package(course(tmp_path / "v2", 2, b"// new\n"), tmp_path / "d2", progress=False)
    store = ContentStore(tmp_path / "store")
    one = import_package(first, store)
    # The app's small files are packed, never written one by one; the big script is.
    assert [path for path in written if path.startswith("apps/")] == ["apps/counter/js/big.js"]
    first_pack = one.files["apps/counter/js/m7.js"].pack_sha256
    assert first_pack is not None
    assert {one.files[path].pack_sha256 for path in SCRIPTS} == {first_pack}
    inodes = {sha: store.path_for(sha).stat().st_ino for sha in store.blobs()}
    written.clear()

    two = import_package(second, store)

    # The big script and the video are read and hashed, but not written again; the small
    # files make a new pack, one blob, next to the first version's.
    assert written == []
    assert two.version == 2 and one.version == 1
    assert two.files.keys() == one.files.keys()
    changed = two.files["apps/counter/js/m7.js"]
    assert changed.sha256 != one.files["apps/counter/js/m7.js"].sha256
    second_pack = changed.pack_sha256
    assert second_pack is not None and second_pack != first_pack
    assert changed.pack_offset is not None
    pack = store.path_for(second_pack).read_bytes()
    assert pack[changed.pack_offset : changed.pack_offset + changed.size] == (
        SCRIPTS["apps/counter/js/m7.js"] + b"// new\n"
    )
    assert store.path_for(second_pack).stat().st_mode & 0o777 == 0o444
    # Every blob of the first version is the very file the first import stored, untouched.
    assert {sha: store.path_for(sha).stat().st_ino for sha in inodes} == inodes
    assert set(store.blobs()) == set(inodes) | {second_pack}
    assert [lesson.html_sha256 for lesson in two.lessons] == [
        lesson.html_sha256 for lesson in one.lessons
    ]
    assert two.review_flags == one.review_flags
    assert list(store.staging_root.iterdir()) == []


def test_the_same_package_again_writes_no_file_and_adds_no_blob(
    tmp_path: Path, written: list[str]
) -> None:
    package = build_package(course(tmp_path / "v1", 1), tmp_path / "d1", progress=False)
    store = ContentStore(tmp_path / "store")
    first = import_package(package, store)
    blobs = {sha: store.path_for(sha).stat().st_ino for sha in store.blobs()}
    written.clear()
    assert import_package(package, store) == first
    assert written == []
    assert {sha: store.path_for(sha).stat().st_ino for sha in store.blobs()} == blobs


def test_a_blob_gone_before_it_is_kept_fails_the_import_clearly(tmp_path: Path) -> None:
    package = build_package(course(tmp_path / "v1", 1), tmp_path / "d1", progress=False)
    store = ContentStore(tmp_path / "store")
    import_package(package, store)
    script = hashlib.sha256(BIG["apps/counter/js/big.js"]).hexdigest()

    def gone(_course: object) -> None:  # after every check, before the blobs move in
        store.path_for(script).unlink()

    with pytest.raises(OSError, match="a blob left the store during the import"):
        import_package(package, store, confirm=gone)
    assert not store.has(script)
    assert list(store.staging_root.iterdir()) == []


def test_the_extractor_writes_no_file_the_lookup_finds(tmp_path: Path) -> None:
    small, big, other = b"var a = 1;\n", b"\x89PNG" + b"x" * (100 * 1024), b"var c;\n"
    kept = {"apps/a/a.js": tmp_path / "a", "media/b.png": tmp_path / "b"}
    asked: list[str] = []

    def lookup(path: str) -> str | None:
        asked.append(path)
        return str(kept[path]) if path in kept else None

    source = tmp_path / "p.tar"
    members = member("apps/a/a.js", small) + member("media/b.png", big)
    source.write_bytes(end(member("manifest.json", b"{}") + members + member("apps/c.js", other)))
    for fsync in (False, True):
        dest = tmp_path / f"out-{fsync}"
        dest.mkdir()
        inspected: list[tuple[str, int, bool]] = []

        def inspect(
            path: str, data: bytes, whole: bool, seen: list[tuple[str, int, bool]] = inspected
        ) -> None:
            seen.append((path, len(data), whole))

        extracted = extract_package(source, dest, fsync=fsync, inspect=inspect, stored=lookup)
        # Found files are read, hashed and inspected as ever, but not written; the
        # digests are those of the bytes read, not of the files named.
        for path, data in (("apps/a/a.js", small), ("media/b.png", big)):
            assert extracted.files[path].sha256 == hashlib.sha256(data).hexdigest()
            assert extracted.local_path(path) == kept[path]
            assert not (dest / path).exists()
        assert extracted.local_path("apps/c.js").read_bytes() == other
        assert inspected == [
            ("apps/a/a.js", len(small), True),
            ("media/b.png", 4096, False),
            ("apps/c.js", len(other), True),
        ]
    assert asked == ["apps/a/a.js", "media/b.png", "apps/c.js"] * 2


def test_a_hostile_member_is_refused_alike_when_its_blob_is_stored(tmp_path: Path) -> None:
    """Names are judged before any lookup: a stored blob excuses nothing."""
    source = tmp_path / "p.tar"
    source.write_bytes(end(member("manifest.json", b"{}") + member("apps/../x.js", b"var a;")))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ImportRefused, match=r"contains an empty, '\.' or '\.\.' segment"):
        extract_package(source, dest, fsync=False, stored=lambda _sha: str(source))


@pytest.mark.parametrize("path", ["apps/counter/js/m3.js", "apps/counter/js/big.js"])
def test_other_bytes_under_a_stored_digest_are_refused_as_ever(path: str, tmp_path: Path) -> None:
    """The manifest lists a digest the store has, the member holds other bytes: the
    file is not written, and the package is refused with the usual message."""
    package = build_package(course(tmp_path / "v1", 1), tmp_path / "d1", progress=False)
    store = ContentStore(tmp_path / "store")
    import_package(package, store)
    bad = take_apart(package).copy()
    bad.files[path] = bad.files[path][:-1] + b"!"
    hostile = tmp_path / "hostile.tar"
    hostile.write_bytes(archive(bad, relist=False))
    blobs = sorted(store.blobs())
    with pytest.raises(ImportRefused) as refused:
        import_package(hostile, store)
    assert str(refused.value) == (
        f"'{path}' does not match its SHA-256 in the manifest (the package was damaged or altered)"
    )
    assert sorted(store.blobs()) == blobs
    assert list(store.staging_root.iterdir()) == []
