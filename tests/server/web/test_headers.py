"""Security headers on every kind of response, and nothing loaded from elsewhere."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

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


def test_api_paths_get_json_errors(client: TestClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["status"] == 404
