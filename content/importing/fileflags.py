"""Review flags found in a package's files: PDF actions and text, captions carrying HTML,
and file names made to look like other files' names.

The import has already checked every file's type (``content.format.mediatypes``); what
is left is what a valid file may still do or say. Flags have the shape described in
``content.importing.flags``.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdf
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from content.format.pdftext import BROKEN_PDF, page_texts
from content.importing.flags import Flag, TextPlace, flag

# What a PDF action does, for the reviewer (PDF 2.0, 12.6.4). Other actions (go to a
# page, show or hide a field) stay inside the document.
PDF_ACTIONS = {
    "/JavaScript": "runs JavaScript",
    "/Launch": "starts a program or opens a file",
    "/URI": "opens a web address",
    "/SubmitForm": "sends form data to an address",
    "/ImportData": "reads data from another file",
    "/GoToR": "opens another PDF file",
    "/GoToE": "opens an embedded file",
}
# Bounds, so a hostile PDF costs a reviewer's server little: objects visited by the walk,
# pages whose text is read, bytes read by the raw fallback.
MAX_PDF_OBJECTS = 200_000
MAX_RAW_BYTES = 64 * 1024 * 1024
_RAW_ACTION = re.compile(
    rb"/(JavaScript|JS|Launch|URI|SubmitForm|ImportData|GoToR|GoToE|OpenAction)(?![A-Za-z0-9])"
)
_RAW_OVERLAP = 32
# Tags a WebVTT cue may hold (WebVTT, 4.2.2); anything else is HTML that a player would
# show as text at best.
_VTT_TAGS = frozenset({"c", "i", "b", "u", "v", "lang", "ruby", "rt"})
_TAG = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")


@dataclass
class PdfFindings:
    """What one PDF does (its actions) and says (the text of its pages)."""

    actions: list[tuple[str, str]] = field(default_factory=list)  # (where, what)
    pages: list[TextPlace] = field(default_factory=list)
    unreadable: str = ""


def pdf_flags(local: Path, path: str, lesson: str = "") -> tuple[list[Flag], list[TextPlace]]:
    """``pdf-action`` flags for a PDF in the package (used by ``lesson``), and the text of
    its pages."""
    findings = read_pdf(local, path, lesson)
    flags = [flag("pdf-action", lesson, where, what) for where, what in findings.actions]
    if findings.unreadable:
        flags.append(flag("pdf-action", lesson, path, findings.unreadable))
    return flags, findings.pages


def read_pdf(local: Path, path: str, lesson: str = "") -> PdfFindings:
    """Walk the PDF with pypdf; should it fail to parse, scan the raw bytes instead."""
    findings = PdfFindings()
    try:
        # pypdf warns about every small flaw it repairs; a flawed PDF is still read.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pypdf.PdfReader(local, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                raise PyPdfError("the PDF is encrypted")
            _PdfWalk(findings, path).run(reader)
            findings.pages = list(_page_texts(reader, path, lesson))
    except BROKEN_PDF as exc:
        findings.actions = [(path, what) for what in raw_pdf_actions(local)]
        findings.pages = []
        findings.unreadable = (
            f"could not be read to the end ({type(exc).__name__}); open it and look at it"
        )
    return findings


class _PdfWalk:
    """Visits every object reachable from each page and from the document catalog once."""

    def __init__(self, findings: PdfFindings, path: str):
        self.findings = findings
        self.path = path
        self.seen: set[tuple[int, int]] = set()
        self.visited = 0

    def run(self, reader: pypdf.PdfReader) -> None:
        for number, page in enumerate(reader.pages, start=1):
            self.visit(page, f"{self.path}#page={number}", "page")
        self.visit(reader.trailer["/Root"], self.path, "document")

    def visit(self, root: Any, where: str, context: str) -> None:
        stack: list[tuple[Any, str]] = [(root, context)]
        while stack:
            obj, ctx = stack.pop()
            if isinstance(obj, IndirectObject):
                ref = (obj.idnum, obj.generation)
                if ref in self.seen:
                    continue
                self.seen.add(ref)
                obj = obj.get_object()
            self.visited += 1
            if self.visited > MAX_PDF_OBJECTS:
                raise PyPdfError(f"more than {MAX_PDF_OBJECTS:,} objects")
            if isinstance(obj, DictionaryObject):
                self._action(obj, where, ctx)
                for key, value in obj.items():
                    if key != "/Parent":  # up the page tree: visited from the catalog
                        stack.append((value, _context(key, ctx)))
            elif isinstance(obj, ArrayObject):
                stack.extend((item, ctx) for item in obj)

    def _action(self, obj: DictionaryObject, where: str, context: str) -> None:
        kind = obj.get("/S")
        if isinstance(kind, NameObject) and str(kind) in PDF_ACTIONS:
            what = f"{PDF_ACTIONS[str(kind)]} ({str(kind)[1:]})"
            target = obj.get("/URI") if str(kind) == "/URI" else None
            if target is not None:
                what += f": {str(target)[:200]}"
            self._note(where, f"{context}: {what}")
        elif "/JS" in obj:
            self._note(where, f"{context}: {PDF_ACTIONS['/JavaScript']} (JS)")

    def _note(self, where: str, what: str) -> None:
        if (where, what) not in self.findings.actions:
            self.findings.actions.append((where, what))


def _context(key: str, context: str) -> str:
    # Where an action sits says when it runs: an open action runs as soon as the
    # document opens, an additional action (/AA) on an event, a link when tapped.
    names = {
        "/OpenAction": "when the document opens",
        "/AA": "on an event",
        "/Annots": "a link or field",
        "/AcroForm": "a form field",
        "/Names": "a document-level script",
    }
    return names.get(key, context)


def _page_texts(reader: pypdf.PdfReader, path: str, lesson: str) -> Iterator[TextPlace]:
    for number, text in enumerate(page_texts(reader), start=1):
        if text:
            yield TextPlace(lesson, f"{path}#page={number}", text)


def raw_pdf_actions(local: Path) -> list[str]:
    """Action names written in the file's bytes (the first :data:`MAX_RAW_BYTES`).

    For a PDF the parser could not read: it misses actions inside compressed object
    streams, so the flag also tells the reviewer the file could not be read.
    """
    found: list[str] = []
    tail = b""
    with local.open("rb") as stream:
        read = 0
        while read < MAX_RAW_BYTES:
            chunk = stream.read(1024 * 1024)
            if not chunk:
                break
            read += len(chunk)
            for match in _RAW_ACTION.finditer(tail + chunk):
                name = match.group(1).decode("ascii")
                if name not in found:
                    found.append(name)
            tail = chunk[-_RAW_OVERLAP:]
    return [f"the file names the action {name}" for name in found]


def caption_flags(local: Path, path: str, lesson: str = "") -> tuple[list[Flag], list[TextPlace]]:
    """``caption-html`` flags for HTML in a WebVTT file's cues (used by ``lesson``), and
    the cue text lines."""
    flags: list[Flag] = []
    places: list[TextPlace] = []
    text = local.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if number == 1 or "-->" in line or not line.strip():
            continue  # the WEBVTT header, timings and blank lines hold no cue text
        where = f"{path}#line={number}"
        tags = sorted({t.lower() for t in _TAG.findall(line)} - _VTT_TAGS)
        if tags:
            shown = ", ".join(f"<{t}>" for t in tags)
            flags.append(flag("caption-html", lesson, where, f"HTML in captions: {shown}"))
        places.append(TextPlace(lesson, where, line))
    return flags, places


# Letters from other scripts that look like Latin letters (Unicode's confusables.txt,
# the Cyrillic, Greek and Latin-extension entries that fonts draw the same), and digits
# that pass for letters.
_CONFUSABLE = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
        "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
        "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "ı": "i",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "μ": "u", "ϲ": "c", "ϳ": "j",
        "0": "o", "1": "l", "|": "l", "ǀ": "l",
    }
)  # fmt: skip
# Its ASCII part as a table for bytes, which translate a few times faster.
_ASCII_CONFUSABLE = bytes.maketrans(
    bytes(c for c in _CONFUSABLE if c < 128),
    bytes(ord(str(_CONFUSABLE[c])) for c in _CONFUSABLE if c < 128),
)


def skeleton(name: str) -> str:
    """What a name looks like: ``Rep0rt.pdf``, ``rеport.pdf`` (Cyrillic е) and
    ``report.pdf`` share one skeleton."""
    if name.isascii():
        # The usual name, and many times faster: NFKC and NFD change no ASCII, casefold
        # is lower, and the only invisible ASCII character is the space.
        text = name.lower().encode("ascii").translate(_ASCII_CONFUSABLE, b" ").decode("ascii")
        return text.replace("rn", "m").replace("vv", "w")
    text = unicodedata.normalize("NFKC", name).casefold()
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    text = text.translate(_CONFUSABLE)
    # Invisible characters change a name without changing how it looks.
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Zs"))
    return text.replace("rn", "m").replace("vv", "w")


def confusable_flags(paths: Iterable[str]) -> list[Flag]:
    """A ``confusable-name`` flag for each file whose name looks like an earlier one's."""
    first: dict[str, str] = {}
    flags: list[Flag] = []
    for path in sorted(paths):
        other = first.setdefault(skeleton(path), path)
        if other != path:
            flags.append(flag("confusable-name", "", path, f"'{path}' looks like '{other}'"))
    return flags
