"""html5 lessons: an app folder is linted, packaged under apps/<key>/, and checked again
at import (types, owner, limits), with every address outside the app flagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.errors import LintFailed, Severity
from content.format.limits import Limits
from content.format.lint import lint_course
from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from content.package.extract import ImportRefused
from tests.content.conftest import COURSE, PNG, lesson, write_course
from tests.content.hostile import archive, take_apart

APP_LESSON = lesson("key: counter\ntitle: Counter\nkind: html5\napp: ../apps/counter")
INDEX = (
    b'<!doctype html><html><head><link rel="stylesheet" href="css/app.css">'
    b'<script src="app.js"></script></head><body><img src="img/star.png" alt="">'
    b"</body></html>"
)
GOOD_APP = {
    "apps/counter/index.html": INDEX,
    "apps/counter/app.js": b"parent.postMessage({type: 'done'}, '*');\n",
    "apps/counter/css/app.css": b"body { background: url(../img/star.png); }\n",
    "apps/counter/img/star.png": PNG,
}


def app_course(root: Path, files: dict[str, bytes] | None = None) -> Path:
    return write_course(
        root,
        course={"lessons": [*COURSE["lessons"], "lessons/03-app.md"]},
        lessons={"lessons/03-app.md": APP_LESSON},
        files={**GOOD_APP, **(files or {})},
    )


def messages(root: Path, severity: Severity = Severity.ERROR) -> list[str]:
    return [f"{p.file}: {p.message}" for p in lint_course(root) if p.severity is severity]


def test_a_good_app_lints_clean_and_is_packaged_under_its_lesson(tmp_path: Path) -> None:
    root = app_course(tmp_path / "course")
    assert messages(root) == []
    package = build_package(root, tmp_path / "dist", progress=False)
    good = take_apart(package)
    assert {p for p in good.files if p.startswith("apps/")} == {
        "apps/counter/index.html",
        "apps/counter/app.js",
        "apps/counter/css/app.css",
        "apps/counter/img/star.png",
    }
    entry = next(x for x in good.manifest["lessons"] if x["key"] == "counter")
    assert entry["kind"] == "html5" and entry["app"] == "apps/counter/"
    types = {f["path"]: f["media_type"] for f in good.manifest["files"]}
    assert types["apps/counter/app.js"] == "text/javascript"
    assert types["apps/counter/css/app.css"] == "text/css"


def test_lint_names_a_missing_entry_a_missing_file_and_a_forbidden_type(tmp_path: Path) -> None:
    root = app_course(
        tmp_path / "course",
        {
            "apps/counter/index.html": INDEX.replace(b"app.js", b"App.js"),
            "apps/counter/tool.exe": b"MZ\x90\x00",
            "apps/counter/lib.js": b"\x7fELF\x02\x01",
        },
    )
    found = messages(root)
    assert any("index.html: 'App.js' is not a file of the app" in m for m in found), found
    assert any("tool.exe: files of type '.exe' are not allowed in an app" in m for m in found)
    assert any("lib.js: this file is an ELF executable" in m for m in found)
    (root / "apps/counter/index.html").unlink()
    assert any("has no index.html" in m for m in messages(root))


def test_an_app_must_be_a_folder_and_stay_within_its_limits(tmp_path: Path) -> None:
    root = app_course(tmp_path / "course")
    found = [
        p.message
        for p in lint_course(root, limits=Limits(max_app_files=3))
        if p.severity is Severity.ERROR
    ]
    assert any("has 4 files; an app may have at most 3" in m for m in found), found
    (root / "lessons/03-app.md").write_text(
        lesson("key: counter\ntitle: Counter\nkind: html5\napp: ../apps/counter/index.html")
    )
    assert any("must be a folder" in m for m in messages(root))
    with pytest.raises(LintFailed):
        build_package(root, tmp_path / "dist", progress=False)


def test_addresses_outside_the_app_are_warned_and_flagged_at_build_and_import(
    tmp_path: Path,
) -> None:
    root = app_course(
        tmp_path / "course",
        {
            "apps/counter/app.js": b"fetch('https://tracker.example/ping');\n",
            "apps/counter/index.html": INDEX + b'<img src="//cdn.example/x.png" alt="">',
        },
    )
    warned = messages(root, Severity.WARNING)
    assert any("'https://tracker.example/ping' reaches outside the app" in m for m in warned)
    assert any("'//cdn.example/x.png' reaches outside the app" in m for m in warned)
    package = build_package(root, tmp_path / "dist", progress=False)
    staged = import_package(package, ContentStore(tmp_path / "store"))
    found = {(f["source"], f["detail"]) for f in staged.review_flags if f["kind"] == "app-outside"}
    assert ("import", "apps/counter/app.js:1: https://tracker.example/ping") in found
    assert ("package", "app.js: https://tracker.example/ping") in found
    assert any(d.startswith("apps/counter/index.html:1: //cdn.example") for _, d in found)
    assert staged.files["apps/counter/app.js"].media_type == "text/javascript"


@pytest.fixture(scope="module")
def app_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("app")
    return build_package(app_course(base / "course"), base / "dist", progress=False)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("stray", "is not a file of any lesson's app"),
        ("exe", "this file is a Windows executable"),
        ("type", "the manifest says text/css but an app file of this name is text/javascript"),
        ("entry", "refers to apps/counter/index.html, which is not in the package"),
        ("kind", "needs its 'app' folder"),
    ],
)
def test_import_refuses_an_app_file_that_breaks_the_rules(
    tmp_path: Path, app_package: Path, change: str, expected: str
) -> None:
    bad = take_apart(app_package)
    if change == "stray":
        bad.files["apps/other/index.html"] = INDEX
    elif change == "exe":
        bad.files["apps/counter/app.js"] = b"MZ\x90\x00\x03"
    elif change == "type":
        for entry in bad.manifest["files"]:
            if entry["path"] == "apps/counter/app.js":
                entry["media_type"] = "text/css"
    elif change == "entry":
        del bad.files["apps/counter/index.html"]
    elif change == "kind":
        entry = next(x for x in bad.manifest["lessons"] if x["key"] == "counter")
        del entry["app"]
    data = archive(bad, relist=change != "type")
    path = tmp_path / "bad.tar"
    path.write_bytes(data)
    store = ContentStore(tmp_path / "store")
    with pytest.raises(ImportRefused) as refused:
        import_package(path, store)
    assert expected in str(refused.value), str(refused.value)
    assert not [
        p for p in (tmp_path / "store").rglob("*") if p.is_file() and "staging" not in str(p)
    ]


H5P_JSON = (
    b'{"title": "T", "mainLibrary": "H5P.Tap", "preloadedDependencies":'
    b' [{"machineName": "H5P.Tap", "majorVersion": "1", "minorVersion": "0"}]}'
)


def test_an_h5p_folder_needs_its_content_and_every_library(tmp_path: Path) -> None:
    root = write_course(
        tmp_path / "course",
        course={"lessons": [*COURSE["lessons"], "lessons/03-h5p.md"]},
        lessons={"lessons/03-h5p.md": lesson("key: tap\ntitle: Tap\nkind: h5p\napp: ../h5p/tap")},
        files={
            "h5p/tap/h5p.json": H5P_JSON,
            "h5p/tap/content/content.json": b"{}",
            "h5p/tap/H5P.Tap-1.0/library.json": b"{}",
            "h5p/tap/H5P.Tap-1.0/tap.js": b"var H5P = H5P || {};",
        },
    )
    assert messages(root) == []
    (root / "h5p/tap/H5P.Tap-1.0/library.json").unlink()
    assert any("'H5P.Tap-1.0/library.json' is not in the H5P folder" in m for m in messages(root))
    (root / "h5p/tap/h5p.json").write_bytes(b'{"title": "no main library"}')
    assert any("must name its 'mainLibrary'" in m for m in messages(root))


SCORM_12 = b"""<?xml version="1.0"?>
<manifest identifier="m" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schemaversion>1.2</schemaversion></metadata>
  <organizations default="o"><organization identifier="o">
    <item identifier="i1" identifierref="r1"><title>One</title></item>
  </organization></organizations>
  <resources><resource identifier="r1" adlcp:scormtype="sco" href="one.html">
    <file href="one.html"/><file href="one.js"/></resource></resources>
</manifest>"""


def test_a_scorm_manifest_is_read_and_its_files_checked(tmp_path: Path) -> None:
    root = write_course(
        tmp_path / "course",
        course={"lessons": [*COURSE["lessons"], "lessons/03-scorm.md"]},
        lessons={"lessons/03-scorm.md": lesson("key: pkg\ntitle: P\nkind: scorm\napp: ../pkg")},
        files={"pkg/imsmanifest.xml": SCORM_12, "pkg/one.html": b"<html></html>"},
    )
    assert any("the file 'one.js' is not in the package's folder" in m for m in messages(root))
    (root / "pkg/one.js").write_bytes(b"// sco")
    assert messages(root) == []
    # Namespaces look like addresses but are never fetched: no warning for them.
    assert not any("imsproject" in m for m in messages(root, Severity.WARNING))
    package = build_package(root, tmp_path / "dist", progress=False)
    entry = next(x for x in take_apart(package).manifest["lessons"] if x["key"] == "pkg")
    assert entry["scorm"] == {
        "version": "1.2",
        "scos": [{"id": "i1", "title": "One", "href": "one.html", "query": ""}],
    }
    (root / "pkg/imsmanifest.xml").write_bytes(
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + SCORM_12.split(b"?>", 1)[1]
    )
    assert any("declares a DTD" in m for m in messages(root))


def test_import_refuses_a_scorm_organization_that_its_manifest_does_not_say(
    tmp_path: Path,
) -> None:
    root = write_course(
        tmp_path / "course",
        course={"lessons": [*COURSE["lessons"], "lessons/03-scorm.md"]},
        lessons={"lessons/03-scorm.md": lesson("key: pkg\ntitle: P\nkind: scorm\napp: ../pkg")},
        files={
            "pkg/imsmanifest.xml": SCORM_12,
            "pkg/one.html": b"<html></html>",
            "pkg/one.js": b"//",
        },
    )
    bad = take_apart(build_package(root, tmp_path / "dist", progress=False))
    entry = next(x for x in bad.manifest["lessons"] if x["key"] == "pkg")
    entry["scorm"]["scos"][0]["href"] = "one.js"
    path = tmp_path / "bad.tar"
    path.write_bytes(archive(bad))
    with pytest.raises(ImportRefused) as refused:
        import_package(path, ContentStore(tmp_path / "store"))
    assert "is not what imsmanifest.xml says" in str(refused.value)
