"""The author's preview in Chromium: `stepstone package preview` as a real server, a
quiz answered, a lesson file edited on disk and the page reloading by itself, and a lint
error turning up on the page; an activity played in the sandbox and a writing task's
word count; nothing loaded from elsewhere, the policy never broken."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import axe_report, watch
from tests.live import free_port, running_process
from tests.server.web.preview.folder import (
    lesson_url,
    write_activity_course,
    write_preview_course,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def preview(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`stepstone package preview` of a new course folder; yields its URL and the folder."""
    yield from _preview(tmp_path, write_preview_course(tmp_path / "course"))


@pytest.fixture
def activities(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The preview of a course with activities and a writing task."""
    yield from _preview(tmp_path, write_activity_course(tmp_path / "course"))


def _preview(tmp_path: Path, folder: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    command = ["server", "package", "preview", str(folder), "--port", str(port)]
    with running_process(command, port, "/preview/changes", tmp_path / "preview.log") as base:
        yield base, folder


def test_an_author_previews_edits_and_sees_lint(
    browser: Browser, preview: tuple[str, Path]
) -> None:
    base, folder = preview
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page

    page.goto(base + "/")
    expect(page.get_by_text("Preview — nothing is saved.")).to_be_visible()
    expect(page.get_by_role("heading", name="Test course", exact=True)).to_be_visible()

    # A quiz, answered the way a learner answers it.
    page.goto(base + lesson_url("check"))
    question = page.locator("#question-pick")
    question.get_by_label("1/2", exact=True).check()
    question.get_by_role("button", name="Check my answer").click()
    expect(page.locator("#question-pick")).to_contain_text("Yes: one of two parts.")
    page.locator("#question-sky").get_by_label("True", exact=True).check()
    page.get_by_role("button", name="Finish the quiz").click()
    expect(page.get_by_role("heading", name="2 of 4 right — not passed yet")).to_be_visible()
    expect(page.get_by_text("Your score: 50%")).to_be_visible()
    expect(page.locator("#question-sky")).to_contain_text("On a clear day it is.")

    # The author saves a lesson file: the open page reloads with the new words.
    # Where the author was reading stays in view.
    page.set_viewport_size({"width": 800, "height": 400})
    page.goto(base + lesson_url("intro"))
    expect(page.get_by_role("heading", name="Welcome", exact=True)).to_be_visible()
    page.get_by_role("heading", name="Next steps").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 100)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0
    intro = folder / "lessons" / "01-intro.md"
    intro.write_text(intro.read_text().replace("# Welcome", "# Welcome to fractions"))
    expect(page.get_by_role("heading", name="Welcome to fractions")).to_be_attached(timeout=10_000)
    page.wait_for_load_state("load")  # the page script, which scrolls, has run
    assert abs(page.evaluate("window.scrollY") - scrolled) < 50

    # A mistake: the next reload lists it, with its file and line, above the lesson.
    intro.write_text(intro.read_text() + "\n![A chart](../media/chart.png)\n")
    problems = page.locator("#preview-problems")
    expect(problems).to_contain_text("lessons/01-intro.md:18", timeout=10_000)
    expect(problems).to_contain_text("'media/chart.png' not found in the course folder")
    expect(page.get_by_role("heading", name="Welcome to fractions")).to_be_attached()

    # In Spanish, too.
    page.get_by_role("button", name="Español").click()
    expect(page.get_by_text("Vista previa: no se guarda nada.")).to_be_visible()

    assert watched.csp_violations() == []
    assert watched.foreign_requests() == []
    context.close()

    found = axe_report(browser, [base + lesson_url("intro"), base + lesson_url("check")], None)
    assert found == {base + lesson_url("intro"): [], base + lesson_url("check"): []}


def test_an_activity_plays_in_the_sandbox_and_a_writing_task_counts_words(
    browser: Browser, activities: tuple[str, Path]
) -> None:
    base, _ = activities
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page

    page.goto(base + lesson_url("counter"))
    button = page.frame_locator("#app-frame").get_by_role("button", name="Count")
    with page.expect_response("**/api/events", timeout=10_000) as sent:
        for _ in range(3):
            button.click()
        expect(page.get_by_role("status").filter(has_text="Well done")).to_be_visible()
    assert sent.value.ok
    page.reload()
    expect(page.locator("#lesson-status")).to_have_text("Done")  # kept while it runs

    # A SCORM package: where it stopped is kept while the preview runs; its result shows.
    page.goto(base + lesson_url("signs"))
    sco = page.frame_locator("#app-frame")
    expect(sco.get_by_text("Page 1 (ab-initio)")).to_be_visible(timeout=10_000)
    with page.expect_response("**/api/events", timeout=10_000):
        sco.get_by_role("button", name="Next page").click()
    page.reload()
    expect(sco.get_by_text("Page 2 (resume)")).to_be_visible(timeout=10_000)
    sco.get_by_role("button", name="Finish").click()
    done = page.get_by_role("status").filter(has_text="Well done")
    expect(done).to_contain_text("Score: 80%", timeout=10_000)

    page.goto(base + lesson_url("letter"))
    page.get_by_label("Your answer").fill("I want to cook at the diner.")
    expect(page.locator("#word-count")).to_contain_text("7 words")

    assert watched.csp_violations() == []
    sandbox = base.replace("127.0.0.1", "localhost")
    assert [u for u in watched.foreign_requests() if not u.startswith(sandbox)] == []
    context.close()

    pages = [base + lesson_url("counter"), base + lesson_url("letter")]
    assert axe_report(browser, pages, None) == {url: [] for url in pages}
