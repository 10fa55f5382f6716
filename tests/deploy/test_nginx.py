"""Stepstone behind Debian's nginx with the shipped site, over real TLS.

Certificates come from deploy/make-certs.sh, the site from deploy/nginx/stepstone.conf
(only ports and paths replaced), the app is a real uvicorn with the settings the deploy
guide gives. Checked as a tablet would see it: the HTTPS redirect, security headers, a
sign-in, a lesson, a video seek served by nginx after Stepstone allowed it, and a learner
who may not see the course getting nothing.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.learning import assignments
from server.people.accounts import Role
from server.people.audit import Actor
from tests.conftest import CSRF_RE, PIN, demo_facility, make_user
from tests.deploy.nginx_site import Site, make_certificates, nginx_binary, running_nginx
from tests.live import free_port, running_server

pytestmark = pytest.mark.e2e

SAFETY = "org.stepstone.demo.workplace-safety"
LESSON = f"/learn/courses/{SAFETY}/lessons/four-safety-habits"
VIDEO_RE = re.compile(r'src="(/media/([0-9a-f]{64})/safety-habits\.webm)"')


@dataclass(frozen=True)
class Facility:
    site: Site
    tls: ssl.SSLContext
    store: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.site.base, verify=self.tls, timeout=10)


@pytest.fixture(scope="module")
def facility(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Facility]:
    if nginx_binary() is None and not os.environ.get("CI"):
        pytest.skip("nginx is not installed here (apt-get install nginx-light); CI has it")
    base = tmp_path_factory.mktemp("nginx")
    data = base / "data"
    _settings, database = demo_facility(data, indexed=True)
    assigned = make_user(database, Role.LEARNER, "A100", "Alex Learner")
    make_user(database, Role.LEARNER, "B200", "Bea Learner")
    with database.write() as db:
        assignments.assign_in(db, Actor.system("test"), SAFETY, user_id=assigned.id)
    database.close()
    certificates = make_certificates(base / "tls")
    with running_server(
        data,
        workers=1,
        STEPSTONE_DEMO="true",
        STEPSTONE_LEARNER_CATALOG="assigned",
        STEPSTONE_MEDIA_ACCEL_PREFIX="/_media/",
        STEPSTONE_HTTPS="true",
        STEPSTONE_TRUSTED_PROXIES="127.0.0.1",
    ) as upstream:
        site = Site(
            http_port=free_port(),
            https_port=free_port(),
            upstream=upstream.removeprefix("http://"),
            store=data / "store",
            certificates=certificates,
        )
        with running_nginx(base / "nginx", site):
            tls = ssl.create_default_context(cafile=str(certificates.ca))
            yield Facility(site, tls, data / "store")


@contextmanager
def signed_in(facility: Facility, login: str) -> Iterator[httpx.Client]:
    with facility.client() as client:
        _sign_in(client, login)
        yield client


def _sign_in(client: httpx.Client, login: str) -> None:
    token = CSRF_RE.search(client.get("/signin").text)
    assert token, "no CSRF token on the sign-in page"
    response = client.post(
        "/signin", data={"facility_id": login, "pin": PIN, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == "/learn"
    # HTTPS: the session cookie is a __Host- cookie that never travels over plain HTTP.
    assert "__Host-stepstone=" in response.headers["set-cookie"]
    assert "Secure" in response.headers["set-cookie"]


def video_url(client: httpx.Client) -> tuple[str, str]:
    lesson = client.get(LESSON)
    assert lesson.status_code == 200
    match = VIDEO_RE.search(lesson.text)
    assert match, "the video is not on the lesson page"
    return match.group(1), match.group(2)


def test_plain_http_is_sent_to_https(facility: Facility) -> None:
    response = httpx.get(f"http://127.0.0.1:{facility.site.http_port}/learn?from=tablet")
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/learn?from=tablet"


def test_pages_over_tls_carry_the_security_headers(facility: Facility) -> None:
    with facility.client() as client:
        page = client.get("/signin")
        assert page.status_code == 200
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert page.headers.get_list("strict-transport-security") == [
            "max-age=31536000; includeSubDomains"
        ]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["server"] == "nginx"  # no version number
        stylesheet = re.search(r'href="(/static/[^"]+\.css\?v=[^"]+)"', page.text)
        assert stylesheet, "no stylesheet on the sign-in page"
        css = client.get(stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
        assert css.headers["content-encoding"] == "gzip"
        # nginx's own error pages carry HSTS too.
        too_big = client.post("/api/events", content=b"x" * (2 * 1024 * 1024))
        assert too_big.status_code == 413
        assert "strict-transport-security" in too_big.headers


def test_learner_signs_in_and_opens_a_lesson(facility: Facility) -> None:
    with signed_in(facility, "A100") as client:
        home = client.get("/learn")
        assert home.status_code == 200 and "Alex Learner" in home.text
        lesson = client.get(LESSON)
        assert lesson.status_code == 200
        assert "Video: four safety habits" in lesson.text
        assert lesson.headers["cache-control"] == "no-store"


def test_video_seek_is_sent_by_nginx_after_stepstone_allows_it(facility: Facility) -> None:
    with signed_in(facility, "A100") as client:
        url, sha256 = video_url(client)
        blob = facility.store / sha256[:2] / sha256
        data, stat = blob.read_bytes(), blob.stat()
        part = client.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.content == data[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        assert part.headers["content-type"] == "video/webm"
        # nginx's ETag ("mtime-size" in hex) shows the bytes came from nginx, not Python.
        assert part.headers["etag"] == f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
        assert "x-accel-redirect" not in part.headers
        # Stepstone's headers for the file survive the hand-over to nginx.
        assert "immutable" in part.headers["cache-control"]
        assert part.headers["content-security-policy"].startswith("default-src 'none'")
        assert "sandbox" in part.headers["content-security-policy"].split("; ")
        assert part.headers["x-content-type-options"] == "nosniff"
        assert part.headers["content-disposition"] == 'inline; filename="safety-habits.webm"'
        assert part.headers.get_list("strict-transport-security") == [
            "max-age=31536000; includeSubDomains"
        ]
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == data


def test_media_of_a_course_a_learner_may_not_see_is_refused(facility: Facility) -> None:
    with signed_in(facility, "A100") as allowed:
        url, sha256 = video_url(allowed)
    with signed_in(facility, "B200") as other:
        assert other.get(LESSON).status_code == 404
        refused = other.get(url, headers={"Range": "bytes=0-99"})
        assert refused.status_code == 404
        assert b"webm" not in refused.content
        # The store itself is not a public location, not even with the exact path.
        direct = other.get(f"/_media/{sha256[:2]}/{sha256}")
        assert direct.status_code == 404
    with facility.client() as anonymous:
        assert anonymous.get(url).status_code in (303, 401)
