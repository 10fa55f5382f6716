"""Files educators share (a PDF handout, a short video): "My files" and the upload, a
file's own page for staff, adding one to a lesson plan, the learner's page for a file of
their plan, the admins' review, the review waiver, and the file itself.

Who may open which file is `learning.access.teacher_file_for`; what a file is and how it
is reviewed, `catalog.teacher_files`. The file is sent like a course file
(`media.send_blob`), but revalidated on every use (``no-cache``), so a file rejected or
withdrawn after a learner opened it is not shown again from the tablet's cache.
"""

from __future__ import annotations

from contextlib import suppress

from starlette.datastructures import UploadFile
from starlette.responses import Response

from server.catalog import decisions, teacher_files
from server.catalog.sync import content_store
from server.catalog.teacher_files import TeacherFile
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import Settings
from server.learning import lesson_plans
from server.learning.access import Scope, teacher_file_for
from server.people.accounts import Role
from server.web.pdfviewer import lesson_policy
from server.web.plumbing import SIGNED_IN, Req, access, redirect
from server.web.templating import STATIC_DIR
from server.web.views.media import send_blob

STAFF = (Role.EDUCATOR, Role.ADMIN)
MiB = 1024 * 1024


def _file_id(req: Req) -> int:
    return int(req.request.path_params["file_id"])


def _upload_cap(settings: Settings) -> int:
    # The file and the form around it (title, description, the boundaries).
    return settings.teacher_file_max_mb + 1


def content_url(found: TeacherFile | dict[str, object]) -> str:
    """Where the file itself is sent from (its own name at the end, for the download)."""
    if isinstance(found, TeacherFile):
        return f"/files/{found.id}/{found.file_name}"
    return f"/files/{found['id']}/{found['file_name']}"


def _with_viewer(response: Response, found: TeacherFile) -> Response:
    if found.kind == "pdf":
        lesson_policy(STATIC_DIR).apply(response)
    return response


def _staff_file(req: Req) -> TeacherFile:
    """A file this staff member may open (their own, in a plan of their group; admins
    any), else 404."""
    if teacher_file_for(req.database, req.user, _file_id(req)) is None:
        raise NotFound()
    return teacher_files.get_file(req.database, _file_id(req))


# ---- My files ---------------------------------------------------------------------------


def _my_files(req: Req, error: str = "", status: int = 200) -> Response:
    plan_id = req.query_int("plan", 0) or req.form_int("plan_id") or 0
    plan = _plan_in_scope(req, plan_id) if plan_id else None
    return req.render(
        "teach/files.html",
        {
            "files": teacher_files.files_of(req.database, req.user.id),
            "waiver": teacher_files.waiver_of(req.database, req.user.id),
            "max_mb": req.settings.teacher_file_max_mb,
            "plan": plan,
            "error": error,
            "entered": {n: req.field(n, 600) for n in ("title", "description")},
        },
        status,
    )


def _plan_in_scope(req: Req, plan_id: int) -> lesson_plans.Plan:
    plan = lesson_plans.get_plan(req.database, plan_id)
    Scope.of(req.user).group(req.database, plan.group_id)
    return plan


@access(*STAFF)
def my_files(req: Req) -> Response:
    return _my_files(req)


@access(*STAFF, upload_mb=_upload_cap)
def file_upload(req: Req) -> Response:
    """Check and store the file, then (from the builder) add it to the plan."""
    plan_id = req.form_int("plan_id")
    plan = _plan_in_scope(req, plan_id) if plan_id else None
    upload = req.form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _my_files(req, N_("Choose a file to upload."), 400)
    try:
        found = teacher_files.upload(
            req.database,
            content_store(req.settings),
            req.user,
            req.client_address,
            req.field("title", 600),
            req.field("description", 600),
            upload.filename,
            upload.file,
            req.settings.teacher_file_max_mb * MiB,
        )
        if plan is not None:
            lesson_plans.add_file(req.database, req.user, req.client_address, plan, found.id)
    except ValidationError as exc:
        return _my_files(req, exc.message, 400)
    if plan is not None:
        return redirect(f"/teach/lesson-plans/{plan.id}#items", notice="saved")
    return redirect(f"/teach/files/{found.id}", notice="saved")


@access(*STAFF)
def file_page(req: Req) -> Response:
    found = _staff_file(req)
    response = req.render(
        "teach/file.html",
        {"tf": found, "media_src": content_url(found), "mine": found.owner_id == req.user.id},
    )
    return _with_viewer(response, found)


@access(*STAFF)
def file_withdraw(req: Req) -> Response:
    found = _staff_file(req)
    if found.owner_id != req.user.id and req.user.role is not Role.ADMIN:
        raise NotFound()
    # Already rejected or withdrawn: the page shows what it is.
    with suppress(ValidationError):
        teacher_files.withdraw(req.database, req.user.actor(req.client_address), found.id)
    return redirect(f"/teach/files/{found.id}", notice="saved")


# ---- Learners and the file itself --------------------------------------------------------


@access(Role.LEARNER)
def learner_file_page(req: Req) -> Response:
    plan = lesson_plans.learner_plan(
        req.database, req.user, int(req.request.path_params["plan_id"])
    )
    lesson_plans.plan_file(req.database, plan, _file_id(req))
    if teacher_file_for(req.database, req.user, _file_id(req)) is None:
        raise NotFound()  # waiting, rejected or withdrawn: the plan says "not available"
    found = teacher_files.get_file(req.database, _file_id(req))
    lesson_plans.record_file_open(req.database, req.user.id, found.id)
    response = req.render(
        "learn/teacher_file.html", {"plan": plan, "tf": found, "media_src": content_url(found)}
    )
    return _with_viewer(response, found)


@access(SIGNED_IN)
def file_content(req: Req) -> Response:
    found = teacher_file_for(req.database, req.user, _file_id(req))
    if found is None:
        raise NotFound()
    response = send_blob(req, str(found["sha256"]), str(found["media_type"]), found["file_name"])
    response.headers["Cache-Control"] = "private, no-cache"
    return response


# ---- Admins -------------------------------------------------------------------------------


def _review_page(req: Req, error: str = "", status: int = 200) -> Response:
    found = teacher_files.get_file(req.database, _file_id(req))
    response = req.render(
        "admin/file_review.html",
        {
            "tf": found,
            "media_src": content_url(found),
            "reasons": decisions.reasons(req.database),
            "error": error,
        },
        status,
    )
    return _with_viewer(response, found)


@access(Role.ADMIN)
def file_review(req: Req) -> Response:
    return _review_page(req)


@access(Role.ADMIN)
def file_decide(req: Req) -> Response:
    file_id, action = _file_id(req), req.request.url.path.rsplit("/", 1)[1]
    actor = req.user.actor(req.client_address)
    try:
        if action == "approve":
            teacher_files.approve(req.database, actor, file_id)
        elif action == "reject":
            teacher_files.reject(
                req.database,
                actor,
                file_id,
                req.field("reason_code", 60),
                req.field("reason", decisions.NOTE_LIMIT),
            )
        else:
            raise NotFound()
    except ValidationError as exc:
        return _review_page(req, exc.message, 400)
    return redirect(f"/admin/content/files/{file_id}", notice="saved")
