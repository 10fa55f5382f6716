"""Where a form sends the person back to: one guard (`safe_next`), one table of cases,
and the three forms that use it (language, text size, removing an assignment)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from server.web.plumbing import safe_next
from tests.conftest import People, post, sign_in

# wanted, under, what the person is sent to.
CASES = [
    ("/learn/courses/x", "/", "/learn/courses/x"),
    ("/", "/", "/"),
    ("/search?q=money&page=2", "/", "/search?q=money&page=2"),
    (
        "/learn/courses/org.example/lessons/intro",
        "/learn",
        "/learn/courses/org.example/lessons/intro",
    ),
    ("/teach/groups/7", "/teach/", "/teach/groups/7"),
    ("", "/", "DEFAULT"),
    ("learn", "/", "DEFAULT"),  # not a path from the root
    ("//evil.example/x", "/", "DEFAULT"),  # protocol-relative: another host
    ("/\\evil.example", "/", "DEFAULT"),  # browsers read "\" as "/"
    ("\\\\evil.example", "/", "DEFAULT"),
    ("/\t/evil.example", "/", "DEFAULT"),  # browsers drop the tab: "//evil.example"
    ("/\n/evil.example", "/", "DEFAULT"),
    ("/x\x00", "/", "DEFAULT"),
    ("https://evil.example/", "/", "DEFAULT"),  # a scheme
    ("javascript:alert(1)", "/", "DEFAULT"),
    ("/admin", "/learn", "DEFAULT"),  # outside the part of the site the form allows
    ("/teach", "/teach/", "DEFAULT"),
    ("//teach/x", "/teach/", "DEFAULT"),
]


@pytest.mark.parametrize(("wanted", "under", "expected"), CASES)
def test_safe_next_allows_only_a_local_path_under_its_prefix(
    wanted: str, under: str, expected: str
) -> None:
    assert safe_next(wanted, under=under, default="DEFAULT") == expected


def test_the_forms_send_people_back_only_to_this_server(client: TestClient, people: People) -> None:
    hostile = "//evil.example/x"
    answer = post(
        client,
        "/language",
        {"language": "es", "next": hostile},
        token_from="/signin",
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"
    answer = post(
        client,
        "/language",
        {"language": "en", "next": "/staff/signin"},
        token_from="/signin",
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/staff/signin"
    sign_in(client, people.learner)
    for wanted, lands in [(hostile, "/learn"), ("/learn/transcript", "/learn/transcript")]:
        answer = post(
            client, "/learn/text-size", {"size": "large", "next": wanted}, follow_redirects=False
        )
        assert answer.headers["location"] == lands
