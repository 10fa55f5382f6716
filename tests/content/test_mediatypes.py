"""Sniffing media types from bytes, and refusing dangerous files."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.errors import MediaTypeError
from content.mediatypes import check_media, disallowed_kind, sniff_family

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


SVG_OK = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
    b'<defs><path id="p" d="M0 0"/></defs><use xlink:href="#p"/>'
    b"<style>.a{fill:url(#g)}</style></svg>"
)


def test_clean_svg_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.svg"
    path.write_bytes(SVG_OK)
    assert check_media(path, "ok.svg").media_type == "image/svg+xml"


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "<script>"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "event handler"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject/></svg>', "<foreignobject>"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
            b'<a x:href="https://evil.example">x</a></svg>',
            "outside the drawing",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(http://x/a.css);'
            b"</style></svg>",
            "CSS",
        ),
        (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "y">]><svg/>', "DOCTYPE"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><set attributeName="href" to="x"/></svg>',
            "changes a link",
        ),
        (b"<svg><unclosed></svg>", "not well-formed"),
    ],
)
def test_dangerous_svg_is_refused(tmp_path: Path, svg: bytes, reason: str) -> None:
    path = tmp_path / "bad.svg"
    path.write_bytes(svg)
    with pytest.raises(MediaTypeError, match=reason):
        check_media(path, "bad.svg")
