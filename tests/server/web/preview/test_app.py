"""The author's preview, over HTTP: every lesson kind as a tablet shows it, quizzes and
workbooks that answer but store nothing, lint's problems on the page, and a new reading
of the folder after each change."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.web import pdfviewer
from server.web.headers import CSP
from server.web.preview.app import create_preview_app
from server.web.preview.frame import CHANGES_URL
from server.web.templating import STATIC_DIR
from tests.books import PNG, write_epub
from tests.server.web.preview.folder import COURSE_ID, KINDS, lesson_url, write_preview_course

COURSE_URL = f"/learn/courses/{COURSE_ID}"
BANNER = "Preview — nothing is saved."


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_preview_course(tmp_path / "course")


@pytest.fixture
def client(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_preview_app(folder), base_url="http://127.0.0.1:8100") as client:
        yield client


def token(client: TestClient, path: str = COURSE_URL) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def media_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|data|poster)="(/media/[0-9a-f]{64}/[^"#?]+)', html)


def test_the_start_is_the_course_page_with_every_lesson(client: TestClient) -> None:
    page = client.get("/")
    assert page.url.path == COURSE_URL
    assert BANNER in page.text
    assert "Test course" in page.text
    for key in KINDS:
        assert f'href="{lesson_url(key)}"' in page.text
    assert "preview-problems" not in page.text  # this folder lints clean


@pytest.mark.parametrize(
    ("key", "shows"),
    [
        (
            "intro",
            [
                '<h1 id="welcome"><span data-s="1">Welcome</span></h1>',
                'alt="Fraction bars"',
                "callout-tip",
            ],
        ),
        ("video", ["<video", '<track kind="captions"', 'poster="/media/']),
        ("listen", ["<audio", "The talk, written out."]),
        ("sheet", ["?download=1", "Open the page"]),
        ("check", ["The sky is blue.", "Which one is a fraction?", "Check my answer"]),
        ("book", ["How?", "Which?", "Only you can read this.", "Nothing you write is stored"]),
    ],
)
def test_every_lesson_kind_is_drawn_by_the_learner_templates(
    client: TestClient, key: str, shows: list[str]
) -> None:
    page = client.get(lesson_url(key))
    assert page.status_code == 200
    assert f'data-kind="{KINDS[key]}"' in page.text
    for text in shows:
        assert text in page.text
    assert BANNER in page.text
    # With pdf.js installed or not (tests/server/web/test_pdf_lesson.py tells them apart).
    expected = pdfviewer.lesson_policy(STATIC_DIR) if KINDS[key] == "pdf" else CSP.PAGE
    assert page.headers["content-security-policy"] == expected.header
    assert "<script>" not in page.text and " style=" not in page.text
    for url in media_urls(page.text):
        assert client.get(url).status_code == 200, url


def test_course_files_come_with_their_type_range_and_media_policy(client: TestClient) -> None:
    video = client.get(lesson_url("video")).text
    webm = next(url for url in media_urls(video) if url.endswith(".webm"))
    part = client.get(webm, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206
    assert part.content == b"\x1a\x45\xdf\xa3"
    assert part.headers["content-type"] == "video/webm"
    assert part.headers["content-security-policy"] == CSP.MEDIA.header
    sheet = client.get(lesson_url("sheet")).text
    pdf = client.get(media_urls(sheet)[0])
    assert pdf.headers["content-security-policy"] == CSP.PDF_MEDIA.header
    # Only the files the package would hold: not course.yaml, not a made-up address.
    assert client.get("/media/" + "0" * 64 + "/course.yaml").status_code == 404


def test_a_quiz_answers_with_the_learners_feedback_and_keeps_the_try_in_memory(
    client: TestClient,
) -> None:
    url, csrf = lesson_url("check"), token(client, lesson_url("check"))
    checked = client.post(
        f"{url}/quiz", data={"csrf_token": csrf, "action": "check:pick", "q-pick": "1"}
    )
    assert "Not quite." in checked.text
    assert "That is a whole number." in checked.text  # the choice's own feedback
    submitted = client.post(
        f"{url}/quiz",
        data={
            "csrf_token": csrf,
            "action": "submit",
            "q-sky": "true",
            "q-pick": "0",  # sent again, righted: the checked answer stays as it was
            "q-both": ["0", "1"],
            "q-word": " Hello ",
        },
    )
    assert "Your score: 75%" in submitted.text  # 3 of 4: the checked answer stays locked
    assert "3 of 4 right — you passed" in submitted.text
    assert "On a clear day it is." in submitted.text
    course = client.get(COURSE_URL).text
    assert "1 of 6 lessons done" in course
    # A new run of the preview remembers nothing.
    assert "Your score" not in _fresh(client).get(url).text


def _fresh(client: TestClient) -> TestClient:
    app = client.app
    folder = app.state.preview.watcher.root  # type: ignore[attr-defined]
    return TestClient(create_preview_app(folder), base_url="http://127.0.0.1:8100")


def test_a_quiz_refuses_a_check_without_an_answer_as_on_a_tablet(client: TestClient) -> None:
    url = lesson_url("check")
    refused = client.post(
        f"{url}/quiz", data={"csrf_token": token(client, url), "action": "check:word"}
    )
    assert refused.status_code == 400
    assert "Choose or write an answer first." in refused.text


def test_a_workbook_is_filled_in_and_shown_back_but_never_stored(client: TestClient) -> None:
    url = lesson_url("book")
    saved = client.post(
        f"{url}/workbook",
        data={"csrf_token": token(client, url), "action": "save", "p-feel": "7", "p-list": "b"},
    )
    assert saved.status_code == 200
    assert "would now be saved as a draft" in saved.text
    assert re.search(r'value="7" checked', saved.text)
    assert re.search(r'value="b" checked', saved.text)
    assert not re.search(r"checked", client.get(url).text)  # nothing was kept
    sent = client.post(
        f"{url}/workbook",
        data={"csrf_token": token(client, url), "action": "submit", "p-feel": "3"},
    )
    assert "would now be sent to the teacher" in sent.text
    assert "Pages you sent" in sent.text and "3 / 10" in sent.text
    assert "Pages you sent" not in client.get(url).text


def test_a_reading_is_finished_by_its_button_or_by_the_page_script(client: TestClient) -> None:
    done = client.post(f"{lesson_url('intro')}/done", data={"csrf_token": token(client)})
    assert done.url.path == lesson_url("video")
    assert "Lesson done. Good work!" in done.text
    answer = client.post(
        "/api/events",
        json={
            "events": [{"id": "e1", "type": "completed", "course": COURSE_ID, "lesson": "listen"}]
        },
        headers={"X-CSRF-Token": token(client)},
    )
    assert answer.json()["accepted"] == ["e1"]
    assert "2 of 6 lessons done" in client.get(COURSE_URL).text
    stray = {"id": "e2", "type": "completed", "course": COURSE_ID, "lesson": "elsewhere"}
    answer = client.post(
        "/api/events", json={"events": [stray]}, headers={"X-CSRF-Token": token(client)}
    )
    assert answer.json()["rejected"] == {"e2": "unknown lesson"}
    not_json = client.post("/api/events", content=b"{", headers={"X-CSRF-Token": token(client)})
    assert not_json.status_code == 400
    assert not_json.json()["error"] == "The request is not valid JSON."


def test_forms_need_this_runs_token_and_this_site(client: TestClient) -> None:
    url = f"{lesson_url('intro')}/done"
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 403
    other_site = client.post(
        url, data={"csrf_token": token(client)}, headers={"Origin": "http://evil.example"}
    )
    assert other_site.status_code == 403
    assert client.post("/api/events", json={"events": []}).status_code == 403
    assert "0 of 6 lessons done" in client.get(COURSE_URL).text


def test_the_language_switch_shows_the_pages_in_spanish(client: TestClient) -> None:
    client.post("/language", data={"csrf_token": token(client), "language": "es", "next": "/"})
    page = client.get(lesson_url("check"))
    assert "Vista previa: no se guarda nada." in page.text
    assert "Comprobar mi respuesta" in page.text
    assert '<html lang="es">' in page.text


def test_a_spanish_course_opens_in_spanish(tmp_path: Path) -> None:
    folder = write_preview_course(tmp_path / "curso", language="es")
    with TestClient(create_preview_app(folder)) as client:
        assert "Vista previa: no se guarda nada." in client.get("/").text


def test_lint_problems_are_on_the_page_with_file_and_line_and_the_rest_still_shows(
    client: TestClient, folder: Path
) -> None:
    intro = folder / "lessons/01-intro.md"
    intro.write_text(intro.read_text() + "\n![A chart](../media/missing.png)\n")
    page = client.get(lesson_url("intro"))
    assert page.status_code == 200
    problems = page.text[page.text.index('id="preview-problems"') :]
    assert "<code>lessons/01-intro.md:18</code>" in problems
    assert "&#39;media/missing.png&#39; not found in the course folder" in problems
    assert "1 error must be fixed before the course can be built" in problems
    assert "Welcome" in page.text  # the lesson is shown all the same
    assert client.get(lesson_url("book")).status_code == 200


def test_a_folder_without_a_usable_course_yaml_shows_only_what_to_fix(
    client: TestClient, folder: Path
) -> None:
    (folder / "course.yaml").write_text("id: [unclosed\n")
    page = client.get("/")
    assert page.status_code == 200
    assert "The course cannot be shown yet" in page.text
    assert "<code>course.yaml" in page.text


def test_the_change_stamp_moves_when_a_file_is_saved_and_the_page_follows(
    client: TestClient, folder: Path
) -> None:
    before = client.get(CHANGES_URL).json()["stamp"]
    assert client.get(CHANGES_URL).json()["stamp"] == before  # nothing changed, nothing moves
    page = client.get(lesson_url("intro")).text
    assert f'data-preview-stamp="{before}"' in page
    intro = folder / "lessons/01-intro.md"
    intro.write_text(intro.read_text().replace("# Welcome", "# Welcome back"))
    after = client.get(CHANGES_URL).json()["stamp"]
    assert after != before
    assert "Welcome back" in client.get(lesson_url("intro")).text
    # A typo fixed: the same size, a new modification time.
    stat = intro.stat()
    intro.write_text(intro.read_text().replace("Take your time.", "Take your tide."))
    os.utime(intro, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert intro.stat().st_size == stat.st_size
    assert client.get(CHANGES_URL).json()["stamp"] != after
    assert "Take your tide." in client.get(lesson_url("intro")).text
    after = client.get(CHANGES_URL).json()["stamp"]
    (folder / "media/new.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert client.get(CHANGES_URL).json()["stamp"] != after  # an added file counts too
    settled = client.get(CHANGES_URL).json()["stamp"]
    (folder / ".notes.swp").write_text("an editor's scratch file")
    assert client.get(CHANGES_URL).json()["stamp"] == settled  # hidden files do not count


def test_a_lesson_that_is_not_in_the_course_is_the_learners_404(client: TestClient) -> None:
    page = client.get(lesson_url("nope"))
    assert page.status_code == 404
    assert "This lesson is not in the course." in page.text
    assert BANNER in page.text


def test_a_session_writes_nothing_into_the_course_folder(client: TestClient, folder: Path) -> None:
    before = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))
    test_a_quiz_answers_with_the_learners_feedback_and_keeps_the_try_in_memory(client)
    test_a_workbook_is_filled_in_and_shown_back_but_never_stored(client)
    after = sorted((p.relative_to(folder), p.stat().st_mtime_ns) for p in folder.rglob("*"))
    assert after == before


def test_switching_language_on_a_page_drawn_from_a_form_goes_back_to_the_lesson(
    client: TestClient,
) -> None:
    url = lesson_url("book")
    page = client.post(f"{url}/workbook", data={"csrf_token": token(client, url), "action": "save"})
    assert f'name="next" value="{url}/workbook"' in page.text
    switched = client.post(
        "/language",
        data={"csrf_token": token(client), "language": "es", "next": f"{url}/workbook"},
    )
    assert switched.status_code == 200
    assert switched.url.path == url
    assert "Vista previa: no se guarda nada." in switched.text


def test_a_course_file_swapped_for_a_link_is_not_sent(client: TestClient, folder: Path) -> None:
    picture = media_urls(client.get(lesson_url("intro")).text)[0]
    outside = folder.parent / "secret.png"
    outside.write_bytes(b"not for the browser")
    pic = folder / "media" / "pic.png"
    pic.unlink()
    pic.symlink_to(outside)
    assert client.get(picture).status_code == 404
    assert "media/pic.png" in client.get(lesson_url("intro")).text  # lint says why


def test_the_text_size_buttons_work_for_the_rest_of_the_preview(client: TestClient) -> None:
    url = lesson_url("intro")
    bigger = client.post(
        "/learn/text-size", data={"csrf_token": token(client, url), "size": "larger", "next": url}
    )
    assert bigger.url.path == url
    assert 'class="text-larger"' in bigger.text
    assert 'class="text-larger"' in client.get(lesson_url("check")).text


def test_an_unknown_address_or_method_is_the_learners_error_page(client: TestClient) -> None:
    page = client.get("/admin")
    assert page.status_code == 404
    assert "We could not find this page." in page.text and BANNER in page.text
    assert client.get(f"{lesson_url('intro')}/done").status_code == 405
    too_big = client.post(
        f"{lesson_url('intro')}/done",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert too_big.status_code == 413


def test_a_book_is_previewed_chapter_by_chapter_with_its_pictures(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    write_epub(folder / "book.epub")
    (folder / "course.yaml").write_text(
        "id: org.example.river\nversion: 1\ntitle: The River Road\nsummary: A book.\n"
        "category: education\nlanguage: en\nlevel: beginner\nestimated_hours: 1\n"
        "license: CC0\nbook: book.epub\n"
    )
    with TestClient(create_preview_app(folder), base_url="http://127.0.0.1:8100") as client:
        chapter = client.get("/learn/courses/org.example.river/lessons/ch1")
        assert chapter.status_code == 200
        assert 'alt="A small boat on the river"' in chapter.text
        [picture] = media_urls(chapter.text)
        image = client.get(picture)
        assert image.status_code == 200 and image.content == PNG
