"""NGO impact reports: aggregated, de-identified outcomes per course and month, for the
publisher of those courses.

What leaves the facility is only counts, rates and medians per (course, month) — no name,
no facility id, no user id, no certificate code, no timestamp finer than a month. Any
figure computed from fewer than `impact_min_cell` learners (default 10, never below 5) is
suppressed, and a course's all-months total of a figure is suppressed too whenever one
of its months is (otherwise the hidden month could be worked out by subtraction).

It also says which of the publisher's course versions this facility refused and why
(:func:`server.catalog.decisions.publisher_summary`: package, version, lesson, reason, and
the admin's note only where they chose to share it), so the NGO can fix them.

Lockdowns (``learning.continuity``): every month row says on how many days of that month
any part of the facility was locked down (``lockdown_days``), so a dip reads as what it
was. With ``exclude_disrupted``, the days a learner was locked down between starting and
finishing a course are left out of their days to complete; the report says so.

The report can be signed with the facility's own Ed25519 key (made on first use, kept in
the data folder with mode 0600) so the NGO can check it came from this facility unaltered.
"""

from __future__ import annotations

import base64
import json
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from statistics import mean, median
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.catalog import decisions, search_misses
from server.core import clock, csvfiles
from server.core.db import Database
from server.core.errors import NotFound
from server.core.settings import Settings
from server.learning import ratings, topic_requests, visibility
from server.learning.continuity import Continuity
from server.people import audit
from server.people.audit import Actor

METRICS = (
    "enrolments",
    "completions",
    "median_days_to_complete",
    "quiz_pass_rate",
    "pre_post_change",
)
# Which count each figure stands on (its cell size).
_BASIS = {
    "enrolments": "enrolments",
    "completions": "completions",
    "median_days_to_complete": "completions",
    "quiz_pass_rate": "quiz_takers",
    "pre_post_change": "pre_post_learners",
}


@dataclass
class Cell:
    enrolments: int = 0
    completions: int = 0
    days: list[float] | None = None
    quiz_takers: int = 0
    quiz_passers: int = 0
    pre_post: list[float] | None = None

    def figures(self) -> dict[str, Any]:
        days = self.days or []
        changes = self.pre_post or []
        return {
            "enrolments": self.enrolments,
            "completions": self.completions,
            "median_days_to_complete": round(median(days), 1) if days else None,
            "quiz_pass_rate": round(self.quiz_passers / self.quiz_takers, 3)
            if self.quiz_takers
            else None,
            "pre_post_change": round(mean(changes), 1) if changes else None,
        }

    def basis(self) -> dict[str, int]:
        return {
            "enrolments": self.enrolments,
            "completions": self.completions,
            "quiz_takers": self.quiz_takers,
            "pre_post_learners": len(self.pre_post or []),
        }


def _month(iso: str) -> str:
    return iso[:7]


def _days_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 86400


EXCLUDED_NOTE = (
    "Days to complete leave out the days each learner's unit or the facility was locked"
    " down, and the days staff recorded the learner as away (court, medical, transfer),"
    " between their start and their completion."
)


def build(
    database: Database, settings: Settings, publisher_name: str, exclude_disrupted: bool = False
) -> dict[str, Any]:
    """The report for one publisher, suppression applied. Same input, same output."""
    publisher = database.query_one(
        "SELECT id, name, display_name FROM publishers WHERE name = ?", [publisher_name]
    )
    if publisher is None:
        raise NotFound()
    courses = database.query(
        "SELECT c.course_id, v.title, c.live_version_id FROM courses c"
        " LEFT JOIN course_versions v ON v.id = c.live_version_id"
        " WHERE c.publisher_id = ? ORDER BY c.course_id",
        [publisher["id"]],
    )
    cells: dict[tuple[str, str], Cell] = defaultdict(Cell)
    titles = {}
    continuity = Continuity.load(database, settings)
    lost = _lost_days(database, continuity) if exclude_disrupted else None
    for course in courses:
        course_id = course["course_id"]
        titles[course_id] = course["title"] or course_id
        _collect(database, course_id, course["live_version_id"], cells, lost)
    locked_months = _lockdown_days_by_month(continuity)
    k = settings.impact_min_cell
    rows = []
    by_course: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (course_id, month), cell in sorted(cells.items()):
        row = _suppressed(
            {"course_id": course_id, "course": titles[course_id], "month": month},
            cell.figures(),
            cell.basis(),
            k,
        )
        row["lockdown_days"] = locked_months.get(month, 0)
        rows.append(row)
        by_course[course_id].append(row)
    totals = []
    for course_id in sorted(by_course):
        total = Cell()
        for (cid, _month_key), cell in cells.items():
            if cid != course_id:
                continue
            total.enrolments += cell.enrolments
            total.completions += cell.completions
            total.days = (total.days or []) + (cell.days or [])
            total.quiz_takers += cell.quiz_takers
            total.quiz_passers += cell.quiz_passers
            total.pre_post = (total.pre_post or []) + (cell.pre_post or [])
        row = _suppressed(
            {"course_id": course_id, "course": titles[course_id], "month": "all"},
            total.figures(),
            total.basis(),
            k,
        )
        row["lockdown_days"] = sum(r["lockdown_days"] for r in by_course[course_id])
        for metric in METRICS:
            if any(metric in r["suppressed"] for r in by_course[course_id]):
                row[metric] = None
                if metric not in row["suppressed"]:
                    row["suppressed"].append(metric)
        totals.append(row)
    return {
        "format": "stepstone-impact-report/1",
        "facility": settings.facility_name,
        "publisher": publisher["display_name"],
        "publisher_id": publisher["name"],
        "generated_on": clock.iso()[:10],
        "min_cell": k,
        "note": (
            f"Counts of learners. A figure about fewer than {k} learners is not shown"
            " (null; '<k' in CSV), nor the course total of a figure with a hidden month."
        ),
        "lockdowns": (
            "lockdown_days: the days of the month on which any unit or the whole facility"
            " was locked down (learners could not use tablets)."
            + (" " + EXCLUDED_NOTE if exclude_disrupted else "")
        ),
        "disrupted_days_excluded": exclude_disrupted,
        "rows": rows,
        "totals": totals,
        "refused": decisions.publisher_summary(database, publisher["name"]),
        "ratings": [
            _ratings_row(ratings.summary(database, course_id), titles[course_id], k)
            for course_id in sorted(titles)
        ],
        "ratings_note": (
            "Learners' faces for each course and its lessons, and what they ticked as hard,"
            f" all months. A count under {k} is not shown (null), nor any count of a course"
            f" fewer than {k} learners rated."
        ),
        "unfound_searches": [
            {"words": words, "learners": learners}
            for words, learners in search_misses.common_misses(database, k)
        ],
        "unfound_searches_note": (
            f"Words learners searched for that found nothing, each searched by at least {k}"
            " different learners (all months; other words are not shown)."
        ),
        "topic_requests": topic_requests.publisher_counts(database, publisher["id"], k),
        "topic_requests_note": (
            "For each topic your courses list as requestable: how many learners asked for a"
            f" course on it (all months). A count under {k} is not shown (null). What learners"
            " wrote in their own words stays in the facility."
        ),
    }


def _ratings_row(summary: ratings.CourseRatings, title: str, k: int) -> dict[str, Any]:
    """One course's ratings; every count below the minimum cell is hidden (None), and
    everything is when fewer than that many learners rated at all."""
    shown = summary.raters >= k

    def cell(count: int) -> int | None:
        return count if shown and count >= k else None

    return {
        "course_id": summary.course_id,
        "course": title,
        "raters": summary.raters if shown else None,
        "course_faces": {face: cell(n) for face, n in summary.faces.items()},
        "lesson_faces": {face: cell(n) for face, n in summary.lesson_faces.items()},
        "hard_parts": {reason: cell(n) for reason, n in summary.reasons.items()},
    }


def _suppressed(
    head: dict[str, Any], figures: dict[str, Any], basis: dict[str, int], k: int
) -> dict[str, Any]:
    row = dict(head)
    row["suppressed"] = []
    for metric in METRICS:
        if basis[_BASIS[metric]] < k:
            row[metric] = None
            row["suppressed"].append(metric)
        else:
            row[metric] = figures[metric]
    return row


def _lockdown_days_by_month(continuity: Continuity) -> dict[str, int]:
    days: set[date] = set()
    for disruption in continuity.disruptions:
        if not disruption.absence:  # one learner's absence is not the facility's
            days |= disruption.day_set()
    counts: dict[str, int] = defaultdict(int)
    for day in days:
        counts[day.isoformat()[:7]] += 1
    return dict(counts)


LostDays = dict[int, set[date]]


def _lost_days(database: Database, continuity: Continuity) -> LostDays:
    """Each learner's locked-down days (through their groups, or the whole facility) and
    the days staff recorded them as away."""
    member_of: dict[int, set[int]] = defaultdict(set)
    for user_id, group_id in database.query("SELECT user_id, group_id FROM group_members"):
        member_of[user_id].add(group_id)
    learners = [r[0] for r in database.query("SELECT id FROM users WHERE role = 'learner'")]
    return {u: continuity.disrupted_days(frozenset(member_of.get(u, ())), u) for u in learners}


def _days_to_complete(start: str, completed: str, lost: set[date] | None) -> float:
    days = max(0.0, _days_between(start, completed))
    if lost:
        first, last = date.fromisoformat(start[:10]), date.fromisoformat(completed[:10])
        days = max(0.0, days - sum(1 for d in lost if first <= d <= last))
    return days


def _collect(
    database: Database,
    course_id: str,
    version_id: int | None,
    cells: dict[tuple[str, str], Cell],
    lost: LostDays | None = None,
) -> None:
    starts = {
        r[0]: r[1]
        for r in database.query(
            "SELECT user_id, min(started_at) FROM lesson_progress WHERE course_id = ?"
            " GROUP BY user_id",
            [course_id],
        )
    }
    for started in starts.values():
        cells[(course_id, _month(started))].enrolments += 1
    for user_id, completed in database.query(
        "SELECT user_id, completed_at FROM certificates WHERE course_id = ? AND revoked_at IS NULL",
        [course_id],
    ):
        cell = cells[(course_id, _month(completed))]
        cell.completions += 1
        if user_id in starts:
            learner_lost = lost.get(user_id) if lost is not None else None
            took = _days_to_complete(starts[user_id], completed, learner_lost)
            cell.days = (cell.days or []) + [took]
    takers: dict[str, dict[int, bool]] = defaultdict(dict)
    for user_id, submitted, passed in database.query(
        "SELECT user_id, submitted_at, passed FROM quiz_attempts"
        " WHERE course_id = ? AND submitted_at IS NOT NULL",
        [course_id],
    ):
        month = _month(submitted)
        takers[month][user_id] = takers[month].get(user_id, False) or bool(passed)
    for month, learners in takers.items():
        cell = cells[(course_id, month)]
        cell.quiz_takers += len(learners)
        cell.quiz_passers += sum(1 for ok in learners.values() if ok)
    if version_id is not None:
        _collect_pre_post(database, course_id, version_id, cells)


def _collect_pre_post(
    database: Database, course_id: str, version_id: int, cells: dict[tuple[str, str], Cell]
) -> None:
    kinds = {}
    for lesson in visibility.lessons_of(database, version_id):
        assessment = lesson.data.assessment
        if assessment in ("pre", "post"):
            kinds[assessment] = lesson.key
    if len(kinds) != 2:
        return
    pre: dict[int, float] = {}
    post: dict[int, tuple[float, str]] = {}
    for user_id, key, score, submitted in database.query(
        "SELECT user_id, lesson_key, score, submitted_at FROM quiz_attempts"
        " WHERE course_id = ? AND submitted_at IS NOT NULL ORDER BY id",
        [course_id],
    ):
        if key == kinds["pre"] and user_id not in pre:
            pre[user_id] = float(score)  # the first pre-test is the baseline
        elif key == kinds["post"]:
            best = post.get(user_id)
            if best is None or float(score) > best[0]:
                post[user_id] = (float(score), submitted)
    for user_id, (score, submitted) in post.items():
        if user_id in pre:
            cell = cells[(course_id, _month(submitted))]
            cell.pre_post = (cell.pre_post or []) + [score - pre[user_id]]


def to_json(report: dict[str, Any]) -> bytes:
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"


def to_csv(report: dict[str, Any]) -> bytes:
    hidden = f"<{report['min_cell']}"
    rows = (
        [row["course_id"], row["course"], row["month"]]
        + [hidden if m in row["suppressed"] else row[m] for m in METRICS]
        + [row.get("lockdown_days", 0)]
        for row in [*report["rows"], *report["totals"]]
    )
    header = ["course_id", "course", "month", *METRICS, "lockdown_days"]
    return csvfiles.to_text(header, rows).encode("utf-8")


# ---- Signing --------------------------------------------------------------------------


def _key_path(settings: Settings) -> Path:
    return settings.data_dir / "facility-report-key.pem"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The facility's report-signing key, made on first use (mode 0600)."""
    path = _key_path(settings)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return key


def public_key_pem(settings: Settings) -> bytes:
    return (
        signing_key(settings)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def sign(settings: Settings, data: bytes) -> str:
    """A detached Ed25519 signature of exactly these bytes, base64."""
    return base64.b64encode(signing_key(settings).sign(data)).decode("ascii")


def record_export(
    database: Database, actor: Actor, publisher_name: str, kind: str, rows: int
) -> None:
    """Audit one download of a publisher's report: who took what out of the facility."""
    with database.write() as db:
        audit.record(
            db, actor, "export.impact", f"publisher:{publisher_name}", format=kind, rows=rows
        )
