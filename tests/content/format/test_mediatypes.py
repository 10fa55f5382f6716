"""Sniffing media types from bytes, and refusing dangerous files."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from content.errors import MediaTypeError
from content.format.mediatypes import check_media, disallowed_kind, sniff_family, suffix_of
from content.format.svg import check_svg_bytes
from tests.content.hostile import HOSTILE_SVGS

SAMPLES = {
    "png": b"\x89PNG\r\n\x1a\n....",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "gif": b"GIF89a\x01\x00",
    "webp": b"RIFF\x10\x00\x00\x00WEBPVP8 ",
    "wav": b"RIFF\x10\x00\x00\x00WAVEfmt ",
    "webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm",
    "matroska": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska",
    "mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00",
    "m4a": b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00",
    "ogg": b"OggS\x00\x02\x00\x00",
    "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "pdf": b"%PDF-1.7\n",
    "vtt": b"\xef\xbb\xbfWEBVTT\n\n",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
}


@pytest.mark.parametrize(("family", "head"), SAMPLES.items())
def test_sniff_family(family: str, head: bytes) -> None:
    assert sniff_family(head) == family


def test_mp3_frame_sync_without_id3() -> None:
    assert sniff_family(b"\xff\xfb\x90\x64") == "mp3"
    assert sniff_family(b"\xff\xf1\x50\x80") is None  # AAC ADTS is not MP3


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x7fELF\x02\x01", "ELF"),
        (b"MZ\x90\x00", "Windows executable"),
        (b"\xcf\xfa\xed\xfe", "Mach-O"),
        (b"PK\x03\x04", "zip"),
        (b"\x1f\x8b\x08", "gzip"),
        (b"\0" * 257 + b"ustar\x0000", "tar"),
        (b"7z\xbc\xaf\x27\x1c", "7z"),
        (b"Rar!\x1a\x07\x00", "RAR"),
        (b"#!/bin/sh\n", "script"),
        (b"  <!DOCTYPE html><html>", "HTML"),
        (b"<script>alert(1)</script>", "HTML"),
    ],
)
def test_disallowed_kinds(head: bytes, kind: str) -> None:
    assert kind in (disallowed_kind(head) or "")


@pytest.mark.parametrize(
    "head",
    [
        b"\xef\xbb\xbf" + b" \n\t" * 1000 + b"<!DocType HTML>",
        b" " * 4000 + b"<A href=x>",
        b"<Form>" + b"\x00" * 5000,
    ],
)
def test_html_is_found_after_any_leading_space(head: bytes) -> None:
    assert disallowed_kind(head) == "an HTML document"


@pytest.mark.parametrize("head", [b"", b"M", b"P", b"#", b"<", b"<!doctype htm", b"MP4", b"PK"])
def test_a_piece_of_a_refused_start_is_not_refused(head: bytes) -> None:
    assert disallowed_kind(head) is None


def test_check_media_accepts_matching_file(tmp_path: Path) -> None:
    path = tmp_path / "a.PNG"
    path.write_bytes(SAMPLES["png"])
    assert check_media(path, "media/a.PNG").media_type == "image/png"


def test_html_in_a_png_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"<html><script>alert(1)</script></html>")
    with pytest.raises(MediaTypeError, match="this file is an HTML document"):
        check_media(path, "media/x.png")


def test_extension_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(SAMPLES["webm"])
    with pytest.raises(
        MediaTypeError, match="the name says an MP4 video but the content is a WebM video"
    ):
        check_media(path, "media/x.mp4")


def test_m4a_accepts_isom_brand(tmp_path: Path) -> None:
    path = tmp_path / "a.m4a"
    path.write_bytes(SAMPLES["mp4"])
    assert check_media(path, "a.m4a").media_type == "audio/mp4"


def test_only_the_head_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.webm"
    with path.open("wb") as out:
        out.write(SAMPLES["webm"])
        out.truncate(50 * 1024 * 1024)  # sparse: reading it whole would be slow and visible
    assert check_media(path, "big.webm").media_type == "video/webm"


# What drawing programs write: Inkscape's own namespaces, a stylesheet, gradients, a filter,
# a local <use>, an animation and accessible names. All of it must pass.
SVG_OK = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!-- Created with Inkscape -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     xmlns:dc="http://purl.org/dc/elements/1.1/"
     width="210mm" height="297mm" viewBox="0 0 210 297" version="1.1"
     role="img" aria-labelledby="t" sodipodi:docname="bars.svg">
  <title id="t">Fraction bars</title>
  <sodipodi:namedview id="base" pagecolor="#ffffff" inkscape:zoom="0.35"/>
  <metadata><rdf:RDF><dc:title>Bars</dc:title></rdf:RDF></metadata>
  <style type="text/css"><![CDATA[
    @media (prefers-reduced-motion: reduce) { .spin { animation: none } }
    @keyframes pulse { from { opacity: 1 } to { opacity: .5 } }
    .a { fill: url(#g); stroke: rgb(10 20 30 / 50%); font-family: "Open Sans", sans-serif }
    .b { filter: url("#blur") drop-shadow(1px 1px 2px black); transform: rotate(5deg) }
  ]]></style>
  <defs>
    <linearGradient id="g" gradientTransform="rotate(90)">
      <stop offset="0" stop-color="#fff"/><stop offset="1" style="stop-color:hsl(200,50%,50%)"/>
    </linearGradient>
    <filter id="blur"><feGaussianBlur stdDeviation="2"/></filter>
    <path id="p" d="M0 0 L10 10 Z"/>
  </defs>
  <g inkscape:label="Layer 1" inkscape:groupmode="layer" transform="translate(10,20) scale(2)">
    <use xlink:href="#p" fill="url(#g)" clip-path="url(#g)"/>
    <rect class="a" x="1" y="2" width="3" height="4" rx="1" data-name="bar"
          style="stroke-width:calc(1px + 2px)">
      <animate attributeName="opacity" values="0;1" dur="2s" repeatCount="indefinite"/>
    </rect>
    <a href="#t"><text x="5" y="5" xml:space="preserve">1/2<tspan dy="3">half</tspan></text></a>
  </g>
</svg>
"""


def test_clean_svg_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.svg"
    path.write_bytes(SVG_OK)
    assert check_media(path, "ok.svg").media_type == "image/svg+xml"


@pytest.mark.parametrize("name", sorted(HOSTILE_SVGS))
def test_dangerous_svg_is_refused(tmp_path: Path, name: str) -> None:
    svg, reason = HOSTILE_SVGS[name]
    path = tmp_path / "bad.svg"
    path.write_bytes(svg)
    with pytest.raises(MediaTypeError, match=re.escape(reason)):
        check_media(path, "bad.svg")


@pytest.mark.parametrize("name", sorted(HOSTILE_SVGS))
def test_a_drawing_in_memory_gets_the_same_check(name: str) -> None:
    """A ZIM's SVG is checked from memory (``check_svg_bytes``), as strictly as a file."""
    check_svg_bytes(SVG_OK, "ok.svg")
    svg, reason = HOSTILE_SVGS[name]
    with pytest.raises(MediaTypeError, match=re.escape(reason)):
        check_svg_bytes(svg, "I/bad.svg")


def test_svg_that_is_not_xml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.svg"
    path.write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')
    with pytest.raises(MediaTypeError, match="not well-formed"):
        check_media(path, "bad.svg")


def test_a_style_split_across_read_chunks_is_checked_whole(tmp_path: Path) -> None:
    """expat hands text over per chunk read; an @import cut in two must still be seen."""
    path = tmp_path / "split.svg"
    prefix = b'<svg xmlns="http://www.w3.org/2000/svg"><style>'
    pad = b"/*" + b"x" * (64 * 1024 - len(prefix) - 4 - 2) + b"*/"
    path.write_bytes(prefix + pad + b'@import "http://evil.example/a.css";</style></svg>')
    with pytest.raises(MediaTypeError, match="@import rule"):
        check_media(path, "split.svg")


@pytest.mark.parametrize(
    "name",
    [
        "a.js", "apps/x/m.MIN.JS", "apps/x/.hidden", "apps/x/name.", "apps/x/a..b", "a.b.c",
        "noext", "apps/x.y/noext", ".", "..", "a/", "a.js/", "a/.", "a/..", "", "/", "x/.js",
        "apps/x/ünï.Cödé", "a/b.tar.gz", "a//b.Png", "a/b. js", "...", "a/...b",
    ],
)  # fmt: skip
def test_suffix_of_is_what_pathlib_finds(name: str) -> None:
    assert suffix_of(name) == PurePosixPath(name).suffix.lower()
