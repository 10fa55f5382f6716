"""Educator pages: groups and their dashboards, assignments, learning plans, workbook
review, exports. Admins see every group; an educator only their own (`Scope`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from starlette.responses import Response

from server.core.db import row_id
from server.core.errors import N_, BadRequest, NotFound, ValidationError
from server.learning import assignments, bookshelf, plans, visibility, written
from server.learning.access import Scope, visible_courses
from server.learning.continuity import Continuity
from server.people import absences
from server.people.accounts import Role, User
from server.records import merge
from server.teaching import dashboards, difficult_questions, exports, grading, workbook_review
from server.web.plumbing import Req, access, parse_number, redirect, safe_next
from server.web.views import comments

STAFF = (Role.EDUCATOR, Role.ADMIN)


def _scope(req: Req) -> Scope:
    return Scope.of(req.user)


def _int(req: Req, name: str) -> int:
    return int(req.request.path_params[name])


@access(*STAFF)
def home(req: Req) -> Response:
    scope = _scope(req)
    groups = scope.groups(req.database)
    counts = {g.id: len(dashboards.group_learners(req.database, g.id)) for g in groups}
    return req.render(
        "teach/home.html",
        {
            "groups": groups,
            "counts": counts,
            "queue": len(workbook_review.queue(req.database, scope)),
            "to_grade": len(grading.queue(req.database, req.settings, scope)),
            "courses": sorted(
                visible_courses(req.database, req.settings, req.user),
                key=lambda c: c.title.casefold(),
            ),
        },
    )


def _group_page(
    req: Req, error: str = "", status: int = 200, warning: list[Any] | None = None
) -> Response:
    scope = _scope(req)
    params = req.request.query_params
    board = dashboards.group_board(
        req.database,
        scope,
        _int(req, "group_id"),
        params.get("sort", ""),
        params.get("only", ""),
        req.settings.due_after_joining_days,
        Continuity.load(req.database, req.settings),
    )
    courses = visible_courses(req.database, req.settings, req.user)
    return req.render(
        "teach/group.html",
        {
            "board": board,
            "courses": sorted(courses, key=lambda c: c.title.casefold()),
            "titles": dashboards.course_titles(req.database),
            "status_labels": dashboards.STATUS_LABELS,
            "sort": params.get("sort", ""),
            "only": params.get("only", ""),
            "error": error,
            "entered": _entered(req),
            "ticked": {v for v in req.form.getlist("learner") if isinstance(v, str)},
            "mismatches": warning or [],
        },
        status,
    )


def _entered(req: Req) -> dict[str, str]:
    """What a refused assign form held, to show it again (empty on a plain GET)."""
    return {
        name: req.field(name, 500)
        for name in ("course_id", "group_id", "lesson_key", "due_date", "note", "past_due_ok")
    }


def _assign(
    req: Req,
    again: Callable[..., Response],
    course_id: str,
    group_id: int,
    *,
    learners: Sequence[int] = (),
    lesson_key: str | None = None,
) -> Response:
    """Assign with the form's due date and note, then show the group; when refused, the
    page the form was on (``again``) says why.

    Learners who would get a course in a language other than their own are named first,
    with the choice to assign it anyway or, where the publisher made one, to give them
    the edition in their language (each learner then gets their course by name)."""
    targets = dashboards.group_learners(req.database, group_id)
    if learners:
        targets = [m for m in targets if m.id in learners]
    mismatches = _language_mismatches(req, course_id, targets, lesson_key)
    choice = req.field("language_choice", 20)
    due_date = req.field("due_date", 20) or None
    note = req.field("note", 500)
    past_due_ok = req.field("past_due_ok", 5) == "yes"
    try:
        if mismatches and choice not in ("anyway", "editions"):
            return again(req, "", 400, mismatches)
        if mismatches and choice == "editions":
            instead = {u.id: m.edition for m in mismatches if m.edition for u in m.learners}
            plan = [(u.id, instead.get(u.id, course_id)) for u in targets]
            assignments.assign_each(
                req.database,
                req.user.actor(req.client_address),
                plan,
                due_date=due_date,
                note=note,
                past_due_ok=past_due_ok,
            )
        else:
            assignments.assign(
                req.database,
                req.user.actor(req.client_address),
                course_id,
                learners=learners,
                group_id=group_id,
                lesson_key=lesson_key,
                due_date=due_date,
                note=note,
                past_due_ok=past_due_ok,
            )
    except ValidationError as exc:
        return again(req, exc.message, 400)
    return redirect(f"/teach/groups/{group_id}", notice="assigned")


def _language_mismatches(
    req: Req, course_id: str, targets: list[User], lesson_key: str | None
) -> list[assignments.LanguageMismatch]:
    courses = {c.course_id: c for c in visible_courses(req.database, req.settings, req.user)}
    course = courses.get(course_id)
    if course is None:
        return []
    found = assignments.language_mismatches(course.language, course.editions, targets, courses)
    if lesson_key is not None:
        # One lesson of this course has no counterpart to offer in another edition.
        found = [replace(m, edition=None) for m in found]
    return found


@access(*STAFF)
def group_page(req: Req) -> Response:
    return _group_page(req)


@access(*STAFF)
def assign(req: Req) -> Response:
    """Assign a course to the whole group, or to the learners ticked on the board."""
    scope = _scope(req)
    group = scope.group(req.database, _int(req, "group_id"))
    course_id = req.field("course_id", 200)
    if course_id not in dashboards.course_titles(req.database):
        return _group_page(req, N_("Choose a course."), 400)
    chosen = [parse_number(v) for v in req.form.getlist("learner") if isinstance(v, str)]
    members = {u.id for u in dashboards.group_learners(req.database, group.id)}
    if any(learner_id not in members for learner_id in chosen):
        raise NotFound()
    return _assign(req, _group_page, course_id, group.id, learners=chosen)


@access(*STAFF)
def unassign(req: Req) -> Response:
    scope = _scope(req)
    assignment = assignments.get(req.database, _int(req, "assignment_id"))
    if assignment.group_id is not None:
        scope.group(req.database, assignment.group_id)
    elif assignment.user_id is not None:
        scope.learner(req.database, assignment.user_id)
    else:
        raise NotFound()
    back = req.field("back", 200)
    assignments.remove(req.database, req.user.actor(req.client_address), assignment)
    return redirect(safe_next(back, under="/teach/", default="/teach"), notice="unassigned")


def _course_page(
    req: Req, error: str = "", status: int = 200, warning: list[Any] | None = None
) -> Response:
    scope = _scope(req)
    board = dashboards.course_board(req.database, scope, req.request.path_params["course_id"])
    return req.render(
        "teach/course.html",
        {
            "board": board,
            "collection": bookshelf.collection_version(
                req.database, req.settings, req.user, board.course_id
            ),
            "groups": scope.groups(req.database),
            "error": error,
            "entered": _entered(req),
            "mismatches": warning or [],
            "titles": dashboards.course_titles(req.database),
        },
        status,
    )


@access(*STAFF)
def course_page(req: Req) -> Response:
    return _course_page(req)


@access(*STAFF)
def questions_page(req: Req) -> Response:
    """Per quiz of a course, per question: who answered right, the commonest wrong
    answer and who missed it; for a group (``?group=``) or for everyone in scope."""
    wanted = req.request.query_params.get("group", "")
    group_id = row_id(wanted)
    if wanted and group_id is None:
        raise NotFound()
    figures = difficult_questions.difficult_questions(
        req.database, _scope(req), req.request.path_params["course_id"], group_id
    )
    return req.render("teach/questions.html", {"figures": figures})


@access(*STAFF)
def course_assign(req: Req) -> Response:
    """From a course's page: assign the course, or one of its lessons, to a group."""
    scope = _scope(req)
    board = dashboards.course_board(req.database, scope, req.request.path_params["course_id"])
    group_id = row_id(req.field("group_id", 40))
    if group_id is None:
        return _course_page(req, N_("Choose a group."), 400)
    group = scope.group(req.database, group_id)
    lesson_key = req.field("lesson_key", 64) or None
    if lesson_key is not None and lesson_key not in {f.key for f in board.funnel}:
        return _course_page(req, N_("Choose a lesson of this course."), 400)
    return _assign(req, _course_page, board.course_id, group.id, lesson_key=lesson_key)


def _learner_page(req: Req, error: str = "", status: int = 200) -> Response:
    scope = _scope(req)
    board = dashboards.learner_board(
        req.database,
        scope,
        _int(req, "user_id"),
        req.settings.due_after_joining_days,
        Continuity.load(req.database, req.settings),
    )
    goals = plans.goals_of(req.database, board.learner.id, include_dropped=True)
    progress = {c["course_id"]: c for c in board.courses if c["started"]}
    return req.render(
        "teach/learner.html",
        {
            "board": board,
            "goals": goals,
            "elsewhere": merge.from_elsewhere_of(req.database, board.learner.id),
            "may_transfer": req.user.role is Role.ADMIN or req.settings.transfer_by_educators,
            "brought": merge.carried_pages_of(req.database, board.learner.id, own=False),
            "progress": progress,
            "courses": sorted(
                visible_courses(req.database, req.settings, req.user),
                key=lambda c: c.title.casefold(),
            ),
            "categories": visibility.CATEGORIES,
            "error": error,
            "max_minutes": max([m for _, m in board.weeks] or [0]),
            "absences": absences.of_learner(req.database, board.learner.id),
            "grades": grading.grades_of(req.database, board.learner.id),
        },
        status,
    )


@access(*STAFF)
def learner_page(req: Req) -> Response:
    return _learner_page(req)


@access(*STAFF)
def goal_add(req: Req) -> Response:
    learner = _scope(req).learner(req.database, _int(req, "user_id"))
    try:
        plans.add_goal(
            req.database,
            req.user.actor(req.client_address),
            learner,
            req.field("category", 40),
            req.field("title", 300),
            req.field("course_id", 200),
            req.field("target_date", 20),
            req.field("note", 1000),
        )
    except ValidationError as exc:
        return _learner_page(req, exc.message, 400)
    return redirect(f"/teach/learners/{learner.id}#plan", notice="saved")


@access(*STAFF)
def goal_status(req: Req) -> Response:
    learner = _scope(req).learner(req.database, _int(req, "user_id"))
    try:
        plans.set_status(
            req.database,
            req.user.actor(req.client_address),
            learner,
            _int(req, "goal_id"),
            req.field("status", 20),
        )
    except ValidationError as exc:
        raise BadRequest(exc.message) from None
    return redirect(f"/teach/learners/{learner.id}#plan", notice="saved")


@access(*STAFF)
def absence_add(req: Req) -> Response:
    learner = _scope(req).learner(req.database, _int(req, "user_id"))
    try:
        absences.record(
            req.database,
            req.user.actor(req.client_address),
            learner.id,
            req.field("reason", 20),
            req.field("first_day", 20),
            req.field("last_day", 20),
        )
    except ValidationError as exc:
        return _learner_page(req, exc.message, 400)
    return redirect(f"/teach/learners/{learner.id}#absences", notice="saved")


@access(*STAFF)
def absence_remove(req: Req) -> Response:
    learner = _scope(req).learner(req.database, _int(req, "user_id"))
    absences.remove(
        req.database, req.user.actor(req.client_address), learner.id, _int(req, "absence_id")
    )
    return redirect(f"/teach/learners/{learner.id}#absences", notice="saved")


@access(*STAFF)
def review_queue(req: Req) -> Response:
    scope = _scope(req)
    done = req.request.query_params.get("show") == "all"
    return req.render(
        "teach/reviews.html",
        {
            "items": workbook_review.queue(req.database, scope, include_reviewed=done),
            "show_all": done,
        },
    )


def _review_page(req: Req, error: str = "", status: int = 200) -> Response:
    page = workbook_review.load(req.database, _scope(req), _int(req, "entry_id"))
    return req.render("teach/review.html", {"page": page, "error": error}, status)


@access(*STAFF)
def review_page(req: Req) -> Response:
    return _review_page(req)


@access(*STAFF)
def review_save(req: Req) -> Response:
    try:
        workbook_review.give_feedback(
            req.database,
            _scope(req),
            req.user.actor(req.client_address),
            _int(req, "entry_id"),
            req.field("feedback", 6000),
        )
    except ValidationError as exc:
        return _review_page(req, exc.message, 400)
    return redirect("/teach/reviews", notice="feedback-sent")


# ---- Written tasks: the grading queue and page --------------------------------------


@access(*STAFF)
def grading_queue(req: Req) -> Response:
    """Sent written tasks waiting for a grade, oldest first; one group at a time when
    asked (``?group=``)."""
    scope = _scope(req)
    raw = req.request.query_params.get("group", "")
    group = scope.group(req.database, int(raw)) if raw.isdigit() else None
    items = grading.queue(
        req.database,
        req.settings,
        scope,
        group.id if group is not None else None,
        Continuity.load(req.database, req.settings),
    )
    return req.render(
        "teach/grading.html",
        {
            "items": items[: grading.QUEUE_SHOWN],
            "more": max(0, len(items) - grading.QUEUE_SHOWN),
            "groups": scope.groups(req.database),
            "group": group,
        },
    )


def _grading_page(req: Req, error: str = "", status: int = 200) -> Response:
    page = grading.load(
        req.database, _scope(req), req.user.actor(req.client_address), _int(req, "attempt_id")
    )
    return req.render(
        "teach/grade.html",
        {
            "page": page,
            "error": error,
            "chosen": {k: v for k, v in req.form.items() if k.startswith("c-")}
            if status != 200
            else {},
            "threads_on": req.settings.written_threads,
            "max_comment": written.MAX_COMMENT,
        },
        status,
    )


@access(*STAFF)
def grading_page(req: Req) -> Response:
    return _grading_page(req)


@access(*STAFF)
def grading_save(req: Req) -> Response:
    scope = _scope(req)
    task_keys = [k[2:] for k, v in req.form.items() if k.startswith("c-") and isinstance(v, str)]
    try:
        grading.grade(
            req.database,
            req.settings,
            scope,
            req.user.actor(req.client_address),
            _int(req, "attempt_id"),
            {key: req.field(f"c-{key}", 10) for key in task_keys[:50]},
            req.field("feedback", grading.MAX_FEEDBACK + 1),
            req.field("decision", 20),
        )
    except ValidationError as exc:
        return _grading_page(req, exc.message, 400)
    return redirect("/teach/grading", notice="graded")


@access(*STAFF)
def grading_comment(req: Req) -> Response:
    attempt_id = _int(req, "attempt_id")
    try:
        comments.post(req, attempt_id)
    except ValidationError as exc:
        return _grading_page(req, exc.message, 400)
    return redirect(f"/teach/grading/{attempt_id}#thread", notice="comment-sent")


# ---- Exports ---------------------------------------------------------------------------


@access(*STAFF)
def exports_page(req: Req) -> Response:
    scope = _scope(req)
    return req.render(
        "teach/exports.html",
        {
            "groups": scope.groups(req.database),
            "courses": sorted(dashboards.course_titles(req.database).items(), key=lambda x: x[1]),
            "xapi_actor": req.settings.xapi_actor,
        },
    )


def _filter(req: Req) -> exports.Filter:
    q = req.request.query_params
    try:
        return exports.Filter.parse(
            q.get("start", ""), q.get("end", ""), q.get("group", ""), q.get("course", "")
        )
    except ValidationError as exc:
        raise BadRequest(exc.message) from None


def _download(body: str | bytes, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@access(*STAFF)
def export_progress(req: Req) -> Response:
    flt = _filter(req)
    rows = exports.progress_rows(
        req.database,
        _scope(req),
        flt,
        req.settings.due_after_joining_days,
        Continuity.load(req.database, req.settings),
    )
    exports.record_export(
        req.database, req.user.actor(req.client_address), "progress", flt, len(rows)
    )
    return _download(
        exports.csv_bytes(rows, exports.PROGRESS_COLUMNS),
        "text/csv; charset=utf-8",
        "progress.csv",
    )


@access(*STAFF)
def export_completions(req: Req) -> Response:
    flt = _filter(req)
    rows = exports.completion_rows(req.database, _scope(req), flt)
    printable = req.request.query_params.get("format") == "print"
    exports.record_export(
        req.database,
        req.user.actor(req.client_address),
        "completions",
        flt,
        len(rows),
        format="print" if printable else "csv",
    )
    if printable:
        group = _scope(req).group(req.database, flt.group_id) if flt.group_id else None
        return req.render("teach/completions.html", {"rows": rows, "flt": flt, "group": group})
    return _download(
        exports.csv_bytes(rows, exports.COMPLETION_COLUMNS),
        "text/csv; charset=utf-8",
        "completions.csv",
    )


@access(*STAFF)
def export_xapi(req: Req) -> Response:
    flt = _filter(req)
    statements = exports.xapi_statements(
        req.database, req.settings, _scope(req), flt, req.settings.xapi_actor
    )
    exports.record_export(
        req.database,
        req.user.actor(req.client_address),
        "xapi",
        flt,
        len(statements),
        actor_mode=req.settings.xapi_actor,
    )
    body: Any = json.dumps(statements, indent=2, ensure_ascii=False)
    return _download(body, "application/json", "xapi-statements.json")
