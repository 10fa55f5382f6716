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

from server.catalog.sync import content_store
from server.core import clock
from server.core.errors import N_, BadRequest, NotFound, ValidationError
from server.learning import certificates, plans, progress, quizzes, visibility, workbooks
from server.learning.access import certificate_for, visible_course, visible_courses
from server.learning.visibility import Course, Lesson
from server.people import accounts
from server.people.accounts import TEXT_SIZES, Role
from server.web import pdfviewer
from server.web.lessonpage import (
    course_url,
    lesson_html,
    lesson_url,
    media_url,
    narration_urls,
)
from server.web.plumbing import Req, access, redirect, safe_next
from server.web.templating import STATIC_DIR

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
            "resume": progress.resume_point(req.database, req.settings, user),
            "assigned": assigned,
            "mine": mine,
            "done": done,
            "others": len(courses) - len(assigned) - len(mine),
            "open_catalog": req.settings.learner_catalog == "open",
            "today": _today(),
            "certificates": certificates.of_learner(req.database, user.id),
        },
    )


@access(Role.LEARNER)
def catalog(req: Req) -> Response:
    courses = visible_courses(req.database, req.settings, req.user)
    category = req.request.query_params.get("category", "")
    language = req.request.query_params.get("language", "")
    categories = sorted({c.category for c in courses}, key=_category_order)
    languages = sorted({c.language for c in courses})
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
            "languages": languages,
            "category": category,
            "language_filter": language,
            "done": progress.progress_by_course(req.database, req.user.id),
            "total": len(shown),
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
        },
    )


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
        "lesson_url": lesson_url(course.course_id, lesson.key),
        "course_url": course_url(course.course_id),
        "text_sizes": TEXT_SIZES,
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
    return context


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
    course = _course(req)
    lessons = visibility.lessons_of(req.database, course.version_id)
    lesson = visibility.lesson_of(lessons, req.request.path_params["key"])
    # Opening a lesson is an event: it starts the lesson and, for people without
    # JavaScript, is what their time on the previous page is credited by. Reopening it
    # within a minute of the last event adds nothing, so it writes nothing (a page view
    # then costs no write lock; the time is credited with the next event anyway).
    if progress.opening_counts(req.database, req.user.id, course.course_id, lesson.key):
        event = progress.Event(new_event_id(), "started", course.course_id, lesson.key)
        _record(req, course, lesson, event)
    response = req.render("learn/lesson.html", _lesson_context(req, course, lessons, lesson))
    if lesson.kind == "pdf":
        pdfviewer.lesson_policy(STATIC_DIR).apply(response)
    return response


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
    course = _course(req)
    lessons = visibility.lessons_of(req.database, course.version_id)
    lesson = visibility.lesson_of(lessons, req.request.path_params["key"])
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
    course = _course(req)
    lessons = visibility.lessons_of(req.database, course.version_id)
    lesson = visibility.lesson_of(lessons, req.request.path_params["key"])
    if lesson.kind != "quiz":
        raise NotFound()
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
        context = _lesson_context(req, course, lessons, lesson)
        context["error"] = exc.message
        return req.render("learn/lesson.html", context, 400)
    raise BadRequest()


@access(Role.LEARNER)
def workbook_action(req: Req) -> Response:
    course = _course(req)
    lessons = visibility.lessons_of(req.database, course.version_id)
    lesson = visibility.lesson_of(lessons, req.request.path_params["key"])
    if lesson.kind != "workbook":
        raise NotFound()
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
        context = _lesson_context(req, course, lessons, lesson)
        context["error"] = exc.message
        return req.render("learn/lesson.html", context, 400)
    if submit:
        finished = not was_complete and _complete(req, course, lessons)
        return _after(course, lessons, lesson, "workbook-sent", finished)
    return redirect(lesson_url(course.course_id, lesson.key), notice="draft-saved")


@access(Role.LEARNER)
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
    return req.render(
        "learn/transcript.html",
        {
            "certificates": earned,
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
    return req.render("learn/certificate.html", {"cert": found})


@access(Role.LEARNER)
def text_size(req: Req) -> Response:
    size = req.field("size", 20)
    if size not in TEXT_SIZES:
        raise BadRequest()
    accounts.set_text_size(req.database, req.user, size)
    return redirect(safe_next(req.field("next", 500), under="/learn", default="/learn"))
