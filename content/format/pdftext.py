"""The words of a PDF lesson, page by page, for the people who review it.

A learner reads a PDF lesson as the publisher laid it out; the reviewer must be able to
read the same words on the review page without opening every file. The PDF came from a
package, so it is hostile input: reading stops at a page and a character limit, every
error of the parser means "no text" (never a failed page), and the parser's own
warnings about broken files are not ours to pass on.
"""

from __future__ import annotations

import io
import logging
import warnings
import zlib
from collections.abc import Iterator

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

MAX_PAGES = 300
MAX_PAGE_CHARS = 20_000
MAX_TOTAL_CHARS = 400_000

# What pypdf raises on a broken, hostile or encrypted file besides its own errors: it parses
# by indexing into objects the file describes, so a bad file surfaces as one of these. Two
# are pypdf's way of saying "this file needs what I do not have": DependencyError (a codec
# such as AES or JPEG 2000 that is not installed) and NotImplementedError (a stream filter
# or an encryption it does not implement) — for us, as for any other damage, unreadable.
BROKEN_PDF: tuple[type[BaseException], ...] = (
    PyPdfError,
    DependencyError,
    NotImplementedError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    zlib.error,
    OSError,
)


class PdfTextError(Exception):
    """The file could not be read as a PDF (it says why, for the reviewer)."""


def pdf_pages(data: bytes) -> tuple[str, ...]:
    """The text of each page (empty for a page of pictures only), cut at the limits."""
    # pypdf logs every repair it makes to a broken file; the reviewer sees the error.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return tuple(page_texts(PdfReader(io.BytesIO(data))))
        except BROKEN_PDF as exc:
            raise PdfTextError(f"{type(exc).__name__}: {exc}"[:300]) from exc


def page_texts(reader: PdfReader) -> Iterator[str]:
    """The tidied text of each page of an open PDF, within the page and character limits
    (the review page and the import's flags read the same words). The caller handles the
    parser's errors."""
    total = 0
    for page in reader.pages[:MAX_PAGES]:
        text = _tidy(page.extract_text() or "")[:MAX_PAGE_CHARS]
        total += len(text)
        yield text
        if total >= MAX_TOTAL_CHARS:
            return


def _tidy(text: str) -> str:
    """Lines without trailing blanks, at most one empty line in a row."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip()
