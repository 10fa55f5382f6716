"""import_package: a good package lands in the store; every hostile one is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from content.format.limits import Limits
from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from content.package.extract import ImportRefused
from tests.content.conftest import write_course
from tests.content.hostile import (
    CASES,
    HOSTILE_HTML,
    SVG_NAME,
    Good,
    hostile_html,
    take_apart,
    with_svg,
)

ROOT = Path(__file__).resolve().parents[3]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (the store and staging are small here)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def good_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture course of conftest, built once for the module."""
    base = tmp_path_factory.mktemp("good")
    return build_package(write_course(base / "course"), base / "dist", progress=False)


@pytest.fixture(scope="module")
def good(good_package: Path) -> Good:
    return take_apart(good_package)


@pytest.fixture
def store(tmp_path: Path, good_package: Path) -> ContentStore:
    """A store that already holds the good package (the "previous version")."""
    store = ContentStore(tmp_path / "var" / "store")
    import_package(good_package, store)
    return store


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_package_is_refused(
    name: str, good: Good, store: ContentStore, tmp_path: Path
) -> None:
    case = CASES[name]
    package = tmp_path / "hostile.tar"
    package.write_bytes(case.build(good))
    before = snapshot(store.root)
    with pytest.raises(ImportRefused) as refused:
        import_package(package, store, Limits(**case.limits))
    for words in case.expect:
        assert words in str(refused.value), str(refused.value)
    assert snapshot(store.root) == before
    assert list(store.staging_root.iterdir()) == []


def test_good_package_imports_into_the_store(
    good_package: Path, good: Good, tmp_path: Path
) -> None:
    store = ContentStore(tmp_path / "store")
    staged = import_package(good_package, store)
    assert (staged.course_id, staged.version) == ("org.example.test", 1)
    assert [lesson.key for lesson in staged.lessons] == ["intro", "video"]
    assert set(staged.files) == {p for p in good.files if p.startswith("media/")}
    for path, file in staged.files.items():
        assert store.path_for(file.sha256).read_bytes() == good.files[path]
        assert store.verify(file.sha256)
        assert store.path_for(file.sha256).stat().st_mode & 0o777 == 0o444
    for lesson in staged.lessons:
        assert lesson.html_sha256 is not None and store.verify(lesson.html_sha256)
        assert "html" not in lesson.data and "sections" in lesson.data
    assert staged.files["media/v.webm"].media_type == "video/webm"
    assert list(store.staging_root.iterdir()) == []


def test_importing_twice_deduplicates(good_package: Path, tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "store")
    first = import_package(good_package, store)
    blobs = sorted(store.blobs())
    second = import_package(good_package, store)
    assert sorted(store.blobs()) == blobs
    assert first == second


def test_demo_course_imports(tmp_path: Path) -> None:
    package = build_package(ROOT / "courses" / "thinking-traps", tmp_path / "dist", progress=False)
    store = ContentStore(tmp_path / "store")
    staged = import_package(package, store)
    parts = take_apart(package)
    assert staged.course_id == parts.manifest["course"]["id"]
    for entry in parts.manifest["files"]:
        if entry["path"] in staged.files:
            assert store.verify(entry["sha256"])
    for lesson in staged.lessons:
        # Demo HTML is already clean: re-sanitizing it changes nothing.
        stored = store.path_for(str(lesson.html_sha256)).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == lesson.html_sha256
    assert not [f for f in staged.review_flags if f["source"] == "import"]


def test_hostile_html_is_cleaned_and_flagged(good: Good, tmp_path: Path) -> None:
    data, key = hostile_html(good)
    package = tmp_path / "html.tar"
    package.write_bytes(data)
    store = ContentStore(tmp_path / "store")
    staged = import_package(package, store)
    lesson = next(lesson for lesson in staged.lessons if lesson.key == key)
    html = store.path_for(str(lesson.html_sha256)).read_text("utf-8")
    for bad in ("<script", "<iframe", "onclick", "onerror", "evil.example"):
        assert bad not in html
    assert '<img src="media/pic.png">' in html
    assert HOSTILE_HTML.encode() not in b"".join(
        store.path_for(sha).read_bytes() for sha in store.blobs()
    )
    flag = next(f for f in staged.review_flags if f["source"] == "import")
    assert flag["kind"] == "sanitized" and flag["lesson"] == key
    for removed in ("<script>", "<iframe>", "onclick", "onerror"):
        assert removed in flag["detail"]


def test_every_svg_is_flagged_for_the_reviewer(good: Good, tmp_path: Path) -> None:
    drawing = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="2"/></svg>'
    package = tmp_path / "svg.tar"
    package.write_bytes(with_svg(drawing)(good))
    staged = import_package(package, ContentStore(tmp_path / "store"))
    assert staged.files[SVG_NAME].media_type == "image/svg+xml"
    flags = [f for f in staged.review_flags if f["kind"] == "svg"]
    assert flags == [
        {"kind": "svg", "lesson": "", "where": SVG_NAME, "detail": SVG_NAME, "source": "import"}
    ]
