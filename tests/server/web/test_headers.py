"""Security headers on every kind of response, and nothing loaded from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.web.headers import CSP
from server.web.templating import TEMPLATE_DIR
from tests.conftest import People, sign_in


@pytest.mark.parametrize("path", ["/signin", "/nope", "/static/css/app.css", "/admin"])
def test_every_response_carries_the_policy(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    csp = response.headers["content-security-policy"]
    for part in (
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert part in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-request-id"]


def test_pages_are_not_cached_but_hashed_static_files_are(
    client: TestClient, people: People
) -> None:
    sign_in(client, people.learner)
    assert client.get("/learn").headers["cache-control"] == "no-store"
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]+)"', client.get("/learn").text)
    assert css
    assert "immutable" in client.get(css.group(1)).headers["cache-control"]


def test_static_files_cannot_escape_their_folder(client: TestClient) -> None:
    assert client.get("/static/../settings.py").status_code == 404
    assert client.get("/static/%2e%2e/settings.py").status_code == 404


def test_templates_load_nothing_from_outside_and_have_no_inline_script() -> None:
    for template in TEMPLATE_DIR.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r'(src|href|action)="(https?:)?//', text), template
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert " style=" not in text and "onclick" not in text, template


SERVER = Path(__file__).resolve().parents[3] / "server"
# Sources a policy may name: this server, or nothing (plus a course drawing's own styles).
ALLOWED_SOURCES = {"'self'", "'none'"}


def test_views_pick_a_named_policy_and_never_write_one() -> None:
    for source in SERVER.rglob("*.py"):
        if source.name == "headers.py":
            continue
        text = source.read_text(encoding="utf-8")
        assert "default-src" not in text, f"{source.name} writes a policy: use CSP.<NAME>"
        assert "Content-Security-Policy" not in text, f"{source.name}: use CSP.<NAME>.apply"


def test_no_named_policy_loads_anything_from_outside_the_server() -> None:
    assert len({policy.name for policy in CSP.ALL}) == len(CSP.ALL)
    for policy in CSP.ALL:
        assert policy.header.split("; ")[0].startswith(("default-src", "sandbox")), policy.name
        assert "default-src" in policy.directives, policy.name
        for directive, sources in policy.directives.items():
            inline_style = policy is CSP.MEDIA and directive == "style-src"
            allowed = ALLOWED_SOURCES | ({"'unsafe-inline'"} if inline_style else set())
            assert set(sources) <= allowed, f"{policy.name} {directive} {sources}"
    for policy in (CSP.PAGE, CSP.MEDIA):
        assert policy.directives["frame-ancestors"] == ("'none'",), policy.name
    assert "sandbox" in CSP.MEDIA.directives and "sandbox" in CSP.REVIEW_FILE.directives


def test_api_paths_get_json_errors(client: TestClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["status"] == 404
