"""Interactive apps: the files of an ``html5`` lesson and what they may be.

An app is a folder of someone else's code (an ``index.html`` entry, JavaScript, CSS,
images, fonts, audio). Unlike a lesson's Markdown it is not sanitized: it runs as it is,
but only inside the sandbox (a separate origin, an iframe ``sandbox`` and a sandboxing
Content-Security-Policy that lets it load nothing but its own files). So the rules here
are about shape, not content: every file is of an allowed type and is what its name says
(no executables or archives, whatever the name), the folder stays within its limits,
the entry exists, every file the pages and style sheets refer to is there, and every
address that reaches outside the app is found and named, for the linter and the
reviewer. The same rules run when a package is built and again when it is imported.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from content.format.mediatypes import EXTENSIONS, disallowed_kind, sniff_family, suffix_of

APP_ENTRY = "index.html"
APP_ROOT = "apps"

# Files an app may hold besides the course's own media types, by extension.
_CODE_TYPES = {
    ".html": "text/html",
    ".htm": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".txt": "text/plain",
    ".xml": "application/xml",
}
_FONT_TYPES = {
    ".woff": ("font/woff", (b"wOFF",)),
    ".woff2": ("font/woff2", (b"wOF2",)),
    ".ttf": ("font/ttf", (b"\x00\x01\x00\x00", b"true")),
    ".otf": ("font/otf", (b"OTTO",)),
}
_TEXT_HEAD = 4096
# Addresses that leave the app: another host (with or without a scheme) or a scheme that
# is not a file of the app. data: and blob: stay inside the page; '#' is the page itself.
_OUTSIDE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
_INSIDE_SCHEMES = ("data:", "blob:", "javascript:", "about:", "#")
_URL_IN_TEXT = re.compile(r"""(?:https?|wss?|ftp)://[^\s"'`<>()\\]{1,200}""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)|@import\s+(['"])([^'"]+)\3""")
# Names that look like addresses but are never fetched: XML namespaces, schema locations
# and a document type's identifier. Blanked (keeping line breaks) before text is searched.
_NOT_FETCHED = re.compile(
    r"""(?:xmlns(?::[\w.-]+)?|[\w.-]+:schemaLocation)\s*=\s*("[^"]*"|'[^']*')|<!DOCTYPE[^>]*>""",
    re.IGNORECASE,
)
_SCANNED = frozenset({".html", ".htm", ".css", ".js", ".mjs", ".json", ".xml", ".svg"})
_MARKUP = frozenset({".html", ".htm", ".css"})  # read for addresses written in part too
# A compiled search finds these three bytes twice as fast as ``in`` (thousands of scripts).
_FULL_ADDRESS = re.compile(rb"://")
_REF_ATTRIBUTES = frozenset({"src", "href", "poster", "data", "action", "formaction"})


def app_entry(kind: str) -> str:
    """The file an app of this lesson kind starts from (a SCORM package: its manifest)."""
    return {"scorm": "imsmanifest.xml", "h5p": "h5p.json"}.get(kind, APP_ENTRY)


def package_app_root(lesson_key: str) -> str:
    """Where an html5 lesson's app lives in the package: ``apps/<key>/``."""
    return f"{APP_ROOT}/{lesson_key}/"


def app_media_type(name: str) -> str | None:
    """The media type an app file of this name is served with, or ``None`` (not allowed)."""
    suffix = suffix_of(name)
    if suffix in _CODE_TYPES:
        return _CODE_TYPES[suffix]
    if suffix in _FONT_TYPES:
        return _FONT_TYPES[suffix][0]
    known = EXTENSIONS.get(suffix)
    return known.media_type if known is not None else None


def allowed_suffixes() -> str:
    """The extensions an app may use, for messages."""
    return " ".join(sorted({*_CODE_TYPES, *_FONT_TYPES, *EXTENSIONS}))


def app_file_problem(name: str, head: bytes) -> str | None:
    """Why this app file (its name and first bytes) is refused, or ``None`` when it is fine.

    Code and text files must be text and not an executable or archive in disguise; fonts
    and media must start as their kind does.
    """
    suffix = suffix_of(name)
    media_type = app_media_type(name)
    if media_type is None:
        return (
            f"files of type '{suffix or name}' are not allowed in an app; "
            f"allowed: {allowed_suffixes()}"
        )
    bad = disallowed_kind(head)
    if bad and not (bad == "an HTML document" and suffix in (".html", ".htm", ".svg", ".xml")):
        return f"this file is {bad}; such files are not allowed in an app — remove it"
    if suffix in _CODE_TYPES or suffix == ".svg":
        if b"\x00" in head:
            return "this is a binary file, not text; remove it or rename it"
        return None
    if suffix in _FONT_TYPES:
        if not head.startswith(_FONT_TYPES[suffix][1]):
            return f"the name says a {suffix} font but the content is not one"
        return None
    family = sniff_family(head)
    if family not in EXTENSIONS[suffix].families:
        return f"the name says {suffix} but the content is not; export the file again"
    return None


@dataclass(frozen=True)
class Reference:
    """An address written in an app file, and where."""

    file: str  # path inside the app
    address: str
    line: int


def is_outside(address: str) -> bool:
    """True when the address leaves the app (another host, or a scheme not the app's)."""
    text = address.strip()
    if not text or text.lower().startswith(_INSIDE_SCHEMES):
        return False
    return _OUTSIDE.match(text) is not None


def resolve_in_app(file: str, address: str) -> str | None:
    """The app path an address written in ``file`` names, or ``None`` when it is not a
    file of the app (outside, a data: address, an anchor, or climbing out of the app)."""
    text = address.strip()
    if not text or is_outside(text) or text.lower().startswith(_INSIDE_SCHEMES):
        return None
    path = unquote(urlsplit(text).path)
    if not path or path.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(file), path))
    return None if joined.startswith("../") or joined in ("..", ".") else joined


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, int]] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_style = tag == "style"
        line = self.getpos()[0]
        for name, value in attrs:
            if value and name in _REF_ATTRIBUTES:
                self.found.append((value, line))
            elif value and name == "srcset":
                self.found += [(part.split()[0], line) for part in value.split(",") if part.split()]
            elif value and name == "style":
                self.found += [(ref, line) for ref in css_addresses(value)]

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.found += [(ref, self.getpos()[0]) for ref in css_addresses(data)]


def css_addresses(text: str) -> list[str]:
    """Addresses in a style sheet: ``url(...)`` and ``@import``."""
    return [m.group(2) or m.group(4) for m in _CSS_URL.finditer(text)]


def references(file: str, text: str) -> Iterator[Reference]:
    """Every address written in one app file: attributes and style of an HTML page,
    ``url()`` of a style sheet, and full addresses quoted in a script or data file."""
    suffix = suffix_of(file)
    if "://" not in text and suffix not in _MARKUP:
        return  # a script or data file names no full address: nothing to find
    lowered = text.lower()
    if "xmlns" in lowered or "schemalocation" in lowered or "<!doctype" in lowered:
        text = _NOT_FETCHED.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        if "://" not in text and suffix not in _MARKUP:
            return
    if suffix in (".html", ".htm"):
        parser = _References()
        parser.feed(text)
        parser.close()
        yield from (Reference(file, address, line) for address, line in parser.found)
        # Scripts inside the page may build addresses too: the full ones are findable.
        for match in _URL_IN_TEXT.finditer(text):
            yield Reference(file, match.group(0), text.count("\n", 0, match.start()) + 1)
    elif suffix == ".css":
        for match in _CSS_URL.finditer(text):
            address = match.group(2) or match.group(4)
            yield Reference(file, address, text.count("\n", 0, match.start()) + 1)
    elif suffix in (".js", ".mjs", ".json", ".xml", ".svg"):
        for match in _URL_IN_TEXT.finditer(text):
            yield Reference(file, match.group(0), text.count("\n", 0, match.start()) + 1)


def scans_references(name: str) -> bool:
    """Whether :func:`references` reads this kind of file."""
    return suffix_of(name) in _SCANNED


def may_reference(name: str, data: bytes) -> bool:
    """Whether :func:`references` can find anything in the file ``name`` holding ``data``,
    asked of the bytes before they are decoded: a script or data file names an address
    only in full (``://``; ASCII bytes stay themselves when decoded)."""
    return _FULL_ADDRESS.search(data) is not None or suffix_of(name) in _MARKUP


def decode_text(data: bytes) -> str:
    """An app's text file as text (apps are not always UTF-8; nothing here needs more)."""
    return data.decode("utf-8", errors="replace")


__all__ = [
    "APP_ENTRY",
    "APP_ROOT",
    "Reference",
    "allowed_suffixes",
    "app_entry",
    "app_file_problem",
    "app_media_type",
    "css_addresses",
    "decode_text",
    "is_outside",
    "package_app_root",
    "references",
    "resolve_in_app",
    "scans_references",
]
