"""Reference collections end to end: a ZIM built into a signed package by a publisher,
synced, reviewed, approved and offered to one group; learners of that group read it,
cleaned, search it and get title suggestions; others get 404s; blocked articles vanish."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.catalog import collections, library
from server.catalog.library import CatalogHooks
from server.core.db import Database
from server.core.settings import Settings
from server.learning import offers
from server.people import groups
from server.people.audit import Actor
from tests.conftest import People, post, sign_in
from tests.facility import ADMIN
from tests.server.learning.test_books import publish, version_of
from tests.zims import collection_package

SCIENCE = "org.example.science"
SYSTEM = Actor.system("test")


@pytest.fixture
def science(tmp_path: Path, database: Database, settings: Settings, people: People) -> int:
    """The collection synced (pending review); only the first learner's group is offered it."""
    publish(tmp_path, database, settings, [collection_package(tmp_path, SCIENCE)])
    unit = groups.create_group(database, SYSTEM, "Unit Z", "housing")
    groups.add_member(database, SYSTEM, unit.id, people.learner.id)
    offers.set_offer(
        database, SYSTEM, offers.Offer("course", SCIENCE, "only", frozenset({unit.id}))
    )
    return version_of(database, SCIENCE)


def test_a_collection_is_reviewed_then_read_cleaned_by_the_offered_group_only(
    science: int, database: Database, client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    assert "Pocket Science" not in client.get("/library").text  # waiting for review
    assert client.get(f"/collections/{SCIENCE}").status_code == 404

    sign_in(client, people.admin)
    review = client.get(f"/admin/content/versions/{science}").text
    assert "Reference collection" in review and "Short science articles for schools" in review
    assert "Articles with scripts (removed)" in review
    assert "Articles with links to outside (shown as plain text)" in review
    assert "Sample articles, as learners see them" in review and "Water evaporates" in review
    assert "<script" not in review.split("sample-heading")[1].split("flags-heading")[0]
    # The reviewer follows the sample's links and pictures on review pages of their own.
    zim = f"/admin/content/versions/{science}/zim"
    assert f'src="{zim}/I/drop.png"' in review
    trap_review = client.get(f"{zim}/Trap").text
    assert "Trap page" in trap_review and f'href="{zim}/Water"' in trap_review
    assert "<script" not in trap_review.split("collection-article")[1]
    assert client.get(f"{zim}/I/drop.png").headers["content-type"] == "image/png"
    assert client.get(f"{zim}/style.css").status_code == 404
    library.approve(database, CatalogHooks(), ADMIN, science)

    sign_in(client, people.learner)
    assert client.get(f"{zim}/Trap").status_code == 403  # staff only
    shelf = client.get("/library").text
    assert "Reference collections" in shelf and f'href="/collections/{SCIENCE}"' in shelf
    course_page = client.get(f"/learn/courses/{SCIENCE}").text
    assert f'href="/collections/{SCIENCE}">Open the collection</a>' in course_page
    home = client.get(f"/collections/{SCIENCE}").text
    assert "Welcome" in home and f'href="/collections/{SCIENCE}/a/Water"' in home

    trap = client.get(f"/collections/{SCIENCE}/a/Trap")
    assert trap.status_code == 200
    body = trap.text.split('class="card collection-article"')[1].split("</article>")[0]
    for hostile in (
        "<script",
        "<iframe",
        "<form",
        "refresh",
        "onclick",
        "evil.example/track",
        "<link",
        'href="https://',
    ):
        assert hostile not in body, hostile
    assert '<span class="external-link">the outside site' in body
    assert "(https://evil.example/more)" in body  # the address, as text
    assert f'<a href="/collections/{SCIENCE}/a/Water">the water cycle</a>' in body
    assert f'src="/collections/{SCIENCE}/a/I/drop.png"' in body
    assert "content-security-policy" in trap.headers
    assert "script-src 'self'" in trap.headers["content-security-policy"] or (
        "default-src 'self'" in trap.headers["content-security-policy"]
    )

    picture = client.get(f"/collections/{SCIENCE}/a/I/drop.png")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    assert picture.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/collections/{SCIENCE}/a/style.css").status_code == 404  # no CSS
    assert client.get(f"/collections/{SCIENCE}/a/Nowhere").status_code == 404

    sign_in(client, people.other_learner)  # not in the offered group
    assert "Pocket Science" not in client.get("/library").text
    for path in ("", "/a/Water", "/a/I/drop.png", "/search?q=water", "/suggest?q=wat"):
        assert client.get(f"/collections/{SCIENCE}{path}").status_code == 404, path


def test_search_suggestions_and_a_blocked_article(
    science: int, database: Database, client: TestClient, people: People
) -> None:
    library.approve(database, CatalogHooks(), ADMIN, science)
    sign_in(client, people.learner)
    found = client.get(f"/collections/{SCIENCE}/search", params={"q": "evaporates"}).text
    assert "1 article found" in found and f'href="/collections/{SCIENCE}/a/Water"' in found
    suggested = client.get(f"/collections/{SCIENCE}/suggest", params={"q": "volc"}).json()
    assert suggested == {
        "suggestions": [{"title": "Volcano", "url": f"/collections/{SCIENCE}/a/Volcano"}]
    }
    merged = client.get("/search", params={"q": "evaporates"}).text
    assert "In reference collections" in merged and "Water cycle" in merged

    sign_in(client, people.admin)
    page = f"/admin/content/collections/{SCIENCE}/blocked"
    assert "No article is blocked." in client.get(page).text
    post(client, page, {"kind": "title", "value": "water  CYCLE"}, token_from=page)
    refused = post(client, page, {"kind": "path", "value": "  "}, token_from=page)
    assert refused.status_code == 400 and "Write a path or a title" in refused.text
    assert [b.value for b in collections.blocks(database, SCIENCE)] == ["water CYCLE"]
    entry = database.query_one(
        "SELECT actor FROM audit_log WHERE action = 'collection.block' ORDER BY id DESC"
    )
    assert entry is not None and entry["actor"] == "admin:boss"

    sign_in(client, people.learner)
    assert client.get(f"/collections/{SCIENCE}/a/Water").status_code == 404
    found = client.get(f"/collections/{SCIENCE}/search", params={"q": "evaporates"}).text
    assert "0 articles found" in found and "/a/Water" not in found
    assert client.get(f"/collections/{SCIENCE}/suggest", params={"q": "water"}).json() == {
        "suggestions": []
    }
    assert "Water cycle" not in client.get("/search", params={"q": "evaporates"}).text

    sign_in(client, people.admin)
    [block] = collections.blocks(database, SCIENCE)
    post(client, page, {"remove": str(block.id)}, token_from=page)
    assert collections.blocks(database, SCIENCE) == []
    sign_in(client, people.learner)
    assert client.get(f"/collections/{SCIENCE}/a/Water").status_code == 200


def test_a_collection_without_a_full_text_index_is_searched_by_title(
    tmp_path: Path, database: Database, settings: Settings, client: TestClient, people: People
) -> None:
    plain = "org.example.plain"
    publish(tmp_path, database, settings, [collection_package(tmp_path, plain, fulltext=False)])
    version_id = version_of(database, plain)
    sign_in(client, people.admin)
    assert (
        "No: learners can search titles only"
        in client.get(f"/admin/content/versions/{version_id}").text
    )
    library.approve(database, CatalogHooks(), ADMIN, version_id)
    sign_in(client, people.learner)
    page = client.get(f"/collections/{plain}/search", params={"q": "volcano"}).text
    assert "This collection can be searched by title only." in page
    assert f'href="/collections/{plain}/a/Volcano"' in page
    words = client.get(f"/collections/{plain}/search", params={"q": "molten"}).text
    assert "0 articles found" in words  # the words of an article need the full-text index


def test_staff_find_and_read_every_approved_collection_but_not_blocked_articles(
    science: int, database: Database, client: TestClient, people: People
) -> None:
    # The educator is in no group the collection is offered to: staff see every servable
    # course (they assign and review), and so every approved collection.
    sign_in(client, people.admin)
    pending = client.get("/search", params={"q": "evaporates"}).text
    assert "In reference collections" not in pending  # waiting for review: not searched
    library.approve(database, CatalogHooks(), ADMIN, science)
    collections.add_block(database, ADMIN, SCIENCE, "title", "Volcano")

    for staff in (people.educator, people.admin):
        sign_in(client, staff)
        merged = client.get("/search", params={"q": "evaporates"}).text
        hits = merged.split('id="collection-hits"')[1]
        assert "From the collection Pocket Science" in hits
        assert f'<a href="/collections/{SCIENCE}/a/Water">Water cycle</a>' in hits
        article = client.get(f"/collections/{SCIENCE}/a/Water")
        assert article.status_code == 200 and "Water evaporates" in article.text
        assert 'href="/library"' not in article.text  # the learners' shelf is not theirs
        found = client.get(f"/collections/{SCIENCE}/search", params={"q": "evaporates"}).text
        assert "1 article found" in found
        assert "In reference collections" not in client.get("/search?q=molten").text
        assert client.get(f"/collections/{SCIENCE}/a/Volcano").status_code == 404
        dashboard = client.get(f"/teach/courses/{SCIENCE}").text
        assert f'href="/collections/{SCIENCE}">Open the collection</a>' in dashboard


def test_an_svg_drawing_is_served_sandboxed_only_when_it_passes_the_check(
    science: int, database: Database, client: TestClient, people: People
) -> None:
    library.approve(database, CatalogHooks(), ADMIN, science)
    sign_in(client, people.learner)
    chart = client.get(f"/collections/{SCIENCE}/a/I/chart.svg")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert "<circle" in chart.text
    assert chart.headers["x-content-type-options"] == "nosniff"
    policy = chart.headers["content-security-policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy
    assert client.get(f"/collections/{SCIENCE}/a/I/trap.svg").status_code == 404  # a script
    sign_in(client, people.admin)  # the reviewer gets the same answers
    review = f"/admin/content/versions/{science}/zim"
    assert client.get(f"{review}/I/chart.svg").status_code == 200
    assert client.get(f"{review}/I/trap.svg").status_code == 404
