"""The data folder is the server user's alone: the database holds password hashes and
private answers, the folder the signing and session keys."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from server.cli.main import cli, initialize
from server.core import filemodes
from server.core.settings import load_settings
from server.ops import health
from tests.conftest import CSRF_RE
from tests.live import ROOT, running_server

LOOSE = 0o022  # a usual login shell's umask: new files readable by everyone


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_facility_started_from_a_loose_shell_keeps_its_files_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    environ = os.environ | {"STEPSTONE_DATA_DIR": str(data)}
    made = subprocess.run(
        [sys.executable, "-m", "server", "init", "--admin", "chief"],
        env=environ,
        cwd=ROOT,
        umask=LOOSE,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    with running_server(data, umask=LOOSE) as base, httpx.Client(base_url=base) as tablet:
        token = CSRF_RE.search(tablet.get("/signin").text)
        assert token
        tablet.post("/signin", data={"facility_id": "A1", "pin": "123456", "csrf_token": token[1]})
        assert tablet.get("/healthz").status_code in (200, 503)
        # While the server runs: the write-ahead log, shared memory, health report ...
        assert mode(data / "stepstone.db-wal") == 0o600
        assert mode(data / "stepstone.db-shm") == 0o600
        assert filemodes.loose_paths(data) == []
    assert mode(data) == 0o700
    assert mode(data / "stepstone.db") == 0o600
    assert filemodes.loose_paths(data) == []


def test_init_makes_a_loose_folder_private_and_check_says_so_before(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    settings = load_settings(environ={}, data_dir=data)
    initialize(settings).close()
    # As an older version, or `cp -r` under a loose umask, left it.
    (data / "search").mkdir(exist_ok=True)
    (data / "search" / "seg").write_text("index")
    for path, loose in (
        (data, 0o755),
        (data / "stepstone.db", 0o644),
        (data / "search", 0o755),
        (data / "search" / "seg", 0o664),
    ):
        path.chmod(loose)
    (data / "store").mkdir(exist_ok=True)
    (data / "store" / "ab").mkdir()
    (data / "store" / "ab").chmod(0o755)  # published course files: nginx reads them
    kept = data / "backups" / "pre-upgrade-1" / "store" / "ab"
    kept.mkdir(parents=True)
    (kept / "blob").write_text("a course file")
    (kept / "blob").chmod(0o444)  # a backup's hard link to a store file
    database = initialize(settings)
    report = health.run_checks(settings, database)
    [check] = [c for c in report.checks if c.key == "file_modes"]
    assert check.status is health.Status.FAIL
    # The four above, and the open database's -wal and -shm, which SQLite gives its mode.
    assert "6 file(s) or folder(s)" in check.text and f"{data} (mode 0755)" in check.text
    database.close()

    result = runner.invoke(cli, ["--data-dir", str(data), "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"Made private (was 0644): {data / 'stepstone.db'}" in result.output
    assert mode(data) == 0o710  # nginx's ACL shows in the group bits: it passes through
    assert mode(data / "stepstone.db") == 0o600
    assert mode(data / "search") == 0o700
    assert mode(data / "search" / "seg") == 0o600
    assert mode(data / "store" / "ab") == 0o755
    assert mode(kept / "blob") == 0o444
    database = initialize(settings)
    [check] = [c for c in health.run_checks(settings, database).checks if c.key == "file_modes"]
    assert check.status is health.Status.OK
    database.close()


def test_a_pins_file_that_already_existed_is_made_private(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    runner.invoke(cli, ["--data-dir", str(data), "init"], catch_exceptions=False)
    roster = tmp_path / "roster.csv"
    roster.write_text("facility_id,name,language\nL1,Lu,es\n")
    pins = tmp_path / "pins.csv"
    pins.write_text("old\n")
    pins.chmod(0o644)
    result = runner.invoke(
        cli,
        [
            "--data-dir",
            str(data),
            "roster",
            "import",
            str(roster),
            "--commit",
            "--pins-out",
            str(pins),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert mode(pins) == 0o600 and "L1,Lu," in pins.read_text()
