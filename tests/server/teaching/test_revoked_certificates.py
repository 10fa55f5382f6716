"""A revoked certificate is no completion: not in the completions export or the xAPI
statements, not counted as finished on the dashboards, not listed on the learner's page."""

from __future__ import annotations

import pytest

from server.core.db import Database
from server.core.settings import Settings
from server.learning import certificates
from server.learning.access import Scope
from server.teaching import dashboards, exports
from tests.conftest import People
from tests.server.records.records_helpers import MATH, SAFETY, STAFF, finish

pytestmark = pytest.mark.demo


def test_a_revoked_certificate_counts_nowhere(
    settings: Settings, database: Database, people: People
) -> None:
    learner = people.learner
    math = finish(database, settings, learner, MATH)
    safety = finish(database, settings, learner, SAFETY)
    certificates.revoke(database, settings, STAFF, math.code, "Issued to the wrong learner")
    scope = Scope.of(people.admin)
    everything = exports.Filter.parse("", "")

    assert [r["certificate"] for r in exports.completion_rows(database, scope, everything)] == [
        safety.code
    ]
    progress = {r["course_id"]: r for r in exports.progress_rows(database, scope, everything)}
    assert progress[MATH]["certificate"] == "" and progress[SAFETY]["certificate"] == safety.code
    statements = exports.xapi_statements(database, settings, scope, everything, "facility_id")
    ids = {s["id"] for s in statements}
    assert exports._uuid(f"certificate:{safety.code}") in ids
    assert exports._uuid(f"certificate:{math.code}") not in ids
    board = dashboards.learner_board(database, scope, learner.id)
    assert [c["code"] for c in board.certificates] == [safety.code]
    assert dashboards.course_board(database, scope, MATH).finished == 0
    assert dashboards.course_board(database, scope, SAFETY).finished == 1
