"""The facility's watch list: kept by staff, audited, matched in every text of a version
when a reviewer looks, so versions imported before a word was added are caught too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from server.catalog import watchlist
from server.catalog.sync import content_store
from server.cli.main import cli
from server.core.db import Database
from server.core.errors import NotFound, ValidationError
from server.core.settings import Settings
from server.people.audit import Actor
from server.web.app import create_app
from tests.conftest import demo_facility, make_people, post, sign_in

STAFF = Actor(None, "admin:security")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    settings, database = demo_facility(tmp_path / "data", indexed=True)
    yield settings, database
    database.close()


def safety_version(database: Database) -> int:
    row = database.query_one(
        "SELECT v.id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = 'org.stepstone.demo.workplace-safety'"
    )
    assert row is not None
    return int(row[0])


def test_a_word_added_later_is_found_in_lessons_captions_and_pdfs(
    demo: tuple[Settings, Database],
) -> None:
    settings, database = demo
    store, version_id = content_store(settings), safety_version(database)
    assert watchlist.version_flags(database, store, version_id) == []
    for phrase in ("SUPERVISOR", "safety  glasses", "Daily Safety Checklist"):
        watchlist.add(database, STAFF, phrase)
    flags = watchlist.version_flags(database, store, version_id)
    found = {(f["detail"], f["where"].split("#")[0]) for f in flags}
    assert ("SUPERVISOR", "media/safety-checklist.pdf") in found
    assert ("safety glasses", "media/safety-habits.en.vtt") in found
    assert ("Daily Safety Checklist", "media/safety-checklist.pdf") in found
    assert any(w.startswith("lessons/") for _, w in found)
    assert all(f["kind"] == "watch-word" and f["source"] == "watch-list" for f in flags)
    assert all(f["lesson"] for f in flags)  # a PDF's or captions' flag names its lesson
    pdf = {f["where"] for f in flags if f["where"].startswith("media/safety-checklist.pdf")}
    assert pdf == {"media/safety-checklist.pdf#page=1"}
    watchlist.remove(database, STAFF, "supervisor")
    watchlist.remove(database, STAFF, "Safety Glasses")
    watchlist.remove(database, STAFF, "daily safety checklist")
    assert watchlist.version_flags(database, store, version_id) == []
    actions = [r[0] for r in database.query("SELECT action FROM audit_log WHERE action LIKE 'w%'")]
    assert actions == ["watch-list.add"] * 3 + ["watch-list.remove"] * 3


@pytest.mark.parametrize(
    ("phrase", "problem"),
    [
        ("   ", "Write a word or phrase"),
        ("x" * 101, "at most 100 characters"),
        ("!!!", "at least one letter or digit"),
        ("CÁRTEL", "already on the list"),
    ],
)
def test_entries_that_cannot_be_added(database: Database, phrase: str, problem: str) -> None:
    watchlist.add(database, STAFF, "cartel")
    with pytest.raises(ValidationError) as refused:
        watchlist.add(database, STAFF, phrase)
    assert problem in refused.value.message
    assert [w.phrase for w in watchlist.words(database)] == ["cartel"]


def test_removing_a_word_not_listed(database: Database) -> None:
    with pytest.raises(NotFound):
        watchlist.remove(database, STAFF, "nothing")


def test_admin_page_adds_shows_and_removes(
    demo: tuple[Settings, Database],
) -> None:
    settings, database = demo
    people = make_people(database)
    with TestClient(create_app(settings)) as client:
        sign_in(client, people.admin)
        page = post(client, "/admin/content/watch-list", {"phrase": "supervisor"})
        assert page.status_code == 200 and "<td>supervisor</td>" in page.text
        refused = post(client, "/admin/content/watch-list", {"phrase": "Supervisor"})
        assert refused.status_code == 400 and "already on the list" in refused.text
        review = client.get(f"/admin/content/versions/{safety_version(database)}").text
        flags = review.split('id="flags-heading"', 1)[1].split("</section>", 1)[0]
        assert "Word on the facility's watch list" in flags and "supervisor" in flags
        # Each flag links to its place: the lesson on this page, or the PDF's page.
        version_id = safety_version(database)
        links = set(re.findall(r'<a href="([^"]+)"', flags))
        assert (
            f"/admin/content/versions/{version_id}/files/media/safety-checklist.pdf#page=1" in links
        )
        lesson_links = {link for link in links if link.startswith("#lesson-")}
        assert lesson_links and all(f'id="{link[1:]}"' in review for link in lesson_links)
        [word] = watchlist.words(database)
        assert "boss" in word.added_by
        page = post(
            client,
            f"/admin/content/watch-list/{word.id}/remove",
            token_from="/admin/content/watch-list",
        )
        assert "The list is empty." in page.text


def test_watch_list_cli(runner: CliRunner, settings: Settings, database: Database) -> None:
    data = ["--data-dir", str(settings.data_dir), "content", "watch-list"]
    added = runner.invoke(cli, [*data, "add", "la", "eme"])
    assert added.exit_code == 0, added.output
    assert runner.invoke(cli, [*data, "list"]).output.startswith("la eme\tcli\t")
    again = runner.invoke(cli, [*data, "add", "LA EME"])
    assert again.exit_code == 1 and "already on the list" in again.output
    assert runner.invoke(cli, [*data, "remove", "la", "éme"]).exit_code == 0
    missing = runner.invoke(cli, [*data, "remove", "la eme"])
    assert missing.exit_code == 1 and "is not on the watch list" in missing.output
