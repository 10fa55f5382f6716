"""The search page on the demo courses: what each person may find, and the helpful
answers to junk, misspellings and pulled courses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from search_index import SearchService
from server.catalog import library
from server.catalog.search import search_hooks
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.people.audit import Actor
from server.web.plumbing import Services
from tests.conftest import People, post, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

MATH = "org.stepstone.demo.everyday-math"


@pytest.fixture
def courses(database: Database) -> None:
    """The demo courses, published and live (`database` copied them in)."""
    live = database.query("SELECT course_id FROM courses WHERE live_version_id IS NOT NULL")
    assert MATH in {row[0] for row in live}


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """A client once the index is built (the server builds a missing one in the
    background at start-up and answers "being rebuilt" meanwhile)."""
    with TestClient(app, base_url="http://testserver") as client:
        assert ready(client)
        yield client


def search_service(client: TestClient) -> SearchService:
    """The search service of the app behind ``client``."""
    assert isinstance(client.app, Starlette)
    services: Services = client.app.state.services
    assert services.search is not None
    return services.search


def ready(client: TestClient) -> bool:
    service = search_service(client)
    return bool(service.wait_until_idle(60) and service.ready)


def hits(page: str) -> list[str]:
    return re.findall(r'<h2 class="result-title"><a href="([^"]+)"', page)


@pytest.mark.usefixtures("courses")
def test_learner_finds_lesson_sections_even_misspelt(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    page = client.get("/search?q=fractions").text
    links = hits(page)
    assert links and all(link.startswith("/learn/courses/") for link in links)
    assert any(MATH in link for link in links)
    assert "<mark>" in page
    misspelt = client.get("/search?q=fracton").text
    assert "fraction" in misspelt and ("Did you mean" in misspelt or "Showing results" in misspelt)
    assert "We could not search for that" in client.get("/search?q=%21%21%21").text
    assert client.get("/search?q=" + "x" * 5000).status_code == 200
    narrowed = client.get("/search?q=safety&category=vocational").text
    assert hits(narrowed) and "Job training" in narrowed


@pytest.mark.usefixtures("courses")
def test_pulled_and_unassigned_courses_are_never_found(
    client: TestClient, people: People, database: Database, settings: Settings
) -> None:
    sign_in(client, people.learner)
    assert any(MATH in link for link in hits(client.get("/search?q=fractions").text))
    row = database.query_one("SELECT id FROM courses WHERE course_id = ?", [MATH])
    assert row is not None
    library.pull_course(
        database, search_hooks(settings, database), Actor.system(), row["id"], "errors"
    )
    assert not any(MATH in link for link in hits(client.get("/search?q=fractions").text))


@pytest.mark.usefixtures("courses")
def test_assigned_only_learner_finds_only_assigned_courses(
    tmp_path: Path, people: People, database: Database
) -> None:
    from server.web.app import create_app

    strict = load_settings(
        environ={}, data_dir=database_dir(database), demo=True, learner_catalog="assigned"
    )
    with TestClient(create_app(strict), base_url="http://testserver") as client:
        assert ready(client)
        sign_in(client, people.learner)
        assert hits(client.get("/search?q=fractions").text) == []
        with database.write() as db:
            db.execute(
                "INSERT INTO assignments (course_id, user_id, created_at) VALUES (?, ?, 'now')",
                [MATH, people.learner.id],
            )
        assert hits(client.get("/search?q=fractions").text)


def database_dir(database: Database) -> Path:
    row = database.query_one("PRAGMA database_list")
    assert row is not None
    return Path(row[2]).parent


@pytest.mark.usefixtures("courses")
def test_a_page_past_the_end_shows_the_last_page(client: TestClient, people: People) -> None:
    sign_in(client, people.learner)
    first = client.get("/search?q=the").text
    last_page = int(re.findall(r"Page 1 of (\d+)", first)[0])
    assert last_page > 1
    for page in (last_page + 1, 100, 99_999):
        past = client.get(f"/search?q=the&page={page}").text
        assert hits(past), page
        assert f"Page {last_page} of {last_page}" in past
        back = re.findall(r'<a class="button secondary" href="([^"]+)">← Back', past)
        assert back == [f"/search?q=the&amp;page={last_page - 1}"]
        assert "Next" not in past
    before = client.get(f"/search?q=the&page={last_page - 1}").text
    assert hits(before) and f"Page {last_page - 1} of {last_page}" in before


def test_a_search_out_of_time_says_it_shows_the_quick_matches(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    note = "Showing the best matches found quickly"
    phrase = "/search?q=%22two+fractions%22"
    # With time to spare (the real budget is for speed, measured by bench/search.py: on a
    # loaded test machine even this small search can use it up), the page says nothing.
    search_service(client).budget = 60.0
    assert note not in client.get(phrase).text
    search_service(client).budget = 0.0  # every phrase check runs out of time at once
    assert note in client.get(phrase).text
    post(client, "/language", {"language": "es", "next": "/learn"})
    assert "Te mostramos las mejores coincidencias" in client.get(phrase).text
