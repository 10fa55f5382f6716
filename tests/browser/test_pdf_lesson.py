"""A PDF lesson in Chromium, drawn in the page by pdf.js (no built-in PDF viewer needed, as
on Android): canvas and text layer, page buttons and keys, zoom, the last page kept on the
server and shown again when the lesson is reopened.

The demo checklist has one page, so this facility publishes a small course of its own
whose PDF has two. Needs the viewer installed (`npm ci --prefix frontend`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from server.web import pdfviewer
from server.web.templating import STATIC_DIR
from tests.browser.conftest import AXE, courses_served, sign_in_learner, watch
from tests.content.conftest import COURSE as COURSE_YAML
from tests.content.conftest import write_course

pytestmark = pytest.mark.browser

COURSE = "/learn/courses/org.stepstone.demo.pdf-viewer"
LESSON = COURSE + "/lessons/sheet"
PAGE_TEXT = ("Ladder safety first", "Forklift rules second")


def two_page_pdf() -> bytes:
    """A PDF with one line of text on each of two pages (standard Helvetica, not
    embedded: pdf.js draws it from its own font data)."""
    contents = [f"BT /F1 28 Tf 72 700 Td ({text}) Tj ET".encode() for text in PAGE_TEXT]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 5 0 R] /Count 2 >>",
    ]
    for number, stream in zip((4, 6), contents, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            b" /Resources << /Font << /F1 7 0 R >> >> /Contents %d 0 R >>" % number
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not pdfviewer.installed(STATIC_DIR):
        pytest.fail("pdf.js is missing: npm ci --prefix frontend (bash .ci/run does it)")
    root = tmp_path_factory.mktemp("pdf")
    sheet = "---\nkey: sheet\ntitle: Two safety pages\nkind: pdf\nmedia: ../media/sheet.pdf\n"
    write_course(
        root / "courses" / "pdf-viewer",
        course={
            "id": "org.stepstone.demo.pdf-viewer",
            "lessons": [*COURSE_YAML["lessons"], "lessons/03-sheet.md"],
        },
        lessons={"lessons/03-sheet.md": sheet + "---\nTwo pages to read.\n"},
        files={"media/sheet.pdf": two_page_pdf()},
    )
    with courses_served(root) as served:
        yield served


def saved_page(data: Path) -> float | None:
    with sqlite3.connect(data / "stepstone.db") as db:
        row = db.execute(
            "SELECT position FROM lesson_progress WHERE lesson_key = 'sheet'"
        ).fetchone()
    return None if row is None else float(row[0])


def painted(page: Page) -> int:
    """How many pixels of the page's canvas are not white (text was drawn)."""
    return int(
        page.evaluate(
            """() => { const c = document.querySelector('#pdf-viewer canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < d.length; i += 4) { if (d[i] < 128) n++; }
            return n; }"""
        )
    )


def test_a_pdf_lesson_is_drawn_in_the_page_and_reopens_at_the_last_page(
    browser: Browser, site: tuple[str, Path]
) -> None:
    base, data = site
    context = browser.new_context(viewport={"width": 800, "height": 1100})
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    page.goto(base + LESSON)

    viewer = page.locator("#pdf-viewer")
    text = viewer.locator(".textLayer")
    status = viewer.get_by_role("status")
    expect(status).to_contain_text("Page 1 of 2", timeout=20_000)
    expect(text).to_contain_text("Ladder safety first", timeout=10_000)
    assert painted(page) > 200
    expect(viewer.get_by_text("This tablet cannot show the page here.")).to_be_hidden()
    expect(page.get_by_role("link", name="Download")).to_be_visible()
    previous = viewer.get_by_role("button", name="Previous page")
    expect(previous).to_be_disabled()

    # Next and previous, by tap and by key.
    viewer.get_by_role("button", name="Next page").click()
    expect(status).to_contain_text("Page 2 of 2")
    expect(text).to_contain_text("Forklift rules second")
    expect(viewer.get_by_role("button", name="Next page")).to_be_disabled()
    previous.click()
    expect(text).to_contain_text("Ladder safety first")
    # Staying on page 2 sends it to the server (once the learner stops leafing).
    with page.expect_response("**/api/events", timeout=10_000) as sent:
        viewer.locator(".pdf-stage").press("ArrowRight")
        expect(text).to_contain_text("Forklift rules second")
    assert sent.value.ok
    assert saved_page(data) == 2

    # Zoom: the page is drawn bigger, and the text layer follows it.
    canvas = viewer.locator("canvas")
    before = canvas.bounding_box()
    viewer.get_by_role("button", name="Zoom in").click()
    expect(status).to_contain_text("Zoom 125%")
    page.wait_for_function(
        "w => document.querySelector('#pdf-viewer canvas').getBoundingClientRect().width > w",
        arg=before["width"] * 1.2 if before else 0,
    )
    after = canvas.bounding_box()
    assert before is not None and after is not None
    layer = text.bounding_box()
    assert layer is not None and abs(layer["width"] - after["width"]) < 2

    # Reopening the lesson returns to the page the learner stayed on.
    page.goto(base + COURSE)
    page.goto(base + LESSON)
    expect(status).to_contain_text("Page 2 of 2", timeout=20_000)
    expect(text).to_contain_text("Forklift rules second")

    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    state = context.storage_state()
    context.close()
    assert drawn_page_problems(browser, base + LESSON, state) == []


def drawn_page_problems(browser: Browser, url: str, storage_state: Any) -> list[str]:
    """axe-core's serious and critical findings on `url` once pdf.js has drawn the page
    (the viewer's controls are hidden until then, so an earlier check would miss them)."""
    context = browser.new_context(bypass_csp=True, storage_state=storage_state)
    try:
        page = context.new_page()
        page.goto(url)
        expect(page.locator("#pdf-viewer .textLayer")).not_to_be_empty(timeout=20_000)
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        )
    finally:
        context.close()
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
