"""Lesson plans end to end: an educator builds a plan of two lessons and a quiz of
questions picked from a course's quiz, assigns it with a due date; a learner of the group
sees it, does every item and the plan is done on the educator's page. Another group's
educator cannot see it; withdrawn content shows as unavailable; admins read the local
text."""

from __future__ import annotations

import re

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server.catalog import library
from server.catalog.library import CatalogHooks
from server.core.db import Database
from server.learning import lesson_plans
from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from tests.conftest import CSRF_RE, FakeClock, People, make_user, sign_in

pytestmark = pytest.mark.demo

SAFETY = "org.stepstone.demo.workplace-safety"
MATH = "org.stepstone.demo.everyday-math"
SYSTEM = Actor.system("test")


def token(client: TestClient, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, path
    return match.group(1)


def send(client: TestClient, page: str, action: str, data: dict[str, str | list[str]]) -> int:
    response = client.post(
        action, data={"csrf_token": token(client, page), **data}, follow_redirects=False
    )
    return response.status_code


@pytest.fixture
def classes(database: Database, people: People) -> tuple[int, int]:
    a = groups.create_group(database, SYSTEM, "Class A", "class")
    b = groups.create_group(database, SYSTEM, "Class B", "class")
    groups.add_member(database, SYSTEM, a.id, people.educator.id)
    groups.add_member(database, SYSTEM, a.id, people.learner.id)
    groups.add_member(database, SYSTEM, b.id, people.other_learner.id)
    return a.id, b.id


def test_a_plan_is_built_assigned_done_and_kept_to_its_group(
    app: Starlette,
    people: People,
    database: Database,
    classes: tuple[int, int],
    fake_clock: FakeClock,
) -> None:
    group_a, group_b = classes
    teacher = TestClient(app, base_url="http://testserver")
    sign_in(teacher, people.educator)
    plans_page = f"/teach/groups/{group_a}/lesson-plans"
    made = teacher.post(
        plans_page,
        data={
            "csrf_token": token(teacher, plans_page),
            "title": "Safety week",
            "instructions": "Read both, then take the quiz.",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    plan_url = made.headers["location"].split("?")[0]
    plan_id = int(plan_url.rsplit("/", 1)[1])

    # Search inside the builder finds a lesson by its title; browse lists a course's lessons.
    found = teacher.get(plan_url, params={"q": "protective"}).text
    assert "Protective gear (PPE)" in found
    assert "Safe lifting, slips and trips" in teacher.get(plan_url, params={"course": SAFETY}).text
    for key in ("lifting-slips-and-trips", "protective-gear"):
        status = send(
            teacher, plan_url, plan_url + "/items", {"course_id": SAFETY, "lesson_key": key}
        )
        assert status == 303
    # Reorder without JavaScript: the second item moves up.
    items = lesson_plans.items_of(database, plan_id)
    send(teacher, plan_url, f"{plan_url}/items/{items[1].id}", {"action": "up"})
    titles = [i.lesson_key for i in lesson_plans.items_of(database, plan_id)]
    assert titles == ["protective-gear", "lifting-slips-and-trips"]

    # A quiz of two questions from the course's quiz (no new outside content).
    quiz_page = f"{plan_url}/quiz?course={SAFETY}"
    assert "What does PPE stand for?" in teacher.get(quiz_page).text
    picks = [f"{SAFETY}|safety-quiz|ppe-meaning", f"{SAFETY}|safety-quiz|gloves-and-drill"]
    status = send(
        teacher,
        quiz_page,
        plan_url + "/quiz",
        {"pick": picks, "title": "PPE check", "instructions": "Two quick ones.", "pass_mark": "50"},
    )
    assert status == 303

    # Past due dates are refused unless confirmed; a future date assigns.
    refused = teacher.post(
        plan_url + "/assign",
        data={"csrf_token": token(teacher, plan_url), "due_date": "2001-01-01"},
    )
    assert refused.status_code == 400 and "in the past" in refused.text
    assert send(teacher, plan_url, plan_url + "/assign", {"due_date": "2099-12-24"}) == 303

    # The other group's learner sees nothing; the group's learner sees it on their home page.
    other = TestClient(app, base_url="http://testserver")
    sign_in(other, people.other_learner)
    assert "Safety week" not in other.get("/learn").text
    assert other.get(f"/learn/lesson-plans/{plan_id}").status_code == 404
    learner = TestClient(app, base_url="http://testserver")
    sign_in(learner, people.learner)
    home = learner.get("/learn").text
    assert "Safety week" in home and "0 of 3 done" in home
    page = learner.get(f"/learn/lesson-plans/{plan_id}").text
    assert page.index("Protective gear") < page.index("Safe lifting") < page.index("PPE check")
    assert "Read both, then take the quiz." in page

    for key in ("protective-gear", "lifting-slips-and-trips"):
        path = f"/learn/courses/{SAFETY}/lessons/{key}"
        fake_clock.advance(240)
        assert send(learner, path, path + "/done", {}) == 303
    quiz_url = re.search(r'href="(/learn/lesson-plans/\d+/quizzes/\d+)"', page)
    assert quiz_url
    # One right of two: 50 %, which is the pass mark.
    quiz_page_text = learner.get(quiz_url.group(1)).text
    fields = re.findall(r'name="(q-[^"]+)"', quiz_page_text)
    assert len(set(fields)) == 2
    ppe, gloves = sorted(set(fields), key=lambda f: "gloves" in f)
    assert send(learner, quiz_url.group(1), quiz_url.group(1), {ppe: "0", gloves: "true"}) == 303
    result = learner.get(quiz_url.group(1)).text
    assert "1 of 2 right — you passed" in result and "Your score: 50%" in result
    assert "You did everything in this plan" in learner.get(f"/learn/lesson-plans/{plan_id}").text

    # The educator sees the learner done, and the quiz result.
    board = teacher.get(plan_url).text
    assert "Alex Learner" in board and re.search(r"<strong>\s*Done\s*</strong>", board)
    results = teacher.get(quiz_url.group(1).replace("/learn/", "/teach/")).text
    assert "50%" in results

    # An educator of another group gets 404 for the plan, its items and its quiz.
    stranger = make_user(database, Role.EDUCATOR, "other-teacher")
    groups.add_member(database, SYSTEM, group_b, stranger.id)
    outsider = TestClient(app, base_url="http://testserver")
    sign_in(outsider, stranger)
    assert outsider.get(plan_url).status_code == 404
    assert outsider.get(f"/teach/groups/{group_a}/lesson-plans").status_code == 404
    response = outsider.post(
        plan_url + "/assign",
        data={"csrf_token": token(outsider, "/teach"), "due_date": "2099-01-01"},
    )
    assert response.status_code == 404

    # The admins' list shows the local text with its author.
    admin = TestClient(app, base_url="http://testserver")
    sign_in(admin, people.admin)
    texts = admin.get("/admin/local-text").text
    for words in ("Safety week", "Read both, then take the quiz.", "PPE check", "Two quick ones."):
        assert words in texts
    assert "educator:teacher" in texts

    # Withdrawn content: the items show as unavailable, not as broken links.
    course_pk = database.query_one("SELECT id FROM courses WHERE course_id = ?", [SAFETY])
    assert course_pk is not None
    library.pull_course(database, CatalogHooks(), SYSTEM, course_pk[0], "wrong answers")
    done = learner.get(f"/learn/lesson-plans/{plan_id}").text
    assert "Not available now" not in done and f"/learn/courses/{SAFETY}" not in done
    late = make_user(database, Role.LEARNER, "C300", "Cam Late")
    groups.add_member(database, SYSTEM, group_a, late.id)
    newcomer = TestClient(app, base_url="http://testserver")
    sign_in(newcomer, late)
    after = newcomer.get(f"/learn/lesson-plans/{plan_id}").text
    assert after.count("Not available now") == 3
    assert f"/learn/courses/{SAFETY}" not in after and "/quizzes/" not in after
    assert newcomer.get(quiz_url.group(1)).status_code == 404
    assert "Not available: the content was withdrawn" in teacher.get(plan_url).text
    audit = {r[0] for r in database.query("SELECT action FROM audit_log")}
    assert {"lesson-plan.create", "lesson-plan.add-quiz", "lesson-plan.assign"} <= audit
