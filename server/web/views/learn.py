"""The learner's pages: home, catalog, course, lesson of every kind, transcript and
certificates, plus the JSON endpoint for progress events.

Every page works without JavaScript: forms post to the same rules the JSON endpoint
uses. Each form carries an event id drawn when the page was drawn, so a form sent twice
(a double tap, a retry after a dropped connection) counts once.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.responses import JSONResponse, Response

from content.format.lessondata import ScormData
from content.format.model import INTERACTIVE_KINDS
from server.catalog.sync import content_store
from server.core import clock
from server.core.errors import N_, BadRequest, NotFound, ValidationError
from server.learning import (
    bookshelf,
    certificates,
    ledger,
    lesson_plans,
    plans,
    progress,
    quizzes,
    ratings,
    scorm,
    visibility,
    workbooks,
    written,
)
from server.learning.access import certificate_for, visible_course, visible_courses
from server.learning.credit_rules import CREDIT_TYPES
from server.learning.visibility import Course, Lesson
from server.people import accounts
from server.people.accounts import TEXT_SIZES, Role
from server.records import checkcodes, merge, transfer_out
from server.web import h5pplayer, pdfviewer, sandbox
from server.web.headers import CSP, framing_sandbox
from server.web.lessonpage import (
    course_url,
    lesson_html,
    lesson_url,
    media_url,
    narration_urls,
)
from server.web.plumbing import Req, access, redirect, safe_next
from server.web.qr import qr_svg
from server.web.templating import STATIC_DIR
from server.web.views import comments

_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def new_event_id() -> str:
    return secrets.token_urlsafe(12)


def _form_event_id(req: Req) -> str:
    given = req.field("event_id", 64)
    return given if _EVENT_ID.match(given) else new_event_id()


def _values(req: Req) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in req.form.multi_items():
        if isinstance(value, str):
            values.setdefault(name, []).append(value[: workbooks.MAX_TEXT + 1])
    return values


def _course(req: Req) -> Course:
    return visible_course(
        req.database, req.settings, req.user, req.request.path_params["course_id"]
    )


def _today() -> str:
    return clock.iso()[:10]


# What counts as news on the home page: a teacher's reply or a course given this recently.
NEWS_DAYS = 14


def _news(req: Req, courses: list[Course], done: dict[str, tuple[int, float]]) -> dict[str, Any]:
    since = clock.iso(clock.now() - NEWS_DAYS * 86400)
    by_id = {c.course_id: c for c in courses}
    replies = []
    for reply in workbooks.replies_since(req.database, req.user.id, since):
        course = by_id.get(reply.course_id)
        if course is None:
            continue
        lessons = visibility.lessons_of(req.database, course.version_id)
        lesson = next((x for x in lessons if x.key == reply.lesson_key), None)
        if lesson is not None:
            replies.append((course, lesson))
    new_courses = [
        c
        for c in courses
        if c.assignment is not None
        and c.assignment.assigned_at >= since
        and c.course_id not in done
    ]
    return {"replies": replies, "new_courses": new_courses}


@access(Role.LEARNER)
def learner_home(req: Req) -> Response:
    user = req.user
    courses = visible_courses(req.database, req.settings, user)
    done = progress.progress_by_course(req.database, user.id)
    assigned = [c for c in courses if c.assignment is not None]
    mine = [c for c in courses if c.assignment is None and (c.enrolled or c.course_id in done)]
    return req.render(
        "learn/home.html",
        _news(req, courses, done)
        | {
            "resume": progress.resume_point(req.database, req.settings, user, courses),
            "assigned": assigned,
            "mine": mine,
            "done": done,
            "others": len(courses) - len(assigned) - len(mine),
            "open_catalog": req.settings.learner_catalog == "open",
            "today": _today(),
            "certificates": certificates.of_learner(req.database, user.id),
            "came_with_me": merge.came_with(req.database, user.id),
            "editions": own_language_editions(courses, assigned, user.language),
            "lesson_plans": [
                lesson_plans.state_for(req.database, req.settings, user, plan, user.id)
                for plan in lesson_plans.assigned_plans_for(req.database, user.id)
            ],
        },
    )


def own_language_editions(
    visible: list[Course], courses: list[Course], language: str
) -> dict[str, Course | None]:
    """For each of `courses` not in `language`: its edition in that language, when the
    publisher named one and the learner may open it (else None)."""
    by_id = {c.course_id: c for c in visible}
    return {
        c.course_id: by_id.get(c.editions.get(language, ""))
        for c in courses
        if c.language != language
    }


@access(Role.LEARNER)
def catalog(req: Req) -> Response:
    """Courses by topic. A learner first sees the courses in their own language (when
    there are any), with every other language one tap away: `?language=` shows all."""
    courses = visible_courses(req.database, req.settings, req.user)
    params = req.request.query_params
    category = params.get("category", "")
    languages = sorted(
        {c.language for c in courses}, key=lambda code: (code != req.user.language, code)
    )
    if "language" in params:
        language = params["language"]
    else:
        language = req.user.language if req.user.language in languages else ""
    categories = sorted({c.category for c in courses}, key=_category_order)
    shown = [
        c
        for c in courses
        if (not category or c.category == category) and (not language or c.language == language)
    ]
    groups = [(cat, [c for c in shown if c.category == cat]) for cat in categories]
    return req.render(
        "learn/catalog.html",
        {
            "groups": [(cat, items) for cat, items in groups if items],
            "categories": categories,
            "languages": [(code, sum(c.language == code for c in courses)) for code in languages],
            "category": category,
            "language_filter": language,
            "done": progress.progress_by_course(req.database, req.user.id),
            "total": len(shown),
            "everything": len(courses),
        },
    )


def _category_order(category: str) -> int:
    return visibility.CATEGORIES.index(category) if category in visibility.CATEGORIES else 99


def _certificate_code(req: Req, course: Course) -> str | None:
    code = None
    for cert in certificates.of_learner(req.database, req.user.id):
        if cert.course_id == course.course_id:
            code = cert.code
    return code


def _posted_lesson(req: Req, kind: str | None = None) -> tuple[Course, list[Lesson], Lesson]:
    """The course, its lessons and the lesson the address names (404 unless it is of
    `kind`, when one is given)."""
    course = _course(req)
    lessons = visibility.lessons_of(req.database, course.version_id)
    lesson = visibility.lesson_of(lessons, req.request.path_params["key"])
    if kind is not None and lesson.kind != kind:
        raise NotFound()
    return course, lessons, lesson


def _lesson_error(
    req: Req, course: Course, lessons: list[Lesson], lesson: Lesson, message: str
) -> Response:
    """The lesson page again, with what was wrong with the form sent from it."""
    context = _lesson_context(req, course, lessons, lesson)
    context["error"] = message
    return req.render("learn/lesson.html", context, 400)


def _saved_or_sent(
    req: Req,
    course: Course,
    lessons: list[Lesson],
    lesson: Lesson,
    sent: str | None,
    was_complete: bool,
) -> Response:
    """After a workbook or writing form: back to the draft, or on as after a finished
    lesson with the `sent` notice."""
    if sent is None:
        return redirect(lesson_url(course.course_id, lesson.key), notice="draft-saved")
    finished = not was_complete and _complete(req, course, lessons)
    return _after(course, lessons, lesson, sent, finished)


def _complete(req: Req, course: Course, lessons: list[Lesson]) -> bool:
    return progress.course_progress(req.database, req.user.id, course.course_id, lessons).complete


def finished_url(course_id: str) -> str:
    return course_url(course_id) + "/finished"


@access(Role.LEARNER)
def course_page(req: Req) -> Response:
    course = _course(req)
    lessons = visibility.lessons_of(req.database, course.version_id)
    state = progress.course_progress(req.database, req.user.id, course.course_id, lessons)
    return req.render(
        "learn/course.html",
        {
            "course": course,
            "lessons": lessons,
            "state": state,
            "certificate": _certificate_code(req, course),
            "book": bookshelf.book_info(req.database, course.version_id),
            "has_collection": bookshelf.is_collection(req.database, course.version_id),
            "media_url": media_url,
        },
    )


@access(Role.LEARNER)
def rate(req: Req) -> Response:
    """A learner's faces for a course or one of its lessons; back to where they rated."""
    course = _course(req)
    key = req.field("lesson_key", 64)
    back = finished_url(course.course_id)
    if key:
        lessons = visibility.lessons_of(req.database, course.version_id)
        back = lesson_url(course.course_id, visibility.lesson_of(lessons, key).key)
    try:
        reasons = [r[:20] for r in req.form.getlist("reasons")[:10] if isinstance(r, str)]
        ratings.rate(req.database, req.user, course.course_id, key, req.field("face", 10), reasons)
    except ValidationError as exc:
        raise BadRequest(exc.message) from None
    return redirect(back, notice="rated")


@access(Role.LEARNER)
def course_finished(req: Req) -> Response:
    """The celebration after the last lesson: what was done, and the certificate."""
    course = _course(req)
    lessons = visibility.lessons_of(req.database, course.version_id)
    state = progress.course_progress(req.database, req.user.id, course.course_id, lessons)
    if not state.complete:
        return redirect(course_url(course.course_id))
    return req.render(
        "learn/finished.html",
        {
            "course": course,
            "state": state,
            "certificate": _certificate_code(req, course),
            "rating": ratings.rating_of(req.database, req.user.id, course.course_id, ""),
        },
    )


@access(Role.LEARNER)
def enrol(req: Req) -> Response:
    course = _course(req)
    if req.settings.learner_catalog != "open":
        raise NotFound()
    visibility.enrol(req.database, req.user, course)
    return redirect(course_url(course.course_id), notice="enrolled")


def _record(req: Req, course: Course, lesson: Lesson, event: progress.Event) -> None:
    progress.record(req.database, req.settings, req.user, course, lesson, event)


def _lesson_context(
    req: Req, course: Course, lessons: list[Lesson], lesson: Lesson
) -> dict[str, Any]:
    store = content_store(req.settings)
    assets = visibility.assets_of(req.database, course.version_id)
    index = lessons.index(lesson)
    state = progress.lesson_state_in(req.database, req.user.id, course.course_id, lesson.key)
    context: dict[str, Any] = {
        "course": course,
        "lesson": lesson,
        "lessons": lessons,
        "index": index,
        "previous": lessons[index - 1] if index > 0 else None,
        "following": lessons[index + 1] if index + 1 < len(lessons) else None,
        "state": state,
        "html": lesson_html(store, lesson.html_sha256, assets, course.course_id, course.version_id),
        "event_id": new_event_id(),
        "event_batch_seconds": req.settings.event_batch_seconds,
        "lesson_url": lesson_url(course.course_id, lesson.key),
        "course_url": course_url(course.course_id),
        "text_sizes": TEXT_SIZES,
        "rating": ratings.rating_of(req.database, req.user.id, course.course_id, lesson.key),
        "narration": narration_urls(lesson.data.narration, assets),
    }
    if lesson.kind in {"video", "audio", "pdf"}:
        media = assets.get(lesson.data.media)
        context["media"] = media
        context["media_src"] = media_url(media)
        context["captions"] = [
            {
                "src": media_url(assets.get(c.src)),
                "language": c.language,
                "label": c.label,
            }
            for c in lesson.data.captions
            if assets.get(c.src)
        ]
        context["poster"] = media_url(assets.get(lesson.data.poster))
    if lesson.kind == "quiz":
        context.update(_quiz_context(req, course, lesson))
    if lesson.kind == "workbook":
        context.update(_workbook_context(req, course, lesson))
    if lesson.kind == "written":
        context.update(_written_context(req, course, lesson))
    return context


def _written_context(req: Req, course: Course, lesson: Lesson) -> dict[str, Any]:
    attempts = written.own_attempts(req.database, req.user.id, course.course_id, lesson.key)
    return {
        "task": written.task_of(lesson),
        "attempts": attempts,
        "writing": written.may_write(attempts),
        "draft_text": written.starting_text(attempts),
        "draft_words": written.count_words(written.starting_text(attempts)),
        "threads_on": req.settings.written_threads,
        "max_comment": written.MAX_COMMENT,
    }


def _quiz_context(req: Req, course: Course, lesson: Lesson) -> dict[str, Any]:
    quiz = quizzes.quiz_of(lesson)
    history = quizzes.attempts(req.database, req.user.id, course.course_id, lesson.key)
    attempt = history[0] if history else None
    results = quizzes.shown_results(quiz, attempt)
    return {
        "quiz": quiz,
        "attempt": attempt,
        "right": quizzes.right_count(quiz, attempt.answers) if attempt is not None else 0,
        "history": [a for a in history if a.submitted],
        "results": results,
    }


def _workbook_context(req: Req, course: Course, lesson: Lesson) -> dict[str, Any]:
    entries = workbooks.own_entries(req.database, req.user.id, course.course_id, lesson.key)
    draft = next((e for e in entries if e.status == "draft"), None)
    return {
        "prompts": workbooks.prompts_of(lesson),
        "shown_visibility": workbooks.shown_visibility,
        "draft": draft,
        "sent": [e for e in entries if e.status != "draft"],
        "writing": draft is not None
        or not any(e.status != "draft" for e in entries)
        or req.request.query_params.get("new") == "1",
    }


@access(Role.LEARNER)
def lesson_page(req: Req) -> Response:
    course, lessons, lesson = _posted_lesson(req)
    # Opening a lesson is an event: it starts the lesson and, for people without
    # JavaScript, is what their time on the previous page is credited by. Reopening it
    # within a minute of the last event adds nothing, so it writes nothing (a page view
    # then costs no write lock; the time is credited with the next event anyway).
    if progress.opening_counts(req.database, req.user.id, course.course_id, lesson.key):
        event = progress.Event(new_event_id(), "started", course.course_id, lesson.key)
        _record(req, course, lesson, event)
    context = _lesson_context(req, course, lessons, lesson)
    if lesson.kind in INTERACTIVE_KINDS:
        context.update(_app_context(req, course, lesson))
    response = req.render("learn/lesson.html", context)
    if lesson.kind == "pdf":
        pdfviewer.lesson_policy(STATIC_DIR).apply(response)
    if context.get("app_origin"):
        framing_sandbox(CSP.PAGE, context["app_origin"]).apply(response)
    return response


def _app_context(req: Req, course: Course, lesson: Lesson) -> dict[str, Any]:
    """Where the lesson's app is framed from: its own signed prefix on the sandbox origin
    (none when the server has no sandbox origin: the page says so)."""
    origin = sandbox.sandbox_origin(req.settings, req.request)
    if origin is None:
        return {"app_src": None, "app_origin": None}
    address = sandbox.AppAddress(
        course.version_id, lesson.key, origin, sandbox.request_origin(req.request), review=False
    )
    prefix = sandbox.app_prefix(address, req.services.tokens.sandbox)
    if lesson.kind == "h5p":
        if not h5pplayer.installed(STATIC_DIR):
            return {"app_src": None, "app_origin": None, "h5p_missing": h5pplayer.INSTALL_STEP}
        return {"app_src": prefix + "__stepstone__/h5p.html", "app_origin": origin, "h5p": True}
    if lesson.data.scorm is None:
        return {"app_src": sandbox.entry_url(prefix), "app_origin": origin}
    return {"app_origin": origin, **_sco_context(req, course, lesson, lesson.data.scorm, prefix)}


def _sco_context(
    req: Req, course: Course, lesson: Lesson, package: ScormData, prefix: str
) -> dict[str, Any]:
    """The SCO to launch (the one asked for, else the first not finished) with the
    learner's attempt to resume in the frame's address, and the list to choose from."""
    states = scorm.states(req.database, req.user.id, course.course_id, lesson.key, package)
    wanted = req.request.query_params.get("sco")
    chosen = next((s for s in package.scos if s.id == wanted), None) or next(
        (s for s in package.scos if not states[s.id].finished), package.scos[0]
    )
    state = states[chosen.id]
    return {
        "app_src": sandbox.sco_url(prefix, chosen.href, chosen.query, package.version, state.cmi),
        "scos": [(s, states[s.id]) for s in package.scos],
        "sco": chosen,
        "sco_attempt": state.attempt,
        "scorm_version": package.version,
    }


def _after(
    course: Course, lessons: list[Lesson], lesson: Lesson, notice: str, finished: bool = False
) -> Response:
    """Where a learner goes after finishing a lesson: the celebration if that finished the
    course, else the next lesson, else the course page."""
    if finished:
        return redirect(finished_url(course.course_id))
    index = lessons.index(lesson)
    if index + 1 < len(lessons):
        return redirect(lesson_url(course.course_id, lessons[index + 1].key), notice=notice)
    return redirect(course_url(course.course_id), notice=notice)


@access(Role.LEARNER)
def lesson_done(req: Req) -> Response:
    course, lessons, lesson = _posted_lesson(req)
    method = "transcript" if req.field("method") == "transcript" else "button"
    event = progress.Event(
        _form_event_id(req), "completed", course.course_id, lesson.key, data={"method": method}
    )
    was_complete = _complete(req, course, lessons)
    try:
        _record(req, course, lesson, event)
    except ValidationError as exc:
        raise BadRequest(exc.message) from None
    finished = not was_complete and _complete(req, course, lessons)
    return _after(course, lessons, lesson, "lesson-done", finished)


@access(Role.LEARNER)
def quiz_action(req: Req) -> Response:
    course, lessons, lesson = _posted_lesson(req, "quiz")
    action = req.field("action", 100)
    url = lesson_url(course.course_id, lesson.key)
    try:
        if action.startswith("check:"):
            key = action.removeprefix("check:")
            quizzes.check(
                req.database,
                req.settings,
                req.user,
                course,
                lesson,
                key,
                _values(req),
                _form_event_id(req),
            )
            return redirect(url + f"#question-{key}")
        if action == "submit":
            was_complete = _complete(req, course, lessons)
            quizzes.submit(
                req.database,
                req.settings,
                req.user,
                course,
                lesson,
                _values(req),
                _form_event_id(req),
            )
            if not was_complete and _complete(req, course, lessons):
                return redirect(finished_url(course.course_id))
            return redirect(url + "#result")
        if action == "retry":
            quizzes.retry(req.database, req.user, course, lesson)
            return redirect(url + "#quiz")
    except ValidationError as exc:
        return _lesson_error(req, course, lessons, lesson, exc.message)
    raise BadRequest()


@access(Role.LEARNER)
def workbook_action(req: Req) -> Response:
    course, lessons, lesson = _posted_lesson(req, "workbook")
    submit = req.field("action") == "submit"
    values = _values(req)
    answers = workbooks.from_form(workbooks.prompts_of(lesson), values)
    was_complete = _complete(req, course, lessons)
    try:
        workbooks.save(
            req.database,
            req.settings,
            req.user,
            course,
            lesson,
            answers,
            _form_event_id(req),
            submit,
            workbooks.shown_private_keys(values.get("shown_private")),
        )
    except ValidationError as exc:
        return _lesson_error(req, course, lessons, lesson, exc.message)
    return _saved_or_sent(
        req, course, lessons, lesson, "workbook-sent" if submit else None, was_complete
    )


@access(Role.LEARNER)
def written_action(req: Req) -> Response:
    """The written task's plain form: save the draft, or send it."""
    course, lessons, lesson = _posted_lesson(req, "written")
    submit = req.field("action") == "submit"
    was_complete = _complete(req, course, lessons)
    try:
        written.save(
            req.database,
            req.settings,
            req.user,
            course,
            lesson,
            req.field("p-text", written.MAX_TEXT + 1),
            _form_event_id(req),
            submit,
        )
    except ValidationError as exc:
        return _lesson_error(req, course, lessons, lesson, exc.message)
    return _saved_or_sent(
        req, course, lessons, lesson, "written-sent" if submit else None, was_complete
    )


@access(Role.LEARNER)
def written_comment(req: Req) -> Response:
    """A comment from the learner on one of their own attempts."""
    course, lessons, lesson = _posted_lesson(req)
    attempt_id = int(req.request.path_params["attempt_id"])
    own = written.own_attempts(req.database, req.user.id, course.course_id, lesson.key)
    if attempt_id not in {a.id for a in own}:
        raise NotFound()
    try:
        comments.post(req, attempt_id)
    except ValidationError as exc:
        return _lesson_error(req, course, lessons, lesson, exc.message)
    url = lesson_url(course.course_id, lesson.key)
    return redirect(f"{url}#attempt-{attempt_id}", notice="comment-sent")


@access(Role.LEARNER, while_closing=True)
def events(req: Req) -> Response:
    """POST /api/events: {"events": [...]} → what was accepted, duplicated, rejected."""
    payload = req.json()
    if not isinstance(payload, dict):
        raise BadRequest(N_("The request must be a JSON object with a list of events."))
    try:
        outcome = progress.record_client_events(
            req.database, req.settings, req.user, payload.get("events")
        )
    except ValidationError as exc:
        raise BadRequest(exc.message) from None
    return JSONResponse(
        {
            "accepted": outcome.accepted,
            "duplicates": outcome.duplicates,
            "rejected": outcome.rejected,
            "lessons": outcome.lessons,
            "certificates": outcome.certificates,
        }
    )


@access(Role.LEARNER)
def transcript(req: Req) -> Response:
    user = req.user
    courses = {c.course_id: c for c in visible_courses(req.database, req.settings, user)}
    done = progress.progress_by_course(req.database, user.id)
    earned = certificates.of_learner(req.database, user.id)
    finished = {cert.course_id for cert in earned}
    credit = ledger.entries_of(req.database, user.id)
    return req.render(
        "learn/transcript.html",
        {
            "elsewhere": merge.from_elsewhere_of(req.database, user.id),
            "brought": merge.carried_pages_of(req.database, user.id, own=True),
            "certificates": earned,
            "credit": ledger.standing(credit),
            "credit_totals": ledger.totals(credit),
            "credit_types": CREDIT_TYPES,
            "credit_elsewhere": transfer_out.credit_elsewhere_of(
                req.database, req.settings, user.id
            ),
            "in_progress": [
                (courses[cid], counts)
                for cid, counts in sorted(done.items())
                if cid in courses and cid not in finished
            ],
        },
    )


@access(Role.LEARNER)
def plan(req: Req) -> Response:
    """The learner's own learning plan and their progress toward each goal."""
    goals = plans.goals_of(req.database, req.user.id)
    courses = {c.course_id: c for c in visible_courses(req.database, req.settings, req.user)}
    done = progress.progress_by_course(req.database, req.user.id)
    return req.render("learn/plan.html", {"goals": goals, "courses": courses, "done": done})


@access(Role.LEARNER)
def certificate_page(req: Req) -> Response:
    code = req.request.path_params["code"]
    found = certificate_for(req.database, req.settings, req.user, code)
    check = "" if found.revoked else checkcodes.for_certificate(req.settings, found)
    return req.render(
        "learn/certificate.html",
        {"cert": found, "check_code": check, "qr": qr_svg(check) if check else ""},
    )


@access(Role.LEARNER)
def text_size(req: Req) -> Response:
    size = req.field("size", 20)
    if size not in TEXT_SIZES:
        raise BadRequest()
    accounts.set_text_size(req.database, req.user, size)
    return redirect(safe_next(req.field("next", 500), under="/learn", default="/learn"))
