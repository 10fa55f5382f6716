"""The offline release bundle: built, installed with no network, upgraded, rolled back.

As a facility would do it, with the shipped scripts (deploy/release/): build the bundle of
this tree and a second one of the same tree with a bumped version, install the first into a
folder (STEPSTONE_PREFIX) inside a network namespace with no interfaces, so any attempt of
pip to reach an index fails; start the installed server behind Debian's nginx with the
shipped site over real TLS and sign in; upgrade to the second bundle (backup, install beside,
migrate, check, switch); roll back (the first version again, on the data from before the
upgrade). Building needs PyPI (the dependencies' wheels), as a maintainer's machine has.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import ssl
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from server import __version__
from tests.conftest import CSRF_RE
from tests.deploy.nginx_site import (
    Certificates,
    Site,
    make_certificates,
    nginx_binary,
    running_nginx,
)
from tests.live import ROOT, free_port, running_process

pytestmark = pytest.mark.e2e

BUILD = ROOT / "deploy" / "release" / "build.sh"
NEXT = f"{__version__}.post1"
ONE_TIME_RE = re.compile(r"one-time (?:PIN|password): (\S+)")


@dataclass(frozen=True)
class Bundles:
    first: Path  # unpacked folders
    second: Path
    certificates: Certificates


# How long each step may take on a loaded machine before the test gives up on it and says
# which step it was and what it printed so far (a build fetches wheels from the index).
BUILD_SECONDS = 300
STEP_SECONDS = 180


def _step(command: list[str], seconds: int, **options: Any) -> subprocess.CompletedProcess[str]:
    """`command` run to its end, its output captured; a step still running after `seconds`
    is stopped with every process it started (pip under bash) and fails the test with what
    it printed, instead of waiting for ever. Stopped the same way when the test itself is
    stopped (pytest-timeout)."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **options,
    )
    try:
        out, err = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        _stop_group(process)
        out, err = process.communicate()
        pytest.fail(f"{' '.join(command)} did not end within {seconds} s; it printed:\n{out}{err}")
    except BaseException:
        _stop_group(process)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _stop_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")
    return into / tarball.name.removesuffix(".tar.gz")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    if nginx_binary() is None and not os.environ.get("CI"):
        pytest.skip("nginx is not installed here (apt-get install nginx-light); CI has it")
    base = tmp_path_factory.mktemp("bundle")
    # An index that stops answering fails the build in a minute or two, not in pip's own
    # three minutes a try (PIP_DEFAULT_TIMEOUT may be set that high on a build machine).
    env = os.environ | {"PYTHON": "python3", "PIP_DEFAULT_TIMEOUT": "30", "PIP_RETRIES": "2"}
    built = _step(["bash", str(BUILD), "--out", str(base / "one")], BUILD_SECONDS, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    first = _unpack(base / "one" / f"stepstone-{__version__}.tar.gz", base / "one")
    # The same tree, another version: a copy with only the version line changed, built with
    # the first bundle's wheels (checked against the lock again) rather than PyPI's.
    tree = base / "tree"
    shutil.copytree(
        ROOT,
        tree,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".git",
            "node_modules",
            "dist",
            "build",
            "*.egg-info",
            "__pycache__",
            ".*_cache",
            ".coverage*",
        ),
    )
    version_file = tree / "server" / "__init__.py"
    text = version_file.read_text(encoding="utf-8")
    version_file.write_text(
        text.replace(f'__version__ = "{__version__}"', f'__version__ = "{NEXT}"'), encoding="utf-8"
    )
    again = ["--out", str(base / "two"), "--wheels", str(first / "wheels")]
    built = _step(["bash", str(tree / "deploy/release/build.sh"), *again], BUILD_SECONDS, env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    second = _unpack(base / "two" / f"stepstone-{NEXT}.tar.gz", base / "two")
    return Bundles(first, second, make_certificates(base / "tls"))


def _offline(command: list[str]) -> list[str]:
    """The command in a network namespace of its own, with no interface but loopback down."""
    if shutil.which("unshare") and _can_unshare():
        return ["unshare", "--map-root-user", "--net", *command]
    # Without namespaces, still nothing can come from an index: the installer passes
    # --no-index and --no-cache-dir to every pip call.
    return command


def _can_unshare() -> bool:
    probe = ["unshare", "--map-root-user", "--net", "true"]
    return _step(probe, STEP_SECONDS).returncode == 0


def _run(bundle: Path, prefix: Path, *args: str, offline: bool = False) -> str:
    command = ["bash", str(bundle / "install.sh"), *args]
    done = _step(
        _offline(command) if offline else command,
        STEP_SECONDS,
        env=os.environ | {"STEPSTONE_PREFIX": str(prefix)},
    )
    assert done.returncode == 0, f"install.sh {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def _stepstone(prefix: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _step(
        [str(prefix / "opt/stepstone/venv/bin/stepstone"), *args],
        STEP_SECONDS,
        env=os.environ | {"STEPSTONE_DATA_DIR": str(prefix / "var/lib/stepstone")},
        cwd=prefix,
    )


def _add_learner(prefix: Path, login: str) -> str:
    made = _stepstone(prefix, "user", "add", "learner", login, f"Learner {login}")
    assert made.returncode == 0, made.stderr
    pin = ONE_TIME_RE.search(made.stdout)
    assert pin, made.stdout
    return pin.group(1)


@contextmanager
def _serving(prefix: Path, certificates: Certificates) -> Iterator[httpx.Client]:
    """The installed release's server (its own Python, settings from its env file) behind
    nginx with the shipped site over TLS; yields a client of the tablets' side."""
    settings = {"STEPSTONE_DATA_DIR": str(prefix / "var/lib/stepstone")}
    for line in (prefix / "etc/stepstone/stepstone.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            settings[key] = value
    port = free_port()
    with running_process(
        ["server", "serve", "--port", str(port), "--workers", "1"],
        port,
        "/signin",
        prefix / f"server-{port}.log",
        env=settings,
        python=str(prefix / "opt/stepstone/venv/bin/python"),
        cwd=prefix,
    ) as upstream:
        site = Site(
            http_port=free_port(),
            https_port=free_port(),
            upstream=upstream.removeprefix("http://"),
            store=prefix / "var/lib/stepstone/store",
            certificates=certificates,
        )
        with running_nginx(prefix / f"nginx-{port}", site):
            tls = ssl.create_default_context(cafile=str(certificates.ca))
            with httpx.Client(base_url=site.base, verify=tls, timeout=10) as client:
                yield client


def _signs_in(client: httpx.Client, login: str, pin: str) -> bool:
    token = CSRF_RE.search(client.get("/signin").text)
    assert token, "no CSRF token on the sign-in page"
    response = client.post(
        "/signin", data={"facility_id": login, "pin": pin, "csrf_token": token.group(1)}
    )
    return response.status_code == 303 and "__Host-stepstone=" in response.headers.get(
        "set-cookie", ""
    )


def _version(prefix: Path) -> str:
    shown = _stepstone(prefix, "--version")
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.split()[-1]


def test_a_changed_byte_in_the_bundle_stops_the_install(bundles: Bundles, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(bundles.first, copy)
    wheel = next((copy / "wheels").glob("stepstone-*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 1
    wheel.write_bytes(bytes(data))
    done = _step(
        ["bash", str(copy / "install.sh"), "install"],
        STEP_SECONDS,
        env=os.environ | {"STEPSTONE_PREFIX": str(tmp_path / "root")},
    )
    assert done.returncode == 1
    assert "does not match its SHA256SUMS" in done.stderr
    assert not (tmp_path / "root").exists(), "something was installed from a damaged bundle"


def test_install_upgrade_and_roll_back_offline(bundles: Bundles, tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    installed = _run(bundles.first, prefix, "install", offline=True)
    assert f"Installed Stepstone {__version__}." in installed
    assert _version(prefix) == __version__
    data = prefix / "var/lib/stepstone"
    assert (data.stat().st_mode & 0o777) == 0o700
    for unit in ("stepstone.service", "stepstone-sync.timer", "stepstone-backup.timer"):
        assert (prefix / "etc/systemd/system" / unit).is_file()
    assert (prefix / "etc/nginx/sites-enabled/stepstone.conf").resolve().is_file()
    # The wheel carried the PDF viewer: tablets get it from the server, never npm.
    assert list(
        (prefix / "opt/stepstone/current/venv/lib").glob(
            "python3*/site-packages/server/web/static/vendor/pdfjs/pdf.min.mjs"
        )
    )

    before = _add_learner(prefix, "A100")
    with _serving(prefix, bundles.certificates) as tablet:
        assert _signs_in(tablet, "A100", before)

    upgraded = _run(bundles.second, prefix, "upgrade", offline=True)
    assert f"Upgraded from {__version__} to {NEXT}." in upgraded
    assert _version(prefix) == NEXT
    assert (prefix / f"opt/stepstone/releases/{__version__}/venv").is_dir(), "old one kept"
    after = _add_learner(prefix, "B200")
    with _serving(prefix, bundles.certificates) as tablet:
        assert _signs_in(tablet, "B200", after)

    rolled = _run(bundles.second, prefix, "rollback")
    assert f"Rolled back to {__version__}." in rolled
    assert _version(prefix) == __version__
    # The data from before the upgrade: B200 came later and is gone; A100 is there. What
    # the upgraded version left is kept aside, not deleted.
    assert "No account" in _stepstone(prefix, "user", "reset", "B200").stderr
    aside = [p for p in data.parent.iterdir() if p.name.startswith(f"stepstone.after-{NEXT}-")]
    assert len(aside) == 1 and (aside[0] / "stepstone.db").is_file()
    pin = ONE_TIME_RE.search(_stepstone(prefix, "user", "reset", "A100").stdout)
    assert pin
    with _serving(prefix, bundles.certificates) as tablet:
        assert _signs_in(tablet, "A100", pin.group(1))
    status = _run(bundles.first, prefix, "status")
    assert f"Running:     {__version__}" in status
