"""App files are checked on the bytes the extraction has in hand: the type check and the
scan for outside addresses must find exactly what they find in the written files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from content.format.apps import (
    app_file_problem,
    decode_text,
    may_reference,
    references,
    scans_references,
)
from content.format.mediatypes import read_head
from content.importing import appfiles
from content.importing.appfiles import AppFileNotes, app_flags, outside_addresses
from content.importing.importer import import_package
from content.importing.store import ContentStore
from content.package.build import build_package
from content.package.extract import ImportRefused, extract_package
from tests.content.conftest import PNG
from tests.content.format.test_apps import app_course
from tests.content.hostile import archive, end, member, take_apart

ROOT = "apps/counter/"
MANIFEST = {"lessons": [{"key": "counter", "kind": "html5", "app": ROOT}]}
BIG = 100 * 1024  # past what the extraction holds in memory (64 KiB)
# Good and bad app files: disguised executables and archives, text that is binary, fonts
# and media that are not what their names say, and addresses in every place they hide.
FILES = {
    "index.html": b'<!doctype html><script src="https://cdn.example/lib.js"></script>'
    b'<img src="//img.example/a.png" srcset="x.png 1x, https://img.example/b.png 2x">'
    b'<div style="background: url(http://bg.example/c.png)"></div>',
    "page.htm": b"\xef\xbb\xbf  <HTML><a href='ftp://files.example/f'>f</a>",
    "ns.xml": b'<?xml version="1.0"?><r xmlns="http://www.w3.org/1999/xhtml"'
    b' xsi:schemaLocation="http://s.example/x http://s.example/x.xsd">'
    b"<a>https://data.example/feed</a></r>",
    "app.css": b"@import 'https://fonts.example/f.css';\nbody { background: url(../x.png) }\n",
    "quiet.js": b"var a = 1;\n" * 300,
    "calls.js": b"fetch('https://tracker.example/ping');\nfetch('https://tracker.example/ping');\n",
    "data.json": b'{"next": "wss://live.example/socket"}',
    "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><image href="https://e.example/i"/></svg>',
    "exe.js": b"MZ\x90\x00\x03\x00",
    "elf.css": b"\x7fELF\x02\x01\x01",
    "zip.png": b"PK\x03\x04" + b"\x00" * 40,
    "binary.js": b"var a = 1;\x00\x00\x00",
    "script.json": b"#!/bin/sh\nrm -rf /\n",
    "fake.woff2": b"wOFF" + b"\x00" * 40,
    "font.woff": b"wOFF" + b"\x00" * 40,
    "star.png": PNG,
    "song.ogg": b"\x89PNG\r\n\x1a\n",
    "tool.exe": b"hello",
    "empty.js": b"",
    "page.html": b"<html><body>" + b" " * 5000 + b"<a href='https://late.example'>x</a>",
    "long.html": b'<a href="https://long.example/' + b"x" * 30_000 + b'">x</a>',
    "big.js": b"var big = 'https://big.example/x';\n" + b"// padding\n" * (BIG // 11),
    "bigexe.js": b"MZ" + b"\x00" * BIG,
    "bigpage.html": b'<a href="https://far.example/1">' + b" " * BIG + b"</a>",
}


def extract(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, AppFileNotes, object]:
    body = member("manifest.json", b"{}")
    body += b"".join(member(ROOT + name, data) for name, data in sorted(files.items()))
    dest = tmp_path / "tree"
    dest.mkdir()
    notes = AppFileNotes()
    extracted = extract_package(io.BytesIO(end(body)), dest, fsync=False, inspect=notes.inspect)
    return dest, notes, extracted


def test_notes_find_what_the_written_files_say(tmp_path: Path) -> None:
    dest, notes, extracted = extract(tmp_path, FILES)
    for name, data in FILES.items():
        path = ROOT + name
        written = dest / path
        assert written.read_bytes() == data
        assert notes.problems[path] == app_file_problem(path, read_head(written)), path
        if scans_references(path) and len(data) <= 64 * 1024:
            assert notes.outside[path] == outside_addresses(path, data), path
        else:
            assert path not in notes.outside  # big files are read again, not held
    # Each kind of problem is found at all (the corpus is not trivially fine).
    problems = {name: notes.problems[ROOT + name] for name in FILES}
    assert "Windows executable" in str(problems["exe.js"])
    assert "Windows executable" in str(problems["bigexe.js"])
    assert "ELF executable" in str(problems["elf.css"])
    assert "zip archive" in str(problems["zip.png"])
    assert "binary file" in str(problems["binary.js"])
    assert "script" in str(problems["script.json"])
    assert "not one" in str(problems["fake.woff2"])
    assert "not allowed in an app" in str(problems["tool.exe"])
    assert "the content is not" in str(problems["song.ogg"])
    assert problems["index.html"] is problems["page.htm"] is problems["font.woff"] is None

    with_notes = app_flags(extracted, MANIFEST, notes)  # type: ignore[arg-type]
    assert with_notes == app_flags(extracted, MANIFEST)  # type: ignore[arg-type]
    details = {flag["detail"] for flag in with_notes}
    assert {
        "apps/counter/index.html:1: https://cdn.example/lib.js",
        "apps/counter/index.html:1: //img.example/a.png",
        "apps/counter/index.html:1: https://img.example/b.png",
        "apps/counter/index.html:1: http://bg.example/c.png",
        "apps/counter/page.htm:1: ftp://files.example/f",
        "apps/counter/ns.xml:1: https://data.example/feed",
        "apps/counter/app.css:1: https://fonts.example/f.css",
        "apps/counter/calls.js:1: https://tracker.example/ping",
        "apps/counter/data.json:1: wss://live.example/socket",
        "apps/counter/drawing.svg:1: https://e.example/i",
        "apps/counter/page.html:1: https://late.example",
        "apps/counter/big.js:1: https://big.example/x",
        "apps/counter/bigpage.html:1: https://far.example/1",
        "apps/counter/long.html:1: https://long.example/" + "x" * 179,
    } == details
    assert not any("w3.org" in d or "//s.example" in d for d in details)  # never fetched


def test_an_app_full_of_addresses_is_flagged_alike_past_the_notes_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        f"lib{n:02}.js": "".join(f"u('https://h{n}-{i}.example/');\n" for i in range(30)).encode()
        for n in range(4)
    }
    monkeypatch.setattr(appfiles, "MAX_NOTED_ADDRESSES", 40)
    _, notes, extracted = extract(tmp_path, files)
    assert len(notes.outside) == 1  # the second file would pass the budget: read again
    flags = app_flags(extracted, MANIFEST, notes)  # type: ignore[arg-type]
    assert flags == app_flags(extracted, MANIFEST)  # type: ignore[arg-type]
    # At most 50 per app, the first ones in path order.
    assert len(flags) == appfiles.MAX_FLAGS_PER_APP
    assert flags[0]["detail"] == "apps/counter/lib00.js:1: https://h0-0.example/"
    assert flags[-1]["detail"] == "apps/counter/lib01.js:20: https://h1-19.example/"


# Bytes that are not UTF-8 next to an address: decoding must not hide or make one.
BROKEN = {
    "cut.js": b"a = '\xe2\x82://x.example/a';",
    "lone.js": b"\xff\xfe://y.example/b",
    "split.js": b"u = 'http:' + '\xc3//z.example';",
    "tail.json": b'{"a": "wss:\xf0\x9f//w.example"}',
    "plain.css": b"body { background: url(img/\xff.png) }",
    "page.html": b"<a href='\xe9t\xe9.html'>x</a>",
}


def test_only_files_that_can_name_an_address_are_decoded_and_read() -> None:
    for name, data in {**FILES, **BROKEN}.items():
        path = ROOT + name
        if not scans_references(path):
            continue
        found = list(references(path, decode_text(data)))
        assert ("://" in decode_text(data)) == (b"://" in data), name
        if found:
            assert may_reference(path, data), name
        if not may_reference(path, data):
            assert outside_addresses(path, data) == [], name
    assert not may_reference(ROOT + "quiet.js", FILES["quiet.js"])
    assert may_reference(ROOT + "plain.css", BROKEN["plain.css"])  # style sheets always


@pytest.fixture(scope="module")
def app_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("app")
    files = {
        "apps/counter/vendor.js": b"// https://vendor.example/docs\n" + b"x = 1;\n" * (BIG // 7)
    }
    return build_package(app_course(base / "course", files), base / "dist", progress=False)


def test_an_import_flags_addresses_in_small_and_big_scripts(
    tmp_path: Path, app_package: Path
) -> None:
    staged = import_package(app_package, ContentStore(tmp_path / "store"))
    found = [
        f["detail"]
        for f in staged.review_flags
        if f["kind"] == "app-outside" and f["source"] == "import"
    ]
    assert found == ["apps/counter/vendor.js:1: https://vendor.example/docs"]
    assert staged.files["apps/counter/vendor.js"].media_type == "text/javascript"


def test_an_import_refuses_a_big_executable_app_file(tmp_path: Path, app_package: Path) -> None:
    bad = take_apart(app_package)
    bad.files["apps/counter/app.js"] = b"MZ" + b"\x00" * BIG  # its head is in the first chunk
    path = tmp_path / "bad.tar"
    path.write_bytes(archive(bad))  # relisted, the media type kept
    with pytest.raises(ImportRefused) as refused:
        import_package(path, ContentStore(tmp_path / "store"))
    assert str(refused.value) == (
        "'apps/counter/app.js': this file is a Windows executable; such files are not "
        "allowed in an app — remove it"
    )
