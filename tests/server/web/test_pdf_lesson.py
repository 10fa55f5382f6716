"""The PDF lesson page with and without pdf.js installed: the in-page viewer where it is,
the browser's own viewer and the links where it is not, each with its own policy. (The
viewer itself runs in Chromium: tests/browser/test_pdf_lesson.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.people.accounts import Role
from server.web import pdfviewer
from server.web.headers import CSP
from server.web.templating import STATIC_DIR
from tests.conftest import CSRF_RE, make_user, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

LESSON = "/learn/courses/org.stepstone.demo.workplace-safety/lessons/daily-safety-checklist"
MEDIA = re.compile(r"/media/[0-9a-f]{64}/safety-checklist\.pdf")


@pytest.fixture
def learner(client: TestClient, database: Database) -> TestClient:
    sign_in(client, make_user(database, Role.LEARNER, "A100", "Alex Learner"))
    return client


def viewer_installed(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    if installed and not pdfviewer.installed(STATIC_DIR):
        pytest.fail("pdf.js is missing: npm ci --prefix frontend (bash .ci/run does it)")
    monkeypatch.setattr(pdfviewer, "installed", lambda static_dir: installed)


def test_without_pdfjs_the_lesson_keeps_the_browsers_viewer_and_the_links(
    learner: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer_installed(monkeypatch, False)
    page = learner.get(LESSON)
    assert page.status_code == 200
    found = MEDIA.search(page.text)
    assert found
    media = found.group(0)
    assert f'<object class="pdf-frame" data="{media}" type="application/pdf"' in page.text
    assert f'href="{media}">Open the page</a>' in page.text
    assert f'href="{media}?download=1">Download</a>' in page.text
    assert "pdf-viewer" not in page.text and "vendor/pdfjs" not in page.text
    assert page.headers["content-security-policy"] == CSP.PDF_LESSON.header
    download = learner.get(media + "?download=1")
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.content.startswith(b"%PDF")


def test_with_pdfjs_the_page_draws_it_and_starts_at_the_last_page(
    learner: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer_installed(monkeypatch, True)
    page = learner.get(LESSON)
    found = MEDIA.search(page.text)
    assert found
    media = found.group(0)
    assert f'data-src="{media}"' in page.text
    assert 'data-start-page="0"' in page.text
    assert re.search(r'<script type="module" src="/static/js/pdf-lesson\.js\?v=\w+">', page.text)
    assert re.search(r'data-worker="/static/vendor/pdfjs/pdf\.worker\.min\.mjs\?v=\w+"', page.text)
    assert "<object" not in page.text
    assert f'href="{media}?download=1">Download</a>' in page.text
    # Nothing is embedded any more: the page keeps the strictest policy.
    assert page.headers["content-security-policy"] == CSP.PAGE.header
    assert "object-src 'none'" in page.headers["content-security-policy"]

    # The viewer reports the page as a position; the page then opens there.
    match = CSRF_RE.search(page.text)
    assert match
    event = {
        "id": "pdf-page-event-1",
        "type": "progressed",
        "course": "org.stepstone.demo.workplace-safety",
        "lesson": "daily-safety-checklist",
        "position": 3,
        "duration": 4,
    }
    sent = learner.post(
        "/api/events", json={"events": [event]}, headers={"X-CSRF-Token": match.group(1)}
    )
    assert sent.status_code == 200 and sent.json()["accepted"] == ["pdf-page-event-1"]
    assert 'data-start-page="3"' in learner.get(LESSON).text


def test_the_viewer_files_are_served_as_modules_from_this_server(client: TestClient) -> None:
    if not pdfviewer.installed(STATIC_DIR):
        pytest.fail("pdf.js is missing: npm ci --prefix frontend (bash .ci/run does it)")
    for name in ("pdf.min.mjs", "pdf.worker.min.mjs"):
        response = client.get(f"/static/vendor/pdfjs/{name}")
        assert response.status_code == 200
        # A browser runs a module script only when it comes as JavaScript.
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in {"text/javascript", "application/javascript"}
    css = client.get("/static/vendor/pdfjs/text_layer.css")
    assert ".textLayer" in css.text and ".annotationLayer" not in css.text


def test_the_viewer_counts_as_installed_only_with_every_file_it_loads(tmp_path: Path) -> None:
    vendor = tmp_path / pdfviewer.VENDOR
    vendor.mkdir(parents=True)
    for name in pdfviewer.FILES:
        assert not pdfviewer.installed(tmp_path)
        (vendor / name).write_text("x")
    assert pdfviewer.installed(tmp_path)
    assert pdfviewer.lesson_policy(tmp_path) is CSP.PAGE
    (vendor / pdfviewer.FILES[1]).unlink()
    assert pdfviewer.lesson_policy(tmp_path) is CSP.PDF_LESSON
