"""A real `stepstone serve` (uvicorn) on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    data_dir: Path, workers: int = 1, fault: str = "", umask: int = -1, **env: str
) -> Iterator[str]:
    """Start the server on `data_dir`; yields its base URL; stops it afterwards.

    ``fault``: a storage fault of `tests.fault_driver` planted in the server (one worker).
    ``umask``: the one it is started with (as a shell would), when not this process's.
    """
    port = free_port()
    program = ["tests.fault_driver", fault] if fault else ["server"]
    command = [*program, "serve", "--port", str(port), "--workers", str(workers)]
    with running_process(
        command,
        port,
        "/signin",
        data_dir.parent / f"server-{port}.log",
        env={"STEPSTONE_DATA_DIR": str(data_dir), **env},
        umask=umask,
    ) as base:
        yield base


@contextmanager
def running_process(
    module_args: list[str],
    port: int,
    ready_path: str,
    log: Path,
    env: dict[str, str] | None = None,
    umask: int = -1,
    python: str = sys.executable,
    cwd: Path = ROOT,
) -> Iterator[str]:
    """`python -m <module_args>` serving on loopback `port`, its output in `log`; yields
    the base URL once `ready_path` answers; stops it afterwards. ``python`` and ``cwd``:
    another interpreter (an installed release's) and where it starts, so that it imports
    its own code rather than this source tree's."""
    environ = os.environ | (env or {})
    with log.open("wb") as output:
        process = subprocess.Popen(
            [python, "-m", *module_args],
            env=environ,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            umask=umask,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous, for a loaded machine running tests in parallel; but polled often,
        # as most starts take a second or two and every test waits for one.
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + ready_path, timeout=5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("did not start:\n" + log.read_text()) from None
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
