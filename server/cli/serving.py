"""Running uvicorn for `stepstone serve` and `stepstone demo`: any start that fails exits
non-zero, so systemd's `Restart=on-failure` restarts the server and `systemctl --failed`
shows it.

uvicorn exits non-zero itself when one process fails to start. With several workers its
supervisor stops when a worker fails to start, but then returns as if asked to stop, and
the command would exit 0; `Supervisor` remembers why it stopped.
"""

from __future__ import annotations

import logging
import os
import shutil

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from server.core.settings import Settings
from server.ops.logs import logging_config
from server.ops.metrics import metrics_dir

log = logging.getLogger("stepstone.serve")


class StartFailed(SystemExit):
    """The server did not start (uvicorn has logged why); the command exits non-zero."""

    def __init__(self) -> None:
        super().__init__(STARTUP_FAILURE)


class Supervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, which notes when it stopped because a
    worker could not start rather than because it was asked to (SIGTERM, Ctrl+C)."""

    failed = False

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return  # asked to stop: not a failure
        super().keep_subprocess_alive()
        if self.should_exit.is_set():
            self.failed = True


def _config(settings: Settings, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        "server.web.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        server_header=False,
        proxy_headers=False,
        log_level="info",
        log_config=logging_config(),  # JSON lines, in every worker process
        access_log=False,  # server.ops.logs writes one line per request instead
        # uvicorn replaces a worker that does not answer its ping within this time. On a
        # busy two-core box (an index rebuild, a large import, a crowd of tablets) 5 s,
        # uvicorn's default, killed healthy workers with their requests (a learner's
        # save). A worker that fails to start is noticed only after it, too.
        timeout_worker_healthcheck=settings.worker_ping_seconds,
    )


def run_server(settings: Settings, workers: int) -> None:
    """Serve until stopped; raises `StartFailed` when the server (or a worker) could not
    start: the port is taken, the app could not be built, or its start-up failed."""
    # Worker processes build their own app from the environment; pass settings on.
    os.environ["STEPSTONE_DATA_DIR"] = str(settings.data_dir.resolve())
    if settings.demo:
        os.environ["STEPSTONE_DEMO"] = "1"
    # Counters of an earlier run are stale; this run's workers write their own.
    shutil.rmtree(metrics_dir(settings), ignore_errors=True)
    config = _config(settings, workers)
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()  # exits with STARTUP_FAILURE itself when the app cannot load
        if not server.started:
            raise StartFailed()
        return
    socket = config.bind_socket()  # exits with STARTUP_FAILURE when the port is taken
    supervisor = Supervisor(config, sockets=[socket])
    supervisor.run()
    if supervisor.failed:
        log.error("a worker process could not start; the server stopped")
        raise StartFailed()
