"""Every route of the app, tried by every role: each gets exactly the intended answer.

A new route that is not in EXPECTED fails `test_every_route_has_a_rule`, so nobody can add
a page without deciding who may open it.

GET cases only read, so they share one facility and app per module; each POST case, which
may change what the next one sees (disable, delete, reset), gets its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.settings import load_settings
from server.people import groups
from server.people.audit import Actor
from server.web.app import create_app
from server.web.plumbing import PUBLIC, SANDBOX, SIGNED_IN
from tests.conftest import CSRF_RE, People, make_people, new_database, sign_in

ROLES = ("anon", "learner", "educator", "admin")
# Shorthands: 303 anonymous is "sent to sign in"; 403 is "not for you".
ADMIN_ONLY_GET = {"anon": 303, "learner": 403, "educator": 403, "admin": 200}


def admin_only_post(status: int) -> dict[str, int]:
    return {"anon": 303, "learner": 403, "educator": 403, "admin": status}


def learner_only(status: int) -> dict[str, int]:
    return {"anon": 303, "learner": status, "educator": 403, "admin": 403}


LEARNER_ONLY_GET = learner_only(200)


def staff(educator: int, admin: int) -> dict[str, int]:
    return {"anon": 303, "learner": 403, "educator": educator, "admin": admin}


STAFF_GET = staff(200, 200)


EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/"): {"anon": 303, "learner": 303, "educator": 303, "admin": 303},
    ("GET", "/signin"): {"anon": 200, "learner": 303, "educator": 303, "admin": 303},
    ("POST", "/signin"): {"anon": 401, "learner": 401, "educator": 401, "admin": 401},
    ("GET", "/staff/signin"): {"anon": 200, "learner": 303, "educator": 303, "admin": 303},
    ("POST", "/staff/signin"): {"anon": 401, "learner": 401, "educator": 401, "admin": 401},
    ("POST", "/signout"): {"anon": 303, "learner": 303, "educator": 303, "admin": 303},
    ("POST", "/language"): {"anon": 303, "learner": 303, "educator": 303, "admin": 303},
    ("GET", "/account"): {"anon": 303, "learner": 200, "educator": 200, "admin": 200},
    ("GET", "/account/secret"): {"anon": 303, "learner": 200, "educator": 200, "admin": 200},
    ("POST", "/account/secret"): {"anon": 303, "learner": 400, "educator": 400, "admin": 400},
    ("GET", "/learn"): {"anon": 303, "learner": 200, "educator": 403, "admin": 403},
    ("GET", "/learn/catalog"): LEARNER_ONLY_GET,
    ("GET", "/library"): LEARNER_ONLY_GET,
    # Learners and staff read collections (an unknown one is not found for anyone).
    ("GET", "/collections/{course_id}"): {**staff(404, 404), "learner": 404},
    ("GET", "/collections/{course_id}/search"): {**staff(404, 404), "learner": 404},
    ("GET", "/collections/{course_id}/suggest"): {**staff(404, 404), "learner": 404},
    ("GET", "/collections/{course_id}/a/{path:path}"): {**staff(404, 404), "learner": 404},
    ("GET", "/learn/transcript"): LEARNER_ONLY_GET,
    ("POST", "/learn/text-size"): learner_only(400),
    # No content exists in this test: a learner's answer for a missing course is 404.
    ("GET", "/learn/certificates/{code}"): learner_only(404),
    ("GET", "/learn/certificates/{code}/open-badge"): learner_only(404),
    ("GET", "/learn/passport"): LEARNER_ONLY_GET,
    ("GET", "/learn/passport/{passport_id}/file"): learner_only(404),
    ("GET", "/learn/courses/{course_id}"): learner_only(404),
    ("POST", "/learn/courses/{course_id}/enrol"): learner_only(404),
    ("GET", "/learn/courses/{course_id}/finished"): learner_only(404),
    ("GET", "/learn/courses/{course_id}/lessons/{key}"): learner_only(404),
    ("POST", "/learn/courses/{course_id}/lessons/{key}/done"): learner_only(404),
    ("POST", "/learn/courses/{course_id}/rate"): learner_only(404),
    ("POST", "/learn/courses/{course_id}/lessons/{key}/quiz"): learner_only(404),
    ("POST", "/learn/courses/{course_id}/lessons/{key}/workbook"): learner_only(404),
    ("POST", "/learn/courses/{course_id}/lessons/{key}/written"): learner_only(404),
    (
        "POST",
        "/learn/courses/{course_id}/lessons/{key}/written/{attempt_id:id}/comment",
    ): learner_only(404),
    # JSON: 401 rather than a redirect; a form body is not the JSON batch it wants.
    ("POST", "/api/events"): {"anon": 401, "learner": 400, "educator": 403, "admin": 403},
    # Whether tablets are open for this learner now: only learners ask.
    ("GET", "/api/access"): {"anon": 401, "learner": 200, "educator": 403, "admin": 403},
    ("GET", "/media/{sha256}/{name}"): {"anon": 303, "learner": 404, "educator": 404, "admin": 404},
    # No session there at all: an address that is not a signed one is simply not found.
    ("GET", "/sandbox/{token}/{path:path}"): {
        "anon": 404,
        "learner": 404,
        "educator": 404,
        "admin": 404,
    },
    ("GET", "/search"): {"anon": 303, "learner": 200, "educator": 200, "admin": 200},
    ("GET", "/verify"): {"anon": 303, "learner": 403, "educator": 200, "admin": 200},
    ("GET", "/verify/{code}"): {"anon": 303, "learner": 403, "educator": 404, "admin": 404},
    # Without a file the page says to choose one.
    ("POST", "/verify/file"): staff(200, 200),
    ("POST", "/verify/{code}/revoke"): admin_only_post(404),
    ("GET", "/teach"): STAFF_GET,
    ("GET", "/learn/plan"): LEARNER_ONLY_GET,
    ("GET", "/learn/take-with-me"): LEARNER_ONLY_GET,
    ("POST", "/learn/take-with-me"): learner_only(303),
    # The educator is not in the test's group, so it and its learner are out of scope.
    ("GET", "/teach/groups/{group_id:id}"): staff(404, 200),
    ("POST", "/teach/groups/{group_id:id}/assign"): staff(404, 400),
    ("POST", "/teach/assignments/{assignment_id:id}/remove"): staff(404, 404),
    ("GET", "/teach/courses/{course_id}"): staff(404, 404),
    ("POST", "/teach/courses/{course_id}/assign"): staff(404, 404),
    ("GET", "/teach/courses/{course_id}/questions"): staff(404, 404),
    ("GET", "/teach/learners/{user_id:id}"): staff(404, 200),
    ("POST", "/teach/learners/{user_id:id}/goals"): staff(404, 400),
    # Educators only where the facility allows it (it does not by default).
    ("POST", "/teach/learners/{user_id:id}/transfer"): staff(403, 200),
    ("POST", "/teach/learners/{user_id:id}/goals/{goal_id:id}"): staff(404, 400),
    ("POST", "/teach/learners/{user_id:id}/absences"): staff(404, 400),
    ("POST", "/teach/learners/{user_id:id}/absences/{absence_id:id}/remove"): staff(404, 404),
    ("GET", "/teach/learners/{user_id:id}/passports"): staff(404, 200),
    ("POST", "/teach/learners/{user_id:id}/passports"): staff(404, 303),
    ("GET", "/teach/passports/{passport_id}"): staff(404, 404),
    ("GET", "/teach/passports/{passport_id}/file"): staff(404, 404),
    ("GET", "/teach/learners/{user_id:id}/credit"): staff(404, 200),
    ("POST", "/teach/learners/{user_id:id}/credit/{entry_id:id}/correct"): staff(403, 404),
    ("GET", "/teach/groups/{group_id:id}/credit"): staff(404, 200),
    ("GET", "/teach/exports/credit.csv"): STAFF_GET,
    ("GET", "/teach/exports/credit.json"): STAFF_GET,
    # Lesson plans: reached through their group; none exists in this test.
    ("GET", "/teach/groups/{group_id:id}/lesson-plans"): staff(404, 200),
    ("POST", "/teach/groups/{group_id:id}/lesson-plans"): staff(404, 400),
    ("GET", "/teach/lesson-plans/{plan_id:id}"): staff(404, 404),
    ("POST", "/teach/lesson-plans/{plan_id:id}"): staff(404, 404),
    ("POST", "/teach/lesson-plans/{plan_id:id}/items"): staff(404, 404),
    ("POST", "/teach/lesson-plans/{plan_id:id}/items/{item_id:id}"): staff(404, 404),
    ("POST", "/teach/lesson-plans/{plan_id:id}/assign"): staff(404, 404),
    ("GET", "/teach/lesson-plans/{plan_id:id}/quiz"): staff(404, 404),
    ("POST", "/teach/lesson-plans/{plan_id:id}/quiz"): staff(404, 404),
    ("GET", "/teach/lesson-plans/{plan_id:id}/quizzes/{quiz_id:id}"): staff(404, 404),
    ("GET", "/learn/lesson-plans/{plan_id:id}"): learner_only(404),
    ("GET", "/learn/lesson-plans/{plan_id:id}/quizzes/{quiz_id:id}"): learner_only(404),
    ("POST", "/learn/lesson-plans/{plan_id:id}/quizzes/{quiz_id:id}"): learner_only(404),
    ("GET", "/teach/lesson-plans/{plan_id:id}/writing"): staff(404, 404),
    ("POST", "/teach/lesson-plans/{plan_id:id}/writing"): staff(404, 404),
    ("GET", "/teach/lesson-plans/{plan_id:id}/writing/{task_id:id}"): staff(404, 404),
    ("GET", "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}"): learner_only(404),
    ("POST", "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}"): learner_only(404),
    ("POST", "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}/draft"): learner_only(404),
    (
        "POST",
        "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}/{attempt_id:id}/comment",
    ): learner_only(404),
    ("GET", "/learn/requests"): LEARNER_ONLY_GET,
    # An empty request is refused with its reason.
    ("POST", "/learn/requests"): learner_only(400),
    ("GET", "/teach/requests"): STAFF_GET,
    # Without approve or reject the form is refused before the request is looked up.
    ("POST", "/teach/requests/{suggestion_id:id}"): staff(400, 400),
    ("GET", "/admin/local-text"): ADMIN_ONLY_GET,
    # Files educators share: no file 9999 for anybody; an upload without a file is refused.
    ("POST", "/teach/lesson-plans/{plan_id:id}/files"): staff(404, 404),
    ("GET", "/teach/files"): STAFF_GET,
    ("POST", "/teach/files"): staff(400, 400),
    ("GET", "/teach/files/{file_id:id}"): staff(404, 404),
    ("POST", "/teach/files/{file_id:id}/withdraw"): staff(404, 404),
    ("GET", "/files/{file_id:id}/{name}"): {
        "anon": 303,
        "learner": 404,
        "educator": 404,
        "admin": 404,
    },
    ("GET", "/learn/lesson-plans/{plan_id:id}/files/{file_id:id}"): learner_only(404),
    ("GET", "/admin/content/files/{file_id:id}"): admin_only_post(404),
    ("POST", "/admin/content/files/{file_id:id}/approve"): admin_only_post(404),
    ("POST", "/admin/content/files/{file_id:id}/reject"): admin_only_post(404),
    # The account is a learner's: only an educator's files can skip review.
    ("POST", "/admin/users/{user_id:id}/file-waiver"): admin_only_post(400),
    ("GET", "/teach/reviews"): STAFF_GET,
    ("GET", "/teach/reviews/{entry_id:id}"): staff(404, 404),
    ("POST", "/teach/reviews/{entry_id:id}"): staff(404, 404),
    ("GET", "/teach/grading"): STAFF_GET,
    ("GET", "/teach/grading/{attempt_id:id}"): staff(404, 404),
    ("POST", "/teach/grading/{attempt_id:id}"): staff(404, 404),
    ("POST", "/teach/grading/{attempt_id:id}/comment"): staff(404, 404),
    ("GET", "/teach/exports"): STAFF_GET,
    ("GET", "/teach/exports/progress.csv"): STAFF_GET,
    ("GET", "/teach/exports/completions.csv"): STAFF_GET,
    ("GET", "/teach/exports/completions"): STAFF_GET,
    ("GET", "/teach/exports/xapi.json"): STAFF_GET,
    ("GET", "/admin/reports/impact"): ADMIN_ONLY_GET,
    ("GET", "/admin/reports/impact.{kind:str}"): admin_only_post(404),
    ("GET", "/admin/reports/facility-key.pem"): ADMIN_ONLY_GET,
    ("GET", "/admin"): ADMIN_ONLY_GET,
    ("GET", "/admin/users"): ADMIN_ONLY_GET,
    ("GET", "/admin/users/new"): ADMIN_ONLY_GET,
    ("POST", "/admin/users/new"): admin_only_post(400),
    ("GET", "/admin/users/{user_id:id}"): ADMIN_ONLY_GET,
    ("POST", "/admin/users/{user_id:id}"): admin_only_post(400),
    ("POST", "/admin/users/{user_id:id}/reset"): admin_only_post(200),
    ("POST", "/admin/users/{user_id:id}/disable"): admin_only_post(303),
    ("POST", "/admin/users/{user_id:id}/enable"): admin_only_post(303),
    ("POST", "/admin/users/{user_id:id}/unlock"): admin_only_post(303),
    ("POST", "/admin/users/{user_id:id}/end-sessions"): admin_only_post(303),
    ("GET", "/admin/groups"): ADMIN_ONLY_GET,
    ("POST", "/admin/groups"): admin_only_post(400),
    ("GET", "/admin/groups/{group_id:id}"): ADMIN_ONLY_GET,
    ("POST", "/admin/groups/{group_id:id}"): admin_only_post(400),
    ("POST", "/admin/groups/{group_id:id}/delete"): admin_only_post(303),
    ("POST", "/admin/groups/{group_id:id}/members"): admin_only_post(400),
    ("POST", "/admin/groups/{group_id:id}/members/{user_id:id}/remove"): admin_only_post(303),
    ("GET", "/admin/roster"): ADMIN_ONLY_GET,
    ("POST", "/admin/roster/check"): admin_only_post(400),
    ("POST", "/admin/roster/import"): admin_only_post(400),
    ("GET", "/admin/audit"): ADMIN_ONLY_GET,
    ("GET", "/admin/transfers"): ADMIN_ONLY_GET,
    ("GET", "/admin/transfers/card.json"): ADMIN_ONLY_GET,
    ("POST", "/admin/transfers/trust"): admin_only_post(400),
    ("POST", "/admin/transfers/trust/remove"): admin_only_post(400),
    ("POST", "/admin/transfers/export"): admin_only_post(400),
    ("POST", "/admin/transfers/check"): admin_only_post(400),
    ("POST", "/admin/transfers/import"): admin_only_post(400),
    ("GET", "/admin/status"): ADMIN_ONLY_GET,
    # Monitoring answers only on loopback; the test client is not (tests/server/ops/test_health.py).
    ("GET", "/healthz"): {"anon": 404, "learner": 404, "educator": 404, "admin": 404},
    ("GET", "/metrics"): {"anon": 404, "learner": 404, "educator": 404, "admin": 404},
    ("GET", "/static"): {"anon": 200, "learner": 200, "educator": 200, "admin": 200},
    ("GET", "/admin/publishers"): ADMIN_ONLY_GET,
    ("POST", "/admin/publishers"): admin_only_post(400),
    ("POST", "/admin/publishers/confirm"): admin_only_post(400),
    # No content exists in this test: the admin's answer for a missing id is 404.
    ("POST", "/admin/publishers/{publisher_id:id}/sync"): admin_only_post(404),
    ("GET", "/admin/content"): ADMIN_ONLY_GET,
    ("GET", "/admin/credit"): ADMIN_ONLY_GET,
    ("POST", "/admin/credit"): admin_only_post(400),
    ("GET", "/admin/content/offers/{course_id}"): admin_only_post(404),
    ("POST", "/admin/content/offers/{course_id}"): admin_only_post(404),
    ("GET", "/admin/content/collections/{course_id}/blocked"): admin_only_post(404),
    ("GET", "/admin/content/versions/{version_id:id}/zim/{path:path}"): admin_only_post(404),
    ("POST", "/admin/content/collections/{course_id}/blocked"): admin_only_post(404),
    ("GET", "/admin/content/reasons"): ADMIN_ONLY_GET,
    ("POST", "/admin/content/reasons"): admin_only_post(400),
    ("POST", "/admin/content/reasons/{code:str}/remove"): admin_only_post(404),
    ("GET", "/admin/content/decisions.{kind:str}"): ADMIN_ONLY_GET,
    ("GET", "/admin/access"): ADMIN_ONLY_GET,
    ("GET", "/admin/access/now"): ADMIN_ONLY_GET,
    ("POST", "/admin/access/windows"): admin_only_post(400),
    ("POST", "/admin/access/windows/{window_id:id}/remove"): admin_only_post(404),
    ("POST", "/admin/access/holidays"): admin_only_post(400),
    ("POST", "/admin/access/holidays/{day:str}/remove"): admin_only_post(404),
    ("GET", "/admin/lockdowns"): ADMIN_ONLY_GET,
    ("POST", "/admin/lockdowns"): admin_only_post(400),
    ("POST", "/admin/lockdowns/{lockdown_id:id}/end"): admin_only_post(404),
    ("GET", "/admin/content/watch-list"): ADMIN_ONLY_GET,
    ("POST", "/admin/content/watch-list"): admin_only_post(400),
    ("POST", "/admin/content/watch-list/{word_id:id}/remove"): admin_only_post(404),
    ("GET", "/admin/content/versions/{version_id:id}"): admin_only_post(404),
    ("POST", "/admin/content/versions/{version_id:id}/approve"): admin_only_post(404),
    ("POST", "/admin/content/versions/{version_id:id}/reject"): admin_only_post(404),
    ("POST", "/admin/content/versions/{version_id:id}/retire"): admin_only_post(404),
    ("POST", "/admin/content/versions/{version_id:id}/make-live"): admin_only_post(404),
    ("GET", "/admin/content/versions/{version_id:id}/files/{path:path}"): admin_only_post(404),
    ("POST", "/admin/content/courses/{course_pk:id}/pull"): admin_only_post(404),
    ("POST", "/admin/content/courses/{course_pk:id}/restore"): admin_only_post(404),
}


def app_routes(app: Starlette) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if isinstance(route, Mount):
            found.add(("GET", route.path))
        elif isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, route.path))
    return found


def test_every_route_has_a_rule(app: Starlette) -> None:
    assert app_routes(app) == set(EXPECTED)
    for route in app.routes:
        if isinstance(route, Route):
            rule = getattr(route.endpoint, "access", None)
            assert rule, f"{route.path} has no @access rule"
            assert rule <= {PUBLIC, SIGNED_IN, SANDBOX, "admin", "educator", "learner"}


def _url(path: str, people: People, group_id: int) -> str:
    if path == "/static":
        return "/static/css/app.css"
    path = path.replace("{user_id:id}", str(people.other_learner.id))
    path = path.replace("{group_id:id}", str(group_id)).replace("{path:path}", "media/x.png")
    path = path.replace("{kind:str}", "csv").replace("{day:str}", "2026-12-25")
    for name in (
        "{publisher_id:id}",
        "{version_id:id}",
        "{course_pk:id}",
        "{assignment_id:id}",
        "{goal_id:id}",
        "{entry_id:id}",
        "{attempt_id:id}",
        "{word_id:id}",
        "{window_id:id}",
        "{lockdown_id:id}",
        "{absence_id:id}",
        "{plan_id:id}",
        "{task_id:id}",
        "{item_id:id}",
        "{quiz_id:id}",
        "{suggestion_id:id}",
        "{file_id:id}",
    ):
        path = path.replace(name, "9999")
    path = path.replace("{course_id}", "org.example.missing").replace("{key}", "intro")
    path = path.replace("{token}", "not-a-token")
    path = path.replace("{code}", "ABCD-EFGH-JKLM-NPQR").replace("{sha256}", "a" * 64)
    path = path.replace("{passport_id}", "0123456789abcdef")
    return path.replace("{name}", "video.webm")


@dataclass
class Facility:
    app: Starlette
    people: People
    group_id: int


def with_group(app: Starlette, database: Database, people: People) -> Facility:
    """The test's facility: ``other_learner`` is in a group the educator does not teach."""
    group = groups.create_group(database, Actor.system("test"), "Unit A", "housing")
    groups.add_member(database, Actor.system("test"), group.id, people.other_learner.id)
    return Facility(app, people, group.id)


@pytest.fixture(scope="module")
def shared_facility(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Facility]:
    settings = load_settings(environ={}, data_dir=tmp_path_factory.mktemp("routes") / "data")
    database = new_database(settings)
    yield with_group(create_app(settings), database, make_people(database))
    database.close()


@pytest.fixture(scope="module")
def readers(shared_facility: Facility) -> Iterator[dict[str, TestClient]]:
    """One client per role on the shared facility, signed in once: GETs change nothing,
    so the read-only cases share them (and the app's start-up)."""
    with ExitStack() as stack:
        clients = {}
        for role in ROLES:
            client = stack.enter_context(TestClient(shared_facility.app))
            if role != "anon":
                sign_in(client, getattr(shared_facility.people, role))
            clients[role] = client
        yield clients


@pytest.fixture
def own_facility(app: Starlette, database: Database, people: People) -> Facility:
    return with_group(app, database, people)


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
def test_each_role_gets_the_intended_answer(
    request: pytest.FixtureRequest, method: str, path: str
) -> None:
    if method == "GET":
        facility: Facility = request.getfixturevalue("shared_facility")
        readers: dict[str, TestClient] = request.getfixturevalue("readers")
        url = _url(path, facility.people, facility.group_id)
        for role in ROLES:
            response = readers[role].get(url, follow_redirects=False)
            assert response.status_code == EXPECTED[(method, path)][role], f"{role} GET {url}"
        return
    facility = request.getfixturevalue("own_facility")
    app, people = facility.app, facility.people
    url = _url(path, people, facility.group_id)
    for role in ROLES:
        with TestClient(app) as client:
            if role != "anon":
                sign_in(client, getattr(people, role))
            token_page = "/signin" if role == "anon" else "/account"
            token = CSRF_RE.search(client.get(token_page).text)
            assert token
            # A distinct account per role, so throttling does not blur the answers.
            data = {"csrf_token": token.group(1), "facility_id": role, "username": role}
            response = client.post(url, data=data, follow_redirects=False)
            expected = EXPECTED[(method, path)][role]
            assert response.status_code == expected, f"{role} {method} {url}"


HUGE = "9" * 5000  # more digits than Python will turn into an int by default
TOO_BIG = str(2**63)  # one past SQLite's largest integer


def test_numbers_in_addresses_that_no_row_can_have_are_refused_not_a_500(
    app: Starlette, people: People
) -> None:
    with TestClient(app) as client:
        sign_in(client, people.admin)
        for url in [
            f"/search?q=money&page={HUGE}",
            "/search?q=money&page=\u00b2",  # "²".isdigit() is True, int("²") fails
            f"/admin/users?page={TOO_BIG}",
            "/admin/users?page=-1",
            f"/admin/audit?before={TOO_BIG}",
            f"/teach/exports/progress.csv?group={TOO_BIG}",
            f"/teach/exports/completions.csv?group={HUGE}",
        ]:
            response = client.get(url)
            assert response.status_code == 400, url
            assert "not valid" in response.text or "Choose a group" in response.text, url
        for url in [f"/admin/users/{TOO_BIG}", f"/admin/groups/{HUGE}", f"/teach/learners/{HUGE}"]:
            assert client.get(url).status_code == 404, url
