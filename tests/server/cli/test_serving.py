"""`stepstone serve` as systemd runs it: a start that fails must exit non-zero, so that
`Restart=on-failure` restarts the server and `systemctl --failed` lists it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from server.cli.main import initialize
from server.cli.serving import CannotListen, listen, worker_environment
from server.core.settings import load_settings
from tests.live import free_port


def _no_secret_key(data: Path) -> None:
    (data / "secret.key").unlink()  # e.g. a restore that left the key behind


def _file_where_a_folder_goes(data: Path) -> None:
    (data / "metrics").write_text("not a folder")  # the workers' start-up cannot make it


def serve(data: Path, workers: int, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "server", "--data-dir", str(data), "serve"]
    command += ["--port", str(free_port()), "--workers", str(workers)]
    # With several workers, uvicorn notices a failed start when its check of the other
    # worker times out; a short check keeps the test short.
    environ = os.environ | {"STEPSTONE_WORKER_PING_SECONDS": "3"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=environ
    )


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (_no_secret_key, "No secret key at"),  # the app cannot be built in the workers
        (_file_where_a_folder_goes, "Application startup failed"),  # the app's start-up fails
    ],
)
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_start_exits_non_zero_with_any_number_of_workers(
    tmp_path: Path, fault: Callable[[Path], None], said: str, workers: int
) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path / "data")
    initialize(settings).close()
    fault(settings.data_dir)
    # Before, with two workers: exit 0 for a failed start-up, and a broken app factory
    # restarted the workers for ever (this timeout).
    done = serve(settings.data_dir, workers)
    assert done.returncode != 0, done.stderr[-2000:]
    assert said in done.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_a_taken_port_exits_non_zero_with_a_plain_sentence(tmp_path: Path, workers: int) -> None:
    settings = load_settings(environ={}, data_dir=tmp_path / "data")
    initialize(settings).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "server", "--data-dir", str(settings.data_dir)]
        command += ["serve", "--port", str(port), "--workers", str(workers)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert f"Port {port} is already in use on 127.0.0.1" in done.stderr
    assert "choose another port with --port or STEPSTONE_PORT" in done.stderr
    assert "Errno" not in done.stderr  # not uvicorn's errno line


def test_an_address_of_another_machine_says_so(tmp_path: Path) -> None:
    # 192.0.2.0/24 is for documentation: never an address of this machine.
    settings = load_settings(environ={}, data_dir=tmp_path / "data", host="192.0.2.7")
    with pytest.raises(CannotListen) as refused:
        listen(settings).close()
    assert "192.0.2.7 is not an address of this machine" in refused.value.message


def test_workers_start_with_two_malloc_arenas_unless_the_admin_chose(tmp_path: Path) -> None:
    """A worker whose every pool thread kept an arena held 500-700 MB after a shift change
    of 300 sign-ins; with two arenas about 200 (bench/learner_load.py reports it)."""
    settings = load_settings(environ={}, data_dir=tmp_path / "data", demo=True)
    environ: dict[str, str] = {}
    worker_environment(settings, environ)
    assert environ["MALLOC_ARENA_MAX"] == "2"
    assert environ["STEPSTONE_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert environ["STEPSTONE_DEMO"] == "1"
    chosen = {"MALLOC_ARENA_MAX": "4"}
    worker_environment(settings, chosen)
    assert chosen["MALLOC_ARENA_MAX"] == "4"
