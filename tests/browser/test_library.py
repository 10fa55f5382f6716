"""The Library and the book reader in Chromium: covers by language, a chapter with its
footnote (there and back), its picture, the text size, and the place a learner stopped,
kept on the server and restored, even after the text size changed.

The facility publishes two books of its own (English and Spanish), built from EPUB files
the test writes, through the signed path the demo courses take.
"""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.books import EpubChapter, EpubSpec, default_chapters, write_epub
from tests.browser.conftest import axe_report, courses_served, sign_in_learner, watch

pytestmark = pytest.mark.browser

BOOK = "/learn/courses/org.stepstone.demo.river"
CHAPTER = BOOK + "/lessons/ch1"
BLOCKS = ", ".join(
    f".lesson-text {tag}"
    for tag in ["p", "h1", "h2", "h3", "h4", "li", "blockquote", "pre", "table", "img"]
)


def _book_folder(courses: Path, name: str, spec: EpubSpec) -> None:
    folder = courses / name
    folder.mkdir(parents=True)
    write_epub(folder / "book.epub", spec)
    (folder / "course.yaml").write_text(
        textwrap.dedent(
            f"""\
            id: org.stepstone.demo.{name}
            version: 1
            title: {spec.title}
            summary: A short book.
            category: education
            language: {spec.language}
            level: beginner
            estimated_hours: 1
            license: CC-BY-4.0
            book: book.epub
            reading_level: Grade 4
            """
        )
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("library")
    _book_folder(root / "courses", "river", EpubSpec())
    spanish = [EpubChapter("c1", "c1.xhtml", "Uno", "<h1>Uno</h1><p>Había una vez.</p>")]
    _book_folder(
        root / "courses",
        "rio",
        EpubSpec(title="El Río", language="es", subject="Novela", chapters=spanish),
    )
    with courses_served(root) as served:
        yield served


def saved_place(data: Path) -> float | None:
    with sqlite3.connect(data / "stepstone.db") as db:
        row = db.execute("SELECT position FROM lesson_progress WHERE lesson_key = 'ch1'").fetchone()
    return None if row is None else float(row[0])


def sends_a_place_past(block: int) -> Callable[[Response], bool]:
    """Matches the events request that carries a reading place beyond ``block``."""

    def matches(response: Response) -> bool:
        if not response.url.endswith("/api/events"):
            return False
        events = json.loads(response.request.post_data or "{}").get("events", [])
        return any(e["type"] == "progressed" and e["position"] > block for e in events)

    return matches


def first_block_on_screen(page: Page) -> int:
    """The reading place as learn.js counts it (the same blocks, in document order)."""
    return int(
        page.evaluate(
            """() => { const b = document.querySelectorAll(BLOCKS);
            for (let i = 0; i < b.length; i++) {
              if (b[i].getBoundingClientRect().bottom > 0) return i; }
            return 0; }""".replace("BLOCKS", repr(BLOCKS))
        )
    )


def test_the_library_shows_books_by_language_with_their_covers(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, _ = site
    context = browser.new_context(viewport={"width": 800, "height": 1000})
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    page.goto(base + "/library")
    expect(page.get_by_role("heading", name="Library", level=1)).to_be_visible()
    languages = page.locator("section h2[id^=lang-]")
    expect(languages).to_have_text(["Books in English", "Books in Español"])
    covers = page.locator("img.book-cover")
    expect(covers.first).to_be_visible()
    assert page.evaluate(
        "() => [...document.querySelectorAll('img.book-cover')].every(i => i.naturalWidth > 0)"
    )
    page.get_by_role("link", name="The River Road").first.click()
    expect(page.get_by_role("heading", name="The River Road", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="The Beginning", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="The Ending", exact=True)).to_be_visible()
    # The words of a chapter are found by search, like a lesson's.
    page.goto(base + "/search?q=met+the+sea")
    expect(page.locator("main").get_by_role("link", name=re.compile("The Ending"))).to_be_visible()

    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    state = context.storage_state()
    context.close()
    found = axe_report(browser, [base + "/library", base + BOOK, base + CHAPTER], state)
    assert found == {base + "/library": [], base + BOOK: [], base + CHAPTER: []}


def test_a_chapter_reads_with_footnotes_pictures_and_comes_back_to_the_place(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context(viewport={"width": 800, "height": 600})
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    page.goto(base + CHAPTER)
    article = page.locator("#lesson")
    expect(article).to_have_attribute("lang", "en")
    picture = article.get_by_role("img", name="A small boat on the river")
    expect(picture).to_be_visible()
    assert picture.evaluate("i => i.naturalWidth") > 0

    # The footnote: to the note, and back to the place in the text.
    page.locator("a.noteref").click()
    page.wait_for_url("**#fn1")
    expect(page.locator("#fn1")).to_be_in_viewport()
    page.get_by_role("link", name="\u21a9 Back to the text").click()
    page.wait_for_url("**#ref-fn1")
    expect(page.locator("#ref-fn1")).to_be_in_viewport()

    # With the largest text (the place is a paragraph, not pixels), scroll into the
    # chapter: the place is sent once the learner stops.
    page.get_by_role("button", name="Largest text").click()
    expect(page.locator("body")).to_have_class(re.compile(r"\btext-larger\b"), timeout=5_000)
    target = page.locator(".lesson-text p").nth(20)
    with page.expect_response(sends_a_place_past(15), timeout=15_000) as sent:
        target.evaluate("p => p.scrollIntoView({block: 'start'})")
    assert sent.value.ok
    place = saved_place(data)
    assert place is not None and place > 15

    # Away and back: the chapter opens at the same paragraph.
    page.goto(base + BOOK)
    page.goto(base + CHAPTER)
    assert first_block_on_screen(page) == place
    # A link to an anchor wins over the saved place.
    page.goto(base + CHAPTER + "#fn1")
    expect(page.locator("#fn1")).to_be_in_viewport()

    # A Spanish book is marked as Spanish.
    page.goto(base + "/learn/courses/org.stepstone.demo.rio/lessons/c1")
    expect(page.locator("#lesson")).to_have_attribute("lang", "es")

    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    context.close()


def test_default_chapters_have_enough_text_to_scroll() -> None:
    """The reader test scrolls to the 20th paragraph: keep the test book long enough."""
    assert default_chapters()[0].body.count("<p>") > 30
