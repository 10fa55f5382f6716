"""The review page's contents: every text a learner will see, and what changed, item by
item, since the live version (checked through the real page an admin opens)."""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from content.format.pdftext import pdf_pages
from content.tuf import repository
from server.catalog import content_review, library, review_lessons
from server.catalog.library import CatalogHooks
from server.catalog.sync import content_store, sync_all
from server.core.db import Database
from server.core.settings import Settings
from server.people.accounts import Role
from tests.conftest import People, make_user, sign_in
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, trust_ngo
from tests.server.catalog.review_course import (
    COURSE_ID,
    PDF_PAGES,
    PDF_PAGES_V2,
    review_package,
)


@dataclass(frozen=True)
class Reviewed:
    """Version 1 live; version 2 waiting for review."""

    live: int
    pending: int


def _publish(base: Path, repo: Path, database: Database, settings: Settings, version: int) -> int:
    repository.add_packages(repo, [review_package(base, version)])
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.imported == [f"{COURSE_ID} v{version}"], report.message
    newest = database.query_one("SELECT max(id) FROM course_versions")
    assert newest is not None
    return int(newest[0])


@pytest.fixture
def reviewed(tmp_path: Path, database: Database, settings: Settings) -> Reviewed:
    repo = make_repo(tmp_path)
    trust_ngo(database, repo, auto_publish=False)
    live = _publish(tmp_path, repo, database, settings, 1)
    library.approve(database, CatalogHooks(), ADMIN, live)
    return Reviewed(live, _publish(tmp_path, repo, database, settings, 2))


def _page(client: TestClient, people: People, version_id: int) -> str:
    sign_in(client, people.admin)
    response = client.get(f"/admin/content/versions/{version_id}")
    assert response.status_code == 200
    return response.text


def _text(page: str) -> str:
    """The page's words as a reader meets them: tags dropped, entities decoded, spaces
    collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


LEARNER_TEXTS = [
    # the course's own texts
    "Money sense",
    "Plan and count your money.",
    "budget, coins",
    # reading: title, summary, text, callout (styled as learners get it), alt text
    "Money basics",
    "What money is for.",
    "A need is something you must have.",
    "Never share your PIN.",
    "A jar of coins on a table",
    # video: transcript and captions (voice tags and cue settings left out)
    "Ana counts her coins before she pays.",
    "Count the coins",
    "before you pay.",
    # PDF: its words by page, and the lesson's own text
    *PDF_PAGES,
    "Print this sheet and fill it in.",
    # quiz: every question kind, every choice, which is right, feedback, explanations
    "Which coin is worth the most?",
    "Right: A dime",
    "Wrong: A penny",
    "Ten cents.",
    "Dimes are small but worth more than pennies.",
    "Which are needs?",
    "Right: Rent",
    "Right: Food",
    "Wrong: A new phone",
    "Rent keeps a roof over you.",
    "Nice, not needed.",
    "Saving a little helps.",
    "Right answer: True",
    "Small savings add up.",
    "What do you call money you earn?",
    "income",
    "wages",
    "Income is money coming in.",
    "To pass: 75% or more.",
    # workbook: every prompt kind, who reads the answer, hints, labels, options
    "What is one money goal?",
    "Something small you can do this month.",
    "How much does money worry you?",
    "0 = Not at all · 10 = All the time",
    "Which habits do you have?",
    "I track spending",
    "I save each week",
]


def test_the_review_page_shows_every_text_a_learner_will_see(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    page = _page(client, people, reviewed.live)
    text = _text(page)
    missing = [t for t in LEARNER_TEXTS if t not in text]
    assert missing == []
    assert '<div class="callout callout-warning" role="note">' in page
    assert '<div class="lesson-text" lang="en">' in page  # the learner's styles apply
    # who reads each workbook answer, in words, prompt by prompt
    visibility = re.findall(r"Who can read the answer: (.+?) (?:Hint|Scale|I track|\d|Every)", text)
    assert visibility[:1] == ["the learner and their teacher"]
    assert "Who can read the answer: only the learner Scale" in text
    # the pictures and the video are read from the review's own (staff-only) files
    assert f'src="/admin/content/versions/{reviewed.live}/files/media/jar.png"' in page
    assert "Status Approved" in text and "approved ·" not in text


def test_pdf_text_is_read_once_and_kept(
    database: Database, settings: Settings, reviewed: Reviewed, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []

    def counted(data: bytes) -> tuple[str, ...]:
        read.append(len(data))
        return pdf_pages(data)

    monkeypatch.setattr(review_lessons, "pdf_pages", counted)
    store = content_store(settings)
    for version_id, pages in [
        (reviewed.live, PDF_PAGES),
        (reviewed.pending, PDF_PAGES_V2),
        (reviewed.live, PDF_PAGES),
        (reviewed.pending, PDF_PAGES_V2),
    ]:
        review = content_review.load_review(database, store, version_id)
        [sheet] = [lesson for lesson in review.lessons if lesson.kind == "pdf"]
        assert sheet.pdf is not None and sheet.pdf.pages == pages
    # the pending review compares both files; after that each is read from the table
    assert len(read) == 2
    assert len(database.query("SELECT sha256 FROM pdf_text")) == 2


def test_a_changed_quiz_shows_word_by_word_what_the_reviewer_must_check(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    page = _page(client, people, reviewed.pending)
    text = _text(page)
    assert "Changed: Check your money sense" in text
    diff = text[text.index("What changed in “Check your money sense”") :]
    diff = diff[: diff.index("What changed in", 10)]
    # the question: one word out, one in, the rest kept as context
    assert "Question 1 changed Which coin is worth the removed: most? added: least?" in diff
    # a choice renamed, and which choice is right swapped, in words (not colour alone)
    assert "Question 1, choice 2 changed A removed: penny added: cent" in diff
    assert (
        "Question 1, choice 1: right or wrong changed before: right answer → now: wrong answer"
        in diff
    )
    assert "before: wrong answer → now: right answer" in diff
    assert "Question 2" not in diff  # unchanged questions are not repeated
    assert '<del><span class="diff-cue">removed:</span> most?</del>' in page
    assert '<ins><span class="diff-cue">added:</span> least?</ins>' in page


def test_a_prompt_made_private_and_a_new_picture_are_shown(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    page = _page(client, people, reviewed.pending)
    text = _text(page)
    assert (
        "Prompt 1: who can read the answer changed before: the learner and their teacher"
        " → now: only the learner" in text
    )
    files = text[text.index("Files changed since the live version") : text.index("Decision")]
    assert files.startswith("Files changed since the live version File Live version 1 This version")
    assert "media/jar.png changed image/png · 64 Bytes" in files
    old, new = reviewed.live, reviewed.pending
    row = re.search(r"<tr><th scope=\"row\">media/jar.png.*?</tr>", page, re.S)
    assert row is not None
    assert [f"/admin/content/versions/{old}/", f"/admin/content/versions/{new}/"] == re.findall(
        r'<img class="review-image" src="(/admin/content/versions/\d+/)files/media/jar.png"',
        row.group(0),
    )
    # lessons and files that did not change are not listed as changes
    assert "Changed: At the shop" not in text
    assert "media/shop.webm" not in files


def test_a_new_pdf_at_the_same_path_shows_its_changed_words(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    text = _text(_page(client, people, reviewed.pending))
    assert "Changed: Budget sheet" in text
    sheet = text[text.index("What changed in “Budget sheet”") :]
    assert sheet.startswith(
        "What changed in “Budget sheet” Text of the PDF changed Budget worksheet: write"
        " your income Second page: list your removed: bills added: debts 2 other items"
    )


def test_long_unchanged_text_is_folded(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    text = _text(_page(client, people, reviewed.pending))
    diff = text[text.index("What changed in “Money basics”") :]
    diff = diff[: diff.index("What changed in", 10)]
    # the heading and 62 words before the change fold away; 8 words of context stay
    assert "Text changed … 65 words unchanged … word55 word56" in diff
    assert "word59 A want is removed: nice added: good to have. A jar of coins on a …" in diff
    assert "word54 " not in diff and "Never share" not in diff


def test_a_pending_version_cannot_be_retired_and_an_approved_one_can(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    pending = _page(client, people, reviewed.pending)
    assert f"/admin/content/versions/{reviewed.pending}/retire" not in pending
    assert "Waiting for review" in _text(pending)
    live = client.get(f"/admin/content/versions/{reviewed.live}").text
    assert f"/admin/content/versions/{reviewed.live}/retire" in live


def test_a_full_disk_does_not_keep_the_reviewer_from_the_pdf_text(
    database: Database, settings: Settings, reviewed: Reviewed, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full() -> Iterator[None]:
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise error

    monkeypatch.setattr(database, "write", full)
    review = content_review.load_review(database, content_store(settings), reviewed.pending)
    [sheet] = [lesson for lesson in review.lessons if lesson.kind == "pdf"]
    assert sheet.pdf is not None and sheet.pdf.pages == PDF_PAGES_V2
    assert database.query("SELECT * FROM pdf_text") == []  # read again next time


def test_a_spanish_speaking_reviewer_reads_the_changes_in_spanish(
    client: TestClient, database: Database, reviewed: Reviewed
) -> None:
    sign_in(client, make_user(database, Role.ADMIN, "jefa", language="es"))
    text = _text(client.get(f"/admin/content/versions/{reviewed.pending}").text)
    assert "Estado Espera revisión" in text
    assert "Pregunta 1, opción 2 cambiado A quitado: penny añadido: cent" in text
    assert "antes: el estudiante y su maestro → ahora: solo el estudiante" in text
    assert "Correcta: A cent" in text  # the course's own words stay as written


def test_changes_to_the_courses_own_texts_are_shown(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    text = _text(_page(client, people, reviewed.pending))
    course = text[text.index("What changed in the course's own texts") :]
    course = course[: course.index("What changed in", 10)]
    assert course.startswith("What changed in the course's own texts Summary changed")
    assert "removed: count your money. added: save." in course
    assert "Title" not in course and "Keywords" not in course  # the same in both


def test_a_new_cover_and_editions_are_shown_to_the_reviewer(
    client: TestClient, people: People, reviewed: Reviewed
) -> None:
    page = _page(client, people, reviewed.pending)
    text = _text(page)
    course = text[text.index("What changed in the course's own texts") :]
    course = course[: course.index("What changed in", 10)]
    assert "Cover picture (file and words for who cannot see it) new" in course
    assert "media/jar.png: A jar of coins" in course
    assert "Editions in other languages new added: es: org.example.review-es" in course
    # The picture itself, whole, with the words the learner's screen reader will say.
    assert re.search(
        rf'<dt>Cover picture</dt><dd><img class="review-image" src="/admin/content/versions/'
        rf'{reviewed.pending}/files/media/jar.png"',
        page,
    )
    assert "Words for who cannot see it: A jar of coins" in text


@pytest.mark.parametrize(
    ("where", "href"),
    [
        ("lessons/money-quiz.html#question-coins", "#lesson-money-quiz-q-coins"),
        ("lessons/goals.html#prompt-goal", "#lesson-goals-p-goal"),
        ("lessons/basics.html#needs-and-wants", "#lesson-basics"),
        ("lessons/basics.html", "#lesson-basics"),
        ("media/sheet.pdf#page=2", "/admin/content/versions/7/files/media/sheet.pdf#page=2"),
        ("media/a b.vtt#line=12", "/admin/content/versions/7/files/media/a%20b.vtt#line=12"),
        ("", ""),
    ],
)
def test_a_flag_links_to_its_place_on_the_page_or_in_its_file(where: str, href: str) -> None:
    assert content_review.flag_href(7, where) == href
