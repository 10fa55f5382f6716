"""Reading EPUB 2 and 3 books into chapters, and refusing hostile ones."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from content.errors import ContentError
from content.format.epub import BookLimits, read_book
from content.format.limits import Limits
from tests.books import PNG, XHTML, EpubChapter, EpubSpec, write_epub


@pytest.mark.parametrize("version", [2, 3])
def test_a_book_gives_chapters_metadata_pictures_and_cover(tmp_path: Path, version: int) -> None:
    book = read_book(write_epub(tmp_path / "b.epub", EpubSpec(version=version)), "b.epub")
    assert (book.title, book.authors, book.language) == ("The River Road", ("Ana Example",), "en")
    assert book.subjects == ("Fiction",)
    assert [(c.key, c.title) for c in book.chapters] == [
        ("ch1", "The Beginning"),
        ("ch2", "The Ending"),
    ]
    assert book.cover == "media/book/images/cover.png"
    assert book.images["media/book/images/boat.png"].data == PNG
    first = book.chapters[0].html
    assert '<img src="media/book/images/boat.png" alt="A small boat on the river">' in first
    assert '<a href="lessons/ch2.html#end">the ending</a>' in first
    assert book.chapters[0].sections[0].heading == "The Beginning"
    assert "The river was wide." in book.chapters[0].sections[0].text  # for search
    assert book.flags == []


def test_a_footnote_links_to_its_note_and_back(tmp_path: Path) -> None:
    book = read_book(write_epub(tmp_path / "b.epub"), "b.epub")
    html = book.chapters[0].html
    assert '<a href="#fn1" id="ref-fn1" class="noteref">1</a>' in html
    assert '<div id="fn1" class="footnote" role="note">' in html
    assert '<a href="#ref-fn1">\u21a9 Back to the text</a>' in html


def test_a_spanish_book_says_back_in_spanish(tmp_path: Path) -> None:
    body = (
        "<p>Texto<a epub:type='noteref' href='#n'>1</a></p>"
        "<aside epub:type='footnote' id='n'>Nota</aside>"
    )
    spec = EpubSpec(language="es", chapters=[EpubChapter("c", "c.xhtml", "Uno", body)])
    book = read_book(write_epub(tmp_path / "b.epub", spec), "b.epub")
    assert "Volver al texto" in book.chapters[0].html


def test_script_remote_pictures_and_outside_links_are_dropped_and_flagged(tmp_path: Path) -> None:
    body = (
        "<h1>Bad</h1><script>alert(1)</script><p onclick='x()'>Hi</p>"
        "<p><img src='https://tracker.example/p.png' alt='spy'/></p>"
        "<p><a href='https://example.org/x'>site</a></p><iframe src='https://e.example'/>"
    )
    spec = EpubSpec(chapters=[EpubChapter("c1", "c1.xhtml", "Bad", body)])
    book = read_book(write_epub(tmp_path / "b.epub", spec), "b.epub")
    html = book.chapters[0].html
    for gone in ("script", "alert", "onclick", "tracker.example", "iframe", 'href="https'):
        assert gone not in html
    kinds = {kind for kind, _, _ in book.flags}
    assert {"sanitized", "remote-image", "external-link"} <= kinds
    sanitized = next(d for k, _, d in book.flags if k == "sanitized")
    assert "<script> element" in sanitized and "onclick attribute on <p>" in sanitized


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    raw = (
        '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>&c;</p></body></html>'
    )
    spec = EpubSpec(chapters=[EpubChapter("c1", "c1.xhtml", "Bomb", "", raw=raw)])
    with pytest.raises(ContentError, match="declares XML entities"):
        read_book(write_epub(tmp_path / "b.epub", spec), "b.epub")


def test_an_outside_file_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    raw = (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>&x;</p></body></html>'
    )
    spec = EpubSpec(chapters=[EpubChapter("c1", "c1.xhtml", "X", "", raw=raw)])
    with pytest.raises(ContentError, match="entities"):
        read_book(write_epub(tmp_path / "b.epub", spec), "b.epub")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub")
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("OEBPS/zeros.bin", b"\0" * (8 * 1024 * 1024))
    with pytest.raises(ContentError, match="zip bomb"):
        read_book(path, "b.epub")


@pytest.mark.parametrize("name", ["../evil.xhtml", "/etc/passwd", "OEBPS/../../x", "a\\b.txt"])
def test_paths_escaping_the_archive_are_refused(tmp_path: Path, name: str) -> None:
    path = write_epub(tmp_path / "b.epub", EpubSpec(extra={name: b"x"}))
    with pytest.raises(ContentError, match=r"leave the EPUB|refused"):
        read_book(path, "b.epub")


def test_limits_on_entries_and_sizes(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub")
    with pytest.raises(ContentError, match="files in the EPUB"):
        read_book(path, "b.epub", book_limits=BookLimits(max_entries=3))
    with pytest.raises(ContentError, match="unpacks to"):
        read_book(path, "b.epub", book_limits=BookLimits(max_total_bytes=100))


def test_a_huge_chapter_is_refused(tmp_path: Path) -> None:
    body = "<p>words words words</p>" * 2000
    spec = EpubSpec(chapters=[EpubChapter("c1", "c1.xhtml", "Long", body)])
    with pytest.raises(ContentError, match=r"chapter is .* bytes"):
        read_book(write_epub(tmp_path / "b.epub", spec), "b.epub", Limits(max_lesson_bytes=10_000))


@pytest.mark.parametrize(
    "data",
    [b"", b"not a zip", b"PK\x03\x04broken", None],
)
def test_a_broken_file_is_an_error_not_a_crash(tmp_path: Path, data: bytes | None) -> None:
    path = tmp_path / "b.epub"
    if data is None:  # a zip without container.xml
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("mimetype", "application/epub+zip")
    else:
        path.write_bytes(data)
    with pytest.raises(ContentError, match="EPUB"):
        read_book(path, "b.epub")


def test_a_picture_that_is_not_a_picture_is_dropped(tmp_path: Path) -> None:
    body = "<p><img src='images/boat.png' alt='boat'/></p>"
    spec = EpubSpec(
        chapters=[EpubChapter("c1", "c1.xhtml", "One", body)],
        images={"images/boat.png": b"<html><script>x</script></html>"},
        cover=None,
    )
    book = read_book(write_epub(tmp_path / "b.epub", spec), "b.epub")
    assert "img" not in book.chapters[0].html and "[boat]" in book.chapters[0].html
    assert [k for k, _, _ in book.flags] == ["dropped-image"]


def test_html_entities_of_epub_2_chapters_are_read(tmp_path: Path) -> None:
    raw = XHTML.format(title="T", body="<p>caf&eacute;&nbsp;ok</p>")
    spec = EpubSpec(version=2, chapters=[EpubChapter("c1", "c1.xhtml", "T", "", raw=raw)])
    book = read_book(write_epub(tmp_path / "b.epub", spec), "b.epub")
    assert "café" in book.chapters[0].html


def test_a_cover_page_with_nothing_to_read_is_not_a_chapter(tmp_path: Path) -> None:
    cover = "<svg xmlns='http://www.w3.org/2000/svg'><image href='images/cover.png'/></svg>"
    untitled = "<p>Words without a heading.</p>"
    spec = EpubSpec(
        language="es",
        chapters=[
            EpubChapter("cover", "cover.xhtml", "", cover),
            EpubChapter("c1", "c1.xhtml", "", untitled),
        ],
    )
    book = read_book(write_epub(tmp_path / "b.epub", spec), "b.epub")  # titles left empty
    assert [(c.key, c.title) for c in book.chapters] == [("c1", "Capítulo 1")]
    assert book.flags == []
