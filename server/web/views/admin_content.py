"""Admin pages for content: trusted publishers and sync, review, and taking content down."""

from __future__ import annotations

import dataclasses
import threading

from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from server.catalog import content_review, library, sync_runs, trust, watchlist
from server.catalog.sync import content_store, sync_publisher
from server.core.errors import N_, NotFound, ValidationError
from server.people.accounts import Role
from server.web.headers import CSP
from server.web.plumbing import Req, access, redirect


def _version_id(req: Req) -> int:
    return int(req.request.path_params["version_id"])


@access(Role.ADMIN)
def content_list(req: Req) -> Response:
    versions = content_review.versions(req.database)
    return req.render("admin/content.html", {"versions": versions})


def _review_page(
    req: Req, error: str = "", status: int = 200, version_id: int | None = None
) -> Response:
    version_id = _version_id(req) if version_id is None else version_id
    data = content_review.load_review(req.database, version_id)
    store = content_store(req.settings)
    # The watch list changes after import: its flags are found now, not stored.
    watched = watchlist.version_flags(req.database, store, version_id)
    data = dataclasses.replace(data, flags=data.flags + watched)
    previews = {
        lesson["key"]: content_review.lesson_preview(store, version_id, lesson["html_sha256"])
        for lesson in data.lessons
    }
    return req.render(
        "admin/review.html",
        {
            "r": data,
            "previews": previews,
            "flag_labels": content_review.FLAG_LABELS,
            "error": error,
        },
        status,
    )


@access(Role.ADMIN)
def version_review(req: Req) -> Response:
    return _review_page(req)


@access(Role.ADMIN)
def version_action(req: Req) -> Response:
    """Approve, reject (with a reason), retire, or make live."""
    version_id, action = _version_id(req), req.request.url.path.rsplit("/", 1)[1]
    actor, hooks = req.user.actor(req.client_address), req.services.hooks
    try:
        if action == "approve":
            library.approve(req.database, hooks, actor, version_id)
        elif action == "reject":
            library.reject(req.database, actor, version_id, req.field("reason", 1000))
        elif action == "retire":
            library.retire(req.database, hooks, actor, version_id)
        elif action == "make-live":
            library.make_live(req.database, hooks, actor, version_id)
        else:
            raise NotFound()
    except ValidationError as exc:
        return _review_page(req, exc.message, 400)
    return redirect(f"/admin/content/versions/{version_id}", notice="saved")


@access(Role.ADMIN)
def course_pull(req: Req) -> Response:
    course_pk = int(req.request.path_params["course_pk"])
    actor, hooks = req.user.actor(req.client_address), req.services.hooks
    if req.request.url.path.endswith("/restore"):
        library.restore_course(req.database, hooks, actor, course_pk)
        return redirect("/admin/content", notice="saved")
    try:
        library.pull_course(req.database, hooks, actor, course_pk, req.field("reason", 500))
    except ValidationError as exc:
        newest = content_review.newest_version_id(req.database, course_pk)
        return _review_page(req, exc.message, 400, newest)
    return redirect("/admin/content", notice="saved")


@access(Role.ADMIN)
def version_file(req: Req) -> Response:
    """A file of a version, for the reviewer's preview (learners get theirs elsewhere)."""
    item = content_review.asset(req.database, _version_id(req), req.request.path_params["path"])
    path = content_store(req.settings).path_for(item["sha256"])
    if not path.is_file():
        raise NotFound()
    response = FileResponse(path, media_type=item["media_type"])
    CSP.REVIEW_FILE.apply(response)
    return response


def _publishers_page(req: Req, error: str = "", status: int = 200) -> Response:
    publishers = trust.list_publishers(req.database, req.settings)
    runs = {p.id: sync_runs.recent_runs(req.database, p.id) for p in publishers}
    sources = {p.id: trust.sources(req.database, p) for p in publishers}
    return req.render(
        "admin/publishers.html",
        {
            "publishers": publishers,
            "runs": runs,
            "sources": sources,
            "next_syncs": sync_runs.next_syncs(
                req.database, publishers, req.settings.sync_every_hours
            ),
            "error": error,
            "form": req.form,
        },
        status,
    )


@access(Role.ADMIN)
def publisher_list(req: Req) -> Response:
    return _publishers_page(req)


@access(Role.ADMIN)
def publisher_add(req: Req) -> Response:
    upload = req.form.get("root")
    if not isinstance(upload, UploadFile):
        return _publishers_page(req, N_("Choose the publisher's root.json file."), 400)
    root = upload.file.read(trust.MAX_ROOT_BYTES + 1)
    actor = req.user.actor(req.client_address)
    try:
        publisher = trust.add_publisher(
            req.database,
            actor,
            req.field("name", 60),
            req.field("namespace", 100),
            root,
            display_name=req.field("display_name", 100),
            auto_publish=req.field("auto_publish") == "on",
        )
        for kind in ("folder", "mirror"):
            if req.field(kind, 500).strip():
                trust.add_source(req.database, actor, publisher, kind, req.field(kind, 500))
    except ValidationError as exc:
        return _publishers_page(req, exc.message, 400)
    return redirect("/admin/publishers", notice="created")


@access(Role.ADMIN)
def publisher_sync(req: Req) -> Response:
    """Start a sync in the background; the page shows it running, then its result."""
    publisher = trust.get_publisher(req.database, int(req.request.path_params["publisher_id"]))
    actor = req.user.actor(req.client_address)
    services = req.services
    thread = threading.Thread(
        target=sync_publisher,
        args=(services.database, services.settings, services.hooks, publisher, actor, "admin"),
        name=f"sync-{publisher.name}",
        daemon=True,
    )
    thread.start()
    thread.join(timeout=2)  # a quick sync shows its result at once
    return redirect("/admin/publishers", notice="sync-started")
