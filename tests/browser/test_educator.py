"""An educator assigns a course to their class in a real browser and sees a learner's
progress, then completion, appear on the group board. Educator pages are checked with
axe-core and for outside requests and CSP violations too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from server.learning import credit_rules
from server.learning.credit_rules import NewRule
from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from tests.browser.conftest import answer_right, axe_report, quiz_questions, watch
from tests.conftest import PASSWORD, PIN, demo_facility, make_user
from tests.live import running_server

pytestmark = pytest.mark.browser

MATH = "/learn/courses/org.stepstone.demo.everyday-math"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    data = tmp_path_factory.mktemp("educator") / "data"
    _settings, database = demo_facility(data, indexed=True)
    teacher = make_user(database, Role.EDUCATOR, "teacher", "Terry Teacher")
    learner = make_user(database, Role.LEARNER, "A100", "Alex Learner")
    group = groups.create_group(database, Actor.system("t"), "GED Class", "class")
    groups.add_member(database, Actor.system("t"), group.id, teacher.id)
    groups.add_member(database, Actor.system("t"), group.id, learner.id)
    rule = NewRule("category", "education", "earned-time", "measured", "2020-01-01")
    credit_rules.add_rule(database, Actor.system("t"), rule)
    database.close()
    with running_server(data, STEPSTONE_DEMO="true") as base:
        yield base, data, group.id


def right_answers(page: Page, data: Path, lesson_key: str) -> None:
    for spec in quiz_questions(data, lesson_key):
        answer_right(page, spec)
    page.get_by_role("button", name="Finish the quiz").click()
    # The quiz that finishes the course leads to its celebration instead of the result.
    passed = re.compile("right — you passed|You finished the course!")
    expect(page.get_by_role("heading", name=passed)).to_be_visible()


def test_educator_assigns_and_sees_completion(
    browser: Browser, site: tuple[str, Path, int]
) -> None:
    base, data, group_id = site
    staff = browser.new_context()
    watched = watch(staff, base)
    page = watched.page
    page.goto(base + "/staff/signin")
    page.get_by_label("Username").fill("teacher")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/teach")
    page.get_by_role("link", name="GED Class").click()
    page.get_by_label("Course", exact=True).select_option(label="Everyday Math — English")
    page.get_by_label("Due date (optional)").fill("2030-01-15")
    page.get_by_label("Note for the learners (optional)").fill("Fractions first, please.")
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_text("Assigned.")).to_be_visible()
    board = page.locator("table.board")
    expect(board).to_contain_text("Not started")

    # The learner sees it first on their home page, and works through it.
    tablet = browser.new_context()
    learner = tablet.new_page()
    learner.goto(base + "/signin")
    learner.get_by_label("Your ID number").fill("A100")
    learner.get_by_label("Your PIN").fill(PIN)
    learner.get_by_role("button", name="Sign in").click()
    learner.wait_for_url("**/learn")
    expect(learner.get_by_text("From your teacher")).to_be_visible()
    expect(learner.get_by_text("Fractions first, please.")).to_be_visible()
    learner.goto(base + MATH + "/lessons/fractions-in-daily-life")
    learner.get_by_role("button", name="I finished reading").click()

    page.reload()
    expect(board).to_contain_text("Started")
    expect(board).to_contain_text("1 of 6")

    for key in ("working-with-fractions", "decimals-and-money", "percents-and-discounts"):
        learner.goto(f"{base}{MATH}/lessons/{key}")
        learner.get_by_role("button", name="I finished reading").click()
    for key in ("fractions-quiz", "decimals-and-percents-quiz"):
        learner.goto(f"{base}{MATH}/lessons/{key}")
        right_answers(learner, data, key)
    tablet.close()

    page.reload()
    expect(board).to_contain_text("Done")
    expect(board).to_contain_text("6 of 6")
    page.get_by_role("link", name="Alex Learner").click()
    expect(page.get_by_role("heading", name="Certificates")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Everyday Math")
    learner_page = page.url.removeprefix(base)
    page.get_by_role("link", name="Earned credit").click()
    expect(page.locator("main")).to_contain_text("Everyday Math")
    expect(page.locator("main")).to_contain_text("Earned time")

    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    state = staff.storage_state()
    pages = [
        "/teach",
        f"/teach/groups/{group_id}",
        "/teach/courses/org.stepstone.demo.everyday-math",
        f"/teach/courses/org.stepstone.demo.everyday-math/questions?group={group_id}",
        learner_page,
        learner_page + "/credit",
        f"/teach/groups/{group_id}/credit",
        "/teach/reviews",
        "/teach/exports",
        "/verify",
    ]
    problems = axe_report(browser, [base + path for path in pages], state)
    assert {url: found for url, found in problems.items() if found} == {}
    staff.close()
