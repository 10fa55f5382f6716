"""A lesson plan's writing task in a real browser: the word count follows the typing, the
draft saves itself (plan-writing.js) and is there after a reload; no outside request and
no CSP violation on the page, and axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from server.core.settings import load_settings
from server.learning import lesson_plans
from server.people import groups
from server.people.accounts import Role
from server.people.audit import Actor
from tests.browser.conftest import axe_violations, sign_in_learner, watch
from tests.conftest import make_user, new_database
from tests.live import running_server

pytestmark = pytest.mark.browser
SYSTEM = Actor.system("t")
TASK = {
    "prompt": "Tell a friend about your week.",
    "length": "short",
    "max_words": "40",
    "c1": "Says what happened",
    "c1-l1": "Not yet",
    "c1-p1": "0",
    "c1-l2": "Yes",
    "c1-p2": "1",
    "pass_mark": "1",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data = tmp_path_factory.mktemp("plan-writing") / "data"
    database = new_database(load_settings(environ={}, data_dir=data))
    teacher = make_user(database, Role.EDUCATOR, "teacher", "Terry Teacher")
    learner = make_user(database, Role.LEARNER, "A100", "Alex Learner")
    group = groups.create_group(database, SYSTEM, "GED Class", "class")
    groups.add_member(database, SYSTEM, group.id, teacher.id)
    groups.add_member(database, SYSTEM, group.id, learner.id)
    plan_id = lesson_plans.create_plan(database, SYSTEM, group.id, "Letters", "")
    plan = lesson_plans.get_plan(database, plan_id)
    task_id = lesson_plans.add_written_task(
        database, teacher, "127.0.0.1", plan, "My week", lambda name: TASK.get(name, "")
    )
    lesson_plans.assign(database, SYSTEM, plan, "", False)
    database.close()
    with running_server(data) as base:
        yield base, f"/learn/lesson-plans/{plan_id}/writing/{task_id}"


def test_the_draft_saves_itself_and_the_words_are_counted(
    browser: Browser, site: tuple[str, str]
) -> None:
    base, task_url = site
    context = browser.new_context()
    watched = watch(context, base)
    page = watched.page
    sign_in_learner(page, base)
    page.clock.install()
    page.goto(base + task_url)
    answer = page.get_by_label("Your answer")
    answer.fill("I fixed a chair and called my sister on Sunday.")
    expect(page.locator("#word-count")).to_have_text("10 words")
    page.clock.run_for(2100)  # the pause after typing that starts the save
    expect(page.locator("#autosave")).to_contain_text("Saved at")
    page.reload()
    expect(page.get_by_label("Your answer")).to_have_value(
        "I fixed a chair and called my sister on Sunday."
    )
    assert watched.foreign_requests() == [] and watched.csp_violations() == []
    assert axe_violations(browser, base + task_url, context.storage_state()) == []
    context.close()
