"""The learner's pages in a preview: the course, each lesson, and the forms a learner
sends (a lesson done, a quiz, a workbook, a writing task, the language and text size),
answered from the folder and the preview learner's memory instead of a facility's
database. An activity (html5, SCORM, H5P) is framed from the sandbox, as on a tablet:
see `server.web.preview.sandbox`."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import RedirectResponse, Response

from content.format.lessondata import ScormData
from content.format.model import INTERACTIVE_KINDS
from server.core.errors import BadRequest, NotFound, ValidationError
from server.core.settings import SUPPORTED_LANGUAGES
from server.learning import quizzes, workbooks, written
from server.learning.visibility import Lesson
from server.people.accounts import TEXT_SIZES
from server.web import h5pplayer, pdfviewer, sandbox
from server.web.headers import CSP, framing_sandbox
from server.web.lessonpage import course_url, lesson_url, media_url, narration_urls
from server.web.plumbing import safe_next
from server.web.preview.frame import Page
from server.web.preview.learner import workbook_page, written_page
from server.web.templating import STATIC_DIR


def course_page(page: Page) -> Response:
    course = page.course.course
    if course is None:
        return page.render("preview/unreadable.html", {})
    if page.request.path_params.get("course_id", course.course_id) != course.course_id:
        return RedirectResponse(course_url(course.course_id), 303)  # the id was edited
    lessons = page.course.lessons
    return page.render(
        "learn/course.html",
        {
            "course": course,
            "lessons": lessons,
            "state": page.preview.learner.course_progress(lessons),
            "certificate": None,
        },
    )


def _lesson_context(page: Page, lessons: list[Lesson], lesson: Lesson) -> dict[str, Any]:
    course, assets = page.course.course, page.course.assets
    assert course is not None
    index = lessons.index(lesson)
    context: dict[str, Any] = {
        "course": course,
        "lesson": lesson,
        "lessons": lessons,
        "index": index,
        "previous": lessons[index - 1] if index > 0 else None,
        "following": lessons[index + 1] if index + 1 < len(lessons) else None,
        "state": page.preview.learner.lesson_state(lesson),
        "html": page.course.html.get(lesson.key, ""),
        "event_id": secrets.token_urlsafe(12),
        "lesson_url": lesson_url(course.course_id, lesson.key),
        "course_url": course_url(course.course_id),
        "text_sizes": TEXT_SIZES,
        "reload_url": lesson_url(course.course_id, lesson.key),
        "narration": narration_urls(lesson.data.narration, assets),
    }
    if lesson.kind in {"video", "audio", "pdf"}:
        context["media"] = assets.get(lesson.data.media)
        context["media_src"] = media_url(assets.get(lesson.data.media))
        context["captions"] = [
            {"src": media_url(assets.get(c.src)), "language": c.language, "label": c.label}
            for c in lesson.data.captions
            if assets.get(c.src)
        ]
        context["poster"] = media_url(assets.get(lesson.data.poster))
    if lesson.kind == "quiz":
        context.update(_quiz_context(page, lesson))
    if lesson.kind == "workbook":
        context.update(
            prompts=workbooks.prompts_of(lesson),
            shown_visibility=workbooks.shown_visibility,
            draft=None,
            sent=[],
            writing=True,
        )
    if lesson.kind == "written":
        context.update(
            task=written.task_of(lesson),
            attempts=[],
            writing=True,
            draft_text="",
            draft_words=0,
            threads_on=False,
            max_comment=written.MAX_COMMENT,
        )
    return context


def _app_context(page: Page, lesson: Lesson) -> dict[str, Any]:
    """Where the lesson's app is framed from: its own signed prefix on the other loopback
    name of this preview, as the server's demo does. Off loopback (``--host``) there is
    no second origin to keep the app apart, so the page says where it opens instead."""
    request = page.request
    origin = sandbox.loopback_origin(request)
    if origin is None:
        port = request.url.port
        where = f"http://127.0.0.1{f':{port}' if port else ''}{request.url.path}"
        return {"app_src": None, "app_origin": None, "app_loopback": where}
    address = sandbox.AppAddress(
        0, lesson.key, origin, sandbox.request_origin(request), review=False
    )
    prefix = sandbox.app_prefix(address, page.preview.sandbox)
    if lesson.kind == "h5p":
        if not h5pplayer.installed(STATIC_DIR):
            return {"app_src": None, "app_origin": None, "h5p_missing": h5pplayer.INSTALL_STEP}
        return {"app_src": prefix + "__stepstone__/h5p.html", "app_origin": origin, "h5p": True}
    if lesson.data.scorm is None:
        return {"app_src": sandbox.entry_url(prefix), "app_origin": origin}
    return {"app_origin": origin, **_sco_context(page, lesson, lesson.data.scorm, prefix)}


def _sco_context(page: Page, lesson: Lesson, package: ScormData, prefix: str) -> dict[str, Any]:
    """The SCO to launch (the one asked for, else the first not finished), resuming the
    preview learner's attempt, and the list to choose from, as on a tablet."""
    states = page.preview.learner.sco_states(lesson)
    wanted = page.request.query_params.get("sco")
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


def _quiz_context(page: Page, lesson: Lesson) -> dict[str, Any]:
    quiz = quizzes.quiz_of(lesson)
    history = page.preview.learner.attempts(lesson.key)
    attempt = history[0] if history else None
    results = quizzes.shown_results(quiz, attempt)
    history = [a for a in history if a.submitted]
    right = quizzes.right_count(quiz, attempt.answers) if attempt is not None else 0
    return {
        "quiz": quiz,
        "attempt": attempt,
        "history": history,
        "results": results,
        "right": right,
    }


def lesson_page(page: Page) -> Response:
    if page.course.course is None:
        return page.render("preview/unreadable.html", {})
    lessons, lesson = page.lesson()
    context = _lesson_context(page, lessons, lesson)
    if lesson.kind in INTERACTIVE_KINDS:
        context.update(_app_context(page, lesson))
    response = page.render("learn/lesson.html", context)
    if lesson.kind == "pdf":
        pdfviewer.lesson_policy(STATIC_DIR).apply(response)
    if context.get("app_origin"):
        framing_sandbox(CSP.PAGE, context["app_origin"]).apply(response)
    return response


def _after(page: Page, lessons: list[Lesson], lesson: Lesson, notice: str) -> Response:
    assert page.course.course is not None  # `_posted_lesson` found the lesson in it
    course_id = page.course.course.course_id
    index = lessons.index(lesson)
    target = (
        lesson_url(course_id, lessons[index + 1].key)
        if index + 1 < len(lessons)
        else course_url(course_id)
    )
    return RedirectResponse(f"{target}?notice={notice}", 303)


def lesson_done(page: Page) -> Response:
    lessons, lesson = _posted_lesson(page)
    page.preview.learner.finish(lesson.key)
    return _after(page, lessons, lesson, "lesson-done")


def _posted_lesson(page: Page, kind: str | None = None) -> tuple[list[Lesson], Lesson]:
    if page.course.course is None:
        raise NotFound()
    lessons, lesson = page.lesson()
    if kind is not None and lesson.kind != kind:
        raise NotFound()
    return lessons, lesson


def quiz_action(page: Page) -> Response:
    lessons, lesson = _posted_lesson(page, "quiz")
    action = page.form.get("action", "")
    url = page.request.url.path.removesuffix("/quiz")
    learner = page.preview.learner
    try:
        if isinstance(action, str) and action.startswith("check:"):
            key = action.removeprefix("check:")
            learner.check(lesson, key, page.values())
            return RedirectResponse(f"{url}#question-{key}", 303)
        if action == "submit":
            learner.submit(lesson, page.values())
            return RedirectResponse(f"{url}#result", 303)
        if action == "retry":
            learner.retry(lesson)
            return RedirectResponse(f"{url}#quiz", 303)
    except ValidationError as exc:
        context = _lesson_context(page, lessons, lesson) | {"error": exc.message}
        return page.render("learn/lesson.html", context, 400)
    raise BadRequest()


def workbook_action(page: Page) -> Response:
    lessons, lesson = _posted_lesson(page, "workbook")
    context = _lesson_context(page, lessons, lesson)
    send = page.form.get("action") == "submit"
    try:
        shown = workbook_page(lesson, page.values(), send)
    except ValidationError as exc:
        return page.render("learn/lesson.html", context | {"error": exc.message}, 400)
    notice = "preview-sent" if send else "preview-saved"
    return page.render("learn/lesson.html", context | shown | {"notice": notice})


def written_action(page: Page) -> Response:
    """Save or send a writing task's answer: the page a learner would see then, with the
    words shown back once and kept nowhere."""
    lessons, lesson = _posted_lesson(page, "written")
    context = _lesson_context(page, lessons, lesson)
    send = page.form.get("action") == "submit"
    try:
        raw = page.form.get("p-text")
        shown = written_page(
            lesson, raw[: written.MAX_TEXT + 1] if isinstance(raw, str) else "", send
        )
    except ValidationError as exc:
        return page.render("learn/lesson.html", context | {"error": exc.message}, 400)
    notice = "preview-sent" if send else "preview-saved"
    return page.render("learn/lesson.html", context | shown | {"notice": notice})


def to_lesson(page: Page) -> Response:
    """A form's address opened by GET (the language switch of a page drawn from a form
    goes back to that address): the lesson itself."""
    path = page.request.url.path
    for form in ("/quiz", "/workbook", "/written"):
        path = path.removesuffix(form)
    return RedirectResponse(path, 303)


def choose_language(page: Page) -> Response:
    language = page.form.get("language")
    if isinstance(language, str) and language in SUPPORTED_LANGUAGES:
        page.preview.learner.language = language
    return _back(page, "/")


def text_size(page: Page) -> Response:
    size = page.form.get("size")
    if not isinstance(size, str) or size not in TEXT_SIZES:
        raise BadRequest()
    page.preview.learner.text_size = size
    return _back(page, "/learn")


def _back(page: Page, under: str) -> Response:
    wanted = page.form.get("next")
    return RedirectResponse(safe_next(wanted if isinstance(wanted, str) else "", under=under), 303)


def home(page: Page) -> Response:
    course = page.course.course
    if course is None:
        return page.render("preview/unreadable.html", {})
    return RedirectResponse(course_url(course.course_id), 303)
