"""Hostile content at the facility, end to end through `stepstone sync`.

v1 of a course is live; then an attack is served in place of v2. Each run must end with a
refusal that names the problem, in the command's output and in the sync run's record,
and change nothing learners get: not a row of the catalog, not a file of the store.
The attacks are the ones a facility meets: a damaged or replayed stick, expired or
foreign signatures, a publisher overstepping its namespace, and packages that the
NGO's own (compromised) machine signed although they are hostile inside.
"""

from __future__ import annotations

import http.server
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from content.package.reader import PackageInfo
from content.tuf import metadata, repository
from content.tuf.updater import PublisherClient
from server.catalog import library, trust
from server.catalog.library import CatalogHooks
from server.catalog.sync import sync_all
from server.cli.main import cli
from server.core import clock
from server.core.db import Database
from server.core.settings import Settings
from server.ops import health
from tests.conftest import People, sign_in
from tests.content.conftest import PNG
from tests.content.hostile import CASES, archive, take_apart
from tests.content.tuf.helpers import export, make_repo, pinned_root, serve
from tests.facility import (
    ADMIN,
    PUBLISHER,
    assert_store_whole,
    catalog_dump,
    course_package,
    integrity_check,
    live_version,
    query,
    store_listing,
    trust_ngo,
    version_blobs,
)

COURSE_ID = "org.example.ngo.course"
NAMESPACE = "org.example.ngo"  # narrower than the repository's org.example


@dataclass
class Scene:
    """A facility with v1 of COURSE_ID live, and the NGO repository it syncs from."""

    base: Path
    repo: Path
    early_stick: Path  # the repository as exported before v1: an old stick to replay
    settings: Settings

    @property
    def published(self) -> Path:
        return self.repo / "published"

    def package(self, version: int, **options: Any) -> Path:
        return course_package(self.base / f"v{version}", version, course_id=COURSE_ID, **options)

    def publish(self, *packages: Path) -> None:
        repository.add_packages(self.repo, list(packages))

    def sign_anything(self, data: bytes, course_id: str, version: int) -> None:
        """Sign ``data`` as ``course_id`` v``version``, as an NGO machine taken over by an
        attacker would: the publisher tool's own package check is bypassed."""
        hostile = self.base / "hostile" / f"{course_id}-v{version}.tar"
        hostile.parent.mkdir(exist_ok=True)
        hostile.write_bytes(data)
        claimed = PackageInfo(hostile, {"course": {"id": course_id, "version": version}})
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(repository, "inspect_package", lambda *_args: claimed)
            self.publish(hostile)

    def target_file(self, version: int) -> Path:
        [found] = (self.published / "targets" / COURSE_ID).glob(f"*.{COURSE_ID}-v{version}.tar")
        return found


@pytest.fixture
def scene(tmp_path: Path, settings: Settings, database: Database) -> Scene:
    repo = make_repo(tmp_path, "ngo")
    scene = Scene(tmp_path, repo, export(repo, tmp_path / "early-stick"), settings)
    trust_ngo(database, repo, auto_publish=True, namespace=NAMESPACE)
    scene.publish(scene.package(1))
    [report] = sync_all(database, settings, CatalogHooks(), ADMIN)
    assert report.status == "ok" and live_version(settings.database_path, COURSE_ID) == 1
    return scene


def replace_source(scene: Scene, stick: Path) -> None:
    shutil.rmtree(scene.published)
    shutil.copytree(stick, scene.published)


# --- the attacks ----------------------------------------------------------------------


def tampered_target(scene: Scene) -> None:
    scene.publish(scene.package(2))
    target = scene.target_file(2)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))


def appended_bytes(scene: Scene) -> None:
    scene.publish(scene.package(2))
    with scene.target_file(2).open("ab") as target:
        target.write(b"\0" * 512)


def replayed_stick(scene: Scene) -> None:
    scene.publish(scene.package(2))
    replace_source(scene, scene.early_stick)


def expired_timestamp(scene: Scene) -> None:
    signed_at = metadata.utcnow() - timedelta(days=100)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(metadata, "utcnow", lambda: signed_at)
        scene.publish(scene.package(2))


def other_publishers_key(scene: Scene) -> None:
    impostor = make_repo(scene.base, "impostor")
    repository.add_packages(impostor, [scene.package(2)])
    shutil.rmtree(scene.published)
    shutil.copytree(impostor / "published", scene.published)


def outside_namespace(scene: Scene) -> None:
    other = course_package(scene.base / "other", 1, course_id="org.example.other")
    scene.publish(other)


def hostile_package(case: str) -> Callable[[Scene], None]:
    """A corpus case built from a good v2 and signed as v2 by the NGO's keys."""

    def attack(scene: Scene) -> None:
        good = take_apart(scene.package(2))
        scene.sign_anything(CASES[case].build(good), COURSE_ID, 2)

    return attack


def signed_as_another_version(scene: Scene) -> None:
    """A v1 package (rebuilt, so not byte-identical to the installed one) signed as v2."""
    good = take_apart(scene.package(1, photos=1))
    scene.sign_anything(archive(good), COURSE_ID, 2)


ATTACKS: dict[str, tuple[Callable[[Scene], None], tuple[str, ...]]] = {
    "tampered-target": (tampered_target, ("v2", "does not match its signed hash")),
    "appended-bytes": (appended_bytes, ("v2", "longer than its signed length")),
    "replayed-stick": (replayed_stick, ("older than one already seen (replay)",)),
    "expired-timestamp": (expired_timestamp, ("The timestamp on this stick expired",)),
    "other-publishers-key": (other_publishers_key, ("a key this facility does not trust",)),
    "outside-namespace": (
        outside_namespace,
        ("org.example.other v1", "may only publish courses named org.example.ngo.*"),
    ),
    "signed-as-another-version": (
        signed_as_another_version,
        (f"says it is {COURSE_ID} v1, but it was signed as {COURSE_ID} v2",),
    ),
    **{
        name: (hostile_package(name), ("v2", *CASES[name].expect))
        for name in (
            "dot-dot",
            "symlink-outside",
            "size-lies-short",
            "wrong-hash",
            "manifest-nested-deep",
            "manifest-huge-number",
        )
    },
    "png-holding-html": (hostile_package("png-holding-html"), CASES["png-holding-html"].expect),
}


# Known gap: the sync compares the package's own course id and version with what was
# signed only after the importer moved the blobs into the store. Nothing refers to them
# (`stepstone content verify --all-blobs` lists them, `--gc` removes them), but the store
# should not change at all: the check belongs before the blobs are adopted.
@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_refused_and_changes_nothing(
    attack: str, scene: Scene, runner: CliRunner
) -> None:
    make, words = ATTACKS[attack]
    db_path, store = scene.settings.database_path, scene.settings.data_dir / "store"
    rows, files = catalog_dump(db_path), store_listing(store)
    v1_blobs = version_blobs(db_path, 1, COURSE_ID)
    make(scene)

    result = runner.invoke(cli, ["--data-dir", str(scene.settings.data_dir), "sync"])

    assert result.exit_code == 1, result.output
    [run] = query(db_path, "SELECT status, message FROM sync_runs ORDER BY id DESC LIMIT 1")
    assert run["status"] in ("failed", "partial")
    for word in words:
        assert word in result.output and word in run["message"], (word, result.output)
    assert catalog_dump(db_path) == rows
    assert live_version(db_path, COURSE_ID) == 1
    assert set(v1_blobs.values()) <= assert_store_whole(store)
    assert list((scene.settings.data_dir / "staging").iterdir()) == []
    assert store_listing(store) == files


# --- one target's failure is that target's refusal; the run goes on ---------------------

SECOND = "second-ngo"
SECOND_COURSE = "org.example.second.course"
LATER_COURSE = f"{NAMESPACE}.later"  # synced after COURSE_ID (targets go in name order)


def second_publisher(scene: Scene, database: Database) -> None:
    """Another trusted NGO, after the first in the run, with one new course waiting."""
    repo = make_repo(scene.base, "second")
    trust_ngo(database, repo, namespace="org.example.second", name=SECOND)
    repository.add_packages(
        repo, [course_package(scene.base / "second", 1, course_id=SECOND_COURSE)]
    )


def sync_status(scene: Scene, database: Database, name: str = PUBLISHER) -> health.Check:
    publisher = trust.find_publisher(database, name)
    assert publisher is not None
    now = datetime.fromtimestamp(clock.now(), UTC)
    return health.check_sync(scene.settings, database, publisher, now)


def assert_no_run_left_running(scene: Scene) -> None:
    runs = query(scene.settings.database_path, "SELECT status FROM sync_runs")
    assert "running" not in {run["status"] for run in runs}


@pytest.mark.parametrize("case", ["manifest-nested-deep", "manifest-huge-number"])
def test_a_package_that_breaks_the_parser_is_refused_and_the_run_goes_on(
    case: str, scene: Scene, database: Database, runner: CliRunner
) -> None:
    good = take_apart(scene.package(2))
    scene.sign_anything(CASES[case].build(good), COURSE_ID, 2)
    scene.publish(course_package(scene.base / "later", 1, course_id=LATER_COURSE))
    second_publisher(scene, database)

    result = runner.invoke(cli, ["--data-dir", str(scene.settings.data_dir), "sync"])

    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{PUBLISHER}: partial: imported 1; retracted 0; refused 1;" in result.output
    assert f"{COURSE_ID} v2: {CASES[case].expect[0]}" in result.output
    assert f"{SECOND}: ok: imported 1" in result.output
    db_path = scene.settings.database_path
    assert live_version(db_path, COURSE_ID) == 1
    assert live_version(db_path, LATER_COURSE) == 1
    assert live_version(db_path, SECOND_COURSE) == 1
    assert_no_run_left_running(scene)
    status = sync_status(scene, database)
    assert status.status is health.Status.WARN and CASES[case].expect[0] in status.text


def test_a_full_disk_at_the_commit_refuses_that_target_and_the_run_goes_on(
    scene: Scene, database: Database, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene.publish(scene.package(2))
    second_publisher(scene, database)
    db_path, store = scene.settings.database_path, scene.settings.data_dir / "store"
    record_import = library.record_import
    calls: list[str] = []

    def disk_full_at_first_commit(database: Database, *args: Any) -> Any:
        """The disk fills up just before v2's transaction, and is freed after it: SQLite's
        max_page_count makes the commit fail exactly as a full disk does (SQLITE_FULL)."""
        calls.append(args[2].course_id)
        if len(calls) > 1:
            return record_import(database, *args)
        # No free pages left first (a migration that rebuilds a table leaves some): else
        # the commit fills them and never needs to grow the file.
        with closing(sqlite3.connect(db_path)) as raw:
            raw.execute("VACUUM")
        with database.write() as db:
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
        try:
            return record_import(database, *args)
        finally:
            with database.write() as db:
                db.execute("PRAGMA max_page_count = 1073741823")

    monkeypatch.setattr(library, "record_import", disk_full_at_first_commit)
    result = runner.invoke(cli, ["--data-dir", str(scene.settings.data_dir), "sync"])

    assert calls == [COURSE_ID, SECOND_COURSE]
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"{PUBLISHER}: partial: imported 0; retracted 0; refused 1;" in result.output
    assert f"{COURSE_ID} v2: the database refused the change (database or disk is full)" in (
        result.output
    )
    assert f"{SECOND}: ok: imported 1" in result.output
    versions = query(
        db_path,
        "SELECT v.version FROM course_versions v JOIN courses c ON c.id = v.course_pk"
        " WHERE c.course_id = ?",
        (COURSE_ID,),
    )
    assert [v["version"] for v in versions] == [1] and live_version(db_path, COURSE_ID) == 1
    assert integrity_check(db_path) == ["ok"]
    assert list((scene.settings.data_dir / "staging").iterdir()) == []
    assert_store_whole(store)
    assert_no_run_left_running(scene)
    status = sync_status(scene, database)
    assert status.status is health.Status.WARN and "database or disk is full" in status.text


def test_a_package_bigger_than_the_free_disk_is_refused_before_it_is_fetched(
    scene: Scene, database: Database, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene.publish(scene.package(2))
    second_publisher(scene, database)
    real_usage = shutil.disk_usage
    fetched: list[str] = []

    def nearly_full(path: Any) -> Any:  # 1 KB free: room for nothing signed here
        return real_usage(path)._replace(free=1024)

    def opened(client: Any, target: Any) -> Any:
        fetched.append(target.course_id)
        return open_target(client, target)

    open_target = PublisherClient.open_target
    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    monkeypatch.setattr(PublisherClient, "open_target", opened)
    result = runner.invoke(cli, ["--data-dir", str(scene.settings.data_dir), "sync"])

    assert result.exit_code == 1, result.output
    assert fetched == []  # not a byte asked of the source
    assert f"{COURSE_ID} v2: Not enough disk space: the package is 0.0 GB and the data folder" in (
        result.output
    )
    assert "has 0.0 GB free. Free some space" in result.output
    assert live_version(scene.settings.database_path, COURSE_ID) == 1
    assert list((scene.settings.data_dir / "staging").iterdir()) == []


# --- what a run does not take is named in its summary ----------------------------------


def test_a_target_named_against_the_rules_is_named_as_skipped(
    scene: Scene, database: Database
) -> None:
    with pytest.MonkeyPatch.context() as patch:  # a publisher tool that names files its way
        patch.setattr(repository, "package_name", lambda course, version: f"{course}_{version}.tar")
        scene.publish(scene.package(2))

    [report] = sync_all(database, scene.settings, CatalogHooks(), ADMIN)

    assert report.status == "partial"
    assert report.message.startswith("imported 0; retracted 0; skipped 1; ")
    assert f"{COURSE_ID}/{COURSE_ID}_2.tar: its name or signed fields" in report.message
    assert live_version(scene.settings.database_path, COURSE_ID) == 1


def test_an_old_stick_after_the_cache_was_lost_is_named_as_skipped(
    scene: Scene, database: Database
) -> None:
    old_stick = export(scene.repo, scene.base / "stick-v1")
    scene.publish(scene.package(2))
    [report] = sync_all(database, scene.settings, CatalogHooks(), ADMIN)
    assert report.imported == [f"{COURSE_ID} v2"]
    publisher = trust.find_publisher(database, PUBLISHER)
    assert publisher is not None
    shutil.rmtree(trust.metadata_dir(scene.settings, publisher))  # TUF's memory of v2 is gone
    replace_source(scene, old_stick)

    [report] = sync_all(database, scene.settings, CatalogHooks(), ADMIN)

    assert report.status == "partial"
    assert report.message == (
        f"imported 0; retracted 0; skipped 1; {COURSE_ID} v1: older than v2, the newest here"
        " (an old copy of the publisher's files?)"
    )
    assert live_version(scene.settings.database_path, COURSE_ID) == 2


# --- an HTTP mirror on loopback ---------------------------------------------------------


class _MirrorHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a published repository; when the mirror is dying, it sends half a package
    and the whole mirror goes down."""

    server: MirrorServer

    def do_GET(self) -> None:
        if not (self.server.dying and "/targets/" in self.path):
            super().do_GET()
            return
        data = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        threading.Thread(target=self.server.stop, daemon=True).start()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


class MirrorServer(http.server.ThreadingHTTPServer):
    dying = False

    def stop(self) -> None:
        """Stop answering and close the socket: new connections are refused."""
        self.shutdown()
        self.server_close()


@contextmanager
def mirror(folder: Path, port: int = 0, *, dying: bool = False) -> Iterator[MirrorServer]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port unless one is given)."""
    server = MirrorServer(("127.0.0.1", port), partial(_MirrorHandler, directory=str(folder)))
    server.dying = dying
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if thread.is_alive():
            server.stop()
        thread.join(timeout=5)


def url_of(server: MirrorServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/"


def stepstone(runner: CliRunner, settings: Settings, *arguments: str) -> Any:
    result = runner.invoke(cli, ["--data-dir", str(settings.data_dir), *arguments])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def trusted_repo(runner: CliRunner, settings: Settings, base: Path, *options: str) -> Path:
    """An NGO repository with v1 published, trusted through the CLI (no source yet)."""
    repo = make_repo(base, "ngo")
    repository.add_packages(repo, [course_package(base, 1, course_id=COURSE_ID)])
    root = base / "root.json"
    root.write_bytes(pinned_root(repo))
    added = stepstone(
        runner,
        settings,
        "trust",
        "add",
        PUBLISHER,
        str(root),
        "--namespace",
        NAMESPACE,
        "--yes",
        *options,
    )
    assert added.exit_code == 0, added.output
    return repo


def test_sync_from_an_http_mirror_through_the_cli(
    runner: CliRunner, settings: Settings, database: Database, tmp_path: Path
) -> None:
    repo = trusted_repo(runner, settings, tmp_path)
    with mirror(repo / "published") as server:
        source = stepstone(
            runner, settings, "trust", "source", PUBLISHER, "--mirror", url_of(server)
        )
        assert source.exit_code == 0, source.output
        synced = stepstone(runner, settings, "sync")
    assert synced.exit_code == 0, synced.output
    assert f"{PUBLISHER}: ok: imported 1" in synced.output
    [version] = query(settings.database_path, "SELECT version, status FROM course_versions")
    assert tuple(version) == (1, "pending")
    blobs = version_blobs(settings.database_path, 1, COURSE_ID)
    assert len(blobs) == 8  # 3 lessons; a picture, a video, captions, 2 photos
    assert set(blobs.values()) <= assert_store_whole(settings.data_dir / "store")


def test_mirror_redirecting_to_a_host_not_allowed_is_refused(
    runner: CliRunner, settings: Settings, database: Database, tmp_path: Path
) -> None:
    trusted_repo(runner, settings, tmp_path)
    with serve(None, redirect=True) as url:
        stepstone(runner, settings, "trust", "source", PUBLISHER, "--mirror", url)
        synced = stepstone(runner, settings, "sync")
    assert synced.exit_code == 1
    assert f"{PUBLISHER}: failed:" in synced.output
    assert "on host evil.invalid, which is not an allowed host" in synced.output
    assert query(settings.database_path, "SELECT * FROM courses") == []


def test_mirror_going_down_mid_package_fails_the_run_and_keeps_serving(
    runner: CliRunner,
    settings: Settings,
    database: Database,
    client: TestClient,
    people: People,
    tmp_path: Path,
) -> None:
    repo = trusted_repo(runner, settings, tmp_path, "--auto-publish")
    with mirror(repo / "published") as server:
        port = server.server_address[1]
        stepstone(runner, settings, "trust", "source", PUBLISHER, "--mirror", url_of(server))
        assert stepstone(runner, settings, "sync").exit_code == 0
    db_path, store = settings.database_path, settings.data_dir / "store"
    rows, files = catalog_dump(db_path), store_listing(store)
    v2 = course_package(tmp_path / "v2", 2, course_id=COURSE_ID, photos=4, photo_bytes=500_000)
    repository.add_packages(repo, [v2])

    with mirror(repo / "published", port, dying=True):
        synced = stepstone(runner, settings, "sync")

    assert synced.exit_code == 1
    assert f"{COURSE_ID} v2: Cannot read {COURSE_ID}/{COURSE_ID}-v2.tar from the mirror" in (
        synced.output
    )
    assert "the mirror connection broke" in synced.output
    assert catalog_dump(db_path) == rows and store_listing(store) == files
    assert list((settings.data_dir / "staging").iterdir()) == []
    sign_in(client, people.learner)  # learners still get v1, its pages and its files
    lesson = client.get(f"/learn/courses/{COURSE_ID}/lessons/photos")
    assert lesson.status_code == 200 and "Version 1" in lesson.text
    picture = version_blobs(db_path, 1, COURSE_ID)["media/pic.png"]
    served = client.get(f"/media/{picture}/pic.png")
    assert served.status_code == 200 and served.content == PNG

    with mirror(repo / "published", port):  # back up: the next run takes v2
        assert stepstone(runner, settings, "sync").exit_code == 0
    assert live_version(db_path, COURSE_ID) == 2
