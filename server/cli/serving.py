"""Running uvicorn for `stepstone serve` and `stepstone demo`: any start that fails exits
non-zero, so systemd's `Restart=on-failure` restarts the server and `systemctl --failed`
shows it.

uvicorn exits non-zero itself when one process fails to start. With several workers its
supervisor stops when a worker fails to start, but then returns as if asked to stop, and
the command would exit 0; `Supervisor` remembers why it stopped.

The listening socket is opened here, before uvicorn starts, so that a port that is taken
(or not ours to use) is told in a plain sentence rather than as uvicorn's errno line.
"""

from __future__ import annotations

import errno
import logging
import os
import shlex
import shutil
import socket
from collections.abc import MutableMapping

import click
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


class CannotListen(click.ClickException):
    """The server cannot listen on its address and port; the message says why and what
    to do, and the command exits non-zero."""


def _why_not(exc: OSError, host: str, port: int) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        which = f"ss -ltnp {shlex.quote(f'sport = :{port}')}"
        return (
            f"Port {port} is already in use on {host}: another Stepstone or another program"
            f" is running on it. Stop it (see which one with: {which}), or choose another"
            " port with --port or STEPSTONE_PORT."
        )
    if exc.errno == errno.EACCES:
        return (
            f"Not allowed to listen on port {port}: ports below 1024 need root. Keep Stepstone"
            " on a port like 8000 behind nginx, or choose another port with --port or"
            " STEPSTONE_PORT."
        )
    if exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME):
        return (
            f"Cannot listen on {where}: {host} is not an address of this machine. Choose"
            " another with --host or STEPSTONE_HOST (127.0.0.1 behind nginx)."
        )
    return f"Cannot listen on {where}: {exc.strerror or exc}."


def listen(settings: Settings) -> socket.socket:
    """The server's listening socket, opened as uvicorn would open it; raises
    `CannotListen` with a plain sentence when the address or port cannot be used."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:  # socket.gaierror too: a host name that does not resolve
        sock.close()
        raise CannotListen(_why_not(exc, settings.host, settings.port)) from None
    sock.set_inheritable(True)  # the worker processes serve on it
    return sock


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


def worker_environment(settings: Settings, environ: MutableMapping[str, str]) -> None:
    """What worker processes start with, beside this process's environment."""
    # They build their own app from the environment: pass the settings on.
    environ["STEPSTONE_DATA_DIR"] = str(settings.data_dir.resolve())
    if settings.demo:
        environ["STEPSTONE_DEMO"] = "1"
    # glibc gives each thread that allocates an arena of its own (up to 8 per core) and
    # keeps what was freed in it: after a shift change, each thread of the pool that had
    # checked a PIN kept argon2's memory, and a worker stayed at 500-700 MB instead of
    # about 200 (300 sign-ins at once). Two arenas cost nothing measurable in speed here
    # (a lesson page's CPU, closed loop). An administrator's own value wins.
    environ.setdefault("MALLOC_ARENA_MAX", "2")


def run_server(settings: Settings, workers: int) -> None:
    """Serve until stopped. Raises `CannotListen` when the port is taken or the address
    cannot be used, and `StartFailed` when the server (or a worker) could not start: the
    app could not be built or its start-up failed."""
    worker_environment(settings, os.environ)
    # Counters of an earlier run are stale; this run's workers write their own.
    shutil.rmtree(metrics_dir(settings), ignore_errors=True)
    config = _config(settings, workers)
    sock = listen(settings)
    log.info("listening on http://%s:%d with %d worker(s)", settings.host, settings.port, workers)
    if workers == 1:
        server = uvicorn.Server(config)
        server.run(sockets=[sock])  # exits with STARTUP_FAILURE itself when the app cannot load
        if not server.started:
            raise StartFailed()
        return
    supervisor = Supervisor(config, sockets=[sock])
    supervisor.run()
    if supervisor.failed:
        log.error("a worker process could not start; the server stopped")
        raise StartFailed()
