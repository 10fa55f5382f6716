"""Courses offered to chosen groups only, or held back from some: in an open catalog (the
demo facility's), through the admin's page and through every place a learner meets a
course. The assigned catalog's cases are rows of tests/server/web/test_access_matrix.py."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import Settings
from server.learning import access, assignments, offers, visibility
from server.people import groups
from server.people.accounts import Role, User
from server.people.audit import Actor
from tests.conftest import People, post, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"
SYSTEM = Actor.system("test")


def _sees(database: Database, settings: Settings, learner: User, course_id: str = SAFETY) -> bool:
    """Whether the learner meets the course anywhere: catalog, a lesson's files, search."""
    courses = {c.course_id: c for c in access.visible_courses(database, settings, learner)}
    staff = User(0, Role.EDUCATOR, "staff", None, "Staff", "en", False, False, False)
    staff_view = access.visible_course(database, settings, staff, course_id)
    assets = visibility.assets_of(database, staff_view.version_id)
    media = any(
        access.media_for(database, settings, learner, a["sha256"]) is not None
        for a in assets.values()
    )
    found = access.search_versions(database, settings, learner)
    assert found is not None
    in_search = staff_view.version_id in found
    assert (course_id in courses) == media == in_search, "one rule everywhere"
    return course_id in courses


def test_a_course_offered_to_one_group_reaches_only_its_members(
    client: TestClient, database: Database, settings: Settings, people: People
) -> None:
    unit = groups.create_group(database, SYSTEM, "Unit Q", "housing")
    groups.add_member(database, SYSTEM, unit.id, people.learner.id)
    sign_in(client, people.admin)
    page = client.get(f"/admin/content/offers/{SAFETY}")
    assert page.status_code == 200 and "Unit Q" in page.text
    saved = post(
        client,
        f"/admin/content/offers/{SAFETY}",
        {"mode": "only", "group": str(unit.id)},
        token_from=f"/admin/content/offers/{SAFETY}",
    )
    assert saved.status_code == 200 and "Only: Unit Q" in saved.text
    assert _sees(database, settings, people.learner, SAFETY)
    assert not _sees(database, settings, people.other_learner, SAFETY)

    with TestClient(client.app) as learner:
        sign_in(learner, people.other_learner)
        assert learner.get(f"/learn/courses/{SAFETY}").status_code == 404
        assert f"/learn/courses/{SAFETY}" not in learner.get("/learn/catalog").text
    entry = database.query_one(
        "SELECT actor, detail FROM audit_log WHERE action = 'offer.set' ORDER BY id DESC"
    )
    assert entry is not None and entry["actor"] == "admin:boss"
    assert f'"groups": [{unit.id}]' in entry["detail"] and '"mode": "only"' in entry["detail"]


def test_a_course_held_back_from_a_group_stays_hidden_even_when_assigned(
    database: Database, settings: Settings, people: People
) -> None:
    unit = groups.create_group(database, SYSTEM, "Unit R", "housing")
    groups.add_member(database, SYSTEM, unit.id, people.learner.id)
    with database.write() as db:
        assignments.assign_in(db, SYSTEM, SAFETY, user_id=people.learner.id)
    offers.set_offer(
        database, SYSTEM, offers.Offer("course", SAFETY, "except", frozenset({unit.id}))
    )
    assert not _sees(database, settings, people.learner, SAFETY)
    assert _sees(database, settings, people.other_learner, SAFETY)
    # Back to everyone: nothing is left behind.
    offers.set_offer(database, SYSTEM, offers.Offer("course", SAFETY))
    assert _sees(database, settings, people.learner, SAFETY)
    assert offers.offer_of(database, "course", SAFETY).everyone


def test_an_offer_to_groups_that_were_deleted_reaches_nobody(
    database: Database, settings: Settings, people: People
) -> None:
    unit = groups.create_group(database, SYSTEM, "Unit S", "housing")
    groups.add_member(database, SYSTEM, unit.id, people.learner.id)
    offers.set_offer(database, SYSTEM, offers.Offer("course", SAFETY, "only", frozenset({unit.id})))
    groups.delete_group(database, SYSTEM, unit.id)
    assert not _sees(database, settings, people.learner, SAFETY)
    assert offers.offer_of(database, "course", SAFETY).mode == "only"


def test_an_offer_that_names_no_group_or_a_missing_one_is_refused(
    client: TestClient, database: Database, people: People
) -> None:
    sign_in(client, people.admin)
    path = f"/admin/content/offers/{SAFETY}"
    refused = post(client, path, {"mode": "except"}, token_from=path)
    assert refused.status_code == 400 and "Choose at least one group." in refused.text
    refused = post(client, path, {"mode": "only", "group": "99999"}, token_from=path)
    assert refused.status_code == 400 and "does not exist any more" in refused.text
    refused = post(client, path, {"mode": "sometimes"}, token_from=path)
    assert refused.status_code == 400
    assert database.query_one("SELECT 1 FROM offers") is None
    assert client.get("/admin/content/offers/org.example.nothing").status_code == 404
