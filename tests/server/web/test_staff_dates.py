"""Staff pages write dates the way learner pages do: in words, in the reader's language
and the facility's time zone, never as raw ISO or UTC."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from server.catalog import watchlist
from server.core.db import Database
from server.learning import assignments
from server.people import groups
from server.people.audit import Actor
from tests.conftest import People, sign_in

pytestmark = pytest.mark.demo  # each test has its own copy of the demo facility

SAFETY = "org.stepstone.demo.workplace-safety"
SYSTEM = Actor.system("test")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _shown(page: str) -> str:
    """The page's text, without attributes (a <time datetime> keeps the ISO form)."""
    return re.sub(r"<[^>]+>", " ", page)


def test_due_dates_and_target_dates_on_educator_pages(
    client: TestClient, people: People, database: Database
) -> None:
    group = groups.create_group(database, SYSTEM, "Unit D", "class")
    for user in (people.educator, people.learner):
        groups.add_member(database, SYSTEM, group.id, user.id)
    assignments.assign(database, SYSTEM, SAFETY, group_id=group.id, due_date="2099-01-31")
    sign_in(client, people.educator)
    page = _shown(client.get(f"/teach/groups/{group.id}").text)
    assert "2099-01-31" not in page
    assert page.count("Saturday, 31 January 2099") == 2  # on the board and in the list


def test_admin_pages_show_times_in_words(
    client: TestClient, people: People, database: Database
) -> None:
    watchlist.add(database, SYSTEM, "contraband")
    sign_in(client, people.admin)
    for path in ("/admin/content/watch-list", "/admin/status", "/admin/content"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert not ISO_TIME.search(_shown(response.text)), path
