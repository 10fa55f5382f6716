"""A search index damaged on disk: found by its checksums before any search reads it.

Under a real running server (two uvicorn workers) the workers stay up, the search page
says "being rebuilt", the index is rebuilt by itself and results come back, and
`check` goes back to ok without a restart."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from search_index import SearchService, Status
from search_index.checksums import MANIFEST, read_manifest
from server.catalog.search import search_root
from server.core.db import Database
from server.core.settings import Settings
from server.ops import health
from server.ops.health import Status as CheckStatus
from server.people.accounts import Role
from tests.conftest import CSRF_RE, PIN, demo_facility, make_user
from tests.live import running_server
from tests.search_index.conftest import (
    ALL_LIVE,
    PENDING,
    SAFETY,
    adding,
    all_courses,
    math_course,
)

REBUILDING = "Search is being rebuilt. Please try again in a minute."
RESULT = re.compile(r'<h2 class="result-title">')


def live_folder(root: Path) -> Path:
    folder = SearchService(root).location.current()
    assert folder is not None
    return folder


def biggest_segment(root: Path) -> Path:
    return max(live_folder(root).glob("*.seg"), key=lambda p: p.stat().st_size)


def truncate_segment(root: Path) -> None:
    segment = biggest_segment(root)
    with segment.open("r+b") as handle:
        handle.truncate(segment.stat().st_size // 3)


def overwrite_segment_in_place(root: Path) -> None:
    """Same size, same name, other bytes: what a bad disk block or a stray write does."""
    segment = biggest_segment(root)
    data = bytearray(segment.read_bytes())
    for i in range(64, len(data) - 64, 5):
        data[i] ^= 0x5A
    with segment.open("r+b") as handle:
        handle.write(data)


def garble_table_of_contents(root: Path) -> None:
    for toc in live_folder(root).glob("_MAIN_*.toc"):
        size = toc.stat().st_size
        with toc.open("r+b") as handle:
            handle.write(b"\x00garbled" * (size // 8))


DAMAGE = [truncate_segment, overwrite_segment_in_place, garble_table_of_contents]
DAMAGE_IDS = ["truncated-segment", "segment-overwritten", "garbled-toc"]


@pytest.mark.parametrize("damage", DAMAGE, ids=DAMAGE_IDS)
def test_damage_under_an_open_searcher_means_rebuilding_not_wrong_answers(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    root = tmp_path / "search"
    with SearchService(root) as service, SearchService(root) as fresh:
        service.rebuild(all_courses())
        assert service.search("fraction", visible_versions=ALL_LIVE).total > 0
        damage(root)
        for process in (service, fresh):  # one with its searcher open, one that opens now
            results = process.search("fraction", visible_versions=ALL_LIVE)
            assert results.status is Status.REBUILDING
            assert process.indexed_versions() is None
        # Nothing is written on top of a damaged index: the rebuild reads everything anew.
        assert service.update(adding(math_course(version_id=9))) is False
        service.rebuild(all_courses())
        assert service.search("fraction", visible_versions=ALL_LIVE).total > 0


def test_every_commit_records_the_checksums_of_its_generation(tmp_path: Path) -> None:
    root = tmp_path / "search"
    with SearchService(root) as service:
        service.rebuild(all_courses())
        service.update(lambda update: update.remove(SAFETY))  # deletions only
        service.update(adding(math_course(version_id=11)))  # new segment
        folder = live_folder(root)
        manifest = read_manifest(folder)
        on_disk = {p.name for p in folder.iterdir() if p.suffix in {".seg", ".toc"}}
        assert set(manifest.files) == on_disk
        with SearchService(root) as fresh:
            assert set(fresh.indexed_versions() or {}) == set(ALL_LIVE - {SAFETY}) | {PENDING, 11}
        # A commit cut short before its checksums were written cannot be trusted.
        (folder / MANIFEST).unlink()
        with SearchService(root) as fresh:
            assert fresh.search("fraction", visible_versions=None).status is Status.REBUILDING


@pytest.fixture
def facility(tmp_path: Path) -> Iterator[Settings]:
    """The demo courses, a learner, and an index built before the server starts."""
    settings, database = demo_facility(tmp_path / "data", indexed=True)
    make_user(database, Role.LEARNER, "A100", "Alex Learner")
    database.close()
    yield settings


def signed_in(base: str) -> httpx.Client:
    # A new connection per request, so that both worker processes answer some.
    client = httpx.Client(base_url=base, headers={"Connection": "close"}, timeout=30)
    form = client.get("/signin")
    match = CSRF_RE.search(form.text)
    assert match
    data = {"facility_id": "A100", "pin": PIN, "csrf_token": match.group(1)}
    assert client.post("/signin", data=data).status_code == 303
    return client


def workers_started_and_died(log: Path) -> tuple[int, int]:
    text = log.read_text()
    return text.count("Started server process"), text.count("died")


@pytest.mark.e2e
@pytest.mark.parametrize("damage", DAMAGE, ids=DAMAGE_IDS)
def test_a_damaged_index_is_rebuilt_while_the_workers_stay_up(
    facility: Settings, damage: Callable[[Path], None]
) -> None:
    settings = facility
    with running_server(settings.data_dir, workers=2, STEPSTONE_DEMO="1") as base:
        log = settings.data_dir.parent / f"server-{urlsplit(base).port}.log"
        deadline = time.monotonic() + 30
        while workers_started_and_died(log) != (2, 0) and time.monotonic() < deadline:
            time.sleep(0.1)  # the first worker answers before the second one is up
        started = workers_started_and_died(log)
        assert started == (2, 0), log.read_text()
        client = signed_in(base)
        for _ in range(6):  # both workers open the index and search it
            page = client.get("/search?q=fractions")
            assert page.status_code == 200 and RESULT.search(page.text)

        damage(search_root(settings))
        database = Database(settings.database_path)
        try:
            broken = health.check_search(settings, database)
            assert broken.status is CheckStatus.FAIL

            answers = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                page = client.get("/search?q=fractions")
                assert page.status_code == 200
                answers.append(
                    "rebuilding"
                    if REBUILDING in page.text
                    else "results"
                    if RESULT.search(page.text)
                    else "no results"
                )
                if answers[-3:] == ["results"] * 3 and "rebuilding" in answers:
                    break
                time.sleep(0.1)
            assert answers[0] == "rebuilding", answers
            assert answers[-3:] == ["results"] * 3, answers
            # Healthy again with no restart: the check follows the rebuilt index.
            assert health.check_search(settings, database).status is CheckStatus.OK
        finally:
            database.close()
        assert workers_started_and_died(log) == started, log.read_text()
        client.close()
