"""Lesson plans: the educator's builder (items from approved content, bank quizzes, the
group's progress), the learner's plan page and bank quizzes, and the admins' list of
local text. Staff reach a plan through its group (`Scope`): another group's plan is 404."""

from __future__ import annotations

from starlette.responses import Response

from server.catalog import teacher_files
from server.core import clock
from server.core.errors import N_, BadRequest, NotFound, ValidationError
from server.learning import lesson_plans, plan_writing, quizzes, written
from server.learning.access import Scope, visible_courses
from server.learning.lesson_plans import BankQuiz, Plan
from server.learning.plan_writing import PlanTask
from server.people.accounts import Role
from server.people.groups import Group
from server.teaching import dashboards
from server.web import i18n
from server.web.plumbing import Req, access, redirect
from server.web.views import comments

STAFF = (Role.EDUCATOR, Role.ADMIN)


def _int(req: Req, name: str) -> int:
    return int(req.request.path_params[name])


def _plan(req: Req) -> tuple[Plan, Group]:
    plan = lesson_plans.get_plan(req.database, _int(req, "plan_id"))
    group = Scope.of(req.user).group(req.database, plan.group_id)
    return plan, group


def _bank(req: Req, plan: Plan) -> BankQuiz:
    bank = lesson_plans.bank_quiz(req.database, _int(req, "quiz_id"))
    if bank.plan_id != plan.id:
        raise NotFound()
    return bank


def _url(plan: Plan) -> str:
    return f"/teach/lesson-plans/{plan.id}"


# ---- Staff ---------------------------------------------------------------------------


def _group_plans(req: Req, error: str = "", status: int = 200) -> Response:
    group = Scope.of(req.user).group(req.database, _int(req, "group_id"))
    return req.render(
        "teach/lesson_plans.html",
        {
            "group": group,
            "plans": lesson_plans.plans_of_group(req.database, group.id),
            "error": error,
            "entered": {n: req.field(n, 1200) for n in ("title", "instructions")},
        },
        status,
    )


@access(*STAFF)
def group_plans(req: Req) -> Response:
    return _group_plans(req)


@access(*STAFF)
def plan_create(req: Req) -> Response:
    group = Scope.of(req.user).group(req.database, _int(req, "group_id"))
    try:
        plan_id = lesson_plans.create_plan(
            req.database,
            req.user.actor(req.client_address),
            group.id,
            req.field("title", 500),
            req.field("instructions", 1200),
        )
    except ValidationError as exc:
        return _group_plans(req, exc.message, 400)
    return redirect(f"/teach/lesson-plans/{plan_id}", notice="created")


def _plan_page(req: Req, error: str = "", status: int = 200) -> Response:
    plan, group = _plan(req)
    params = req.request.query_params
    query = params.get("q", "")[:100]
    browse = params.get("course", "")[:200]
    learners = dashboards.group_learners(req.database, group.id)
    courses = sorted(
        visible_courses(req.database, req.settings, req.user), key=lambda c: c.title.casefold()
    )
    return req.render(
        "teach/lesson_plan.html",
        {
            "plan": plan,
            "group": group,
            "state": lesson_plans.state_for(req.database, req.settings, req.user, plan, None),
            "query": query,
            "browse": browse,
            "found": lesson_plans.find_content(req.database, req.settings, req.user, query, browse),
            "courses": courses,
            "progress": lesson_plans.progress_of(req.database, req.settings, plan, learners)
            if plan.assigned
            else [],
            "learners": learners,
            "my_files": [
                f
                for f in teacher_files.files_of(req.database, req.user.id)
                if f.status in ("waiting", "approved")
            ],
            "error": error,
            "entered": {n: req.field(n, 1200) for n in ("title", "instructions", "due_date")},
        },
        status,
    )


@access(*STAFF)
def plan_page(req: Req) -> Response:
    return _plan_page(req)


@access(*STAFF)
def plan_save(req: Req) -> Response:
    plan, _group = _plan(req)
    try:
        lesson_plans.update_text(
            req.database,
            req.user.actor(req.client_address),
            plan,
            req.field("title", 500),
            req.field("instructions", 1200),
        )
    except ValidationError as exc:
        return _plan_page(req, exc.message, 400)
    return redirect(_url(plan), notice="saved")


@access(*STAFF)
def item_add(req: Req) -> Response:
    plan, _group = _plan(req)
    try:
        lesson_plans.add_item(
            req.database,
            req.settings,
            req.user,
            req.client_address,
            plan,
            req.field("course_id", 200),
            req.field("lesson_key", 64),
        )
    except ValidationError as exc:
        return _plan_page(req, exc.message, 400)
    return redirect(_url(plan) + "#items", notice="saved")


@access(*STAFF)
def item_add_file(req: Req) -> Response:
    """Add one of the educator's files (waiting for review or approved) to the plan."""
    plan, _group = _plan(req)
    file_id = req.form_int("file_id")
    try:
        if file_id is None:
            raise ValidationError(N_("Choose one of your files."))
        lesson_plans.add_file(req.database, req.user, req.client_address, plan, file_id)
    except ValidationError as exc:
        return _plan_page(req, exc.message, 400)
    return redirect(_url(plan) + "#items", notice="saved")


@access(*STAFF)
def item_change(req: Req) -> Response:
    plan, _group = _plan(req)
    try:
        lesson_plans.move_item(
            req.database,
            req.user.actor(req.client_address),
            plan,
            _int(req, "item_id"),
            req.field("action", 10),
        )
    except ValidationError as exc:
        raise BadRequest(exc.message) from None
    return redirect(_url(plan) + "#items", notice="saved")


@access(*STAFF)
def plan_assign(req: Req) -> Response:
    plan, _group = _plan(req)
    actor = req.user.actor(req.client_address)
    if req.field("action", 10) == "unassign":
        lesson_plans.unassign(req.database, actor, plan)
        return redirect(_url(plan), notice="unassigned")
    try:
        lesson_plans.assign(
            req.database,
            actor,
            plan,
            req.field("due_date", 20),
            req.field("past_due_ok", 5) == "yes",
        )
    except ValidationError as exc:
        return _plan_page(req, exc.message, 400)
    return redirect(_url(plan), notice="assigned")


def _quiz_form(req: Req, error: str = "", status: int = 200) -> Response:
    plan, group = _plan(req)
    chosen = req.request.query_params.get("course", "") or req.field("course_id", 200)
    courses = sorted(
        visible_courses(req.database, req.settings, req.user), key=lambda c: c.title.casefold()
    )
    sources = (
        lesson_plans.bank_sources(req.database, req.settings, req.user, chosen) if chosen else []
    )
    return req.render(
        "teach/bank_quiz_new.html",
        {
            "plan": plan,
            "group": group,
            "courses": courses,
            "chosen": chosen,
            "sources": sources,
            "error": error,
            "ticked": {v for v in req.form.getlist("pick") if isinstance(v, str)},
            "entered": {n: req.field(n, 1200) for n in ("title", "instructions", "pass_mark")},
        },
        status,
    )


@access(*STAFF)
def bank_quiz_form(req: Req) -> Response:
    return _quiz_form(req)


@access(*STAFF)
def bank_quiz_create(req: Req) -> Response:
    plan, _group = _plan(req)
    picks = [
        lesson_plans.parse_pick(v[:700]) for v in req.form.getlist("pick") if isinstance(v, str)
    ]
    try:
        if any(p is None for p in picks):
            raise BadRequest()
        lesson_plans.create_bank_quiz(
            req.database,
            req.settings,
            req.user,
            req.client_address,
            plan,
            req.field("title", 500),
            req.field("instructions", 1200),
            req.field("pass_mark", 10),
            [p for p in picks if p is not None],
        )
    except ValidationError as exc:
        return _quiz_form(req, exc.message, 400)
    return redirect(_url(plan) + "#items", notice="saved")


@access(*STAFF)
def bank_quiz_results(req: Req) -> Response:
    plan, group = _plan(req)
    bank = _bank(req, plan)
    learners = dashboards.group_learners(req.database, group.id)
    return req.render(
        "teach/bank_quiz.html",
        {
            "plan": plan,
            "group": group,
            "bank": bank,
            "view": lesson_plans.quiz_view(req.database, req.settings, req.user, bank),
            "results": lesson_plans.quiz_results(req.database, bank, learners),
        },
    )


# ---- Writing tasks ------------------------------------------------------------------

_WRITING_FIELDS = (
    "title",
    "prompt",
    "length",
    "min_words",
    "max_words",
    "pass_mark",
    *(f"c{c}" for c in range(1, plan_writing.MAX_CRITERIA + 1)),
    *(
        f"c{c}-{part}{v}"
        for c in range(1, plan_writing.MAX_CRITERIA + 1)
        for v in range(1, plan_writing.MAX_LEVELS + 1)
        for part in ("l", "p")
    ),
)


def _writing_form(req: Req, error: str = "", field: str = "", status: int = 200) -> Response:
    plan, group = _plan(req)
    if req.request.method == "POST":
        entered = {n: req.field(n, 2100) for n in _WRITING_FIELDS}
    else:  # a new task starts from the ready rubric, in the educator's language
        entered = dict.fromkeys(_WRITING_FIELDS, "")
        entered |= {"length": "long", "pass_mark": str(plan_writing.DEFAULT_PASS_MARK)}
        for c, (criterion, levels) in enumerate(plan_writing.DEFAULT_RUBRIC, start=1):
            entered[f"c{c}"] = i18n.gettext(criterion)
            for v, (label, points) in enumerate(levels, start=1):
                entered[f"c{c}-l{v}"] = i18n.gettext(label)
                entered[f"c{c}-p{v}"] = f"{points:g}"
    return req.render(
        "teach/plan_writing_new.html",
        {
            "plan": plan,
            "group": group,
            "entered": entered,
            "criteria": range(1, plan_writing.MAX_CRITERIA + 1),
            "levels": range(1, plan_writing.MAX_LEVELS + 1),
            "error": error,
            "error_field": field,
        },
        status,
    )


@access(*STAFF)
def writing_form(req: Req) -> Response:
    return _writing_form(req)


@access(*STAFF)
def writing_create(req: Req) -> Response:
    plan, _group = _plan(req)
    try:
        lesson_plans.add_written_task(
            req.database,
            req.user,
            req.client_address,
            plan,
            req.field("title", 500),
            lambda name: req.field(name, 2100),
        )
    except ValidationError as exc:
        return _writing_form(req, exc.message, exc.field or "", 400)
    return redirect(_url(plan) + "#items", notice="saved")


@access(*STAFF)
def writing_results(req: Req) -> Response:
    """The task as the educator made it, and where each learner of the group is with it."""
    plan, group = _plan(req)
    task = lesson_plans.plan_task(req.database, plan, _int(req, "task_id"))
    learners = dashboards.group_learners(req.database, group.id)
    newest = {}
    for learner in learners:
        sent = [
            a
            for a in plan_writing.attempts(req.database, learner.id, task)
            if a.status != written.DRAFT
        ]
        newest[learner.id] = sent[0] if sent else None
    return req.render(
        "teach/plan_writing.html",
        {"plan": plan, "group": group, "task": task, "learners": learners, "newest": newest},
    )


@access(Role.ADMIN)
def local_text_page(req: Req) -> Response:
    return req.render(
        "admin/local_text.html", {"texts": lesson_plans.local_texts_list(req.database)}
    )


# ---- Learners --------------------------------------------------------------------------


@access(Role.LEARNER)
def learner_plan_page(req: Req) -> Response:
    plan = lesson_plans.learner_plan(req.database, req.user, _int(req, "plan_id"))
    state = lesson_plans.state_for(req.database, req.settings, req.user, plan, req.user.id)
    return req.render("learn/lesson_plan.html", {"state": state, "today": _today(req)})


def _today(req: Req) -> str:
    return clock.iso()[:10]


def _learner_quiz(req: Req, error: str = "", status: int = 200) -> Response:
    plan = lesson_plans.learner_plan(req.database, req.user, _int(req, "plan_id"))
    bank = _bank(req, plan)
    view = lesson_plans.quiz_view(req.database, req.settings, req.user, bank)
    if not view.quiz.questions:
        raise NotFound()
    tries = lesson_plans.bank_attempts(req.database, bank.id, req.user.id)
    last = tries[0] if tries and req.request.query_params.get("new") != "1" else None
    attempt = (
        quizzes.Attempt(
            last.id,
            last.answers,
            set(),
            last.score,
            last.passed,
            last.submitted_at,
            last.submitted_at,
        )
        if last is not None
        else None
    )
    return req.render(
        "learn/bank_quiz.html",
        {
            "plan": plan,
            "bank": bank,
            "view": view,
            "quiz": view.quiz,
            "attempt": attempt,
            "right": quizzes.right_count(view.quiz, attempt.answers) if attempt else 0,
            "results": quizzes.shown_results(view.quiz, attempt),
            "tries": tries,
            "error": error,
        },
        status,
    )


@access(Role.LEARNER)
def learner_quiz(req: Req) -> Response:
    return _learner_quiz(req)


@access(Role.LEARNER)
def learner_quiz_submit(req: Req) -> Response:
    plan = lesson_plans.learner_plan(req.database, req.user, _int(req, "plan_id"))
    bank = _bank(req, plan)
    values: dict[str, list[str]] = {}
    for name, value in req.form.multi_items():
        if isinstance(value, str) and name.startswith("q-"):
            values.setdefault(name[:300], []).append(value[:501])
    lesson_plans.submit_bank_quiz(req.database, req.settings, req.user, bank, values)
    return redirect(f"/learn/lesson-plans/{plan.id}/quizzes/{bank.id}#result")


def _learner_task(req: Req) -> tuple[Plan, PlanTask]:
    plan = lesson_plans.learner_plan(req.database, req.user, _int(req, "plan_id"))
    return plan, lesson_plans.plan_task(req.database, plan, _int(req, "task_id"))


def _writing_url(plan: Plan, task: PlanTask) -> str:
    return f"/learn/lesson-plans/{plan.id}/writing/{task.id}"


def _learner_writing(req: Req, error: str = "", status: int = 200) -> Response:
    plan, task = _learner_task(req)
    attempts = plan_writing.attempts(req.database, req.user.id, task)
    return req.render(
        "learn/plan_writing.html",
        {
            "plan": plan,
            "plan_task": task,
            "task": task.task,
            "attempts": attempts,
            "writing": written.may_write(attempts),
            "draft_text": written.starting_text(attempts),
            "draft_words": written.count_words(written.starting_text(attempts)),
            "threads_on": req.settings.written_threads,
            "max_comment": written.MAX_COMMENT,
            "written_url": _writing_url(plan, task),
            "task_language": "",
            "error": error,
        },
        status,
    )


@access(Role.LEARNER)
def learner_writing(req: Req) -> Response:
    return _learner_writing(req)


@access(Role.LEARNER)
def learner_writing_save(req: Req) -> Response:
    """The plain form: save the draft, or send it to be graded."""
    plan, task = _learner_task(req)
    submit = req.field("action") == "submit"
    try:
        plan_writing.save(
            req.database,
            req.user.id,
            task,
            req.field("p-text", written.MAX_TEXT + 1),
            submit,
        )
    except ValidationError as exc:
        return _learner_writing(req, exc.message, 400)
    return redirect(_writing_url(plan, task), notice="written-sent" if submit else "draft-saved")


@access(Role.LEARNER)
def learner_writing_draft(req: Req) -> Response:
    """The page's autosave (static/js/plan-writing.js): the draft, no page back."""
    _plan_found, task = _learner_task(req)
    plan_writing.save(
        req.database, req.user.id, task, req.field("p-text", written.MAX_TEXT + 1), False
    )
    return Response(status_code=204)


@access(Role.LEARNER)
def learner_writing_comment(req: Req) -> Response:
    """A comment from the learner on one of their own attempts at the task."""
    plan, task = _learner_task(req)
    attempt_id = _int(req, "attempt_id")
    own = plan_writing.attempts(req.database, req.user.id, task)
    if attempt_id not in {a.id for a in own}:
        raise NotFound()
    try:
        comments.post(req, attempt_id)
    except ValidationError as exc:
        return _learner_writing(req, exc.message, 400)
    return redirect(f"{_writing_url(plan, task)}#attempt-{attempt_id}", notice="comment-sent")
