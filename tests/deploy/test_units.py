"""What deploy/ ships besides the nginx site (tests/deploy/test_nginx.py): the systemd units and
timers, the example settings file, the certificate recipe, and the settings and admin
page that go with them."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from content.tuf.fingerprint import root_fingerprint
from content.tuf.repository import init_repository
from server.catalog import trust
from server.cli.main import cli
from server.core.db import Database
from server.core.errors import ConfigError
from server.core.settings import Settings, load_settings
from server.people.audit import Actor
from server.web.headers import CSP
from tests.conftest import FakeClock, People, sign_in

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted([*DEPLOY.glob("stepstone*.service"), *DEPLOY.glob("stepstone*.timer")])
SERVICES = [unit for unit in UNITS if unit.suffix == ".service"]
SHIPPED_STEPSTONE = "/opt/stepstone/venv/bin/stepstone"


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI"):
            raise AssertionError("systemd-analyze is missing: .ci/run installs systemd")
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    return found


def unit_settings(path: Path) -> dict[str, list[str]]:
    """`Key=value` lines of a unit, every value of a key kept (systemd allows repeats)."""
    values: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


@pytest.fixture
def installed_units(tmp_path: Path) -> Path:
    """The shipped units with ExecStart pointing at this checkout's `stepstone`.

    `systemd-analyze verify` checks that the program exists; it is installed at
    /opt/stepstone only on a real server.
    """
    stepstone = Path(sys.executable).parent / "stepstone"
    assert stepstone.is_file(), "the stepstone console script is not installed"
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        assert unit.suffix == ".timer" or SHIPPED_STEPSTONE in text, unit.name
        (tmp_path / unit.name).write_text(text.replace(SHIPPED_STEPSTONE, str(stepstone)))
    return tmp_path


def test_units_pass_systemd_analyze_verify(installed_units: Path) -> None:
    tool = systemd_analyze()
    names = [str(installed_units / unit.name) for unit in UNITS]
    result = subprocess.run(
        [tool, "verify", "--man=no", *names], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_services_score_ok_or_better_in_systemd_analyze_security(
    installed_units: Path, service: str
) -> None:
    tool = systemd_analyze()
    result = subprocess.run(
        [tool, "security", "--offline=true", str(installed_units / service)],
        capture_output=True,
        text=True,
        check=False,
    )
    overall = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
    assert overall, result.stdout[-2000:] + result.stderr
    assert overall.group(2) in {"PERFECT", "SAFE", "OK"}, overall.group(0)
    assert float(overall.group(1)) <= 1.5, overall.group(0)


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_services_run_unprivileged_and_write_only_their_folders(service: str) -> None:
    unit = unit_settings(DEPLOY / service)
    assert unit["User"] == ["stepstone"]
    assert unit["CapabilityBoundingSet"] == [""]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert unit[key] == ["yes"], key
    assert unit["ProtectSystem"] == ["strict"]
    writable = unit["ReadWritePaths"][0].split()
    assert writable[0] == "/var/lib/stepstone"
    assert set(writable) <= {"/var/lib/stepstone", "/var/backups/stepstone"}
    assert "@system-service" in unit["SystemCallFilter"]
    assert unit["RestrictAddressFamilies"] and unit["MemoryMax"]
    assert unit["EnvironmentFile"] == ["-/etc/stepstone/stepstone.env"]


def test_sync_timer_period_is_the_settings_default(tmp_path: Path) -> None:
    """The admin page computes "next sync" from sync_every_hours: it must match the timer."""
    tool = systemd_analyze()
    timer = unit_settings(DEPLOY / "stepstone-sync.timer")
    assert timer["Persistent"] == ["true"] and timer["RandomizedDelaySec"]
    result = subprocess.run(
        [tool, "calendar", "--iterations=3", timer["OnCalendar"][0]],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"TZ": "UTC"},
    )
    found = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", result.stdout)
    elapses = [datetime.fromisoformat(moment) for moment in found]
    assert len(elapses) == 3, result.stdout
    gaps = {(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(elapses)}
    assert gaps == {load_settings(environ={}, data_dir=tmp_path).sync_every_hours}
    backup = unit_settings(DEPLOY / "stepstone-backup.service")
    assert backup["ExecStart"] == [f"{SHIPPED_STEPSTONE} backup /var/backups/stepstone"]
    # the runs it starts are the ones "next timed sync" counts from
    sync = unit_settings(DEPLOY / "stepstone-sync.service")
    assert sync["ExecStart"] == [f"{SHIPPED_STEPSTONE} sync --timer"]


def test_example_settings_file_holds_only_real_settings(tmp_path: Path) -> None:
    lines = (DEPLOY / "stepstone.env").read_text(encoding="utf-8").splitlines()
    environ = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    settings = load_settings(environ=environ, data_dir=tmp_path)
    assert settings.https and settings.trusted_proxies == ("127.0.0.1",)
    assert settings.media_accel_prefix == "/_media/"
    site = (DEPLOY / "nginx" / "stepstone.conf").read_text(encoding="utf-8")
    assert f"location {settings.media_accel_prefix} {{" in site


def test_nginx_media_policy_fallback_is_stepstones_media_policy() -> None:
    site = (DEPLOY / "nginx" / "stepstone.conf").read_text(encoding="utf-8")
    fallback = re.search(
        r'map \$upstream_http_content_security_policy [^{]+\{\s*""\s+"([^"]+)"', site
    )
    assert fallback, "no fallback media policy in the nginx site"
    assert fallback.group(1) == CSP.MEDIA.header


@pytest.mark.parametrize(
    "prefix", ["_media/", "/_media", "/", "/../store/", "/_media/?x/", "/a b/", "/a//b/"]
)
def test_a_bad_media_accel_prefix_is_refused_naming_the_setting(
    tmp_path: Path, prefix: str
) -> None:
    with pytest.raises(ConfigError, match="media_accel_prefix"):
        load_settings(environ={"STEPSTONE_MEDIA_ACCEL_PREFIX": prefix}, data_dir=tmp_path)


def test_good_media_accel_prefixes_and_sync_period_bounds(tmp_path: Path) -> None:
    for prefix in ("", "/_media/", "/internal/store-1/"):
        settings = load_settings(environ={}, data_dir=tmp_path, media_accel_prefix=prefix)
        assert settings.media_accel_prefix == prefix
    for hours in ("0", "169"):
        with pytest.raises(ConfigError, match="sync_every_hours"):
            load_settings(environ={"STEPSTONE_SYNC_EVERY_HOURS": hours}, data_dir=tmp_path)


def make_certs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(DEPLOY / "make-certs.sh"), *args], capture_output=True, text=True, check=False
    )


def test_certificate_recipe_renews_under_the_same_ca_and_refuses_foreign_names(
    tmp_path: Path,
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path / "ca"
    made = make_certs(str(folder), "learn.facility.internal", "10.20.0.5")
    assert made.returncode == 0, made.stderr
    assert (folder / "ca.key").stat().st_mode & 0o077 == 0
    assert (folder / "server.key").stat().st_mode & 0o077 == 0
    ca = (folder / "ca.crt").read_bytes()
    first = (folder / "server.crt").read_bytes()
    renewed = make_certs(str(folder), "learn.facility.internal")
    assert renewed.returncode == 0 and "Using the CA already" in renewed.stdout
    assert (folder / "ca.crt").read_bytes() == ca
    assert (folder / "server.crt").read_bytes() != first
    working = (folder / "server.crt").read_bytes()
    # The CA only vouches for the facility's own names, so this must fail, and the
    # working certificate must stay.
    foreign = make_certs(str(folder), "bank.example.com")
    assert foreign.returncode == 1 and "does not verify" in foreign.stderr
    assert (folder / "server.crt").read_bytes() == working
    bad = make_certs(str(folder), "not a name")
    assert bad.returncode == 2 and "not a host name or IP address: not a name" in bad.stderr


def test_publishers_page_shows_the_next_timed_sync(
    client: TestClient, people: People, database: Database, fake_clock: FakeClock, tmp_path: Path
) -> None:
    actor = Actor.system("test")
    root = tmp_path / "ngo"
    init_repository(root, "test-ngo", "org.example")
    root_json = (root / "published" / "metadata" / "1.root.json").read_bytes()
    publisher = trust.add_publisher(
        database,
        actor,
        "test-ngo",
        "org.example",
        root_json,
        confirmed=root_fingerprint(root_json).root,
    )
    sign_in(client, people.admin)
    assert "Next timed sync" not in client.get("/admin/publishers").text  # no timer ran

    def run(trigger: str, started_at: str) -> None:
        with database.write() as db:
            db.execute(
                "INSERT INTO sync_runs (publisher_id, trigger, started_at, status)"
                " VALUES (?, ?, ?, 'ok')",
                [publisher.id, trigger, started_at],
            )

    fake_clock.moment = datetime(2026, 3, 1, 13, 0, tzinfo=UTC).timestamp()
    run("cli", "2026-03-01T11:00:00+00:00")  # `stepstone sync` by hand is no timer
    assert "Next timed sync" not in client.get("/admin/publishers").text
    run("timer", "2026-03-01T12:04:10+00:00")
    run("admin", "2026-03-01T12:30:00+00:00")  # a sync now from the page moves no timer
    page = client.get("/admin/publishers").text
    assert "Next timed sync" in page
    assert "2026-03-01T18:04:10+00:00" in page
    assert "Late:" not in page
    fake_clock.moment = datetime(2026, 3, 1, 19, 30, tzinfo=UTC).timestamp()
    assert "Late: is the stepstone-sync timer running?" in client.get("/admin/publishers").text


def test_a_sync_started_by_the_timer_is_recorded_as_the_timers(
    runner: CliRunner, settings: Settings, database: Database, tmp_path: Path
) -> None:
    root = tmp_path / "ngo"
    init_repository(root, "test-ngo", "org.example")
    root_json = (root / "published" / "metadata" / "1.root.json").read_bytes()
    publisher = trust.add_publisher(
        database,
        Actor.system("test"),
        "test-ngo",
        "org.example",
        root_json,
        confirmed=root_fingerprint(root_json).root,
    )
    trust.add_source(database, Actor.system("test"), publisher, "folder", str(root / "published"))
    for extra in (["--timer"], []):
        result = runner.invoke(cli, ["--data-dir", str(settings.data_dir), "sync", *extra])
        assert result.exit_code == 0, result.output
    triggers = database.query("SELECT trigger FROM sync_runs ORDER BY id")
    assert [row["trigger"] for row in triggers] == ["timer", "cli"]
