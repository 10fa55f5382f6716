"""What a new learner meets around the lessons: news from their teacher on the home page,
the first PIN change, privacy marks without emoji, media by their real length, and
Spanish pages in "tú"."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from content.format.lessondata import QuizChoice
from server.core.db import Database
from server.core.settings import Settings
from server.learning import access, assignments, quizzes, visibility, workbooks
from server.learning.access import Scope
from server.people import accounts
from server.people.accounts import Role
from server.people.audit import Actor
from server.teaching import workbook_review
from tests.conftest import CSRF_RE, FakeClock, People, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"
TRAPS = "org.stepstone.demo.thinking-traps"
MATH = "org.stepstone.demo.everyday-math"


def _send_workbook_page(
    client: TestClient, database: Database, settings: Settings, learner: accounts.User, key: str
) -> int:
    version = access.visible_course(database, settings, learner, TRAPS).version_id
    lesson = next(x for x in visibility.lessons_of(database, version) if x.key == key)
    shared = next(
        p for p in workbooks.prompts_of(lesson) if p.visibility == "educator" and p.type == "text"
    )
    path = f"/learn/courses/{TRAPS}/lessons/{key}"
    token = CSRF_RE.search(client.get(path).text)
    assert token
    sent = client.post(
        path + "/workbook",
        data={
            "csrf_token": token.group(1),
            "event_id": f"send-{key}"[:64],
            "action": "submit",
            shared.field_name: "I could ask first",
        },
    )
    assert sent.status_code == 200, re.findall(r'class="error"[^<]*<p>[^<]*', sent.text)
    row = database.query_one(
        "SELECT id FROM workbook_entries WHERE lesson_key = ? AND status = 'submitted'", [key]
    )
    assert row is not None
    return int(row["id"])


def test_home_shows_a_teachers_reply_and_a_new_course_then_lets_them_age(
    client: TestClient,
    people: People,
    database: Database,
    settings: Settings,
    fake_clock: FakeClock,
) -> None:
    sign_in(client, people.learner)
    home = client.get("/learn").text
    assert "New for you" not in home
    entry = _send_workbook_page(client, database, settings, people.learner, "catch-your-thoughts")
    workbook_review.give_feedback(
        database, Scope.whole_facility(), Actor(people.educator.id, "teacher"), entry, "Good."
    )
    assignments.assign(
        database, Actor(people.educator.id, "teacher"), SAFETY, learners=[people.learner.id]
    )
    home = client.get("/learn").text
    news = home[home.index('id="news-heading"') : home.index("</section>", home.index("news"))]
    assert re.search(r"Your teacher wrote back on\s*<a href=\"[^\"]*catch-your-thoughts", news)
    assert re.search(r"gave you a new course:\s*<a href=\"/learn/courses/" + SAFETY, news)
    # Two weeks later it is no longer news (the course stays under "From your teacher").
    fake_clock.advance(15 * 86400)
    sign_in(client, people.learner)
    home = client.get("/learn").text
    assert "New for you" not in home and "Workplace Safety" in home


def test_first_pin_change_has_no_bouncing_links_and_says_what_was_saved(
    client: TestClient, people: People, database: Database
) -> None:
    user, one_time = accounts.create_user(
        database, Actor.system("test"), Role.LEARNER, "C300", "Cal New", "en"
    )
    signed = client.post(
        "/signin",
        data={"facility_id": "C300", "pin": one_time, "csrf_token": _token(client, "/signin")},
    )
    assert signed.url.path == "/account/secret"
    # Every other page would send them back here: the menu is not offered yet.
    assert 'href="/learn/catalog"' not in signed.text and "Sign out" in signed.text
    changed = client.post(
        "/account/secret",
        data={
            "current": one_time,
            "new": "582039",
            "again": "582039",
            "csrf_token": _token(client, "/account/secret"),
        },
    )
    assert changed.url.path == "/learn"
    assert "Your new PIN is saved. Use it next time you sign in." in changed.text
    assert 'href="/learn/catalog"' in changed.text
    assert user.id


def _token(client: TestClient, path: str) -> str:
    found = CSRF_RE.search(client.get(path).text)
    assert found
    return found.group(1)


def test_privacy_marks_are_icons_with_words_not_emoji(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    page = client.get(f"/learn/courses/{TRAPS}/lessons/catch-your-thoughts").text
    css = client.get("/static/css/app.css").text
    for mark in ("Only you can read this.", "You and your teacher can read this."):
        assert re.search(
            r"<svg class=\"icon\"[^>]*aria-hidden=\"true\"[^<]*<path[^>]*/></svg>"
            + re.escape(mark),
            page,
        )
    assert not re.search("[\U0001f300-\U0001faff]", page + css)


def test_a_video_shows_its_real_length_not_the_authors_guess(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    path = f"/learn/courses/{SAFETY}/lessons/four-safety-habits"
    page = client.get(path).text
    meta = page[page.index('<p class="meta">') : page.index("</p>", page.index('<p class="meta">'))]
    assert "minute" not in meta and 'id="media-length"' in meta
    token = _token(client, "/learn")
    client.post(
        "/api/events",
        json={
            "events": [
                {
                    "id": "watch-0001",
                    "type": "progressed",
                    "course": SAFETY,
                    "lesson": "four-safety-habits",
                    "position": 5,
                    "duration": 22.4,
                    "watched": [[0, 5]],
                }
            ]
        },
        headers={"X-CSRF-Token": token},
    )
    course = client.get(f"/learn/courses/{SAFETY}").text
    item = course[course.index("four-safety-habits") :]
    assert "Length 0:22" in item[: item.index("</li>")]
    assert "Length 0:22" in client.get(path).text


def test_spanish_learner_reads_pin_and_tu(client: TestClient, people: People) -> None:
    sign_in(client, people.other_learner)
    page = client.get("/account/secret").text
    assert "PIN" in page and "clave" not in page.lower()
    for bad in ("Elija", "usted", " su "):
        assert bad not in client.get("/learn").text


def test_quiz_feedback_is_said_once_and_results_count_right_answers() -> None:
    same = "Yes. Let your legs do the work."
    question = quizzes.Question(
        key="lift",
        type="single",
        prompt="How do you lift?",
        choices=(QuizChoice("With your legs", True, same), QuizChoice("With your back", False, "")),
        answer=None,
        accepted=(),
        explanation=same,
    )
    assert quizzes.feedback_for(question, 0) == [same]
    assert quizzes.feedback_for(question, 1) == [same]
    quiz = quizzes.Quiz(pass_mark=50, immediate=False, assessment=None, questions=[question])
    assert quizzes.right_count(quiz, {"lift": 0}) == 1
    assert quizzes.right_count(quiz, {"lift": 1}) == 0


def test_save_for_later_says_what_was_saved(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    path = f"/learn/courses/{TRAPS}/lessons/catch-your-thoughts"
    saved = client.post(
        path + "/workbook",
        data={"csrf_token": _token(client, path), "event_id": "save-000001", "action": "save"},
    )
    assert saved.url.path == path
    assert "Your page is saved. You can finish it later." in saved.text
