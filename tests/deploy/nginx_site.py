"""Run Debian's nginx with the shipped site (deploy/nginx/stepstone.conf) on loopback.

The shipped file stays the one source of truth: it is read as it is and only its
machine-specific values (ports, certificate and store paths, the upstream) are replaced,
each of which must be found exactly once, so a test fails loudly when the site changes
shape instead of quietly testing something else. Used by tests/deploy/test_nginx.py and by
bench/media_nginx.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "stepstone.conf"
MAKE_CERTS = ROOT / "deploy" / "make-certs.sh"
MEDIA_LOCATION = "location /_media/ {"


def nginx_binary() -> str | None:
    """Debian installs nginx in /usr/sbin, which is not on every user's PATH."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(folder: Path) -> Certificates:
    """A facility CA and a server certificate for 127.0.0.1, by the shipped recipe."""
    subprocess.run(
        ["bash", str(MAKE_CERTS), str(folder), "127.0.0.1", "localhost"],
        check=True,
        capture_output=True,
    )
    return Certificates(folder / "ca.crt", folder / "server.crt", folder / "server.key")


@dataclass(frozen=True)
class Site:
    """Where the rendered site listens and what it serves."""

    http_port: int
    https_port: int
    upstream: str  # host:port of uvicorn
    store: Path
    certificates: Certificates

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


def render_site(site: Site, extra_locations: str = "") -> str:
    """The shipped site with this machine's values; `extra_locations` go in the TLS server."""
    text = SITE.read_text(encoding="utf-8")
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{site.http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{site.https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("server 127.0.0.1:8000;", f"server {site.upstream};"),
        ("/etc/stepstone/tls/server.crt;", f"{site.certificates.cert};"),
        ("/etc/stepstone/tls/server.key;", f"{site.certificates.key};"),
        ("alias /var/lib/stepstone/store/;", f"alias {site.store}/;"),
        (MEDIA_LOCATION, extra_locations + "\n    " + MEDIA_LOCATION),
    ]
    for old, new in replacements:
        count = text.count(old)
        if count != 1:
            raise AssertionError(f"{SITE} has {old!r} {count} times; expected once")
        text = text.replace(old, new)
    return text


def _main_config(folder: Path, site_file: Path, workers: int) -> str:
    """The part of /etc/nginx/nginx.conf that a site relies on, with private paths."""
    # As root, nginx would switch its workers to `nobody`, who cannot read pytest's
    # private temp folders; keep root there (the shipped site itself has no `user`).
    user = "user root root;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {folder / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
daemon off;
worker_processes {workers};
worker_rlimit_nofile 16384;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    access_log {folder / "access.log"};
{temp}
    include {site_file};
}}
"""


@contextmanager
def running_nginx(
    folder: Path, site: Site, extra_locations: str = "", workers: int = 1
) -> Iterator[Path]:
    """Start nginx in the foreground on `site`; yields its folder (logs); stops it after."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
    folder.mkdir(parents=True, exist_ok=True)
    site_file = folder / "stepstone.conf"
    site_file.write_text(render_site(site, extra_locations), encoding="utf-8")
    config = folder / "nginx.conf"
    config.write_text(_main_config(folder, site_file, workers), encoding="utf-8")
    command = [binary, "-p", str(folder), "-c", str(config)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    if checked.returncode != 0:
        raise AssertionError("nginx refuses the site:\n" + checked.stderr)
    output = (folder / "nginx.out").open("wb")
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_until_listening(site, process, folder)
        yield folder
    finally:
        process.terminate()
        process.wait(timeout=10)
        output.close()


def _wait_until_listening(site: Site, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{site.http_port}/", timeout=1)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                log = (folder / "nginx.out").read_text(errors="replace")
                raise AssertionError("nginx did not start:\n" + log) from None
            time.sleep(0.1)
