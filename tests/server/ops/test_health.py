"""Health checks: each one's ok, warn and fail with a sentence an admin can act on; the
`stepstone check` command; `/healthz` and `/metrics` for loopback only; the admin's
status page in both languages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.testclient import TestClient

from content.tuf.updater import metadata_expiry
from server.catalog import library, sync_runs
from server.catalog.library import CatalogHooks
from server.catalog.search import search_indexer
from server.cli.main import cli, initialize
from server.core.db import Database
from server.core.settings import Settings, load_settings
from server.ops import backup, health, metrics
from server.ops.health import Status
from server.people.accounts import Role
from server.people.audit import Actor
from server.web.app import create_app
from server.web.views.ops import is_local
from tests.conftest import FakeClock, add_migration, demo_facility, make_user, sign_in

LOCAL = ("127.0.0.1", 40000)
SAFETY = "org.stepstone.demo.workplace-safety"


@pytest.fixture(scope="module")
def facility_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("template") / "data"
    _settings, database = demo_facility(data)
    database.close()
    return data


@pytest.fixture
def settings(tmp_path: Path, facility_template: Path) -> Settings:
    data = tmp_path / "data"
    shutil.copytree(facility_template, data, symlinks=True)
    return load_settings(environ={}, data_dir=data, demo=True, min_free_disk_mb=0)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_path)
    yield database
    database.close()


def check(report: health.Report, key: str) -> health.Check:
    return next(c for c in report.checks if c.key == key)


def all_fine(settings: Settings, database: Database) -> None:
    """Make every check ok: a search index and a backup."""
    search_indexer(settings, database).rebuild()
    made = backup.create_backup(settings, settings.data_dir.parent / "backups")
    backup.record_backup(database, Actor.system("test"), made)


def test_a_healthy_facility_is_ok_and_every_check_says_why(
    settings: Settings, database: Database
) -> None:
    all_fine(settings, database)
    report = health.run_checks(settings, database, full_store=True)
    assert report.status is Status.OK, [c.text for c in report.checks if c.status != "ok"]
    assert [c.key for c in report.checks] == [
        "database",
        "disk",
        "file_modes",
        "store",
        "search",
        "sync:stepstone-demo",
        "tls",
        "clock",
        "backup",
        "pepper",
    ]
    assert check(report, "pepper").text.startswith("Every PIN uses pepper ")
    # Every file of the demo courses (media, narration, activities), each re-hashed.
    assert re.match(
        r"(\d+) course files present, \1 of them re-hashed", check(report, "store").text
    )
    assert check(report, "search").text == "6 course version(s) indexed."
    assert "signed metadata valid until" in check(report, "sync:stepstone-demo").text


def test_a_damaged_database_fails(tmp_path: Path, settings: Settings) -> None:
    broken = tmp_path / "broken.db"
    data = bytearray(settings.database_path.read_bytes())
    data[8192:12288] = b"\xff" * 4096  # scribble over pages 3 and 4
    broken.write_bytes(bytes(data))
    database = Database(broken)
    result = health.check_database(database)
    database.close()
    assert result.status is Status.FAIL
    assert result.text.startswith("The database is damaged (")
    assert result.text.endswith("Restore the last backup.")


def test_pending_migrations_warn(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    add_migration(monkeypatch, "9999_later", lambda db: None)
    result = health.check_database(database)
    assert (result.status, result.text) == (
        Status.WARN,
        "1 database upgrade(s) wait for a restart of the server.",
    )


@pytest.mark.parametrize(
    ("free_mb", "status", "shown"),
    [(5000, Status.OK, "4.9 GB"), (1500, Status.WARN, "1.5 GB"), (400, Status.FAIL, "400.0 MB")],
)
def test_disk_space_thresholds(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, free_mb: int, status: Status, shown: str
) -> None:
    usage = SimpleNamespace(total=100_000 * 2**20, used=0, free=free_mb * 2**20)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)
    strict = load_settings(environ={}, data_dir=settings.data_dir, min_free_disk_mb=2048)
    result = health.check_disk(strict)
    assert result.status is status
    assert result.params["free"] == shown and shown in result.text


def _blob(database: Database, path: str) -> str:
    row = database.query_one("SELECT sha256 FROM assets WHERE path = ? LIMIT 1", [path])
    assert row is not None
    return str(row[0])


def test_store_drift_fails_naming_the_course_and_file(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = settings.data_dir / "store"
    video = _blob(database, "media/safety-habits.webm")
    (store / video[:2] / video).unlink()
    result = health.check_store(settings, database, full=False)
    assert result.status is Status.FAIL
    assert result.text.startswith(
        f"1 course file(s) missing or changed, first {SAFETY} v1 (approved, live): "
        f"media/safety-habits.webm: missing from the store (blob {video})."
    )
    # Same size, one byte changed: only re-hashing sees it — always in the full check,
    # in the quick one when the sample holds it (here: a sample as big as the store).
    other = _blob(database, "media/safety-habits.en.vtt")
    path = store / other[:2] / other
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    assert "changed bytes" in health.check_store(settings, database, full=True).text
    monkeypatch.setattr(health, "SAMPLE_FILES", 10_000)
    quick = health.check_store(settings, database, full=False)
    assert quick.status is Status.FAIL and quick.params["problems"] == "2"


def test_search_index_missing_out_of_step_and_broken(
    settings: Settings, database: Database
) -> None:
    missing = health.check_search(settings, database)
    assert (missing.status, missing.text) == (
        Status.WARN,
        "Not built yet: the server builds it in the background after it starts.",
    )
    search_indexer(settings, database).rebuild()
    assert health.check_search(settings, database).status is Status.OK
    row = database.query_one("SELECT id FROM courses WHERE course_id = ?", [SAFETY])
    assert row is not None
    library.pull_course(database, CatalogHooks(), Actor.system(), row["id"], "check")
    stale = health.check_search(settings, database)
    assert stale.status is Status.WARN
    assert stale.params == {"missing": "0", "extra": "1"}
    search = settings.data_dir / "search"
    current = search / (search / "CURRENT").read_text().strip()
    # An index the server cannot use (here: written by another schema version; Whoosh
    # itself leaks a file handle on garbled files, which pytest would report).
    (current / "stepstone-index.json").write_text('{"schema": -1}')
    broken = health.check_search(settings, database)
    assert (broken.status, broken.text) == (
        Status.FAIL,
        "The index is damaged or cannot be read. The server rebuilds it by itself in a few"
        " minutes; if this stays, run: stepstone search rebuild",
    )


def test_sync_failures_expiry_and_a_wrong_clock(
    settings: Settings, database: Database, fake_clock: FakeClock
) -> None:
    publisher = library.Publisher.from_row(
        database.query("SELECT * FROM publishers WHERE name = 'stepstone-demo'")[0]
    )
    now = datetime.fromtimestamp(fake_clock.now(), UTC)
    assert health.check_sync(settings, database, publisher, now).status is Status.OK
    expires = metadata_expiry(settings.data_dir / "tuf" / publisher.name)
    assert expires is not None
    soon = health.check_sync(settings, database, publisher, expires - timedelta(days=3))
    assert soon.status is Status.WARN and "expires on" in soon.text
    late = health.check_sync(settings, database, publisher, expires + timedelta(days=1))
    assert late.status is Status.WARN
    assert f"expired on {expires:%Y-%m-%d}. Courses here keep working" in late.text
    with database.write() as db:
        db.execute(
            "INSERT INTO sync_runs (publisher_id, trigger, started_at, finished_at, status,"
            " message) VALUES (?, 'timer', ?, ?, 'failed', 'Cannot read /media/usb')",
            [publisher.id, now.isoformat(), now.isoformat()],
        )
    failed = health.check_sync(settings, database, publisher, now)
    assert failed.status is Status.WARN
    assert failed.text.endswith("failed: Cannot read /media/usb")

    ok = health.check_clock(settings, [publisher], now)
    assert ok.status is Status.OK
    behind = health.check_clock(settings, [publisher], now - timedelta(hours=3))
    assert behind.status is Status.FAIL
    assert "the clock is behind" in behind.text and "stepstone-demo" in behind.text
    # The NGO's laptop clock may run a little fast: half an hour is not our clock's fault.
    assert (
        health.check_clock(settings, [publisher], now - timedelta(minutes=30)).status is Status.OK
    )


def test_a_running_sync_is_ok_until_stuck_and_one_whose_process_died_warns(
    settings: Settings, database: Database, fake_clock: FakeClock
) -> None:
    publisher = library.Publisher.from_row(
        database.query("SELECT * FROM publishers WHERE name = 'stepstone-demo'")[0]
    )
    now = datetime.fromtimestamp(fake_clock.now(), UTC)
    with database.write() as db:  # the row a sync killed with SIGKILL leaves behind
        db.execute(
            "INSERT INTO sync_runs (publisher_id, trigger, started_at, status)"
            " VALUES (?, 'timer', ?, 'running')",
            [publisher.id, now.isoformat()],
        )
    dead = health.check_sync(settings, database, publisher, now)
    assert dead.status is Status.WARN and "stopped before it ended" in dead.text
    with sync_runs.run_lock(settings, publisher) as alone:  # a live sync holds its lock
        assert alone
        going = health.check_sync(settings, database, publisher, now + timedelta(minutes=5))
        assert going.status is Status.OK and going.text.startswith("A sync is running since")
        stuck = health.check_sync(settings, database, publisher, now + timedelta(hours=4))
        assert stuck.status is Status.WARN and "still running, for too long" in stuck.text


def _certificate(path: Path, not_before: datetime, not_after: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stepstone.facility")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(Encoding.PEM))


@pytest.mark.parametrize(
    ("days_left", "status", "words"),
    [
        (365, Status.OK, "Valid until"),
        (10, Status.WARN, "in 10 days"),
        (-1, Status.FAIL, "expired"),
    ],
)
def test_certificate_expiry(tmp_path: Path, days_left: int, status: Status, words: str) -> None:
    now = datetime.now(UTC)
    pem = tmp_path / "server.crt"
    _certificate(pem, now - timedelta(days=30), now + timedelta(days=days_left, hours=1))
    settings = load_settings(environ={}, data_dir=tmp_path, tls_certificate=str(pem))
    result = health.check_certificate(settings, now)
    assert result.status is status and words in result.text


def test_an_unreadable_certificate_fails(tmp_path: Path) -> None:
    pem = tmp_path / "server.crt"
    pem.write_text("not a certificate")
    settings = load_settings(environ={}, data_dir=tmp_path, tls_certificate=str(pem))
    result = health.check_certificate(settings, datetime.now(UTC))
    assert result.status is Status.FAIL
    assert result.text.startswith(f"Cannot read the certificate {pem}:")


def test_backups_warn_when_missing_or_old(
    settings: Settings, database: Database, fake_clock: FakeClock
) -> None:
    now = datetime.fromtimestamp(fake_clock.now(), UTC)
    assert health.check_backup(database, now).status is Status.WARN
    made = backup.create_backup(settings, settings.data_dir.parent / "backups")
    backup.record_backup(database, Actor.system("test"), made)
    fresh = health.check_backup(database, now)
    assert fresh.status is Status.OK and made.path.name in fresh.text
    old = health.check_backup(database, now + timedelta(days=3))
    assert old.status is Status.WARN and "more than two days ago" in old.text


# --- the command ------------------------------------------------------------------------


def test_check_command_exit_status_table_and_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialize(load_settings(environ={}, data_dir=data)).close()
    runner = CliRunner()
    env = {"STEPSTONE_MIN_FREE_DISK_MB": "0"}
    first = runner.invoke(cli, ["--data-dir", str(data), "check"], env=env)
    assert first.exit_code == 1
    assert "WARN  Backups" in first.output and "ok    Database" in first.output
    runner.invoke(cli, ["--data-dir", str(data), "backup", str(tmp_path / "b")], env=env)
    second = runner.invoke(cli, ["--data-dir", str(data), "check", "--json"], env=env)
    assert second.exit_code == 0, second.output
    answer = json.loads(second.output)
    assert answer["status"] == "ok"
    assert set(answer["checks"]) == {
        "database",
        "disk",
        "file_modes",
        "store",
        "search",
        "sync",
        "tls",
        "clock",
        "backup",
        "pepper",
    }


# --- over HTTP -------------------------------------------------------------------------


def _scope(client: tuple[str, int] | None, headers: list[tuple[bytes, bytes]]) -> Request:
    return Request({"type": "http", "client": client, "headers": headers})


def test_only_local_unrelayed_requests_count_as_local() -> None:
    assert is_local(_scope(("127.0.0.1", 1), []))
    assert is_local(_scope(("::1", 1), []))
    assert is_local(_scope(None, []))  # a Unix socket
    assert not is_local(_scope(("10.0.0.7", 1), []))
    assert not is_local(_scope(("10.0.0.7", 1), [(b"x-forwarded-for", b"127.0.0.1")]))
    # nginx on this machine relays tablets' requests from loopback, with the header.
    assert not is_local(_scope(("127.0.0.1", 1), [(b"x-forwarded-for", b"10.0.0.7")]))
    assert not is_local(_scope(None, [(b"x-real-ip", b"10.0.0.7")]))


def test_healthz_answers_loopback_only_with_statuses_and_no_secrets(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings)
    with TestClient(app, client=LOCAL) as local, TestClient(app) as remote:
        answer = local.get("/healthz")
        assert answer.status_code == 200
        body = answer.json()
        assert body["status"] in ("ok", "warn")
        assert body["checks"]["database"]["status"] == "ok"
        assert body["checks"]["database"]["message"].startswith("Intact (")
        assert remote.get("/healthz").status_code == 404
        relayed = local.get("/healthz", headers={"X-Forwarded-For": "10.0.0.7"})
        assert relayed.status_code == 404
        assert settings.signing_key() not in answer.text
        assert str(settings.data_dir) not in answer.text
        # A failing check turns the answer into 503, once the cached report is old.
        store = settings.data_dir / "store"
        for blob in list(store.rglob("*")):
            if blob.is_file():
                blob.unlink()
        app.state.health.max_age = 0
        failing = local.get("/healthz")
        assert failing.status_code == 503
        assert failing.json()["checks"]["store"]["status"] == "fail"


def test_monitor_caches_for_max_age(settings: Settings, database: Database) -> None:
    runs: list[int] = []

    def counting(s: Settings, d: Database) -> health.Report:
        runs.append(1)
        return health.Report([], "now")

    monitor = health.Monitor(settings, database, max_age=60, run=counting)
    monitor.report()
    monitor.report()
    assert len(runs) == 1
    monitor.report(max_age=0)
    assert len(runs) == 2


def test_metrics_count_by_route_template_and_report_sync_and_checks(
    settings: Settings, database: Database
) -> None:
    app = create_app(settings)
    with TestClient(app, client=LOCAL) as client:
        for _ in range(3):
            client.get(f"/learn/courses/{SAFETY}")  # 303 to sign in
        client.get("/no/such/page/12345")
        text = client.get("/metrics").text
        assert TestClient(app).get("/metrics").status_code == 404
    assert (
        'stepstone_http_requests_total{method="GET",route="/learn/courses/{course_id}",'
        'status="303"} 3'
    ) in text
    assert 'route="unmatched",status="404"} 1' in text
    assert SAFETY not in text and "12345" not in text
    assert (
        'stepstone_http_request_duration_seconds_count{route="/learn/courses/{course_id}"} 3'
        in text
    )
    assert (
        'stepstone_http_request_duration_seconds_bucket{route="/learn/courses/{course_id}",'
        'le="+Inf"} 3'
    ) in text
    assert 'stepstone_sync_runs_total{publisher="stepstone-demo",status="ok"} 1' in text
    assert 'stepstone_check_status{check="database"} 0' in text
    assert "# TYPE stepstone_http_request_duration_seconds histogram" in text


def test_metrics_add_up_every_live_worker_and_forget_dead_ones(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    sibling = metrics.RequestMetrics(None)
    sibling.observe("GET", "/learn", 200, 0.02)
    sibling.observe("GET", "/learn", 200, 0.2)
    # A live sibling worker (our parent process stands in for it) and a dead one.
    (folder / f"{os.getppid()}.json").write_text(json.dumps(sibling.snapshot()))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (folder / f"{gone.stdout.strip()}.json").write_text(json.dumps(sibling.snapshot()))
    mine = metrics.RequestMetrics(folder)
    mine.start()
    try:
        mine.observe("GET", "/learn", 200, 0.01)
        totals = mine.merged()
    finally:
        mine.stop()
    assert not (folder / f"{gone.stdout.strip()}.json").exists()
    assert totals["workers"] == 2
    assert totals["requests"][("GET", "/learn", "200")] == 3
    row = totals["latency"]["/learn"]
    assert row[metrics.BUCKETS.index(0.025)] == 2  # 0.01 and 0.02 are under 25 ms
    assert row[-2] == 3
    assert (folder / f"{os.getpid()}.json").exists()  # flushed when stopping


def test_metrics_can_be_turned_off(settings: Settings, database: Database) -> None:
    off = load_settings(environ={}, data_dir=settings.data_dir, demo=True, metrics=False)
    with TestClient(create_app(off), client=LOCAL) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/healthz").status_code in (200, 503)


# --- the admin's page ---------------------------------------------------------------


def test_admin_status_page_in_english_and_spanish(settings: Settings, database: Database) -> None:
    admin = make_user(database, Role.ADMIN, "boss")
    jefa = make_user(database, Role.ADMIN, "jefa", language="es")
    app = create_app(settings)
    with TestClient(app) as client:
        sign_in(client, admin)
        home = client.get("/admin").text
        assert 'href="/admin/status"' in home
        page = client.get("/admin/status").text
        assert "Server status" in page
        assert "Everything works, but some things need a look." in page
        assert "No backup yet." in page
        assert "Sync from stepstone-demo" in page
    with TestClient(app) as client:
        sign_in(client, jefa)
        page = client.get("/admin/status").text
        assert "Estado del servidor" in page
        assert "Sincronización de stepstone-demo" in page
        assert "No backup yet." not in page
