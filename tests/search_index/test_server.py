"""Search wired to the catalog: real packages, real sync, the catalog's hooks, the CLI."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from content.format.lessondata import manifest_lesson
from content.tuf.repository import init_repository, retract
from search_index import Part, Status
from server.catalog import decisions, library, trust
from server.catalog.search import (
    SearchIndexer,
    captions_text,
    indexable_versions,
    lesson_sections,
    live_versions,
    search_indexer,
)
from server.catalog.sync import sync_all
from server.cli.main import cli
from server.core.db import Database
from server.core.settings import Settings
from tests.facility import trust_ngo
from tests.server.catalog.test_search import search_service
from tests.server.catalog.test_sync import ADMIN, publish

MATH = "org.stepstone.demo.everyday-math"
JOBS = "org.stepstone.demo.job-ready"


@pytest.fixture
def ngo(tmp_path: Path) -> Path:
    repo = tmp_path / "ngo"
    init_repository(repo, "test-ngo", "org.stepstone.demo")
    return repo


@pytest.fixture
def trusted(database: Database, ngo: Path) -> library.Publisher:
    return trust_ngo(
        database, ngo, namespace="org.stepstone.demo", name="test-ngo", auto_publish=False
    )


@pytest.fixture
def sync(settings: Settings, database: Database) -> Iterator[SearchIndexer]:
    sync = search_indexer(settings, database)
    with sync.service:
        sync.rebuild()  # an empty index, as a server makes at its first start
        yield sync


def version_of(database: Database, course_id: str, version: int) -> int:
    row = database.query_one(
        "SELECT v.id FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = ? AND v.version = ?",
        [course_id, version],
    )
    assert row is not None
    return int(row[0])


def learner_finds(sync: SearchIndexer, words: str) -> set[int]:
    visible = live_versions(sync.database)
    results = sync.service.search(words, visible_versions=visible)
    assert results.status is Status.OK
    return {hit.version_id for hit in results.hits}


def test_review_publish_replace_retire_pull_keep_search_in_step(
    database: Database,
    settings: Settings,
    ngo: Path,
    trusted: library.Publisher,
    sync: SearchIndexer,
    tmp_path: Path,
) -> None:
    hooks = sync.hooks()
    publish(ngo, tmp_path, "everyday-math", 1)
    sync_all(database, settings, hooks, ADMIN)
    v1 = version_of(database, MATH, 1)
    # Pending: no hook fires; the reconcile puts it in for admins only, marked.
    assert sync.reconcile()
    assert learner_finds(sync, "fractions") == set()
    admin = sync.service.search("fractions", visible_versions=None)
    assert admin.hits and all(hit.pending and hit.version_id == v1 for hit in admin.hits)

    library.approve(database, hooks, ADMIN, v1)
    assert learner_finds(sync, "fractions") == {v1}
    assert not sync.reconcile()  # the hook already did everything

    publish(ngo, tmp_path, "everyday-math", 2)
    sync_all(database, settings, hooks, ADMIN)
    v2 = version_of(database, MATH, 2)
    library.approve(database, hooks, ADMIN, v2)
    assert learner_finds(sync, "fractions") == {v2}
    assert set(sync.service.indexed_versions() or {}) == {v2}  # v1's documents are gone

    library.retire(database, hooks, ADMIN, v2)  # falls back to v1
    assert learner_finds(sync, "fractions") == {v1}
    assert set(sync.service.indexed_versions() or {}) == {v1}

    course_pk = database.query("SELECT id FROM courses WHERE course_id = ?", [MATH])[0][0]
    library.pull_course(database, hooks, ADMIN, course_pk, "Complaint under review")
    assert sync.service.indexed_versions() == {}
    assert sync.service.search("fractions", visible_versions=None).total == 0
    library.restore_course(database, hooks, ADMIN, course_pk)
    assert learner_finds(sync, "fractions") == {v1}


def test_rejected_and_retracted_versions_leave_the_index(
    database: Database,
    settings: Settings,
    ngo: Path,
    trusted: library.Publisher,
    sync: SearchIndexer,
    tmp_path: Path,
) -> None:
    trust.set_auto_publish(database, ADMIN, trusted, True)
    hooks = sync.hooks()
    publish(ngo, tmp_path, "job-ready", 1)
    sync_all(database, settings, hooks, ADMIN)
    v1 = version_of(database, JOBS, 1)
    assert learner_finds(sync, "resume") == {v1}  # auto-published: the hook indexed it
    # Captions of the audio lesson are searchable (their text is not in the lesson body).
    caption = sync.service.search("panic", visible_versions=frozenset({v1})).hits[0]
    assert caption.part == Part.CAPTIONS and caption.lesson_key

    retract(ngo, JOBS, 1)
    [report] = sync_all(database, settings, hooks, ADMIN)
    assert report.retracted == [f"{JOBS} v1"]
    assert learner_finds(sync, "resume") == set()
    assert sync.service.indexed_versions() == {}

    trust.set_auto_publish(database, ADMIN, trust.get_publisher(database, trusted.id), False)
    publish(ngo, tmp_path, "job-ready", 2)
    sync_all(database, settings, hooks, ADMIN)
    sync.reconcile()
    v2 = version_of(database, JOBS, 2)
    assert set(sync.service.indexed_versions() or {}) == {v2}
    decisions.reject(database, ADMIN, v2, decisions.Rejection("not-suitable"))
    sync.reconcile()
    assert sync.service.indexed_versions() == {}


def test_index_a_whole_demo_like_facility_by_rebuild(
    request: pytest.FixtureRequest,
    database: Database,
    settings: Settings,
    ngo: Path,
    trusted: library.Publisher,
    tmp_path: Path,
) -> None:
    trust.set_auto_publish(database, ADMIN, trusted, True)
    publish(ngo, tmp_path, "thinking-traps-es", 1)
    publish(ngo, tmp_path, "workplace-safety", 1)
    sync_all(database, settings, library.CatalogHooks(), ADMIN)  # no search wired at all
    sync = search_indexer(settings, database)
    request.addfinalizer(sync.service.close)
    assert sync.rebuild() > 20
    assert set(sync.service.indexed_versions() or {}) == set(indexable_versions(database))
    spanish = sync.service.search("pensamientos", language="es", visible_versions=None)
    assert spanish.hits and spanish.hits[0].language == "es"
    assert spanish.facets["language"][0].value == "es"
    quiz = sync.service.search("drill press", visible_versions=None)
    assert ("question", "safety-quiz") in [(h.part, h.lesson_key) for h in quiz.hits]
    prompt = sync.service.search('"consejera miró el reloj"', language="es", visible_versions=None)
    assert prompt.hits and prompt.hits[0].part == "question"


def test_search_rebuild_cli_swaps_in_a_new_index(
    request: pytest.FixtureRequest,
    runner: CliRunner,
    database: Database,
    settings: Settings,
    ngo: Path,
    trusted: library.Publisher,
    tmp_path: Path,
) -> None:
    trust.set_auto_publish(database, ADMIN, trusted, True)
    publish(ngo, tmp_path, "everyday-math", 1)
    sync_all(database, settings, library.CatalogHooks(), ADMIN)
    args = ["--data-dir", str(settings.data_dir), "search"]
    status = runner.invoke(cli, [*args, "status"])
    assert status.exit_code == 1 and "No usable search index" in status.output
    first = runner.invoke(cli, [*args, "rebuild"])
    assert first.exit_code == 0, first.output
    assert "Indexed" in first.output and "1 course versions" in first.output
    sync = search_indexer(settings, database)
    request.addfinalizer(sync.service.close)
    old_folder = sync.service.location.current()
    second = runner.invoke(cli, [*args, "rebuild"])
    assert second.exit_code == 0, second.output
    new_folder = sync.service.location.current()
    assert new_folder != old_folder and old_folder is not None and old_folder.is_dir()
    assert sync.service.search("fractions", visible_versions=None).total > 0
    status = runner.invoke(cli, [*args, "status"])
    assert status.exit_code == 0 and "1 course versions indexed" in status.output


def test_cli_sync_indexes_what_it_publishes(
    runner: CliRunner,
    database: Database,
    settings: Settings,
    ngo: Path,
    trusted: library.Publisher,
    sync: SearchIndexer,
    tmp_path: Path,
) -> None:
    trust.set_auto_publish(database, ADMIN, trusted, True)
    publish(ngo, tmp_path, "everyday-math", 1)
    result = runner.invoke(cli, ["--data-dir", str(settings.data_dir), "sync"])
    assert result.exit_code == 0, result.output
    # Another process wrote the index: this service notices without being told.
    assert learner_finds(sync, "fractions") == {version_of(database, MATH, 1)}


def test_server_starts_with_a_broken_index_and_rebuilds_it(
    database: Database,
    settings: Settings,
    ngo: Path,
    trusted: library.Publisher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trust.set_auto_publish(database, ADMIN, trusted, True)
    publish(ngo, tmp_path, "everyday-math", 1)
    sync_all(database, settings, library.CatalogHooks(), ADMIN)
    search_indexer(settings, database).rebuild()
    folder = search_indexer(settings, database).service.location.current()
    assert folder is not None
    for toc in folder.glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage, not a Whoosh table of contents")

    release = threading.Event()
    original = SearchIndexer.rebuild

    def slow_rebuild(self: SearchIndexer, progress: object = None) -> int:
        release.wait(10)
        return original(self)

    monkeypatch.setattr(SearchIndexer, "rebuild", slow_rebuild)
    from server.web.app import create_app

    with TestClient(create_app(settings), base_url="http://testserver") as client:
        assert client.get("/signin").status_code == 200  # the server is up
        service = search_service(client)
        assert service.search("fractions", visible_versions=None).status is Status.REBUILDING
        release.set()
        assert service.wait_until_idle(20)
        results = service.search("fractions", visible_versions=None)
        assert results.status is Status.OK and results.total > 0


def test_missing_index_at_start_is_built_in_the_background(
    client: TestClient, settings: Settings
) -> None:
    service = search_service(client)
    assert service.wait_until_idle(20)
    assert service.search("anything", visible_versions=None).status is Status.OK
    assert (settings.data_dir / "search" / "CURRENT").is_file()


def test_captions_text_keeps_only_what_is_said() -> None:
    vtt = (
        "WEBVTT\n\nNOTE written by the NGO\n\n1\n00:00:00.000 --> 00:00:02.000 align:start\n"
        "<v Coach>Here is a <i>tip</i> &amp; more.\n\n00:02.500 --> 00:04.000\nDo not panic.\n"
    )
    assert captions_text(vtt) == "Here is a tip & more.\nDo not panic."


def test_quiz_answers_and_explanations_are_never_indexed() -> None:
    lesson = {
        "key": "quiz",
        "title": "Quiz",
        "kind": "quiz",
        "sections": [{"anchor": "", "heading": "Quiz", "text": "Five questions."}],
        "quiz": {
            "questions": [
                {
                    "key": "q1",
                    "type": "short-answer",
                    "prompt": "What is half of ten?",
                    "accepted": ["SECRETACCEPTED"],
                    "explanation": "SECRETEXPLANATION",
                },
                {
                    "key": "q2",
                    "type": "single",
                    "prompt": "Pick one",
                    "choices": [
                        {"text": "Five", "correct": True, "feedback": "SECRETFEEDBACK"},
                        {"text": "Two"},
                    ],
                },
            ]
        },
    }
    sections = list(lesson_sections(manifest_lesson(lesson), lambda path: None))
    text = "\n".join(f"{s.heading} {s.text}" for s in sections)
    assert "half of ten" in text and "Five" in text
    assert "SECRET" not in text and "True" not in text
    assert [s.item_key for s in sections if s.part is Part.QUESTION] == ["q1", "q2"]


def test_imports_cleanly_with_warnings_as_errors(tmp_path: Path) -> None:
    """Fresh bytecode (an empty cache prefix) so that compile-time warnings show too."""
    code = "import search_index, search_index.service, server.catalog.search, server.cli.search"
    result = subprocess.run(
        [sys.executable, "-X", f"pycache_prefix={tmp_path}", "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
