"""The collection article cleaner: outside links as text, inside links kept in the
collection, outside pictures and every active part removed."""

from __future__ import annotations

import pytest

from content.format.zimhtml import clean_article, inside_path
from tests.zims import HOSTILE


def link(path: str) -> str:
    return f"/collections/org.example.c/a/{path}"


@pytest.mark.parametrize(
    ("article", "address", "expected"),
    [
        ("A/Home", "Water", "A/Water"),
        ("A/Home", "../I/x.png", "I/x.png"),
        ("Home", "Water#Rain", "Water"),
        ("Home", "Water%20cycle", "Water cycle"),
        ("Home", "../../etc/passwd", None),
        ("Home", "https://example.org/x", None),
        ("Home", "//example.org/x", None),
        ("Home", "javascript:alert(1)", None),
        ("Home", "/Water", None),
        ("Home", "#top", None),
    ],
)
def test_addresses_inside_and_outside_the_collection(
    article: str, address: str, expected: str | None
) -> None:
    assert inside_path(article, address) == expected


def test_a_hostile_article_keeps_its_text_and_nothing_active() -> None:
    clean = clean_article(HOSTILE, "Trap", link)
    html = clean.html
    for gone in (
        "<script",
        "owned",
        "<iframe",
        "<form",
        "<input",
        "refresh",
        "onclick",
        "<link",
        "<style",
        "track.png",
        'href="https',
    ):
        assert gone not in html, gone
    assert "Trap page" in html and "Read about" in html
    assert '<a href="/collections/org.example.c/a/Water">the water cycle</a>' in html
    assert (
        '<span class="external-link">the outside site<span> (https://evil.example/more)'
        "</span></span>" in html
    )
    assert '<img src="/collections/org.example.c/a/I/drop.png" alt="A drop of water">' in html
    assert clean.title == "Trap"
    assert clean.found == {
        "script",
        "iframe",
        "form",
        "meta-refresh",
        "outside-image",
        "outside-link",
    }


def test_a_link_with_a_script_address_becomes_text_without_the_address() -> None:
    clean = clean_article('<p><a href="javascript:steal()">Click</a></p>', "Home", link)
    assert clean.html == '<p><span class="external-link">Click</span></p>'


def test_a_quoted_address_cannot_leave_the_rewritten_form() -> None:
    clean = clean_article('<a href="a&quot;b?c">x</a>', "Home", lambda p: link(p) + '"><b')
    assert 'href="' not in clean.html  # a rewritten address that is not one is dropped


def test_empty_or_unparseable_articles_give_nothing() -> None:
    assert clean_article("", "Home", link).html == ""
    assert clean_article(b"\x00\x00", "Home", link).found == frozenset()


def test_headings_sit_under_the_pages_own_title() -> None:
    article = clean_article(
        "<html><body><h1>Water</h1><p>Wet.</p><h2>Rain</h2><h6>Note</h6></body></html>",
        "Water",
        link,
    )
    assert "<h1" not in article.html
    assert "<h2>Water</h2>" in article.html and "<h3>Rain</h3>" in article.html
    assert "<h6>Note</h6>" in article.html
