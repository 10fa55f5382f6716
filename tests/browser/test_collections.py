"""A reference collection in Chromium: from the Library to a cleaned article with no
request leaving the server and no policy violation, title suggestions as the learner
types, and axe on the collection's pages."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import axe_report, courses_served, sign_in_learner, watch
from tests.zims import write_zim

pytestmark = pytest.mark.browser

SCIENCE = "/collections/org.stepstone.demo.science"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("collections")
    folder = root / "courses" / "science"
    folder.mkdir(parents=True)
    write_zim(folder / "science.zim")
    (folder / "about.md").write_text(
        "---\nkey: about\ntitle: About this collection\nkind: reading\n---\n\nScience.\n"
    )
    (folder / "course.yaml").write_text(
        textwrap.dedent(
            """\
            id: org.stepstone.demo.science
            version: 1
            title: Pocket Science
            summary: Short science articles.
            category: education
            language: en
            level: beginner
            estimated_hours: 1
            license: CC-BY-SA-4.0
            lessons: [about.md]
            collection: science.zim
            """
        )
    )
    with courses_served(root) as served:
        yield served


def test_a_learner_reads_a_cleaned_article_and_gets_suggestions(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, _ = site
    context = browser.new_context(viewport={"width": 800, "height": 1000})
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    page.goto(base + "/library")
    page.get_by_role("link", name="Pocket Science").click()
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    page.goto(base + SCIENCE + "/a/Trap")
    expect(page.get_by_role("heading", name="Trap page")).to_be_visible()
    expect(page.get_by_text("(https://evil.example/more)")).to_be_visible()
    assert page.evaluate("() => document.title").startswith("Trap")  # no script ran
    expect(page.get_by_role("img", name="A drop of water")).to_be_visible()
    assert page.evaluate("() => document.querySelector('main img').naturalWidth") > 0

    page.get_by_label("Search this collection").press_sequentially("volc")
    suggestion = page.locator("#collection-suggestions").get_by_role("link", name="Volcano")
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(page.get_by_role("heading", name="Volcano", level=1)).to_be_visible()

    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    state = context.storage_state()
    context.close()
    urls = [base + SCIENCE, base + SCIENCE + "/a/Trap", base + SCIENCE + "/search?q=rain"]
    assert axe_report(browser, urls, state) == {url: [] for url in urls}
