"""The content review and publishers pages in a real browser: accessible, within the CSP,
and a sync's result shown without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from content.tuf import repository
from server.catalog import library, sync_runs, trust
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.catalog.sync_runs import RunReport
from server.cli.main import initialize
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.people.accounts import Role
from tests.browser.conftest import axe_report, watch
from tests.conftest import PASSWORD, make_user
from tests.content.tuf.helpers import make_repo
from tests.facility import ADMIN, trust_ngo
from tests.live import running_server
from tests.server.catalog.review_course import review_package

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Site:
    url: str
    database: Database
    settings: Settings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Version 1 of the review course live, version 2 waiting for review."""
    base = tmp_path_factory.mktemp("review")
    settings = load_settings(environ={}, data_dir=base / "data")
    database = initialize(settings)
    make_user(database, Role.ADMIN, "boss")
    repo = make_repo(base)
    trust_ngo(database, repo, auto_publish=False)
    for version in (1, 2):
        repository.add_packages(repo, [review_package(base, version)])
        sync_all(database, settings, CatalogHooks(), ADMIN)
        if version == 1:
            library.approve(database, CatalogHooks(), ADMIN, 1)
    with running_server(settings.data_dir) as url:
        yield Site(url, database, settings)
    database.close()


def _sign_in(page: Page, url: str) -> None:
    page.goto(url + "/staff/signin")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin")


def test_review_pages_pass_axe_and_the_csp(browser: Browser, site: Site) -> None:
    context = browser.new_context()
    watched = watch(context, site.url)
    _sign_in(watched.page, site.url)
    pages = [f"{site.url}/admin/content/versions/{n}" for n in (1, 2)]
    for url in pages:
        response = watched.page.goto(url)
        assert response is not None and response.status == 200, url
    found = axe_report(browser, pages, context.storage_state())
    assert {url: problems for url, problems in found.items() if problems} == {}
    assert watched.foreign_requests() == []
    assert watched.csp_violations() == []
    context.close()


def test_a_running_sync_shows_its_result_without_a_reload(browser: Browser, site: Site) -> None:
    [publisher] = trust.list_publishers(site.database, site.settings)
    run_id = sync_runs.start_run(site.database, publisher, "admin", alone=False)
    context = browser.new_context()
    watched = watch(context, site.url)
    page = watched.page
    _sign_in(page, site.url)
    page.goto(site.url + "/admin/publishers")
    runs = page.locator(f"#sync-runs-{publisher.id}")
    assert runs.locator("tbody tr").first.inner_text().split("\t")[1] == "Running…"
    page.evaluate("window.stillTheSamePage = true")
    sync_runs.finish_run(site.database, run_id, None, RunReport(publisher.name), ADMIN)
    result = runs.locator("tbody tr").first.locator("td").nth(1)
    expect(result).to_have_text("Done", timeout=10_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert "imported 0" in runs.inner_text()
    assert page.locator("#sync-status").inner_text() == "Sync finished. Its result is below."
    assert watched.csp_violations() == []
    context.close()
