"""Learners rate a course or lesson with faces; NGOs see counts, never a learner, and the
words learners searched in vain once enough of them did."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings
from server.learning import assignments, ratings
from server.people.accounts import Role
from server.people.audit import Actor
from server.teaching import impact
from tests.conftest import CSRF_RE, People, make_user, sign_in

pytestmark = pytest.mark.demo

SAFETY = "org.stepstone.demo.workplace-safety"
LESSON = "protective-gear"
LESSON_URL = f"/learn/courses/{SAFETY}/lessons/{LESSON}"


def _rate(client: TestClient, page: str, face: str, reasons: list[str], key: str) -> str:
    match = CSRF_RE.search(client.get(page).text)
    assert match
    response = client.post(
        f"/learn/courses/{SAFETY}/rate",
        data={"csrf_token": match.group(1), "lesson_key": key, "face": face, "reasons": reasons},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def test_a_learner_rates_a_finished_lesson_and_can_change_it(
    client: TestClient, people: People, database: Database
) -> None:
    with database.write() as db:
        assignments.assign_in(db, Actor.system("test"), SAFETY, user_id=people.learner.id)
    sign_in(client, people.learner)
    assert "How was this lesson for you?" not in client.get(LESSON_URL).text  # not done yet
    lesson = client.get(LESSON_URL).text
    done, event = CSRF_RE.search(lesson), re.search(r'name="event_id" value="([^"]+)"', lesson)
    assert done and event
    finished = client.post(
        LESSON_URL + "/done",
        data={"csrf_token": done.group(1), "event_id": event.group(1)},
        follow_redirects=False,
    )
    assert finished.status_code == 303, finished.text
    page = client.get(LESSON_URL).text
    assert "How was this lesson for you?" in page

    back = _rate(client, LESSON_URL, "hard", ["words", "long"], LESSON)
    assert back == LESSON_URL + "?notice=rated"
    assert "Thank you. Your answer helps" in client.get(back).text
    assert ratings.rating_of(database, people.learner.id, SAFETY, LESSON) == ratings.Rating(
        "hard", ("words", "long")
    )
    page = client.get(LESSON_URL).text
    assert 'value="hard" required checked' in page and 'value="words" checked' in page
    # Rating again replaces it; "good" keeps no hard parts.
    _rate(client, LESSON_URL, "good", ["words"], LESSON)
    assert ratings.rating_of(database, people.learner.id, SAFETY, LESSON) == ratings.Rating(
        "good", ()
    )
    # The course itself is rated from the course-finished page, and sent back there.
    finished_page = f"/learn/courses/{SAFETY}/finished"
    assert _rate(client, LESSON_URL, "okay", ["unclear"], "") == finished_page + "?notice=rated"
    assert ratings.rating_of(database, people.learner.id, SAFETY, "") == ratings.Rating(
        "okay", ("unclear",)
    )
    # Only the choices on the page are taken: nothing typed leaves this way.
    match = CSRF_RE.search(client.get(LESSON_URL).text)
    assert match
    refused = client.post(
        f"/learn/courses/{SAFETY}/rate",
        data={
            "csrf_token": match.group(1),
            "lesson_key": LESSON,
            "face": "hard",
            "reasons": ["my cellmate is mean"],
        },
    )
    assert refused.status_code == 400


def test_the_impact_report_shows_ratings_only_from_enough_learners(
    database: Database, settings: Settings
) -> None:
    learners = [make_user(database, Role.LEARNER, f"R{n:03d}", f"Rater {n}") for n in range(12)]
    for n, learner in enumerate(learners[:11]):
        face = "hard" if n < 3 else "good"
        ratings.rate(database, learner, SAFETY, "", face, ["quiz"] if n < 3 else [])
    report = impact.build(database, settings, "stepstone-demo")
    row = next(r for r in report["ratings"] if r["course_id"] == SAFETY)
    # 11 raters (>= 10): the good faces show; 3 hard faces and 3 "quiz" ticks do not.
    assert row["raters"] == 11
    assert row["course_faces"] == {"hard": None, "okay": None, "good": None}
    for learner in learners[3:]:
        ratings.rate(database, learner, SAFETY, "", "good", [])
    for learner in learners[:10]:
        ratings.rate(database, learner, SAFETY, LESSON, "hard", ["quiz"])
    row = next(
        r
        for r in impact.build(database, settings, "stepstone-demo")["ratings"]
        if r["course_id"] == SAFETY
    )
    assert row["course_faces"] == {"hard": None, "okay": None, "good": None}
    assert row["lesson_faces"]["hard"] == 10
    assert row["hard_parts"]["quiz"] == 10 + 3
    assert row["raters"] == 12
    text = json.dumps(report) + json.dumps(row)
    assert "R00" not in text and "Rater" not in text


def test_words_searched_in_vain_reach_the_report_once_enough_learners_searched(
    client: TestClient, database: Database, settings: Settings, people: People
) -> None:
    learners = [make_user(database, Role.LEARNER, f"S{n:03d}", f"Searcher {n}") for n in range(10)]
    for learner in learners[:9]:
        with TestClient(client.app, base_url="http://testserver") as tablet:
            sign_in(tablet, learner)
            page = tablet.get("/search", params={"q": "  Forklift LICENSE "})
            assert page.status_code == 200
            tablet.get("/search", params={"q": "forklift license"})  # once per learner
            tablet.get("/search", params={"q": "safety"})  # found: not kept
    sign_in(client, people.educator)
    client.get("/search", params={"q": "forklift license"})  # staff: not kept
    report = impact.build(database, settings, "stepstone-demo")
    assert report["unfound_searches"] == []  # 9 learners: fewer than the minimum of 10
    with TestClient(client.app, base_url="http://testserver") as tablet:
        sign_in(tablet, learners[9])
        tablet.get("/search", params={"q": "forklift license"})
    report = impact.build(database, settings, "stepstone-demo")
    assert report["unfound_searches"] == [{"words": "forklift license", "learners": 10}]
