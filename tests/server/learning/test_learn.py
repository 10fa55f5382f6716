"""The learner's pages on the demo courses: visibility, lessons of every kind, progress
events, quizzes, workbooks and their privacy, certificates, media with Range."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from content.format.lessondata import QuizQuestion
from server.catalog import library
from server.catalog.library import CatalogHooks
from server.core.db import Database
from server.core.errors import ConfigError
from server.core.settings import Settings, load_settings
from server.learning import access, certificates, progress, visibility, workbooks
from server.people.accounts import Role
from server.people.audit import Actor
from tests.conftest import (
    CSRF_RE,
    FakeClock,
    People,
    demo_facility,
    make_user,
    new_database,
    sign_in,
)

MATH = "org.stepstone.demo.everyday-math"
SAFETY = "org.stepstone.demo.workplace-safety"
TRAPS = "org.stepstone.demo.thinking-traps"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, data_dir=tmp_path / "data", demo=True)


@pytest.fixture
def database(settings: Settings, request: pytest.FixtureRequest) -> Iterator[Database]:
    """The test's own facility: for a test that uses `courses`, a copy of the demo one
    (built, signed and imported once per test process), else a new empty one."""
    if "courses" in request.fixturenames:
        _settings, database = demo_facility(settings.data_dir, indexed=True)
    else:
        database = new_database(settings)
    yield database
    database.close()


@pytest.fixture
def courses(database: Database) -> None:
    """The demo courses, published and live (`database` copied them in)."""
    live = database.query("SELECT course_id FROM courses WHERE live_version_id IS NOT NULL")
    assert {row[0] for row in live} >= {MATH, SAFETY, TRAPS}


def csrf(client: TestClient, path: str = "/learn") -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match
    return match.group(1)


def lesson_path(course_id: str, key: str) -> str:
    return f"/learn/courses/{course_id}/lessons/{key}"


def send_events(client: TestClient, events: list[dict[str, object]]) -> dict[str, Any]:
    token = csrf(client)
    response = client.post("/api/events", json={"events": events}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.text
    return dict(response.json())


def course_of(
    database: Database, settings: Settings, people: People, course_id: str
) -> visibility.Course:
    return access.visible_course(database, settings, people.learner, course_id)


@pytest.mark.usefixtures("courses")
def test_home_catalog_and_course_pages_show_the_published_courses(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    catalog_page = client.get("/learn/catalog").text
    for title in ("Everyday Math", "Workplace Safety", "Thinking Traps"):
        assert title in catalog_page
    assert "Thinking and feelings (CBT)" in catalog_page
    only_spanish = client.get("/learn/catalog?language=es").text
    assert "Everyday Math" not in only_spanish
    course = client.get(f"/learn/courses/{MATH}")
    assert course.status_code == 200
    assert "Not started" in course.text and "Start:" in course.text


@pytest.mark.usefixtures("courses")
def test_pulled_pending_and_demo_outside_demo_mode_are_hidden(
    client: TestClient, people: People, database: Database, settings: Settings
) -> None:
    sign_in(client, people.learner)
    row = database.query_one("SELECT id FROM courses WHERE course_id = ?", [MATH])
    assert row is not None
    library.pull_course(database, CatalogHooks(), Actor.system(), row["id"], "wrong answers")
    assert "Everyday Math" not in client.get("/learn/catalog").text
    assert client.get(f"/learn/courses/{MATH}").status_code == 404
    assert client.get(lesson_path(MATH, "fractions-quiz")).status_code == 404
    outside = load_settings(environ={}, data_dir=settings.data_dir, demo=False)
    assert access.visible_courses(database, outside, people.learner) == []


@pytest.mark.usefixtures("courses")
def test_assigned_only_catalog(
    people: People, database: Database, settings: Settings, tmp_path: Path
) -> None:
    strict = load_settings(
        environ={}, data_dir=settings.data_dir, demo=True, learner_catalog="assigned"
    )
    assert access.visible_courses(database, strict, people.learner) == []
    video = database.query_one(
        "SELECT a.sha256 FROM assets a JOIN courses c ON c.live_version_id = a.version_id"
        " WHERE c.course_id = ? AND a.path LIKE '%.webm'",
        [SAFETY],
    )
    assert video is not None
    assert access.media_for(database, strict, people.learner, video[0]) is None
    assert access.media_for(database, settings, people.learner, video[0]) is not None
    with database.write() as db:
        db.execute(
            "INSERT INTO groups (name, kind, created_at) VALUES ('Unit B', 'housing', 'now')"
        )
        gid = db.execute("SELECT id FROM groups WHERE name = 'Unit B'").fetchone()[0]
        db.execute(
            "INSERT INTO assignments (course_id, group_id, due_date, created_at)"
            " VALUES (?, ?, '2026-12-01', 'now')",
            [SAFETY, gid],
        )
        # Joining the group later still brings its assignments.
        db.execute(
            "INSERT INTO group_members (group_id, user_id, added_at) VALUES (?, ?, 'now')",
            [gid, people.learner.id],
        )
    seen = access.visible_courses(database, strict, people.learner)
    assert [c.course_id for c in seen] == [SAFETY]
    assert access.media_for(database, strict, people.learner, video[0]) is not None
    assert access.media_for(database, strict, people.other_learner, video[0]) is None
    assert seen[0].assignment is not None and seen[0].assignment.due_date == "2026-12-01"
    assert access.visible_courses(database, strict, people.other_learner) == []


@pytest.mark.usefixtures("courses")
def test_reading_done_by_form_counts_once_and_resume_points_to_next(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    page = client.get(lesson_path(MATH, "fractions-in-daily-life"))
    assert page.status_code == 200
    assert 'src="/media/' in page.text  # package links rewritten to checked media URLs
    event_id = re.search(r'name="event_id" value="([^"]+)"', page.text)
    token = CSRF_RE.search(page.text)
    assert event_id and token
    form = {"csrf_token": token.group(1), "event_id": event_id.group(1)}
    for _ in range(2):  # a double tap
        done = client.post(
            lesson_path(MATH, "fractions-in-daily-life") + "/done",
            data=form,
            follow_redirects=False,
        )
        assert done.status_code == 303
    home = client.get("/learn").text
    assert "Continue where you left off" in home
    assert "Working with fractions" in home  # the next lesson
    course = client.get(f"/learn/courses/{MATH}").text
    assert "1 of 6 lessons done" in course


@pytest.mark.usefixtures("courses")
def test_a_pulled_course_leaves_the_home_page_and_the_place_to_resume_at_once(
    client: TestClient, people: People, database: Database
) -> None:
    """The home page reads the learner's courses once for its lists and its "continue"
    card: a course pulled between two visits is gone from both on the next one."""
    sign_in(client, people.learner)
    lesson = lesson_path(MATH, "fractions-in-daily-life")
    assert client.get(lesson).status_code == 200
    home = client.get("/learn").text
    assert "Continue where you left off" in home and "Everyday Math" in home
    row = database.query_one("SELECT id FROM courses WHERE course_id = ?", [MATH])
    assert row is not None
    library.pull_course(database, CatalogHooks(), Actor.system(), row["id"], "wrong answers")
    home = client.get("/learn").text
    assert "Everyday Math" not in home and "Continue where you left off" not in home
    assert client.get(lesson).status_code == 404


@pytest.mark.usefixtures("courses")
def test_a_late_batch_does_not_move_the_place_to_resume_back(
    client: TestClient, people: People, database: Database, settings: Settings
) -> None:
    """Two batches in flight at once can be answered out of order (two workers, a slow
    network): the place a learner resumes at is the newest one the tablet saw, and the
    played ranges of both still count."""
    sign_in(client, people.learner)
    base = {"course": SAFETY, "lesson": "four-safety-habits", "type": "progressed"}
    later = {"id": "pause-00012", "position": 12, "duration": 22, "watched": [[10, 12]]}
    earlier = {"id": "play-000001", "position": 1, "duration": 22, "watched": [[0, 1]]}
    send_events(client, [base | later | {"at": "2026-12-03T10:00:12.000Z"}])
    send_events(client, [base | earlier | {"at": "2026-12-03T10:00:01.000Z"}])
    resume = progress.resume_point(database, settings, people.learner)
    assert resume is not None and resume.position == 12
    row = database.query_one(
        "SELECT watched FROM lesson_progress WHERE lesson_key = 'four-safety-habits'"
    )
    assert row is not None and json.loads(row[0]) == [[0, 1], [10, 12]]
    assert "You stopped at 0:12." in client.get("/learn").text


@pytest.mark.usefixtures("courses")
def test_events_are_idempotent_and_video_needs_ninety_percent_watched(
    client: TestClient, people: People, database: Database, fake_clock: FakeClock
) -> None:
    sign_in(client, people.learner)
    key = "four-safety-habits"
    base = {"course": SAFETY, "lesson": key}
    seek_to_end = {
        "id": "seek-000001",
        "type": "progressed",
        "position": 95,
        "duration": 100,
        "watched": [[0, 5], [90, 95]],
        **base,
    }
    first = send_events(client, [seek_to_end])
    assert first["accepted"] == ["seek-000001"]
    again = send_events(client, [seek_to_end])
    assert again["duplicates"] == ["seek-000001"]
    assert first["lessons"][f"{SAFETY}/{key}"]["status"] == "in_progress"
    watch = {
        "id": "watch-00001",
        "type": "progressed",
        "position": 80,
        "duration": 100,
        "watched": [[0, 86]],
        **base,
    }
    done = send_events(client, [watch])
    assert done["lessons"][f"{SAFETY}/{key}"]["status"] == "done"
    bad = send_events(
        client,
        [
            {"id": "x", "type": "progressed", **base},
            {"id": "cheat-00001", "type": "completed", "course": SAFETY, "lesson": "safety-quiz"},
            {"id": "hidden-0001", "type": "started", "course": "org.other.course", "lesson": "a"},
        ],
    )
    assert set(bad["rejected"]) == {"x", "cheat-00001", "hidden-0001"}
    stored = database.query_one(
        "SELECT count(*) FROM progress_events WHERE user_id = ?", [people.learner.id]
    )
    assert stored is not None and stored[0] >= 2


@pytest.mark.usefixtures("courses")
def test_time_spent_is_bounded_by_the_clock(
    client: TestClient, people: People, database: Database, fake_clock: FakeClock
) -> None:
    sign_in(client, people.learner)
    base = {"course": MATH, "lesson": "fractions-in-daily-life", "type": "heartbeat"}
    send_events(client, [{"id": "beat-000000", "seconds": 30, **base}])
    fake_clock.advance(30)
    # Forged heartbeats: ten claims of 60 s each, after 30 s of real time.
    send_events(client, [{"id": f"beat-00000{i}", "seconds": 60, **base} for i in range(1, 10)])
    row = database.query_one(
        "SELECT seconds_spent FROM lesson_progress WHERE user_id = ? AND lesson_key = ?",
        [people.learner.id, "fractions-in-daily-life"],
    )
    assert row is not None and row[0] <= 30 + 1


@pytest.mark.usefixtures("courses")
def test_quiz_immediate_feedback_locks_then_grades_and_retry_keeps_attempts(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.learner)
    path = lesson_path(SAFETY, "safety-quiz")
    page = client.get(path).text
    assert "Check my answer" in page
    token = CSRF_RE.search(page)
    event = re.search(r'name="event_id" value="([^"]+)"', page)
    assert token and event
    check = client.post(
        path + "/quiz",
        data={
            "csrf_token": token.group(1),
            "event_id": event.group(1),
            "action": "check:ppe-meaning",
            "q-ppe-meaning": "1",
        },
    )
    assert check.status_code == 200
    assert "Not quite." in check.text
    assert "Not this one. PPE is the gear you wear" in check.text
    # After a wrong answer the right choice is marked, in words, on that question only.
    checked = _question(check.text, "ppe-meaning")
    assert re.search(
        r"Personal protective equipment</span>\s*<span class=\"right-answer\">Right answer",
        checked,
    )
    assert checked.count("Right answer") == 1
    assert "Right answer" not in _question(check.text, "gloves-and-drill")
    # The checked question is locked: a second check with the right answer changes nothing.
    page = check.text
    token = CSRF_RE.search(page)
    event = re.search(r'name="event_id" value="([^"]+)"', page)
    assert token and event
    client.post(
        path + "/quiz",
        data={
            "csrf_token": token.group(1),
            "event_id": event.group(1),
            "action": "check:ppe-meaning",
            "q-ppe-meaning": "0",
        },
    )
    attempt = database.query_one(
        "SELECT answers, checked FROM quiz_attempts WHERE user_id = ?", [people.learner.id]
    )
    assert attempt is not None and json.loads(attempt["answers"])["ppe-meaning"] == 1
    submitted = client.post(
        path + "/quiz",
        data={"csrf_token": token.group(1), "event_id": "submit-00001", "action": "submit"},
    )
    assert "0 of 9 right — not passed yet" in submitted.text
    assert "Your score: 0%" in submitted.text
    assert "Try again" in submitted.text
    client.post(path + "/quiz", data={"csrf_token": token.group(1), "action": "retry"})
    lesson = next(
        x
        for x in visibility.lessons_of(database, _version(database, SAFETY))
        if x.key == "safety-quiz"
    )
    answers = _right_answers(lesson.data.questions)
    passed = client.post(
        path + "/quiz",
        data={
            "csrf_token": token.group(1),
            "event_id": "submit-00002",
            "action": "submit",
            **answers,
        },
    )
    assert "9 of 9 right — you passed" in passed.text and "Your score: 100%" in passed.text
    tries = database.query_one(
        "SELECT count(*) FROM quiz_attempts WHERE user_id = ? AND submitted_at IS NOT NULL",
        [people.learner.id],
    )
    assert tries is not None and tries[0] == 2


def _question(page: str, key: str) -> str:
    """The HTML of one question's fieldset on a quiz page."""
    start = page.index(f'id="question-{key}"')
    return page[start : page.index("</fieldset>", start)]


def _version(database: Database, course_id: str) -> int:
    row = database.query_one("SELECT live_version_id FROM courses WHERE course_id = ?", [course_id])
    assert row is not None
    return int(row[0])


def _right_answers(questions: Sequence[QuizQuestion]) -> dict[str, object]:
    answers: dict[str, object] = {}
    for q in questions:
        name = f"q-{q.key}"
        if q.type == "single":
            answers[name] = str(next(i for i, c in enumerate(q.choices) if c.correct))
        elif q.type == "multiple":
            answers[name] = [str(i) for i, c in enumerate(q.choices) if c.correct]
        elif q.type == "true-false":
            answers[name] = "true" if q.answer else "false"
        else:
            answers[name] = f"  {q.accepted[0].upper()} "
    return answers


@pytest.mark.usefixtures("courses")
def test_workbook_drafts_autosave_and_private_answers_never_reach_staff(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.learner)
    key = "catch-your-thoughts"
    lesson = next(
        x for x in visibility.lessons_of(database, _version(database, TRAPS)) if x.key == key
    )
    prompts = workbooks.prompts_of(lesson)
    private = next(p for p in prompts if p.visibility == "private" and p.type == "text")
    shared = next(p for p in prompts if p.visibility == "educator" and p.type == "text")
    page = client.get(lesson_path(TRAPS, key)).text
    assert "Only you can read this." in page and "You and your teacher can read this." in page
    secret = "<script>alert(1)</script> my zebra-striped secret"
    send_events(
        client,
        [
            {
                "id": "draft-00001",
                "type": "draft",
                "course": TRAPS,
                "lesson": key,
                "data": {"answers": {private.key: secret, shared.key: "I could ask"}},
            }
        ],
    )
    # The draft survives signing out.
    client.post("/signout", data={"csrf_token": csrf(client)})
    sign_in(client, people.learner)
    page = client.get(lesson_path(TRAPS, key)).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; my zebra-striped secret" in page
    assert "<script>alert(1)" not in page
    logged = database.query("SELECT data FROM progress_events WHERE type = 'draft'")
    assert all("zebra-striped" not in row["data"] for row in logged)
    token = CSRF_RE.search(page)
    assert token
    sent = client.post(
        lesson_path(TRAPS, key) + "/workbook",
        data={
            "csrf_token": token.group(1),
            "event_id": "send-000001",
            "action": "submit",
            private.field_name: secret,
            shared.field_name: "I could ask",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    entry = database.query_one(
        "SELECT id, status FROM workbook_entries WHERE user_id = ?", [people.learner.id]
    )
    assert entry is not None and entry["status"] == "submitted"
    staff_view = workbooks.shared_answers(database, entry["id"])
    assert staff_view is not None
    assert staff_view.answers == {shared.key: "I could ask"}
    # Another learner cannot open it, nor any page with it.
    other = TestClient(client.app, base_url="http://testserver")
    sign_in(other, people.other_learner)
    assert "zebra-striped" not in other.get(lesson_path(TRAPS, key)).text


@pytest.mark.usefixtures("courses")
def test_completing_a_course_issues_a_certificate_staff_can_verify(
    client: TestClient, people: People, database: Database, settings: Settings
) -> None:
    sign_in(client, people.learner)
    course = course_of(database, settings, people, MATH)
    lessons = visibility.lessons_of(database, course.version_id)
    events: list[dict[str, object]] = []
    for lesson in lessons:
        if lesson.kind == "reading":
            events.append(
                {
                    "id": f"done-{lesson.key}"[:64],
                    "type": "completed",
                    "course": MATH,
                    "lesson": lesson.key,
                }
            )
    reply = send_events(client, events)
    assert not reply["rejected"]
    # Before the course is finished its celebration page is only the course page.
    early = client.get(f"/learn/courses/{MATH}/finished", follow_redirects=False)
    assert early.status_code == 303 and early.headers["location"] == f"/learn/courses/{MATH}"
    last = None
    for lesson in lessons:
        if lesson.kind == "quiz":
            page = client.get(lesson_path(MATH, lesson.key)).text
            token = CSRF_RE.search(page)
            assert token
            answers = _right_answers(lesson.data.questions)
            last = client.post(
                lesson_path(MATH, lesson.key) + "/quiz",
                data={
                    "csrf_token": token.group(1),
                    "event_id": f"s-{lesson.key}"[:64],
                    "action": "submit",
                    **answers,
                },
            )
    earned = certificates.of_learner(database, people.learner.id)
    assert [c.course_id for c in earned] == [MATH]
    code = earned[0].code
    # The quiz that finished the course leads to the celebration, which leads on to the
    # certificate.
    assert last is not None and last.url.path == f"/learn/courses/{MATH}/finished"
    assert "You finished the course!" in last.text
    assert f'href="/learn/certificates/{code}"' in last.text
    certificate = client.get(f"/learn/certificates/{code}")
    assert certificate.status_code == 200
    assert "Alex Learner" in certificate.text and "Everyday Math" in certificate.text
    assert code in client.get("/learn/transcript").text
    # Staff check the code as typed from paper (lower case, no dashes).
    staff = TestClient(client.app, base_url="http://testserver")
    sign_in(staff, people.educator)
    typed = code.replace("-", "").lower()
    checked = staff.get(f"/verify?code={typed}")
    assert checked.status_code == 200 and "This certificate is genuine." in checked.text
    forged = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert staff.get(f"/verify/{forged}").status_code == 404
    # Another learner cannot open the certificate page.
    other = TestClient(client.app, base_url="http://testserver")
    sign_in(other, people.other_learner)
    assert other.get(f"/learn/certificates/{code}").status_code == 404


@pytest.mark.usefixtures("courses")
def test_media_is_served_with_range_only_to_people_who_may_see_it(
    client: TestClient, people: People, database: Database, settings: Settings
) -> None:
    sign_in(client, people.learner)
    page = client.get(lesson_path(SAFETY, "four-safety-habits")).text
    match = re.search(r'src="(/media/[0-9a-f]{64}/safety-habits\.webm)', page)
    assert match, "video source not on the page"
    url = match.group(1)
    whole = client.get(url)
    assert whole.status_code == 200
    assert "immutable" in whole.headers["cache-control"]
    # Opened on its own, a course file is a sandboxed document: no script, no navigation.
    assert "sandbox" in whole.headers["content-security-policy"].split("; ")
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    size = len(whole.content)
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == whole.content[100:200]
    assert re.search(r'<track kind="captions" src="/media/[0-9a-f]{64}/', page)
    # Pulled: the same URL stops at once.
    row = database.query_one("SELECT id FROM courses WHERE course_id = ?", [SAFETY])
    assert row is not None
    library.pull_course(database, CatalogHooks(), Actor.system(), row["id"], "check")
    assert client.get(url).status_code == 404
    anonymous = TestClient(client.app, base_url="http://testserver")
    assert anonymous.get(url, follow_redirects=False).status_code in (303, 401)


@pytest.mark.usefixtures("courses")
def test_spanish_learner_sees_spanish_pages(client: TestClient, people: People) -> None:
    sign_in(client, people.other_learner)
    home = client.get("/learn").text
    assert "Ver todos los cursos" in home or "Todos los cursos" in home
    lesson = client.get(lesson_path(MATH, "fractions-quiz")).text
    assert "Comprobar mi respuesta" in lesson


def test_learner_pages_need_a_learner(client: TestClient, database: Database) -> None:
    admin = make_user(database, Role.ADMIN, "root2")
    sign_in(client, admin)
    assert client.get("/learn/catalog").status_code == 403


@pytest.mark.usefixtures("courses")
def test_behind_nginx_media_is_an_accel_redirect_after_the_same_check(
    people: People, database: Database, settings: Settings
) -> None:
    from server.web.app import create_app

    behind_nginx = load_settings(
        environ={}, data_dir=settings.data_dir, demo=True, media_accel_prefix="/_media/"
    )
    with TestClient(create_app(behind_nginx), base_url="http://testserver") as client:
        sign_in(client, people.learner)
        page = client.get(lesson_path(SAFETY, "four-safety-habits")).text
        match = re.search(r'src="(/media/([0-9a-f]{64})/safety-habits\.webm)', page)
        assert match, "video source not on the page"
        url, sha256 = match.groups()
        response = client.get(url + "?download=1", headers={"Range": "bytes=100-199"})
        # No bytes from Python: nginx sends the blob (and does the Range) itself.
        assert response.status_code == 200 and response.content == b""
        assert response.headers["x-accel-redirect"] == f"/_media/{sha256[:2]}/{sha256}"
        assert response.headers["content-type"] == "video/webm"
        assert (
            response.headers["content-disposition"] == 'attachment; filename="safety-habits.webm"'
        )
        assert "immutable" in response.headers["cache-control"]
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        captions = re.search(r'<track kind="captions" src="(/media/[0-9a-f]{64}/[^"]+)"', page)
        assert captions
        assert client.get(captions.group(1)).headers["content-type"] == "text/vtt; charset=utf-8"
        row = database.query_one("SELECT id FROM courses WHERE course_id = ?", [SAFETY])
        assert row is not None
        library.pull_course(database, CatalogHooks(), Actor.system(), row["id"], "check")
        refused = client.get(url)
        assert refused.status_code == 404 and "x-accel-redirect" not in refused.headers


@pytest.mark.usefixtures("courses")
def test_a_new_course_version_keeps_progress_by_lesson_key(
    client: TestClient, people: People, database: Database, settings: Settings, tmp_path: Path
) -> None:
    from content.package.build import build_package
    from content.tuf.repository import add_packages
    from server.catalog.sync import sync_all
    from tests.server.catalog.test_sync import _course_copy

    sign_in(client, people.learner)
    send_events(
        client,
        [
            {
                "id": "done-fractions",
                "type": "completed",
                "course": MATH,
                "lesson": "fractions-in-daily-life",
            }
        ],
    )
    old_version = _version(database, MATH)
    dist = tmp_path / "dist"
    dist.mkdir()
    add_packages(
        settings.data_dir / "demo-ngo",
        [build_package(_course_copy(tmp_path, "everyday-math", 2), dist)],
    )
    reports = sync_all(database, settings, CatalogHooks(), Actor.system("test"))
    assert [r.imported for r in reports] == [[f"{MATH} v2"]]
    assert _version(database, MATH) != old_version  # the demo publisher auto-publishes
    course = client.get(f"/learn/courses/{MATH}").text
    assert "1 of 6 lessons done" in course


def post_raw_events(client: TestClient, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST bytes as they are to /api/events (a JSON library would refuse to write some
    of what an attacker can send, such as a lone surrogate)."""
    response = client.post(
        "/api/events",
        content=body,
        headers={"X-CSRF-Token": csrf(client), "Content-Type": "application/json"},
    )
    return response.status_code, dict(response.json())


@pytest.mark.usefixtures("courses")
def test_events_with_lone_surrogates_are_rejected_one_by_one(
    client: TestClient, people: People, database: Database
) -> None:
    sign_in(client, people.learner)
    good = {
        "id": "good-000001",
        "type": "started",
        "course": MATH,
        "lesson": "fractions-in-daily-life",
    }
    # "\ud800" is valid JSON syntax but no character: it cannot be stored or sent back.
    at = json.dumps({**good, "id": "at-0000001", "at": "2026-01-01T00:00:00Z"}).replace(
        "2026-01-01T00:00:00Z", "\\ud800"
    )
    bad_id = json.dumps({**good, "id": "ID-PLACE"}).replace("ID-PLACE", "bad\\udfff-00001")
    in_data = json.dumps({**good, "id": "data-000001", "data": {"note": "NOTE"}}).replace(
        "NOTE", "\\ud83d"
    )
    body = f'{{"events": [{json.dumps(good)}, {at}, {bad_id}, {in_data}]}}'.encode()
    status, answer = post_raw_events(client, body)
    assert status == 200, answer
    assert answer["accepted"] == ["good-000001"]
    assert set(answer["rejected"]) == {"at-0000001", "#2", "data-000001"}
    assert "not valid Unicode" in answer["rejected"]["at-0000001"]
    stored = database.query(
        "SELECT event_id FROM progress_events WHERE user_id = ?", [people.learner.id]
    )
    assert [row["event_id"] for row in stored] == ["good-000001"]


@pytest.mark.usefixtures("courses")
def test_a_body_nested_too_deep_or_not_json_is_a_clear_400(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    for body, message in [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (
            b'{"events": [{"data": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}]}",
            "nested too deeply",
        ),
        (b'{"events": [\xff\xfe]}', "not valid JSON"),
    ]:
        status, answer = post_raw_events(client, body)
        assert status == 400, answer
        assert message in str(answer["error"])


@pytest.mark.usefixtures("courses")
def test_the_lesson_page_tells_the_tablet_how_long_reports_may_wait(
    client: TestClient, people: People, tmp_path: Path
) -> None:
    sign_in(client, people.learner)
    page = client.get(lesson_path(TRAPS, "six-thinking-traps")).text
    assert 'data-batch-seconds="30"' in page  # the facility default
    for wrong in ("-1", "301"):
        with pytest.raises(ConfigError, match="event_batch_seconds must be between 0 and 300"):
            load_settings(environ={"STEPSTONE_EVENT_BATCH_SECONDS": wrong}, data_dir=tmp_path)
    quick = load_settings(environ={"STEPSTONE_EVENT_BATCH_SECONDS": "0"}, data_dir=tmp_path)
    assert quick.event_batch_seconds == 0
