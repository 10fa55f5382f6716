"""The app factory and the one route table of the whole app."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import sys
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope
from uvicorn.config import STARTUP_FAILURE

from server.catalog.search import SearchKeeper, search_indexer
from server.catalog.sync import content_store
from server.core import filemodes
from server.core.db import Database, write_refused
from server.core.errors import HTTPError, StepstoneError
from server.core.settings import Settings, load_settings
from server.ops import health
from server.ops.metrics import RequestMetrics, metrics_dir
from server.ops.upgrade import migrate
from server.people import sessions
from server.people.tokens import Tokens
from server.web.asgi import MetricsMiddleware, RequestLogMiddleware
from server.web.headers import SecurityHeadersMiddleware
from server.web.plumbing import Services
from server.web.sandbox import SandboxHostMiddleware
from server.web.templating import STATIC_DIR, Templates
from server.web.views import (
    admin_access,
    admin_audit,
    admin_content,
    admin_decisions,
    admin_groups,
    admin_lockdowns,
    admin_offers,
    admin_reports,
    admin_roster,
    admin_users,
    admin_watchlist,
    auth,
    collections,
    credit,
    errors,
    home,
    hours,
    learn,
    lesson_plans,
    library,
    media,
    ops,
    passports,
    teach,
    teacher_files,
    topics,
    transfers,
    verify,
)
from server.web.views import sandbox as sandbox_views
from server.web.views import search as search_views

GET, POST = ["GET"], ["POST"]
log = logging.getLogger("stepstone.app")
USER_ACTIONS = ("reset", "disable", "enable", "unlock", "end-sessions")


class CachedStatic(StaticFiles):
    """Static files; URLs carry a content hash (`?v=`), so they can be cached for a year."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "public, max-age=3600"
        return response


class RowId(Convertor[int]):
    """`{name:id}` in a path: a row id. At most 18 digits, so it always fits SQLite's
    integer; a longer one matches no route (404) instead of overflowing a query (500)."""

    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


def routes() -> list[BaseRoute]:
    """Every URL of Stepstone. Each endpoint declares who may use it with `@access`."""
    register_url_convertor("id", RowId())
    return [
        # First: the media check runs for every seek of every video (routes match in order).
        Route("/media/{sha256}/{name}", media.media_file, methods=GET),
        Route("/sandbox/{token}/{path:path}", sandbox_views.app_file, methods=GET),
        Route("/", auth.home, methods=GET),
        Route("/signin", auth.learner_signin_form, methods=GET),
        Route("/signin", auth.learner_signin, methods=POST),
        Route("/staff/signin", auth.staff_signin_form, methods=GET),
        Route("/staff/signin", auth.staff_signin, methods=POST),
        Route("/signout", auth.signout, methods=POST),
        Route("/language", auth.choose_language, methods=POST),
        Route("/account", auth.account, methods=GET),
        Route("/account/secret", auth.change_secret_form, methods=GET),
        Route("/account/secret", auth.change_secret, methods=POST),
        Route("/learn", learn.learner_home, methods=GET),
        Route("/learn/catalog", learn.catalog, methods=GET),
        Route("/library", library.library, methods=GET),
        Route("/collections/{course_id}", collections.collection_home, methods=GET),
        Route("/collections/{course_id}/search", collections.collection_search, methods=GET),
        Route("/collections/{course_id}/suggest", collections.collection_suggest, methods=GET),
        Route("/collections/{course_id}/a/{path:path}", collections.collection_entry, methods=GET),
        Route("/learn/transcript", learn.transcript, methods=GET),
        Route("/learn/text-size", learn.text_size, methods=POST),
        Route("/learn/certificates/{code}", learn.certificate_page, methods=GET),
        Route("/learn/certificates/{code}/open-badge", passports.certificate_badge, methods=GET),
        Route("/learn/passport", passports.my_passport, methods=GET),
        Route("/learn/passport/{passport_id}/file", passports.passport_file, methods=GET),
        Route("/learn/courses/{course_id}", learn.course_page, methods=GET),
        Route("/learn/courses/{course_id}/enrol", learn.enrol, methods=POST),
        Route("/learn/courses/{course_id}/finished", learn.course_finished, methods=GET),
        Route("/learn/courses/{course_id}/rate", learn.rate, methods=POST),
        Route("/learn/courses/{course_id}/lessons/{key}", learn.lesson_page, methods=GET),
        Route("/learn/courses/{course_id}/lessons/{key}/done", learn.lesson_done, methods=POST),
        Route("/learn/courses/{course_id}/lessons/{key}/quiz", learn.quiz_action, methods=POST),
        Route(
            "/learn/courses/{course_id}/lessons/{key}/workbook",
            learn.workbook_action,
            methods=POST,
        ),
        Route(
            "/learn/courses/{course_id}/lessons/{key}/written",
            learn.written_action,
            methods=POST,
        ),
        Route(
            "/learn/courses/{course_id}/lessons/{key}/written/{attempt_id:id}/comment",
            learn.written_comment,
            methods=POST,
        ),
        Route("/api/events", learn.events, methods=POST),
        Route("/api/access", hours.status, methods=GET),
        Route("/search", search_views.search_page, methods=GET),
        Route("/verify", verify.verify_form, methods=GET),
        Route("/verify/file", verify.verify_file, methods=POST),
        Route("/verify/{code}", verify.verify_code, methods=GET),
        Route("/verify/{code}/revoke", verify.revoke, methods=POST),
        Route("/learn/plan", learn.plan, methods=GET),
        Route("/learn/take-with-me", transfers.take_with_me, methods=GET),
        Route("/learn/take-with-me", transfers.take_with_me_save, methods=POST),
        Route("/teach", teach.home, methods=GET),
        Route("/teach/groups/{group_id:id}", teach.group_page, methods=GET),
        Route("/teach/groups/{group_id:id}/assign", teach.assign, methods=POST),
        Route("/teach/assignments/{assignment_id:id}/remove", teach.unassign, methods=POST),
        Route("/teach/courses/{course_id}", teach.course_page, methods=GET),
        Route("/teach/courses/{course_id}/assign", teach.course_assign, methods=POST),
        Route("/teach/courses/{course_id}/questions", teach.questions_page, methods=GET),
        Route("/teach/learners/{user_id:id}", teach.learner_page, methods=GET),
        Route("/teach/learners/{user_id:id}/goals", teach.goal_add, methods=POST),
        Route("/teach/learners/{user_id:id}/absences", teach.absence_add, methods=POST),
        Route(
            "/teach/learners/{user_id:id}/absences/{absence_id:id}/remove",
            teach.absence_remove,
            methods=POST,
        ),
        Route("/teach/learners/{user_id:id}/transfer", transfers.learner_export, methods=POST),
        Route("/teach/learners/{user_id:id}/goals/{goal_id:id}", teach.goal_status, methods=POST),
        Route("/teach/learners/{user_id:id}/passports", passports.learner_passports, methods=GET),
        Route("/teach/learners/{user_id:id}/passports", passports.issue_passport, methods=POST),
        Route("/teach/passports/{passport_id}", passports.staff_passport, methods=GET),
        Route("/teach/passports/{passport_id}/file", passports.staff_passport_file, methods=GET),
        Route("/teach/learners/{user_id:id}/credit", credit.learner_credit, methods=GET),
        Route(
            "/teach/learners/{user_id:id}/credit/{entry_id:id}/correct",
            credit.entry_correct,
            methods=POST,
        ),
        Route("/teach/groups/{group_id:id}/credit", credit.group_credit, methods=GET),
        Route("/teach/exports/credit.csv", credit.export_credit, methods=GET),
        Route("/teach/exports/credit.json", credit.export_credit, methods=GET),
        Route("/teach/groups/{group_id:id}/lesson-plans", lesson_plans.group_plans, methods=GET),
        Route("/teach/groups/{group_id:id}/lesson-plans", lesson_plans.plan_create, methods=POST),
        Route("/teach/lesson-plans/{plan_id:id}", lesson_plans.plan_page, methods=GET),
        Route("/teach/lesson-plans/{plan_id:id}", lesson_plans.plan_save, methods=POST),
        Route("/teach/lesson-plans/{plan_id:id}/items", lesson_plans.item_add, methods=POST),
        Route("/teach/lesson-plans/{plan_id:id}/files", lesson_plans.item_add_file, methods=POST),
        Route("/teach/files", teacher_files.my_files, methods=GET),
        Route("/teach/files", teacher_files.file_upload, methods=POST),
        Route("/teach/files/{file_id:id}", teacher_files.file_page, methods=GET),
        Route("/teach/files/{file_id:id}/withdraw", teacher_files.file_withdraw, methods=POST),
        Route("/files/{file_id:id}/{name}", teacher_files.file_content, methods=GET),
        Route(
            "/learn/lesson-plans/{plan_id:id}/files/{file_id:id}",
            teacher_files.learner_file_page,
            methods=GET,
        ),
        Route(
            "/teach/lesson-plans/{plan_id:id}/items/{item_id:id}",
            lesson_plans.item_change,
            methods=POST,
        ),
        Route("/teach/lesson-plans/{plan_id:id}/assign", lesson_plans.plan_assign, methods=POST),
        Route("/teach/lesson-plans/{plan_id:id}/quiz", lesson_plans.bank_quiz_form, methods=GET),
        Route("/teach/lesson-plans/{plan_id:id}/quiz", lesson_plans.bank_quiz_create, methods=POST),
        Route(
            "/teach/lesson-plans/{plan_id:id}/quizzes/{quiz_id:id}",
            lesson_plans.bank_quiz_results,
            methods=GET,
        ),
        Route("/teach/lesson-plans/{plan_id:id}/writing", lesson_plans.writing_form, methods=GET),
        Route(
            "/teach/lesson-plans/{plan_id:id}/writing", lesson_plans.writing_create, methods=POST
        ),
        Route(
            "/teach/lesson-plans/{plan_id:id}/writing/{task_id:id}",
            lesson_plans.writing_results,
            methods=GET,
        ),
        Route("/learn/lesson-plans/{plan_id:id}", lesson_plans.learner_plan_page, methods=GET),
        Route(
            "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}",
            lesson_plans.learner_writing,
            methods=GET,
        ),
        Route(
            "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}",
            lesson_plans.learner_writing_save,
            methods=POST,
        ),
        Route(
            "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}/draft",
            lesson_plans.learner_writing_draft,
            methods=POST,
        ),
        Route(
            "/learn/lesson-plans/{plan_id:id}/writing/{task_id:id}/{attempt_id:id}/comment",
            lesson_plans.learner_writing_comment,
            methods=POST,
        ),
        Route(
            "/learn/lesson-plans/{plan_id:id}/quizzes/{quiz_id:id}",
            lesson_plans.learner_quiz,
            methods=GET,
        ),
        Route(
            "/learn/lesson-plans/{plan_id:id}/quizzes/{quiz_id:id}",
            lesson_plans.learner_quiz_submit,
            methods=POST,
        ),
        Route("/learn/requests", topics.learner_requests, methods=GET),
        Route("/learn/requests", topics.learner_request, methods=POST),
        Route("/teach/requests", topics.moderation_page, methods=GET),
        Route("/teach/requests/{suggestion_id:id}", topics.decide, methods=POST),
        Route("/admin/local-text", lesson_plans.local_text_page, methods=GET),
        Route("/teach/reviews", teach.review_queue, methods=GET),
        Route("/teach/reviews/{entry_id:id}", teach.review_page, methods=GET),
        Route("/teach/reviews/{entry_id:id}", teach.review_save, methods=POST),
        Route("/teach/grading", teach.grading_queue, methods=GET),
        Route("/teach/grading/{attempt_id:id}", teach.grading_page, methods=GET),
        Route("/teach/grading/{attempt_id:id}", teach.grading_save, methods=POST),
        Route("/teach/grading/{attempt_id:id}/comment", teach.grading_comment, methods=POST),
        Route("/teach/exports", teach.exports_page, methods=GET),
        Route("/teach/exports/progress.csv", teach.export_progress, methods=GET),
        Route("/teach/exports/completions.csv", teach.export_completions, methods=GET),
        Route("/teach/exports/completions", teach.export_completions, methods=GET),
        Route("/teach/exports/xapi.json", teach.export_xapi, methods=GET),
        Route("/admin", home.admin_home, methods=GET),
        Route("/admin/status", ops.status_page, methods=GET),
        Route("/healthz", ops.healthz, methods=GET),
        Route("/metrics", ops.metrics_page, methods=GET),
        Route("/admin/users", admin_users.user_list, methods=GET),
        Route("/admin/users/new", admin_users.user_new_form, methods=GET),
        Route("/admin/users/new", admin_users.user_create, methods=POST),
        Route("/admin/users/{user_id:id}", admin_users.user_detail, methods=GET),
        Route("/admin/users/{user_id:id}", admin_users.user_update, methods=POST),
        Route("/admin/users/{user_id:id}/file-waiver", admin_users.file_waiver, methods=POST),
        *[
            Route(f"/admin/users/{{user_id:id}}/{action}", admin_users.user_action, methods=POST)
            for action in USER_ACTIONS
        ],
        Route("/admin/groups", admin_groups.group_list, methods=GET),
        Route("/admin/groups", admin_groups.group_create, methods=POST),
        Route("/admin/groups/{group_id:id}", admin_groups.group_detail, methods=GET),
        Route("/admin/groups/{group_id:id}", admin_groups.group_update, methods=POST),
        Route("/admin/groups/{group_id:id}/delete", admin_groups.group_delete, methods=POST),
        Route("/admin/groups/{group_id:id}/members", admin_groups.member_add, methods=POST),
        Route(
            "/admin/groups/{group_id:id}/members/{user_id:id}/remove",
            admin_groups.member_remove,
            methods=POST,
        ),
        Route("/admin/roster", admin_roster.roster_form, methods=GET),
        Route("/admin/roster/check", admin_roster.roster_check, methods=POST),
        Route("/admin/roster/import", admin_roster.roster_import, methods=POST),
        Route("/admin/audit", admin_audit.audit_log, methods=GET),
        Route("/admin/access", admin_access.hours_page, methods=GET),
        Route("/admin/access/now", admin_access.now_page, methods=GET),
        Route("/admin/access/windows", admin_access.window_add, methods=POST),
        Route(
            "/admin/access/windows/{window_id:id}/remove", admin_access.window_remove, methods=POST
        ),
        Route("/admin/lockdowns", admin_lockdowns.lockdown_page, methods=GET),
        Route("/admin/lockdowns", admin_lockdowns.lockdown_start, methods=POST),
        Route("/admin/lockdowns/{lockdown_id:id}/end", admin_lockdowns.lockdown_end, methods=POST),
        Route("/admin/access/holidays", admin_access.holiday_add, methods=POST),
        Route("/admin/access/holidays/{day:str}/remove", admin_access.holiday_remove, methods=POST),
        Route("/admin/transfers", transfers.transfers_page, methods=GET),
        Route("/admin/transfers/card.json", transfers.own_card, methods=GET),
        Route("/admin/transfers/trust", transfers.trust_add, methods=POST),
        Route("/admin/transfers/trust/remove", transfers.trust_remove, methods=POST),
        Route("/admin/transfers/export", transfers.export, methods=POST),
        Route("/admin/transfers/check", transfers.check, methods=POST),
        Route("/admin/transfers/import", transfers.confirm, methods=POST),
        Route("/admin/credit", credit.rules_page, methods=GET),
        Route("/admin/credit", credit.rule_add, methods=POST),
        Route("/admin/reports/impact", admin_reports.impact_page, methods=GET),
        Route("/admin/reports/impact.{kind:str}", admin_reports.impact_download, methods=GET),
        Route("/admin/reports/facility-key.pem", admin_reports.facility_key, methods=GET),
        Route("/admin/publishers", admin_content.publisher_list, methods=GET),
        Route("/admin/publishers", admin_content.publisher_add, methods=POST),
        Route("/admin/publishers/confirm", admin_content.publisher_confirm, methods=POST),
        Route(
            "/admin/publishers/{publisher_id:id}/sync",
            admin_content.publisher_sync,
            methods=POST,
        ),
        Route("/admin/content", admin_content.content_list, methods=GET),
        Route("/admin/content/offers/{course_id}", admin_offers.offer_page, methods=GET),
        Route("/admin/content/offers/{course_id}", admin_offers.offer_save, methods=POST),
        Route(
            "/admin/content/collections/{course_id}/blocked",
            collections.blocked_list,
            methods=GET,
        ),
        Route(
            "/admin/content/collections/{course_id}/blocked",
            collections.blocked_save,
            methods=POST,
        ),
        Route("/admin/content/reasons", admin_decisions.reason_list, methods=GET),
        Route("/admin/content/reasons", admin_decisions.reason_add, methods=POST),
        Route(
            "/admin/content/reasons/{code:str}/remove",
            admin_decisions.reason_remove,
            methods=POST,
        ),
        Route(
            "/admin/content/decisions.{kind:str}",
            admin_decisions.decisions_download,
            methods=GET,
        ),
        Route("/admin/content/files/{file_id:id}", teacher_files.file_review, methods=GET),
        *[
            Route(
                f"/admin/content/files/{{file_id:id}}/{action}",
                teacher_files.file_decide,
                methods=POST,
            )
            for action in ("approve", "reject")
        ],
        Route("/admin/content/watch-list", admin_watchlist.watch_list, methods=GET),
        Route("/admin/content/watch-list", admin_watchlist.watch_word_add, methods=POST),
        Route(
            "/admin/content/watch-list/{word_id:id}/remove",
            admin_watchlist.watch_word_remove,
            methods=POST,
        ),
        Route("/admin/content/versions/{version_id:id}", admin_content.version_review, methods=GET),
        Route(
            "/admin/content/versions/{version_id:id}/zim/{path:path}",
            collections.review_entry,
            methods=GET,
        ),
        *[
            Route(
                f"/admin/content/versions/{{version_id:id}}/{action}",
                admin_content.version_action,
                methods=POST,
            )
            for action in ("approve", "reject", "retire", "make-live")
        ],
        Route(
            "/admin/content/versions/{version_id:id}/files/{path:path}",
            admin_content.version_file,
            methods=GET,
        ),
        Route(
            "/admin/content/courses/{course_pk:id}/pull", admin_content.course_pull, methods=POST
        ),
        Route(
            "/admin/content/courses/{course_pk:id}/restore",
            admin_content.course_pull,
            methods=POST,
        ),
        Mount("/static", CachedStatic(directory=STATIC_DIR), name="static"),
    ]


def housekeeping(services: Services) -> None:
    """Start-up chores: forget long-ended sessions, drop roster and transfer uploads nobody
    imported,
    and remove staging folders left by an import that was killed (folders of an import
    still running in another process are locked and kept)."""
    try:
        sessions.purge(services.database)
    except sqlite3.Error as exc:
        # On a full disk or a read-only database the server still starts and serves
        # what only needs reading; the status page and /healthz say what is wrong.
        if not write_refused(exc):
            raise
        log.warning("could not forget ended sessions at start-up: %s", exc)
    content_store(services.settings).sweep_staging()
    cutoff = time.time() - 86400
    # Roster files and transfer bundles hold learners' data: none stays a day unimported.
    for name in (admin_roster.UPLOAD_DIR, transfers.UPLOAD_DIR):
        uploads = services.settings.data_dir / name
        for leftover in uploads.iterdir() if uploads.is_dir() else ():
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def create_app(settings: Settings) -> Starlette:
    """Build the app for one data folder. Opens nothing until start-up."""
    database = Database(settings.database_path)
    search = search_indexer(settings, database)
    services = Services(
        settings=settings,
        database=database,
        tokens=Tokens(settings.signing_key(), settings.session_max_hours * 3600),
        templates=Templates(),
        hooks=search.hooks(),
        search=search.service,
    )
    search_keeper = SearchKeeper(search)

    counters = RequestMetrics(metrics_dir(settings)) if settings.metrics else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        migrate(settings, services.database)  # backs up first when there is an upgrade
        housekeeping(services)
        # Whatever started is stopped again, also when a later step of the start fails:
        # a worker left with a running thread would not exit, and its failed start
        # would be noticed only when the supervisor's ping timed out.
        with contextlib.ExitStack() as running:
            running.callback(services.database.close)
            search_keeper.start()  # never waits: a missing index is rebuilt in the background
            running.callback(search_keeper.stop)
            if counters is not None:
                counters.start()
                running.callback(counters.stop)
            yield

    middleware = [
        Middleware(SecurityHeadersMiddleware, https=settings.https),
        Middleware(SandboxHostMiddleware, settings=settings),
        Middleware(RequestLogMiddleware, settings=settings),
    ]
    if counters is not None:
        middleware.append(Middleware(MetricsMiddleware, metrics=counters))
    app = Starlette(
        routes=routes(),
        middleware=middleware,
        exception_handlers={
            HTTPError: errors.http_error,
            HTTPException: errors.starlette_error,
            ClientDisconnect: errors.client_gone,
            sqlite3.Error: errors.storage_error,
            OSError: errors.storage_error,
            Exception: errors.server_error,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.health = health.Monitor(
        settings, services.database, shared=settings.data_dir / health.SHARED_REPORT
    )
    app.state.metrics = counters
    return app


def app_from_environment() -> Starlette:
    """Factory for `uvicorn --factory server.web.app:app_from_environment` (what `serve` runs).

    A worker that cannot build the app exits with uvicorn's start-up failure code: any
    other exit would make uvicorn's supervisor start it again, and fail again, for ever.
    """
    filemodes.use_private_umask()  # also when uvicorn is started by hand
    try:
        return create_app(load_settings())
    except StepstoneError as exc:
        log.error("the app could not start: %s", exc)
        sys.exit(STARTUP_FAILURE)
