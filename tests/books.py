"""EPUB files written by the tests: well-formed EPUB 2 and 3 books, and hostile ones.

Written with ``zipfile`` by hand rather than with ebooklib, so a test controls every byte
an attacker could (entity declarations, paths, compression, remote addresses).
"""

from __future__ import annotations

import base64
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# A 1×1 PNG: real magic bytes, so the media type check accepts it.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf"
    media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

XHTML = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>{title}</title></head>
<body>{body}</body>
</html>"""


@dataclass
class EpubChapter:
    """One chapter: its manifest id, file name (under OEBPS/) and body HTML."""

    id: str
    file: str
    title: str
    body: str
    raw: str | None = None  # the whole file, when a test needs to write it itself


@dataclass
class EpubSpec:
    """Everything a test book can vary."""

    version: int = 3
    title: str = "The River Road"
    author: str = "Ana Example"
    language: str = "en"
    subject: str = "Fiction"
    chapters: list[EpubChapter] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=lambda: {"images/cover.png": PNG})
    cover: str | None = "images/cover.png"
    extra: dict[str, bytes] = field(default_factory=dict)  # more archive members


def default_chapters(language: str = "en") -> list[EpubChapter]:
    """Two chapters with a heading, a picture, a footnote and a link between them."""
    if language.startswith("es"):
        one = "<h1>El comienzo</h1><p>Había una vez un río.</p>"
        two = "<h1>El final</h1><p>El río llegó al mar.</p>"
        return [
            EpubChapter("ch1", "ch1.xhtml", "El comienzo", one),
            EpubChapter("ch2", "ch2.xhtml", "El final", two),
        ]
    one = (
        "<h1 id='start'>The Beginning</h1>"
        "<p>The river was wide.<a epub:type='noteref' href='#fn1'>1</a></p>"
        "<p><img src='images/boat.png' alt='A small boat on the river'/></p>"
        "<p>Read <a href='ch2.xhtml#end'>the ending</a>.</p>"
        + "<p>More of the story, line after line.</p>" * 40
        + "<aside epub:type='footnote' id='fn1'><p>A note about rivers.</p></aside>"
    )
    two = "<h1 id='end'>The Ending</h1><p>The river met the sea.</p>"
    return [
        EpubChapter("ch1", "ch1.xhtml", "The Beginning", one),
        EpubChapter("ch2", "ch2.xhtml", "The Ending", two),
    ]


def write_epub(path: Path, spec: EpubSpec | None = None) -> Path:
    """Write the book ``spec`` describes (two plain chapters by default) to ``path``."""
    spec = spec or EpubSpec()
    chapters = spec.chapters or default_chapters(spec.language)
    images = dict(spec.images)
    if any("boat.png" in c.body for c in chapters):
        images.setdefault("images/boat.png", PNG)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", CONTAINER)
        archive.writestr("OEBPS/content.opf", _opf(spec, chapters, images))
        archive.writestr("OEBPS/toc.ncx", _ncx(spec, chapters))
        if spec.version == 3:
            archive.writestr("OEBPS/nav.xhtml", _nav(chapters))
        for chapter in chapters:
            text = chapter.raw or XHTML.format(title=chapter.title, body=chapter.body)
            archive.writestr("OEBPS/" + chapter.file, text)
        for name, data in images.items():
            archive.writestr("OEBPS/" + name, data)
        for name, data in spec.extra.items():
            archive.writestr(name, data)
    return path


def _opf(spec: EpubSpec, chapters: list[EpubChapter], images: dict[str, bytes]) -> str:
    items = [
        f'<item id="{c.id}" href="{c.file}" media-type="application/xhtml+xml"/>' for c in chapters
    ]
    items.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
    if spec.version == 3:
        items.append(
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        )
    for n, name in enumerate(images):
        cover = ' properties="cover-image"' if name == spec.cover and spec.version == 3 else ""
        item_id = "cover-img" if name == spec.cover else f"img{n}"
        items.append(f'<item id="{item_id}" href="{name}" media-type="image/png"{cover}/>')
    spine = "".join(f'<itemref idref="{c.id}"/>' for c in chapters)
    cover_meta = '<meta name="cover" content="cover-img"/>' if spec.cover else ""
    modified = (
        '<meta property="dcterms:modified">2026-01-01T00:00:00Z</meta>' if spec.version == 3 else ""
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="{spec.version}.0" unique-identifier="uid">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:identifier id="uid">urn:uuid:0000-test</dc:identifier>
<dc:title>{spec.title}</dc:title><dc:creator>{spec.author}</dc:creator>
<dc:language>{spec.language}</dc:language><dc:subject>{spec.subject}</dc:subject>
{cover_meta}{modified}
</metadata>
<manifest>{"".join(items)}</manifest>
<spine toc="ncx">{spine}</spine>
</package>"""


def _ncx(spec: EpubSpec, chapters: list[EpubChapter]) -> str:
    points = "".join(
        f'<navPoint id="p{n}" playOrder="{n}"><navLabel><text>{c.title}</text></navLabel>'
        f'<content src="{c.file}"/></navPoint>'
        for n, c in enumerate(chapters, start=1)
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">
<head><meta name="dtb:uid" content="urn:uuid:0000-test"/></head>
<docTitle><text>{spec.title}</text></docTitle><navMap>{points}</navMap></ncx>"""


def _nav(chapters: list[EpubChapter]) -> str:
    links = "".join(f'<li><a href="{c.file}">{c.title}</a></li>' for c in chapters)
    return XHTML.format(title="Contents", body=f'<nav epub:type="toc"><ol>{links}</ol></nav>')
