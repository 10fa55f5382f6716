"""Grading written tasks: the queue of sent attempts an educator may grade (their groups'
learners only; an admin every learner), the grading page, and the grade itself: a level
per rubric criterion, the total, feedback, and graded or "revise and resubmit".

Opening an attempt to grade it is a read of a learner's own words, so it goes to the
audit log (``written.read``), as does the grade (``written.grade``)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from content.format.lessondata import WrittenData
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import Settings
from server.learning import assignments, plan_writing, visibility, written
from server.learning.access import Scope, visible_course
from server.learning.continuity import Continuity
from server.people import audit
from server.people.accounts import User
from server.people.audit import Actor

MAX_FEEDBACK = 5_000
# The queue page lists the oldest this many; grading them brings the next ones up.
QUEUE_SHOWN = 200


@dataclass(frozen=True)
class QueueItem:
    attempt_id: int
    learner_id: int
    learner: str
    facility_id: str
    course_id: str
    lesson_title: str
    attempt: int
    words: int
    submitted_at: str
    due_date: str | None
    late: bool


def _local_day(stamp: str, zone: ZoneInfo) -> date:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


def queue(
    database: Database,
    settings: Settings,
    scope: Scope,
    group_id: int | None = None,
    continuity: Continuity | None = None,
) -> list[QueueItem]:
    """Sent attempts not graded yet, oldest first, of the learners the viewer may see (in
    one group, when given: it must be one of the viewer's). The due date is the earliest
    of the course's assignments to the learner, directly or through a group (a lesson
    plan's writing task: the plan's due date while it is assigned), moved past
    lockdowns and time away when `continuity` is given (as the boards show it); an
    attempt sent after that day (in the facility's time zone) is marked late."""
    where, params = scope.learners_sql("w.user_id")
    if group_id is not None:
        scope.group(database, group_id)  # NotFound unless the viewer may open it
        where += " AND w.user_id IN (SELECT user_id FROM group_members WHERE group_id = :group)"
        params = {**params, "group": group_id}
    due = assignments.effective_due_sql(settings.due_after_joining_days)
    rows = database.query(
        "SELECT w.id, w.user_id, u.display_name, u.facility_id, w.course_id, w.lesson_key,"
        " w.version_id, w.task_id, w.attempt, w.words, w.submitted_at,"
        " CASE WHEN w.task_id IS NOT NULL THEN (SELECT p.due_date FROM plan_written_tasks t"
        "   JOIN lesson_plans p ON p.id = t.plan_id"
        "   WHERE t.id = w.task_id AND p.assigned_at IS NOT NULL)"
        " ELSE (SELECT min(d) FROM (SELECT a.due_date AS d FROM assignments a"
        "   WHERE a.user_id = w.user_id AND a.course_id = w.course_id"
        "   UNION ALL"
        f"  SELECT {due} AS d FROM group_members m JOIN assignments a ON a.group_id = m.group_id"
        "   WHERE m.user_id = w.user_id AND a.course_id = w.course_id)) END AS due_date"
        " FROM written_attempts w JOIN users u ON u.id = w.user_id"
        f" WHERE w.status = 'submitted' AND {where}"
        " ORDER BY w.submitted_at, w.id",
        params,
    )
    zone = ZoneInfo(settings.time_zone)
    member_of: dict[int, set[int]] = {}
    if continuity is not None:
        dated = sorted({r["user_id"] for r in rows if r["due_date"]})
        for m in database.query(
            "SELECT user_id, group_id FROM group_members"
            " WHERE user_id IN (SELECT value FROM json_each(?))",
            [json.dumps(dated)],
        ):
            member_of.setdefault(m[0], set()).add(m[1])
    titles: dict[tuple[int, str], str] = {}
    items = []
    for r in rows:
        key = (r["version_id"], r["lesson_key"])
        if r["task_id"] is not None:
            titles[key] = plan_writing.get_task(database, r["task_id"]).title
        elif key not in titles:
            lessons = visibility.lessons_of(database, r["version_id"])
            titles.update({(r["version_id"], x.key): x.title for x in lessons})
        due_date = r["due_date"]
        if continuity is not None and due_date:
            groups_of = frozenset(member_of.get(r["user_id"], ()))
            due_date = continuity.due(due_date, groups_of, "", r["user_id"]).effective
        late = bool(due_date) and _local_day(r["submitted_at"], zone).isoformat() > due_date
        items.append(
            QueueItem(
                r["id"],
                r["user_id"],
                r["display_name"],
                r["facility_id"] or "",
                r["course_id"] or "",
                titles.get(key, r["lesson_key"]),
                r["attempt"],
                r["words"],
                r["submitted_at"],
                due_date,
                late,
            )
        )
    return items


@dataclass
class GradingPage:
    attempt: written.Attempt
    learner: User
    lesson_title: str
    task: WrittenData
    earlier: list[written.Attempt]  # the learner's other attempts at this task, newest first


def _page(database: Database, scope: Scope, attempt_id: int) -> GradingPage:
    try:
        attempt = written.get(database, attempt_id)
    except NotFound:
        raise NotFound() from None
    learner = scope.learner(database, attempt.user_id)
    if attempt.status == written.DRAFT:
        raise NotFound()  # a draft is the learner's alone
    if attempt.task_id is not None:
        plan_task = plan_writing.get_task(database, attempt.task_id)
        title, task = plan_task.title, plan_task.task
    else:
        lessons = visibility.lessons_of(database, attempt.version_id or 0)
        lesson = visibility.lesson_of(lessons, attempt.lesson_key or "")
        title, task = lesson.title, written.task_of(lesson)
    earlier = [
        a
        for a in written.attempts_of(database, learner.id, attempt.owner)
        if a.id != attempt.id and a.status != written.DRAFT
    ]
    return GradingPage(attempt, learner, title, task, earlier)


def load(database: Database, scope: Scope, actor: Actor, attempt_id: int) -> GradingPage:
    """The attempt as its grader sees it; the read is audited."""
    page = _page(database, scope, attempt_id)
    with database.write() as db:
        audit.record(
            db,
            actor,
            "written.read",
            page.learner.label,
            attempt=attempt_id,
            **written.where_of(page.attempt),
        )
    return page


def scores_from(task: WrittenData, chosen: dict[str, str]) -> dict[str, float]:
    """The points of the level picked for each criterion (``chosen``: criterion key → the
    level's position); every criterion needs one."""
    scores: dict[str, float] = {}
    for criterion in task.rubric:
        raw = chosen.get(criterion.key, "")
        if not raw.isdigit() or int(raw) >= len(criterion.levels):
            raise ValidationError(
                N_("Choose a level for every part of the rubric."), f"c-{criterion.key}"
            )
        scores[criterion.key] = criterion.levels[int(raw)].points
    return scores


def grade(
    database: Database,
    settings: Settings,
    scope: Scope,
    actor: Actor,
    attempt_id: int,
    chosen: dict[str, str],
    feedback: str,
    decision: str,
) -> GradingPage:
    """Grade a sent attempt; ``decision`` "graded" (final) or "revise" (the learner writes
    a new attempt). Audited with the total and the decision."""
    page = _page(database, scope, attempt_id)
    if page.attempt.status != written.SUBMITTED:
        raise ValidationError(N_("This was graded already."))
    if decision not in ("graded", "revise"):
        raise ValidationError(N_("Choose: graded, or revise and send again."), "decision")
    scores = scores_from(page.task, chosen)
    text = feedback.strip()
    if len(text) > MAX_FEEDBACK:
        raise ValidationError(N_("Feedback can be at most 5,000 characters."), "feedback")
    if decision == "revise" and not text:
        raise ValidationError(N_("Say what to change when you ask for a revision."), "feedback")
    course = None  # a plan's task: the plan reads the grade itself
    if page.attempt.course_id is not None:
        # Not offered to the learner any more: the grade is kept all the same.
        with contextlib.suppress(NotFound):
            course = visible_course(database, settings, page.learner, page.attempt.course_id)
    with database.write() as db:
        written.record_grade_in(
            db,
            settings,
            page.attempt,
            page.learner,
            course,
            page.task,
            scores,
            text,
            decision == "revise",
            actor.id,
        )
        audit.record(
            db,
            actor,
            "written.grade",
            page.learner.label,
            attempt=attempt_id,
            total=round(sum(scores.values()), 2),
            decision=decision,
        )
    return page


@dataclass(frozen=True)
class GradeLine:
    """A learner's newest graded attempt at one task, for boards and exports."""

    course_id: str
    lesson_key: str
    lesson_title: str
    attempt: int
    status: str
    total: float | None
    max_points: float | None
    passed: bool | None
    graded_at: str | None


def grades_of(database: Database, learner_id: int) -> list[GradeLine]:
    """The newest attempt of each written task the learner sent (graded or waiting): the
    courses' tasks, then the lesson plans' (course and lesson "" there)."""
    rows = database.query(
        "SELECT w.* FROM written_attempts w WHERE w.user_id = ? AND w.status != 'draft'"
        " AND w.attempt = (SELECT max(x.attempt) FROM written_attempts x"
        " WHERE x.user_id = w.user_id AND x.course_id IS w.course_id"
        " AND x.lesson_key IS w.lesson_key AND x.task_id IS w.task_id"
        " AND x.status != 'draft')"
        " ORDER BY w.task_id IS NOT NULL, w.course_id, w.lesson_key, w.task_id",
        [learner_id],
    )
    lines = []
    for r in rows:
        if r["task_id"] is not None:
            title = plan_writing.get_task(database, r["task_id"]).title
        else:
            lessons = visibility.lessons_of(database, r["version_id"])
            title = next((x.title for x in lessons if x.key == r["lesson_key"]), r["lesson_key"])
        lines.append(
            GradeLine(
                r["course_id"] or "",
                r["lesson_key"] or "",
                title,
                r["attempt"],
                r["status"],
                r["total"],
                r["max_points"],
                None if r["passed"] is None else bool(r["passed"]),
                r["graded_at"],
            )
        )
    return lines


def summaries(database: Database, scope: Scope) -> dict[tuple[int, str], str]:
    """(learner id, course id) → the newest sent attempt of each written task of that
    course, for the progress export: "letter: 4/4 passed; essay: waiting"."""
    where, params = scope.learners_sql("w.user_id")
    rows = database.query(
        "SELECT w.user_id, w.course_id, w.lesson_key, w.status, w.total, w.max_points, w.passed"
        " FROM written_attempts w WHERE w.status != 'draft' AND w.course_id IS NOT NULL AND"
        f" {where} AND w.attempt = (SELECT max(x.attempt) FROM written_attempts x"
        " WHERE x.user_id = w.user_id AND x.course_id = w.course_id"
        " AND x.lesson_key = w.lesson_key AND x.status != 'draft')"
        " ORDER BY w.user_id, w.course_id, w.lesson_key",
        params,
    )
    found: dict[tuple[int, str], list[str]] = {}
    for r in rows:
        if r["status"] == written.SUBMITTED:
            what = "waiting"
        else:
            outcome = (
                "revise"
                if r["status"] == written.REVISE
                else ("passed" if r["passed"] else "not passed")
            )
            what = f"{r['total']:g}/{r['max_points'] or 0:g} {outcome}"
        found.setdefault((r["user_id"], r["course_id"]), []).append(f"{r['lesson_key']}: {what}")
    return {key: "; ".join(parts) for key, parts in found.items()}
