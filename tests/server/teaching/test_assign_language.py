"""The assign form and learners' languages: each course's language is shown, a course in
another language than a learner's is named before it is given, and the same course's
edition in their language is offered."""

from __future__ import annotations

import html
import re

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.learning import assignments
from server.people import groups
from server.people.audit import Actor
from tests.conftest import People, csrf_from, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"
TRAPS = "org.stepstone.demo.thinking-traps"
TRAPS_ES = "org.stepstone.demo.thinking-traps-es"
SYSTEM = Actor.system("test")


@pytest.fixture
def mixed(database: Database, people: People) -> int:
    """A class the educator teaches, with an English and a Spanish reader."""
    group = groups.create_group(database, SYSTEM, "Unit M", "class")
    for user in (people.educator, people.learner, people.other_learner):
        groups.add_member(database, SYSTEM, group.id, user.id)
    return group.id


def _given(database: Database) -> set[tuple[str, int | None, int | None]]:
    rows = database.query("SELECT course_id, user_id, group_id FROM assignments")
    return {(r["course_id"], r["user_id"], r["group_id"]) for r in rows}


def _assign(client: TestClient, group: int, **fields: str | list[str]) -> str:
    page = f"/teach/groups/{group}"
    data = {"csrf_token": csrf_from(client, page), "note": "Start this week"} | fields
    response = client.post(page + "/assign", data=data)
    return response.text


def test_the_form_shows_each_courses_language_and_each_learners(
    client: TestClient, people: People, mixed: int
) -> None:
    sign_in(client, people.educator)
    page = client.get(f"/teach/groups/{mixed}").text
    assert re.search(rf'<option value="{TRAPS_ES}">[^<]* — Español</option>', page)
    assert re.search(rf'<option value="{SAFETY}">[^<]* — English</option>', page)
    assert re.search(
        r'Bea Learner</a> <span class="muted">[^<]*</span> <span class="tag" lang="es">Español',
        page,
    )


def test_a_course_in_another_language_is_named_before_it_is_given(
    client: TestClient, people: People, database: Database, mixed: int
) -> None:
    sign_in(client, people.educator)
    warned = _assign(client, mixed, course_id=TRAPS, due_date="2099-01-31")
    assert _given(database) == set()  # nothing yet
    box = warned[warned.index('id="language-warning"') :]
    box = box[: box.index("</div>")]
    assert "This course is in English." in box
    assert "1 learner reads Spanish: Bea Learner." in box
    title = database.query_one(
        "SELECT v.title FROM courses c JOIN course_versions v ON v.id = c.live_version_id"
        " WHERE c.course_id = ?",
        [TRAPS_ES],
    )
    assert title and f"The same course is in Spanish: {title[0]}." in html.unescape(box)
    assert 'value="editions"' in box and 'value="anyway"' in box
    # What the educator chose stays chosen.
    assert 'value="2099-01-31"' in warned and 'value="Start this week"' in warned
    # The edition in their language: each learner gets their own course, by name.
    _assign(client, mixed, course_id=TRAPS, due_date="2099-01-31", language_choice="editions")
    assert _given(database) == {
        (TRAPS, people.learner.id, None),
        (TRAPS_ES, people.other_learner.id, None),
    }
    due = database.query("SELECT DISTINCT due_date, note FROM assignments")
    assert [tuple(r) for r in due] == [("2099-01-31", "Start this week")]
    sign_in(client, people.other_learner)
    assert f"/learn/courses/{TRAPS_ES}" in client.get("/learn").text


def test_assign_anyway_gives_the_course_to_the_whole_group(
    client: TestClient, people: People, database: Database, mixed: int
) -> None:
    sign_in(client, people.educator)
    _assign(client, mixed, course_id=SAFETY, language_choice="anyway")
    assert _given(database) == {(SAFETY, None, mixed)}


def test_without_an_edition_only_assign_anyway_is_offered(
    client: TestClient, people: People, database: Database, mixed: int
) -> None:
    sign_in(client, people.educator)
    box = _assign(client, mixed, course_id=SAFETY)
    box = box[box.index('id="language-warning"') :]
    assert 'value="anyway"' in box[: box.index("</div>")]
    assert 'value="editions"' not in box[: box.index("</div>")]
    assert _given(database) == set()


def test_learners_ticked_in_their_own_language_are_not_warned(
    client: TestClient, people: People, database: Database, mixed: int
) -> None:
    sign_in(client, people.educator)
    page = _assign(client, mixed, course_id=TRAPS_ES, learner=[str(people.other_learner.id)])
    assert 'id="language-warning"' not in page
    assert _given(database) == {(TRAPS_ES, people.other_learner.id, None)}


def test_a_ticked_learner_stays_ticked_after_a_warning(
    client: TestClient, people: People, mixed: int
) -> None:
    sign_in(client, people.educator)
    page = _assign(client, mixed, course_id=TRAPS, learner=[str(people.other_learner.id)])
    assert f'value="{people.other_learner.id}" id="pick-{people.other_learner.id}"' in page
    tick = re.search(rf'id="pick-{people.other_learner.id}"[^>]*>', page)
    assert tick and "checked" in tick.group(0)
    tick = re.search(rf'id="pick-{people.learner.id}"[^>]*>', page)
    assert tick and "checked" not in tick.group(0)


def test_language_mismatches_by_main_language_tag(people: People) -> None:
    found = assignments.language_mismatches(
        "es-US", {"en": TRAPS}, [people.learner, people.other_learner], {TRAPS}
    )
    assert [(m.language, [u.id for u in m.learners], m.edition) for m in found] == [
        ("en", [people.learner.id], TRAPS)
    ]
    # An edition the facility does not serve is not offered.
    found = assignments.language_mismatches("es", {"en": TRAPS}, [people.learner], set())
    assert found[0].edition is None
