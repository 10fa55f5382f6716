"""A writing task in a real browser: the learner writes (the word count follows, the draft
saves by itself), sends it; the educator grades it with the rubric and asks for a revision;
the learner reads the grade and the feedback. The new teaching pages (the grading queue and
page, lesson plans, files, requests, the admins' list of local text) pass axe-core, with no
outside request and no CSP violation."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from tests.browser.conftest import axe_report, watch
from tests.conftest import PASSWORD, PIN, demo_facility, make_user
from tests.live import running_server

pytestmark = pytest.mark.browser

LETTER = "/learn/courses/org.stepstone.demo.job-ready/lessons/letter-to-an-employer"
WORDS = ("I would like to work as a cook in your kitchen. " * 3).strip()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    data = tmp_path_factory.mktemp("writing") / "data"
    _settings, database = demo_facility(data, indexed=True)
    make_user(database, Role.ADMIN, "boss", "Boss")
    teacher = make_user(database, Role.EDUCATOR, "teacher", "Terry Teacher")
    learner = make_user(database, Role.LEARNER, "A100", "Alex Learner")
    group = groups.create_group(database, Actor.system("t"), "Job Class", "class")
    groups.add_member(database, Actor.system("t"), group.id, teacher.id)
    groups.add_member(database, Actor.system("t"), group.id, learner.id)
    database.close()
    with running_server(data, STEPSTONE_DEMO="true") as base:
        yield base, data, group.id


def _staff(page: Page, base: str, username: str) -> None:
    page.goto(base + "/staff/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/" + ("admin" if username == "boss" else "teach"))


def _draft(data: Path) -> str:
    with sqlite3.connect(data / "stepstone.db") as db:
        row = db.execute("SELECT text FROM written_attempts WHERE status = 'draft'").fetchone()
    return str(row[0]) if row else ""


def test_a_letter_is_written_sent_graded_and_sent_back_for_a_revision(
    browser: Browser, site: tuple[str, Path, int]
) -> None:
    base, data, group_id = site
    tablet = browser.new_context()
    watched = watch(tablet, base)
    learner = watched.page
    learner.goto(base + "/signin")
    learner.get_by_label("Your ID number").fill("A100")
    learner.get_by_label("Your PIN").fill(PIN)
    learner.get_by_role("button", name="Sign in").click()
    learner.wait_for_url("**/learn")
    learner.goto(base + LETTER)
    answer = learner.get_by_label("Your answer")
    answer.fill("Dear")
    expect(learner.locator("#word-count")).to_contain_text("1 word ")
    answer.fill(WORDS)
    expect(learner.locator("#word-count")).to_contain_text("33 words")
    expect(learner.locator("#word-count")).to_contain_text("A bit more will help.")
    # Saved without a tap, as a workbook page is.
    expect(learner.locator("#autosave")).to_contain_text("Saved at", timeout=15_000)
    assert _draft(data) == WORDS
    learner.get_by_role("button", name="I am done: send it").click()
    sent = learner.get_by_text("Sent. Your teacher will read it and give you a grade.")
    expect(sent).to_be_visible()

    staff = browser.new_context()
    desk = watch(staff, base)
    page = desk.page
    _staff(page, base, "teacher")
    page.get_by_role("link", name="Writing to grade").click()
    expect(page.locator("table")).to_contain_text("Alex Learner")
    page.get_by_role("link", name="Writing task: a letter to an employer").click()
    expect(page.get_by_text(WORDS[:40])).to_be_visible()
    # One level per criterion, by the names the rubric gives them; the total follows.
    for criterion, level in (("Names the job", "Clear"), ("Shows skills", "Partly")):
        page.get_by_role("group", name=criterion).get_by_label(level).check()
    page.get_by_role("group", name="Polite, clear").get_by_label("Partly").check()
    expect(page.locator("#rubric-total")).to_contain_text("Total: 4 of 6 points.")
    page.get_by_label("Your feedback for the learner").fill("Add one real example of a skill.")
    page.get_by_label("Revise and send again", exact=False).check()
    grading_url = page.url
    page.get_by_role("button", name="Save the grade").click()
    page.wait_for_url("**/teach/grading**")

    learner.goto(base + LETTER)
    expect(learner.get_by_text("Add one real example of a skill.")).to_be_visible()
    expect(learner.get_by_text("Your teacher asked you to change your writing")).to_be_visible()
    expect(learner.get_by_label("Your answer")).to_have_value(WORDS)

    found = axe_report(
        browser,
        [
            base + "/teach/grading",
            grading_url,
            base + f"/teach/groups/{group_id}/lesson-plans",
            base + "/teach/files",
            base + "/teach/requests",
        ],
        staff.storage_state(),
    )
    found |= axe_report(browser, [base + LETTER], tablet.storage_state())
    admin = browser.new_context()
    _staff(admin.new_page(), base, "boss")
    found |= axe_report(browser, [base + "/admin/local-text"], admin.storage_state())
    assert {url: problems for url, problems in found.items() if problems} == {}
    for seen in (watched, desk):
        assert seen.csp_violations() == [] and seen.foreign_requests() == []
    for context in (tablet, staff, admin):
        context.close()
