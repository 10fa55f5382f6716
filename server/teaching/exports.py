"""Exports for educators and admins: progress and completions as CSV (written by
`server.core.csvfiles`), a printable completion report, and xAPI statements for an outside
learning record store.

Every export is limited to the asker's scope (`server.learning.access.Scope`), to a date range,
and optionally to one group or one course, and every export is audited (who, what,
how many rows; never the rows themselves).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from server.core import clock, csvfiles
from server.core.db import Database, row_id
from server.core.errors import N_, ValidationError
from server.core.settings import Settings
from server.learning import assignments
from server.learning.access import Scope
from server.learning.continuity import Continuity, Due
from server.people import audit
from server.people.audit import Actor
from server.teaching import grading
from server.teaching.dashboards import course_titles, live_lesson_counts

XAPI_VERBS = {
    "started": ("http://adlnet.gov/expapi/verbs/attempted", "attempted"),
    "completed": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
    "passed": ("http://adlnet.gov/expapi/verbs/passed", "passed"),
    "failed": ("http://adlnet.gov/expapi/verbs/failed", "failed"),
    "submitted": ("http://adlnet.gov/expapi/verbs/completed", "completed"),
}


# What an empty date means: from the beginning, up to the end of time.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(9999, 12, 31)


@dataclass(frozen=True)
class Filter:
    """Which rows: a date range (inclusive, ISO dates), and optionally a group or course."""

    start: str
    end: str
    group_id: int | None = None
    course_id: str | None = None

    @property
    def has_start(self) -> bool:
        """Whether a first day was chosen (otherwise: from the beginning)."""
        return self.start != FIRST_DAY.isoformat()

    @property
    def has_end(self) -> bool:
        """Whether a last day was chosen (otherwise: up to now)."""
        return self.end != LAST_DAY.isoformat()

    @classmethod
    def parse(cls, start: str, end: str, group_id: str = "", course_id: str = "") -> Filter:
        try:
            first = date.fromisoformat(start.strip()) if start.strip() else FIRST_DAY
            last = date.fromisoformat(end.strip()) if end.strip() else LAST_DAY
        except ValueError:
            raise ValidationError(N_("Write the dates like 2026-12-31.")) from None
        if last < first:
            raise ValidationError(N_("The end date is before the start date."))
        gid = row_id(group_id.strip())
        if group_id.strip() and gid is None:
            raise ValidationError(N_("Choose a group from the list."))
        return cls(first.isoformat(), last.isoformat(), gid, course_id.strip() or None)

    def where(
        self, scope: Scope, user_column: str, course_column: str
    ) -> tuple[str, dict[str, Any]]:
        clause, params = scope.learners_sql(user_column)
        parts = [clause]
        if self.group_id is not None:
            parts.append(
                f"{user_column} IN (SELECT user_id FROM group_members WHERE group_id = :group)"
            )
            params = {**params, "group": self.group_id}
        if self.course_id is not None:
            parts.append(f"{course_column} = :course")
            params = {**params, "course": self.course_id}
        return " AND ".join(parts), params


def _check_group(database: Database, scope: Scope, flt: Filter) -> None:
    if flt.group_id is not None:
        scope.group(database, flt.group_id)  # NotFound outside the asker's groups


def progress_rows(
    database: Database,
    scope: Scope,
    flt: Filter,
    after_joining_days: int = 0,
    continuity: Continuity | None = None,
) -> list[dict[str, Any]]:
    """One row per learner and course with activity in the range, and one per course
    assigned to a learner who has not started it yet (assigned by the end of the range;
    its progress cells are empty). Each row carries the due date, if any, and whether the
    course is late: not finished by its due date (counted to today while not finished).
    With `continuity`, the due date is the one lockdowns moved (`due_date`), beside the
    date the educator set (`due_date_set`) and the days it moved (`lockdown_days`)."""
    _check_group(database, scope, flt)
    where, params = flt.where(scope, "p.user_id", "p.course_id")
    rows = database.query(
        "SELECT p.user_id, u.facility_id, u.display_name, p.course_id,"
        " sum(p.status = 'done') AS done,"
        " sum(p.seconds_spent) AS seconds, min(p.started_at) AS started,"
        " max(p.updated_at) AS last, c.completed_at, c.code"
        " FROM lesson_progress p JOIN users u ON u.id = p.user_id"
        " LEFT JOIN certificates c ON c.user_id = p.user_id AND c.course_id = p.course_id"
        " AND c.revoked_at IS NULL"
        f" WHERE {where} GROUP BY p.user_id, p.course_id"
        " HAVING substr(max(p.updated_at), 1, 10) >= :start"
        " AND substr(min(p.started_at), 1, 10) <= :end",
        {**params, "start": flt.start, "end": flt.end},
    )
    titles = course_titles(database)
    totals = live_lesson_counts(database)
    assigned = _assigned(database, scope, flt, after_joining_days)
    if continuity is not None:
        _move_past_lockdowns(database, continuity, assigned)
    today = clock.iso()[:10]
    grades = grading.summaries(database, scope)
    records = []
    for r in rows:
        found = assigned.pop((r["user_id"], r["course_id"]), {})
        due, moved = found.get("due"), found.get("moved")
        completed = (r["completed_at"] or "")[:10]
        records.append(
            {
                "facility_id": r["facility_id"],
                "name": r["display_name"],
                "course_id": r["course_id"],
                "course": titles.get(r["course_id"], r["course_id"]),
                "lessons_done": int(r["done"]),
                "lessons_total": totals.get(r["course_id"], 0),
                "minutes_spent": round(float(r["seconds"]) / 60),
                "started": (r["started"] or "")[:10],
                "last_activity": (r["last"] or "")[:10],
                "completed": completed,
                "certificate": r["code"] or "",
                **_lateness(due, completed, today),
                **_moved(due, moved),
                "written_grade": grades.get((r["user_id"], r["course_id"]), ""),
            }
        )
    for (_, course_id), a in assigned.items():
        if a["started"] or a["assigned_at"][:10] > flt.end or course_id not in titles:
            continue  # started outside the range, assigned after it, or no longer offered
        records.append(
            {
                "facility_id": a["facility_id"],
                "name": a["name"],
                "course_id": course_id,
                "course": titles.get(course_id, course_id),
                "lessons_total": totals.get(course_id, 0),
                **_lateness(a["due"], "", today),
                **_moved(a["due"], a.get("moved")),
            }
        )
    return sorted(records, key=lambda x: (x["name"], x["course_id"]))


def _assigned(
    database: Database, scope: Scope, flt: Filter, after_joining_days: int
) -> dict[tuple[int, str], dict[str, Any]]:
    """(learner id, course id) → the earliest due date, the first assignment's date,
    whether the learner started it, and their name: every course assigned to a learner
    in scope, directly or through a group."""
    where, params = flt.where(scope, "x.user_id", "x.course_id")
    rows = database.query(
        "SELECT x.user_id, x.course_id, min(x.due_date) AS due,"
        " min(x.assigned_at) AS assigned_at, u.facility_id, u.display_name,"
        " EXISTS (SELECT 1 FROM lesson_progress p WHERE p.user_id = x.user_id"
        " AND p.course_id = x.course_id) AS started"
        f" FROM ({assignments.learner_courses_sql(after_joining_days)}) x"
        " JOIN users u ON u.id = x.user_id"
        f" WHERE u.role = 'learner' AND {where} GROUP BY x.user_id, x.course_id",
        params,
    )
    return {
        (r["user_id"], r["course_id"]): {
            "due": r["due"],
            "assigned_at": r["assigned_at"],
            "started": bool(r["started"]),
            "facility_id": r["facility_id"],
            "name": r["display_name"],
        }
        for r in rows
    }


def _move_past_lockdowns(
    database: Database, continuity: Continuity, assigned: dict[tuple[int, str], dict[str, Any]]
) -> None:
    """Replace each due date by the one lockdowns and absences moved, keeping the set one
    in "moved"."""
    member_of: dict[int, set[int]] = {}
    for r in database.query("SELECT user_id, group_id FROM group_members"):
        member_of.setdefault(r[0], set()).add(r[1])
    for (user_id, _course), a in assigned.items():
        groups_of = frozenset(member_of.get(user_id, ()))
        due = continuity.due(a["due"], groups_of, a["assigned_at"], user_id)
        if due.moved:
            a["moved"] = due
            a["due"] = due.effective


def _moved(due: str | None, moved: Due | None) -> dict[str, Any]:
    if moved is None:
        return {"due_date_set": due or "", "lockdown_days": 0 if due else ""}
    return {"due_date_set": moved.original or "", "lockdown_days": moved.moved_days}


def _lateness(due: str | None, completed: str, today: str) -> dict[str, Any]:
    """The due date, "yes"/"no" late, and how many days: finished after the due date,
    or not finished and the due date has passed."""
    if not due:
        return {"due_date": "", "late": "", "days_late": ""}
    until = completed or today
    days = (date.fromisoformat(until) - date.fromisoformat(due)).days
    if days > 0:
        return {"due_date": due, "late": "yes", "days_late": days}
    return {"due_date": due, "late": "no", "days_late": 0}


def completion_rows(database: Database, scope: Scope, flt: Filter) -> list[dict[str, Any]]:
    """Certificates issued in the range: what credit and earned-time paperwork needs."""
    _check_group(database, scope, flt)
    where, params = flt.where(scope, "c.user_id", "c.course_id")
    rows = database.query(
        "SELECT c.facility_id, c.learner_name, c.course_id, c.course_title, c.publisher,"
        " c.hours, c.credits, c.completed_at, c.code FROM certificates c"
        f" WHERE {where} AND c.revoked_at IS NULL"
        " AND substr(c.completed_at, 1, 10) BETWEEN :start AND :end"
        " ORDER BY c.learner_name, c.completed_at",
        {**params, "start": flt.start, "end": flt.end},
    )
    return [
        {
            "facility_id": r["facility_id"],
            "name": r["learner_name"],
            "course_id": r["course_id"],
            "course": r["course_title"],
            "publisher": r["publisher"],
            "hours": r["hours"],
            "credits": r["credits"],
            "completed": r["completed_at"][:10],
            "certificate": r["code"],
        }
        for r in rows
    ]


PROGRESS_COLUMNS = [
    "facility_id",
    "name",
    "course_id",
    "course",
    "lessons_done",
    "lessons_total",
    "minutes_spent",
    "started",
    "last_activity",
    "completed",
    "certificate",
    "due_date",
    "late",
    "days_late",
    "due_date_set",
    "lockdown_days",
    "written_grade",
]
COMPLETION_COLUMNS = [
    "facility_id",
    "name",
    "course_id",
    "course",
    "publisher",
    "hours",
    "credits",
    "completed",
    "certificate",
]


# A byte order mark first: without it, spreadsheet programs read the file in the
# computer's old code page and show "JosÃ©" for "José".
BOM = "\ufeff"


def csv_bytes(records: list[dict[str, Any]], columns: list[str]) -> bytes:
    """An export as a CSV file that spreadsheet programs open with the right letters."""
    return (BOM + csvfiles.records_to_text(records, columns)).encode("utf-8")


def pseudonym(settings: Settings, facility_id: str) -> str:
    """A stable identifier that cannot be turned back into the facility id without the
    facility's secret key."""
    key = settings.signing_key().encode("utf-8")
    return hmac.new(key, b"xapi:" + facility_id.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


def xapi_statements(
    database: Database, settings: Settings, scope: Scope, flt: Filter, actor_mode: str
) -> list[dict[str, Any]]:
    """xAPI 1.0.3 statements for lesson events and course completions in the range, and
    H5P's own statements passed through (`h5p_statement`)."""
    if actor_mode not in ("facility_id", "pseudonym"):
        raise ValidationError(N_("Choose how learners are named: ID number or pseudonym."))
    _check_group(database, scope, flt)
    home = f"urn:stepstone:{settings.facility_name}"
    titles = course_titles(database)

    def agent(facility_id: str) -> dict[str, Any]:
        name = facility_id if actor_mode == "facility_id" else pseudonym(settings, facility_id)
        return {"objectType": "Agent", "account": {"homePage": home, "name": name}}

    where, params = flt.where(scope, "e.user_id", "e.course_id")
    statements = []
    for r in database.query(
        "SELECT e.event_id, e.type, e.course_id, e.lesson_key, e.data, e.received_at,"
        " e.user_id, u.facility_id FROM progress_events e JOIN users u ON u.id = e.user_id"
        f" WHERE {where} AND e.type IN ('completed', 'passed', 'failed', 'submitted', 'h5p')"
        " AND substr(e.received_at, 1, 10) BETWEEN :start AND :end ORDER BY e.id",
        {**params, "start": flt.start, "end": flt.end},
    ):
        data = json.loads(r["data"])
        if r["type"] == "h5p":
            passed = h5p_statement(
                data.get("statement"),
                _uuid(f"{r['user_id']}:{r['event_id']}"),
                agent(r["facility_id"]),
                f"urn:stepstone:course:{r['course_id']}:lesson:{r['lesson_key']}",
                r["received_at"],
            )
            if passed is not None:
                statements.append(passed)
            continue
        verb_id, verb = XAPI_VERBS[r["type"]]
        statement: dict[str, Any] = {
            "id": _uuid(f"{r['user_id']}:{r['event_id']}"),
            "actor": agent(r["facility_id"]),
            "verb": {"id": verb_id, "display": {"en-US": verb}},
            "object": {
                "objectType": "Activity",
                "id": f"urn:stepstone:course:{r['course_id']}:lesson:{r['lesson_key']}",
                "definition": {"name": {"en-US": r["lesson_key"]}},
            },
            "timestamp": r["received_at"],
        }
        if r["type"] in ("passed", "failed") and isinstance(data.get("score"), int | float):
            statement["result"] = {
                "score": {"scaled": round(float(data["score"]) / 100, 4)},
                "success": r["type"] == "passed",
            }
        statements.append(statement)
    cwhere, cparams = flt.where(scope, "c.user_id", "c.course_id")
    for r in database.query(
        "SELECT c.code, c.course_id, c.facility_id, c.completed_at, c.hours FROM certificates c"
        f" WHERE {cwhere} AND c.revoked_at IS NULL"
        " AND substr(c.completed_at, 1, 10) BETWEEN :start AND :end",
        {**cparams, "start": flt.start, "end": flt.end},
    ):
        statements.append(
            {
                "id": _uuid(f"certificate:{r['code']}"),
                "actor": agent(r["facility_id"]),
                "verb": {
                    "id": XAPI_VERBS["completed"][0],
                    "display": {"en-US": "completed"},
                },
                "object": {
                    "objectType": "Activity",
                    "id": f"urn:stepstone:course:{r['course_id']}",
                    "definition": {
                        "name": {"en-US": titles.get(r["course_id"], r["course_id"])},
                        "type": "http://adlnet.gov/expapi/activities/course",
                    },
                },
                "result": {"completion": True, "duration": f"PT{float(r['hours']):g}H"},
                "timestamp": r["completed_at"],
            }
        )
    return statements


# Where interactive lessons are served (`server.web.sandbox`): an H5P player names its
# activities by that address, whose first part is a signed token, good for a while, to
# the lesson's files. It means nothing outside the facility and must not leave it.
SANDBOX_PATH = "/sandbox/"
# Parts of a statement that name people other than the actor, or that the record store
# sets itself: never passed on.
DROPPED_CONTEXT = ("instructor", "team")
DROPPED_STATEMENT = ("authority", "stored", "voided")


def h5p_statement(
    statement: Any, statement_id: str, actor: dict[str, Any], lesson: str, received_at: str
) -> dict[str, Any] | None:
    """H5P's own xAPI statement, as the learner's tablet sent it, made fit to leave the
    facility: the actor replaced by `actor` (the pseudonym or ID number, never what the
    player said), a stable id, the time the server received it, and the player's
    addresses for the lesson rewritten to the lesson's `urn:stepstone:` id (keeping H5P's
    ``subContentId`` for a part of the content). None for anything that is not a statement
    about an activity (an xAPI statement about a person or another statement)."""
    if not isinstance(statement, dict) or not isinstance(statement.get("verb"), dict):
        return None
    found = statement.get("object")
    if not isinstance(found, dict) or found.get("objectType", "Activity") != "Activity":
        return None
    out = {
        k: copy.deepcopy(v)
        for k, v in statement.items()
        if k not in DROPPED_STATEMENT and k not in ("id", "actor", "timestamp")
    }
    out["object"] = _activity(out["object"], lesson)
    context = out.get("context")
    if isinstance(context, dict):
        for k in DROPPED_CONTEXT:
            context.pop(k, None)
        activities = context.get("contextActivities")
        if isinstance(activities, dict):
            for kind, listed in activities.items():
                items = listed if isinstance(listed, list) else [listed]
                activities[kind] = [_activity(a, lesson) for a in items if isinstance(a, dict)]
    return {"id": statement_id, "actor": actor, **out, "timestamp": received_at}


def _activity(activity: dict[str, Any], lesson: str) -> dict[str, Any]:
    """An activity with the lesson's id in place of a sandbox address."""
    found = activity.get("id")
    if not isinstance(found, str):
        return activity
    parts = urlsplit(found)
    if parts.scheme not in ("http", "https") or not parts.path.startswith(SANDBOX_PATH):
        return activity  # e.g. H5P's library ids, http://h5p.org/libraries/...
    part = [q for q in parts.query.split("&") if q.startswith("subContentId=")]
    return {**activity, "id": lesson + (f"?{part[0]}" if part else "")}


def _uuid(seed: str) -> str:
    """A stable UUID (version 5) per statement, so a re-export does not duplicate it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "stepstone:" + seed))


def record_export(
    database: Database, actor: Actor, kind: str, flt: Filter, rows: int, **detail: Any
) -> None:
    with database.write() as db:
        audit.record(
            db,
            actor,
            f"export.{kind}",
            f"group:{flt.group_id}" if flt.group_id else (flt.course_id or "all"),
            start=flt.start,
            end=flt.end,
            rows=rows,
            **detail,
        )
