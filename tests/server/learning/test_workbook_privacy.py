"""Workbook privacy across course updates: an answer is shared with staff only if every
label the learner saw while writing it said "you and your teacher". Real signed packages
of one workbook course go v1 (shared) → v2 (private) → v3 (shared again) through a TUF
sync, while a learner writes in the browser pages and an educator reads the review pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from starlette.applications import Starlette
from starlette.testclient import TestClient

from content.package.build import build_package
from content.tuf import repository
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.core.db import Database
from server.core.settings import Settings
from server.ops.migrations import workbook_privacy
from server.people import groups
from server.people.accounts import User
from server.people.audit import Actor
from tests.conftest import FakeClock, People, sign_in
from tests.content.conftest import COURSE, write_course
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, trust_ngo
from tests.server.learning.test_learn import csrf, lesson_path, send_events

COURSE_ID = "org.example.journal"
KEY = "plans"
PAGE = lesson_path(COURSE_ID, KEY)
ONLY_YOU = "Only you can read this."
SHOWN_PRIVATE = re.compile(r'name="shown_private" value="([^"]+)"')


@dataclass(frozen=True)
class Journal:
    """The NGO's repository of the journal course, and the facility that syncs it."""

    base: Path
    repo: Path
    database: Database
    settings: Settings
    moment: FakeClock

    def publish(self, version: int) -> None:
        """Publish v``version``, where the ``story`` prompt is shared with the educator in
        odd versions and private in even ones, and sync it (auto-published) a minute after
        what came before, and a minute before what comes next."""
        self.moment.advance(60)
        _sync(self, version)
        self.moment.advance(60)


def _sync(journal: Journal, version: int) -> None:
    base, repo = journal.base, journal.repo
    story = "educator" if version % 2 else "private"
    front = {
        "key": KEY,
        "title": f"My plans (version {version})",
        "kind": "workbook",
        "workbook": {
            "prompts": [
                {"key": "story", "type": "text", "prompt": "Tell your story.", "visibility": story},
                {
                    "key": "step",
                    "type": "text",
                    "prompt": "One next step?",
                    "visibility": "educator",
                },
            ]
        },
    }
    src = write_course(
        base / f"src-{version}",
        course={
            "id": COURSE_ID,
            "version": version,
            "lessons": [*COURSE["lessons"], "lessons/03-plans.md"],
        },
        lessons={"lessons/03-plans.md": f"---\n{yaml.safe_dump(front)}---\nWrite.\n"},
    )
    repository.add_packages(repo, [build_package(src, base / "dist", progress=False)])
    [report] = sync_all(journal.database, journal.settings, CatalogHooks(), ADMIN)
    assert report.imported == [f"{COURSE_ID} v{version}"], report.message


def _send(client: TestClient, page: str, story: str, step: str) -> None:
    """Send the workbook form as the browser would, from a page the learner has open."""
    response = client.post(
        PAGE + "/workbook",
        data={
            "csrf_token": csrf(client, PAGE),
            "action": "submit",
            "p-story": story,
            "p-step": step,
            "shown_private": SHOWN_PRIVATE.findall(page),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:300]


@pytest.fixture
def journal(
    tmp_path: Path, database: Database, settings: Settings, people: People, fake_clock: FakeClock
) -> Journal:
    """The NGO repository with v1 synced; the educator teaches the learner's group."""
    repo = make_repo(tmp_path)
    trust_ngo(database, repo)
    journal = Journal(tmp_path, repo, database, settings, fake_clock)
    journal.publish(1)
    group = groups.create_group(database, Actor.system("test"), "Class A", "class")
    groups.add_member(database, Actor.system("test"), group.id, people.educator.id)
    groups.add_member(database, Actor.system("test"), group.id, people.learner.id)
    return journal


def _signed_in(app: Starlette, user: User) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    sign_in(client, user)
    return client


def _staff_sees(teacher: TestClient, people: People) -> str:
    """Everything the educator can read about the learner's workbook pages."""
    queue = teacher.get("/teach/reviews").text
    pages = [
        teacher.get(f"/teach/reviews/{n}").text for n in re.findall(r"/teach/reviews/(\d+)", queue)
    ]
    board = teacher.get(f"/teach/learners/{people.learner.id}").text
    return "\n".join([queue, *pages, board])


def test_words_written_while_private_never_reach_the_educator(
    app: Starlette,
    journal: Journal,
    people: People,
) -> None:
    learner = _signed_in(app, people.learner)
    teacher = _signed_in(app, people.educator)

    # v1: the story is shared; the learner's draft autosaves.
    assert ONLY_YOU not in learner.get(PAGE).text
    draft = {"id": "draft-000001", "type": "draft", "course": COURSE_ID, "lesson": KEY}
    send_events(learner, [draft | {"data": {"answers": {"story": "I grew up by the sea."}}}])

    # v2 makes the story private: the page says so, the learner adds to it and sends.
    journal.publish(2)
    page = learner.get(PAGE).text
    assert ONLY_YOU in page and "I grew up by the sea." in page
    _send(learner, page, "I grew up by the sea. My brother is in here too.", "Call my mother")
    staff = _staff_sees(teacher, people)
    assert "Call my mother" in staff
    assert "My plans (version 2)" in staff  # the version the learner answered
    assert "my brother" not in staff.lower() and "by the sea" not in staff

    # A new page, started and left open under v2 (private) ...
    page = learner.get(PAGE + "?new=1").text
    assert ONLY_YOU in page
    send_events(
        learner,
        [
            draft
            | {
                "id": "draft-000002",
                "data": {"answers": {"story": "I owe money."}, "shown_private": ["story"]},
            }
        ],
    )
    # ... while v3 makes the story shared again.
    journal.publish(3)
    # What was written while private stays private, and the form says so.
    assert SHOWN_PRIVATE.findall(learner.get(PAGE).text) == ["story"]
    _send(learner, page, "I owe money to a cellmate.", "Make a budget")
    staff = _staff_sees(teacher, people)
    assert "Make a budget" in staff
    assert "owe money" not in staff and "cellmate" not in staff
    assert "my brother" not in staff.lower()
    # Text written after v3 on a fresh page, under a shared label, does reach the educator.
    page = learner.get(PAGE + "?new=1").text
    assert SHOWN_PRIVATE.findall(page) == []  # nothing written yet on this page
    _send(learner, page, "I want to be a cook.", "Ask about the kitchen job")
    assert "I want to be a cook." in _staff_sees(teacher, people)


def test_a_page_left_open_under_a_private_label_stays_private_after_an_update(
    app: Starlette,
    journal: Journal,
    people: People,
) -> None:
    journal.publish(2)
    learner = _signed_in(app, people.learner)
    page = learner.get(PAGE).text  # v2: "Only you can read this."
    assert ONLY_YOU in page
    journal.publish(3)  # shared again while the page is open
    _send(learner, page, "Written under 'only you'.", "A step")
    staff = _staff_sees(_signed_in(app, people.educator), people)
    assert "A step" in staff and "Written under" not in staff


def test_a_draft_that_was_open_under_a_private_label_stays_private(
    app: Starlette,
    journal: Journal,
    people: People,
) -> None:
    """The learner wrote under v1 (shared), then only read "Only you can read this" on
    the draft under v2, and sends it after v3 shares the prompt again."""
    learner = _signed_in(app, people.learner)
    draft = {"id": "draft-000001", "type": "draft", "course": COURSE_ID, "lesson": KEY}
    send_events(learner, [draft | {"data": {"answers": {"story": "My first story."}}}])
    journal.publish(2)
    assert ONLY_YOU in learner.get(PAGE).text  # read, nothing written
    journal.publish(3)
    page = learner.get(PAGE).text
    assert ONLY_YOU in page  # the page keeps the promise it made under v2
    _send(learner, page, "My first story. And more.", "A step")
    staff = _staff_sees(_signed_in(app, people.educator), people)
    assert "A step" in staff and "first story" not in staff


def test_upgrade_makes_answers_written_after_a_private_version_private(
    journal: Journal, database: Database, people: People
) -> None:
    """Answers stored by the old code: the entry stayed on v1 and the answer kept v1's
    "educator" label though v2 (private) was live when the learner last wrote it."""
    v1 = database.query_one("SELECT live_version_id FROM courses WHERE course_id = ?", [COURSE_ID])
    assert v1 is not None
    with database.write() as db:
        entry = db.execute(
            "INSERT INTO workbook_entries (user_id, course_id, lesson_key, version_id, status,"
            " created_at, updated_at, submitted_at) VALUES (?, ?, ?, ?, 'submitted', ?, ?, ?)",
            [people.learner.id, COURSE_ID, KEY, v1[0], *["2020-01-01T00:00:00+00:00"] * 3],
        ).lastrowid
        for key, written in (("story", "2020-01-01T00:00:00+00:00"), ("step", "2999-01-01")):
            db.execute(
                "INSERT INTO workbook_answers VALUES (?, ?, 'educator', '\"words\"', ?)",
                [entry, key, written],
            )
        # A second answer to the story, last written after v2 went live.
        late = db.execute(
            "INSERT INTO workbook_entries (user_id, course_id, lesson_key, version_id, status,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, 'draft', ?, ?)",
            [people.learner.id, COURSE_ID, KEY, v1[0], "2020-01-01", "2020-01-01"],
        ).lastrowid
    journal.publish(2)
    with database.write() as db:
        db.execute(
            "INSERT INTO workbook_answers VALUES (?, 'story', 'educator', '\"late\"', ?)",
            [late, "2999-01-01T00:00:00+00:00"],
        )
        workbook_privacy(db)
    rows = database.query(
        "SELECT entry_id, prompt_key, visibility FROM workbook_answers"
        " ORDER BY entry_id, prompt_key"
    )
    assert [tuple(r) for r in rows] == [
        (entry, "step", "educator"),  # shared in every version
        (entry, "story", "educator"),  # written before v2 existed
        (late, "story", "private"),
    ]
