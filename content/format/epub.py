"""An EPUB 2 or 3 book read into chapters of sanitized HTML, its images and its metadata.

A book is converted once, when the publisher builds the package, into the pieces a course
already has: one reading lesson per chapter (spine document), media files for the images
the chapters show, and review flags for everything that was dropped. The facility then
takes the package in like any other and sanitizes every chapter again, so nothing here is
trusted there.

An EPUB is untrusted input. Before ebooklib opens it, the zip is checked against limits
(entry count, sizes, compression ratio, names that would leave the archive, encryption);
chapters are then rewritten one by one (``content.format.epubchapter``: lxml without
entity expansion, DTD loading or network) and sanitized.
"""

from __future__ import annotations

import posixpath
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import ebooklib
from ebooklib import epub
from lxml import etree

from content.errors import ContentError
from content.format.epubchapter import (
    ChapterRewriter,
    anchor_for,
    first_heading,
    has_content,
    inner_html,
    parse_chapter,
    split_html_sections,
)
from content.format.limits import MIB, Limits
from content.format.mediatypes import disallowed_kind, file_type_for, sniff_family
from content.format.render import Section, is_external, slugify
from content.format.sanitize import sanitize_html

_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_BACK_WORDS = {"en": "Back to the text", "es": "Volver al texto"}
_CHAPTER_WORDS = {"en": "Chapter {n}", "es": "Capítulo {n}"}


@dataclass(frozen=True)
class BookLimits:
    """Limits on the EPUB archive itself; chapters also obey ``Limits.max_lesson_bytes``."""

    max_entries: int = 5_000
    max_entry_bytes: int = 64 * MIB
    max_total_bytes: int = 512 * MIB
    # Text and images compress well, but not 100 times over: that is a zip bomb.
    max_ratio: int = 100


@dataclass(frozen=True)
class BookImage:
    """An image a chapter shows (or the cover), with the bytes to put in the package."""

    package_path: str
    data: bytes
    media_type: str


@dataclass(frozen=True)
class Chapter:
    """One spine document as a reading lesson."""

    key: str
    title: str
    html: str
    sections: tuple[Section, ...]
    removed: tuple[str, ...]


@dataclass
class Book:
    """What the package needs from an EPUB file."""

    title: str
    authors: tuple[str, ...]
    language: str
    subjects: tuple[str, ...]
    description: str
    epub_version: str
    cover: str | None
    chapters: list[Chapter] = field(default_factory=list)
    images: dict[str, BookImage] = field(default_factory=dict)
    flags: list[tuple[str, str, str]] = field(default_factory=list)  # kind, chapter, detail


def read_book(
    path: Path,
    name: str,
    limits: Limits | None = None,
    book_limits: BookLimits | None = None,
) -> Book:
    """Read the EPUB at ``path`` (``name`` is how problems name it) or raise ContentError."""
    limits = limits or Limits()
    check_archive(path, name, book_limits or BookLimits())
    source = _open(path, name)
    return _Converter(source, name, limits).convert()


def check_archive(path: Path, name: str, limits: BookLimits) -> None:
    """Refuse a zip that is not safe to open: too many or too large entries, a compression
    ratio of a zip bomb, encrypted entries, or names that would leave the archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ContentError(f"not a readable EPUB (zip) file: {exc}", name) from exc
    if len(entries) > limits.max_entries:
        raise ContentError(f"{len(entries)} files in the EPUB; at most {limits.max_entries}", name)
    seen: set[str] = set()
    total = 0
    for entry in entries:
        _check_entry(entry, name, limits)
        if entry.filename in seen:
            raise ContentError(f"'{entry.filename[:80]}' is in the EPUB twice", name)
        seen.add(entry.filename)
        total += entry.file_size
    if total > limits.max_total_bytes:
        raise ContentError(
            f"the EPUB unpacks to {total:,} bytes; at most {limits.max_total_bytes:,}", name
        )


def _check_entry(entry: zipfile.ZipInfo, name: str, limits: BookLimits) -> None:
    member = entry.filename
    parts = member.split("/")
    if member.startswith("/") or "\\" in member or "\0" in member or ".." in parts:
        raise ContentError(f"'{member[:80]}' would leave the EPUB archive; refused", name)
    if re.match(r"^[A-Za-z]:", member):
        raise ContentError(f"'{member[:80]}' is an absolute Windows path; refused", name)
    if entry.flag_bits & 0x1:
        raise ContentError(f"'{member[:80]}' is encrypted; books must not be", name)
    if entry.file_size > limits.max_entry_bytes:
        raise ContentError(
            f"'{member[:80]}' unpacks to {entry.file_size:,} bytes; "
            f"at most {limits.max_entry_bytes:,} per file",
            name,
        )
    if entry.file_size > MIB and entry.file_size > limits.max_ratio * max(entry.compress_size, 1):
        raise ContentError(
            f"'{member[:80]}' is compressed more than {limits.max_ratio} times "
            "(a zip bomb?); refused",
            name,
        )


def _open(path: Path, name: str) -> epub.EpubBook:
    try:
        with warnings.catch_warnings():
            # ebooklib warns about its own future defaults; they change nothing read here.
            warnings.simplefilter("ignore")
            return epub.read_epub(str(path), {"ignore_ncx": False})
    except (epub.EpubException, KeyError, etree.LxmlError, ValueError) as exc:
        raise ContentError(f"not a readable EPUB book: {_reason(exc)}", name) from exc
    except (AttributeError, IndexError, TypeError, zipfile.BadZipFile) as exc:
        # ebooklib walks the OPF without checking its shape; a malformed one surfaces here.
        raise ContentError(f"not a readable EPUB book: malformed package ({exc})", name) from exc


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"a file it lists is missing ({exc.args[0] if exc.args else ''})"
    return str(getattr(exc, "msg", None) or exc)[:200]


def _metadata(book: epub.EpubBook, field_name: str) -> list[str]:
    values = book.get_metadata("DC", field_name) or []
    return [str(v[0]).strip() for v in values if v and v[0] and str(v[0]).strip()]


def chapter_key(item_id: str, taken: set[str]) -> str:
    """A stable lesson key from a spine item id, so progress survives a new edition."""
    base = re.sub(r"[^a-z0-9]+", "-", slugify(item_id)).strip("-")[:56] or "chapter"
    if not _KEY.fullmatch(base):
        base = "c-" + base
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


class _Converter:
    """Turns the opened book into chapters; keeps the maps chapters link through."""

    def __init__(self, book: epub.EpubBook, name: str, limits: Limits):
        self.book, self.name, self.limits = book, name, limits
        language = (_metadata(book, "language") or ["en"])[0]
        self.language = language
        primary = language.split("-")[0].lower()
        self.back_words = _BACK_WORDS.get(primary, _BACK_WORDS["en"])
        self.chapter_words = _CHAPTER_WORDS.get(primary, _CHAPTER_WORDS["en"])
        self.documents = self._spine_documents()
        self.keys: dict[str, str] = {}
        taken: set[str] = set()
        for item in self.documents:
            self.keys[item.file_name] = chapter_key(item.get_id() or item.file_name, taken)
        self.images = {
            item.file_name: item
            for item in book.get_items()
            if item.get_type() in (ebooklib.ITEM_IMAGE, ebooklib.ITEM_COVER)
        }
        self.toc_titles: dict[str, str] = {}
        self._walk_toc(book.toc)
        self.result = Book(
            title=(_metadata(book, "title") or [""])[0],
            authors=tuple(_metadata(book, "creator")),
            language=language,
            subjects=tuple(_metadata(book, "subject")),
            description=(_metadata(book, "description") or [""])[0],
            epub_version=str(getattr(book, "version", "") or ""),
            cover=None,
        )

    def _spine_documents(self) -> list[Any]:
        documents = []
        for entry in self.book.spine:
            idref = entry[0] if isinstance(entry, tuple) else entry
            item = self.book.get_item_with_id(idref)
            if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
                continue
            if isinstance(item, epub.EpubNav) or "nav" in (getattr(item, "properties", []) or []):
                continue
            documents.append(item)
        if not documents:
            raise ContentError("the EPUB has no chapters in its reading order (spine)", self.name)
        if len(documents) > self.limits.max_lessons:
            raise ContentError(
                f"{len(documents)} chapters; at most {self.limits.max_lessons}", self.name
            )
        return documents

    def _walk_toc(self, entries: Any) -> None:
        for entry in entries or ():
            if isinstance(entry, tuple) and len(entry) == 2:
                self._walk_toc([entry[0]])
                self._walk_toc(entry[1])
                continue
            href, title = getattr(entry, "href", None), getattr(entry, "title", None)
            if href and title:
                self.toc_titles.setdefault(str(href).split("#")[0], str(title).strip())

    def convert(self) -> Book:
        for item in self.documents:
            chapter = self._chapter(item, len(self.result.chapters) + 1)
            if chapter is not None:
                self.result.chapters.append(chapter)
        if not self.result.chapters:
            raise ContentError("the EPUB has no chapter with any text or picture", self.name)
        self.result.cover = self._cover()
        return self.result

    def flag(self, kind: str, chapter: str, detail: str) -> None:
        entry = (kind, chapter, detail[:300])
        if entry not in self.result.flags:
            self.result.flags.append(entry)

    def _chapter(self, item: Any, index: int) -> Chapter | None:
        """The chapter as a lesson; None for a page with nothing left to read (a cover
        page drawn in SVG, a blank separator), which would only be an empty lesson."""
        where = f"{self.name}: {item.file_name}"
        data = bytes(item.content or b"")
        if len(data) > self.limits.max_lesson_bytes:
            raise ContentError(
                f"chapter is {len(data):,} bytes; at most {self.limits.max_lesson_bytes:,} "
                "(split it in the EPUB)",
                where,
            )
        body = parse_chapter(data, where)
        key = self.keys[item.file_name]
        ChapterRewriter(self, item.file_name, key).rewrite(body)
        raw = "".join(inner_html(body))
        cleaned = sanitize_html(raw)
        if not has_content(cleaned.html):
            self.result.flags = [f for f in self.result.flags if f[1] != key]
            return None
        if cleaned.removed:
            self.flag("sanitized", key, "; ".join(cleaned.removed))
        title = self.toc_titles.get(item.file_name) or first_heading(cleaned.html)
        title = (title or self.chapter_words.format(n=index))[:120]
        sections = tuple(split_html_sections(cleaned.html, title))
        return Chapter(key, title, cleaned.html, sections, cleaned.removed)

    def image_path(self, chapter_file: str, src: str, key: str) -> str | None:
        """The package address of an image a chapter shows, or None (and a flag) if not."""
        if is_external(src) or src.startswith("data:"):
            self.flag("remote-image", key, src[:200])
            return None
        target = posixpath.normpath(posixpath.join(posixpath.dirname(chapter_file), unquote(src)))
        return self.take_image(target, key)

    def take_image(self, file_name: str, key: str) -> str | None:
        item = self.images.get(file_name)
        if item is None:
            self.flag("missing-image", key, file_name)
            return None
        package_path = "media/book/" + "/".join(quote(p, safe="") for p in file_name.split("/"))
        package_path = re.sub(r"%", "_", package_path)
        if package_path in self.result.images:
            return self.result.images[package_path].package_path
        data = bytes(item.content or b"")
        file_type = file_type_for(file_name)
        family = sniff_family(data[:4096])
        if (
            file_type is None
            or file_type.role != "image"
            or file_type.media_type == "image/svg+xml"
            or disallowed_kind(data[:4096])
            or family not in file_type.families
        ):
            self.flag("dropped-image", key, f"{file_name}: not a PNG, JPEG, GIF or WebP picture")
            return None
        self.result.images[package_path] = BookImage(package_path, data, file_type.media_type)
        return package_path

    def chapter_link(self, chapter_file: str, href: str) -> str | None:
        path, _, fragment = href.partition("#")
        if not path:
            return f"#{anchor_for(fragment)}" if fragment else None
        target = posixpath.normpath(posixpath.join(posixpath.dirname(chapter_file), unquote(path)))
        key = self.keys.get(target)
        if key is None:
            return None
        return f"lessons/{key}.html" + (f"#{anchor_for(fragment)}" if fragment else "")

    def _cover(self) -> str | None:
        cover_id = None
        for _value, attrs in self.book.get_metadata("OPF", "meta") or []:
            if (attrs or {}).get("name") == "cover":  # EPUB 2: <meta name="cover">
                cover_id = attrs.get("content") or cover_id
        candidates = [i for i in self.book.get_items() if i.get_type() == ebooklib.ITEM_COVER]
        if cover_id:
            item = self.book.get_item_with_id(cover_id)
            if item is not None:
                candidates.insert(0, item)
        for item in candidates:
            if item.file_name in self.images:
                path = self.take_image(item.file_name, "")
                if path:
                    return path
        return None
