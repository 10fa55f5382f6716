"""The demo course "Money Basics" on a learner's tablet: the budget game (an HTML5
activity) and "Spot the money trap" (a SCORM 1.2 package, made by
courses/_tools/money_apps.py) are played in Chromium, and each lesson is done with its
score on the learner's page that their educator opens."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Response, expect

from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from tests.browser.conftest import sign_in_learner, watch
from tests.conftest import PASSWORD, demo_facility, make_user
from tests.live import running_server

pytestmark = pytest.mark.browser

COURSE = "/learn/courses/org.stepstone.demo.money-basics"
# What the game asks at least, in $25 steps: rent, food, bus, phone, fees, -, -, savings.
NEEDS = {"Rent (a shared room)": 650, "Food": 300, "Bus pass": 90, "Phone": 45}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    data = tmp_path_factory.mktemp("money") / "data"
    _settings, database = demo_facility(data)
    teacher = make_user(database, Role.EDUCATOR, "teacher", "Terry Teacher")
    learner = make_user(database, Role.LEARNER, "A100", "Alex Learner")
    group = groups.create_group(database, Actor.system("t"), "Reentry class", "class")
    groups.add_member(database, Actor.system("t"), group.id, teacher.id)
    groups.add_member(database, Actor.system("t"), group.id, learner.id)
    database.close()
    with running_server(data, STEPSTONE_DEMO="true") as base:
        yield base, data, learner.id


def lesson_row(data: Path, key: str) -> tuple[str, float | None] | None:
    with sqlite3.connect(data / "stepstone.db") as db:
        row = db.execute(
            "SELECT status, score FROM lesson_progress WHERE lesson_key = ?", [key]
        ).fetchone()
    return None if row is None else (str(row[0]), row[1])


def passed(response: Response) -> bool:
    """The batch of events that carries the SCO's "passed"."""
    return response.url.endswith("/api/events") and "passed" in (response.request.post_data or "")


def test_the_budget_game_and_the_scorm_quiz_count_on_the_educators_page(
    browser: Browser, site: tuple[str, Path, int]
) -> None:
    base, data, learner_id = site
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)

    page.goto(base + COURSE + "/lessons/the-budget-game")
    game = page.frame_locator("#app-frame")
    status = game.get_by_role("status")
    expect(status).to_have_text("Rent (a shared room) needs at least $650.", timeout=10_000)
    more = {name: game.get_by_role("button", name=f"More for {name}") for name in NEEDS}
    for name, need in NEEDS.items():
        for _ in range(-(-need // 25)):
            more[name].click()
    # Rent 650, food 300, bus 100, phone 50: 1,100. Fees 75, savings 425: 1,600.
    for _ in range(3):
        game.get_by_role("button", name="More for Court fees and supervision").click()
    savings = game.get_by_role("button", name="More for Savings")
    for _ in range(16):
        savings.click()
    expect(status).to_contain_text("a job: savings is a good one")
    with page.expect_response("**/api/events", timeout=10_000) as sent:
        savings.click()
        expect(status).to_have_text(
            "Your budget works! Every need is covered and $425 goes to savings."
        )
    assert sent.value.ok
    assert lesson_row(data, "the-budget-game") == ("done", None)

    page.goto(base + COURSE + "/lessons/spot-the-money-trap")
    sco = page.frame_locator("#app-frame")
    answers = [
        "A small loan from a credit union at 18% a year",
        "Direct deposit into a free bank or credit union account",
        "The same as saving for it",  # wrong: 3 of 4 still passes
        "Say no, and get your free credit reports to fix mistakes yourself",
    ]
    for n, answer in enumerate(answers[:-1], 1):
        expect(sco.get_by_role("status")).to_have_text(f"Question {n} of 4", timeout=10_000)
        sco.get_by_label(answer).check()
        sco.get_by_role("button", name="Check my answer").click()
        sco.get_by_role("button", name="Next question").click()
    sco.get_by_label(answers[-1]).check()
    with page.expect_response(passed, timeout=10_000) as sent:
        sco.get_by_role("button", name="Check my answer").click()
    assert sent.value.ok
    expect(sco.get_by_role("status")).to_have_text("3 of 4 right")
    expect(sco.get_by_text("You passed.")).to_be_visible()
    assert lesson_row(data, "spot-the-money-trap") == ("done", 75.0)
    assert watched.csp_violations() == []
    context.close()

    staff = browser.new_context()
    page = watch(staff, base).page
    page.goto(base + "/staff/signin")
    page.get_by_label("Username").fill("teacher")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/teach")
    page.goto(f"{base}/teach/learners/{learner_id}")
    section = page.get_by_role("region", name="Interactive activities")
    for lesson, score in (("Spot the money trap", "75%"), ("The budget game", "—")):
        row = section.get_by_role("row").filter(has_text=re.compile(f"^{lesson} "))
        expect(row.get_by_role("cell").nth(1)).to_have_text("done")
        expect(row.get_by_role("cell").nth(2)).to_have_text(score)
    staff.close()
