"""Builders for the TUF tests: packages, publisher repositories, loopback HTTP mirrors."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from content.package.build import build_package
from content.tuf import repository
from content.tuf.updater import FolderSource, MirrorSource, PublisherClient
from tests.content.conftest import write_course

NGO = "Example NGO"


def make_package(base: Path, version: int = 1, course_id: str = "org.example.test") -> Path:
    """Build a small real course package ``<course_id>-v<version>.tar`` under ``base``."""
    src = write_course(
        base / f"src-{course_id}-{version}", course={"id": course_id, "version": version}
    )
    return build_package(src, base / "dist", progress=False)


def make_repo(base: Path, name: str = "repo", **options: Any) -> Path:
    """A fresh publisher repository in ``base/name``."""
    repo = base / name
    repository.init_repository(repo, NGO, "org.example", **options)
    return repo


def pinned_root(repo: Path) -> bytes:
    """The root a facility pins when it trusts ``repo`` (version 1, as handed over)."""
    return (repo / "published" / "metadata" / "1.root.json").read_bytes()


def export(repo: Path, stick: Path) -> Path:
    """Export ``repo`` to a fresh copy at ``stick`` (replacing what was there)."""
    shutil.rmtree(stick, ignore_errors=True)
    repository.export_repository(repo, stick)
    return stick


def client_for(
    repo: Path, base: Path, source: FolderSource | MirrorSource, **options: Any
) -> PublisherClient:
    """A facility client pinned to ``repo``'s first root, caching under ``base/client``."""
    return PublisherClient(NGO, base / "client", pinned_root(repo), source, **options)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


class _RedirectHandler(http.server.BaseHTTPRequestHandler):
    target = "http://evil.invalid:9/metadata/timestamp.json"

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@contextmanager
def serve(folder: Path | None, *, redirect: bool = False) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port); yield the base URL."""
    handler: Any = (
        _RedirectHandler if redirect else functools.partial(_QuietHandler, directory=str(folder))
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
