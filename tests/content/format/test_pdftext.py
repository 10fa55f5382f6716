"""Reading the words of a PDF lesson for its reviewer, from good and hostile files."""

from __future__ import annotations

import pytest

from content.format import pdftext
from content.format.pdftext import PdfTextError, pdf_pages
from tests.server.catalog.review_course import pdf_document


def test_each_page_gives_its_words() -> None:
    assert pdf_pages(pdf_document(("First page", "Second (page)"))) == (
        "First page",
        "Second (page)",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.4\n",
        b"not a pdf at all",
        pdf_document(("cut",))[:120],
        b"%PDF-1.4\n" + b"\xff" * 500,
    ],
)
def test_a_broken_file_is_an_error_not_a_crash(data: bytes) -> None:
    with pytest.raises(PdfTextError):
        pdf_pages(data)


def test_reading_stops_at_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdftext, "MAX_PAGES", 2)
    assert len(pdf_pages(pdf_document(("a", "b", "c")))) == 2
    monkeypatch.setattr(pdftext, "MAX_PAGE_CHARS", 4)
    assert pdf_pages(pdf_document(("abcdefgh",))) == ("abcd",)
