"""Admin pages for content: trusted publishers and sync, review, and taking content down."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import threading

from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from content.format.model import INTERACTIVE_KINDS
from server.catalog import (
    collections,
    content_review,
    decisions,
    library,
    sync_runs,
    teacher_files,
    trust,
    watchlist,
)
from server.catalog.review_lessons import file_url
from server.catalog.sync import content_store, sync_publisher
from server.core.errors import N_, BadRequest, NotFound, ValidationError
from server.learning import bookshelf, offers
from server.people.accounts import Role
from server.web import sandbox
from server.web.headers import CSP, framing_sandbox
from server.web.plumbing import Req, access, redirect
from server.web.views import sandbox as sandbox_view


def _version_id(req: Req) -> int:
    return int(req.request.path_params["version_id"])


@access(Role.ADMIN)
def content_list(req: Req) -> Response:
    versions = content_review.versions(req.database)
    names = offers.group_names(req.database)
    offered = {
        course_id: (offer.mode, ", ".join(sorted(names[g] for g in offer.group_ids)))
        for course_id, offer in offers.offers_by_course(req.database).items()
    }
    return req.render(
        "admin/content.html",
        {
            "versions": versions,
            "offered": offered,
            "teacher_files": teacher_files.review_list(req.database),
        },
    )


def _review_page(
    req: Req, error: str = "", status: int = 200, version_id: int | None = None
) -> Response:
    version_id = _version_id(req) if version_id is None else version_id
    store = content_store(req.settings)
    data = content_review.load_review(req.database, store, version_id)
    # The watch list changes after import: its flags are found now, not stored.
    watched = watchlist.version_flags(req.database, store, version_id)
    data = dataclasses.replace(data, flags=data.flags + watched)
    origin = sandbox.sandbox_origin(req.settings, req.request)
    apps = _app_sources(req, version_id, data, origin)
    collection = collections.collection_info(req.database, version_id)
    response = req.render(
        "admin/review.html",
        {
            "r": data,
            "flag_labels": content_review.FLAG_LABELS,
            "flag_href": content_review.flag_href,
            "book": bookshelf.book_info(req.database, version_id),
            "collection": collection,
            "collection_sample": collections.sample(req.settings, collection) if collection else [],
            "collection_flag_labels": collections.FLAG_LABELS,
            "file_url": file_url,
            "reasons": decisions.reasons(req.database),
            "error": error,
            "app_src": apps,
            "sandbox_ready": origin is not None,
        },
        status,
    )
    if origin is not None and apps:
        framing_sandbox(CSP.PAGE, origin).apply(response)
    return response


def _app_sources(
    req: Req, version_id: int, data: content_review.Review, origin: str | None
) -> dict[str, str]:
    """Where each interactive lesson of the version runs for its reviewer: the learners'
    sandbox, for a version that need not be live yet."""
    if origin is None:
        return {}
    page = sandbox.request_origin(req.request)
    sources = {}
    for lesson in data.lessons:
        if lesson.kind not in INTERACTIVE_KINDS:
            continue
        prefix = sandbox.app_prefix(
            sandbox.AppAddress(version_id, lesson.key, origin, page, review=True),
            req.services.tokens.sandbox,
        )
        package = lesson.data.scorm
        if lesson.kind == "h5p":
            sources[lesson.key] = prefix + "__stepstone__/h5p.html"
        elif package is None:
            sources[lesson.key] = sandbox.entry_url(prefix)
        elif package.scos:
            # The first SCO, with no saved values: the reviewer starts where learners do.
            first = package.scos[0]
            sources[lesson.key] = sandbox.sco_url(
                prefix, first.href, first.query, package.version, {}
            )
    return sources


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
            decisions.reject(req.database, actor, version_id, _rejection(req))
        elif action == "retire":
            library.retire(req.database, hooks, actor, version_id)
        elif action == "make-live":
            library.make_live(req.database, hooks, actor, version_id)
        else:
            raise NotFound()
    except ValidationError as exc:
        return _review_page(req, exc.message, 400)
    return redirect(f"/admin/content/versions/{version_id}", notice="saved")


def _rejection(req: Req) -> decisions.Rejection:
    return decisions.Rejection(
        reason_code=req.field("reason_code", 60),
        note=req.field("reason", decisions.NOTE_LIMIT),
        lesson_key=req.field("lesson", 100),
        share_note=req.field("share") == "yes",
    )


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
    store = content_store(req.settings)
    response: Response
    if item["pack_sha256"] is not None:  # a small app file, in its package's pack
        data = sandbox_view.packed_file(store, item)
        if data is None:
            raise NotFound()
        response = Response(data, media_type=item["media_type"])
    else:
        path = store.path_for(item["sha256"])
        if not path.is_file():
            raise NotFound()
        response = FileResponse(path, media_type=item["media_type"])
    CSP.REVIEW_FILE.apply(response)
    return response


def _publishers_page(req: Req, error: str = "", status: int = 200) -> Response:
    publishers = trust.list_publishers(req.database, req.settings)
    runs = {p.id: sync_runs.recent_runs(req.database, p.id) for p in publishers}
    sources = {p.id: trust.sources(req.database, p) for p in publishers}
    fingerprints = {p.id: trust.publisher_fingerprint(req.database, p) for p in publishers}
    return req.render(
        "admin/publishers.html",
        {
            "publishers": publishers,
            "runs": runs,
            "sources": sources,
            "fingerprints": fingerprints,
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


_NEW_PUBLISHER_FIELDS = {
    "name": 60,
    "namespace": 100,
    "display_name": 100,
    "folder": 500,
    "mirror": 500,
    "auto_publish": 3,
}
# A root is at most MAX_ROOT_BYTES; base64 makes 4 characters of every 3 bytes.
_ROOT_FIELD = (trust.MAX_ROOT_BYTES + 2) // 3 * 4


def _confirm_page(req: Req, root: bytes, error: str = "", status: int = 200) -> Response:
    """Step two of trusting: the uploaded root's fingerprint, to compare before trusting."""
    fields = {name: req.field(name, limit) for name, limit in _NEW_PUBLISHER_FIELDS.items()}
    return req.render(
        "admin/publisher_confirm.html",
        {
            "fields": fields,
            "fingerprint": trust.fingerprint_of(root),
            "root_b64": base64.b64encode(root).decode("ascii"),
            "error": error,
        },
        status,
    )


@access(Role.ADMIN)
def publisher_add(req: Req) -> Response:
    """Step one of trusting: check the upload and show its fingerprint; nothing is saved."""
    upload = req.form.get("root")
    if not isinstance(upload, UploadFile):
        return _publishers_page(req, N_("Choose the publisher's root.json file."), 400)
    root = upload.file.read(trust.MAX_ROOT_BYTES + 1)
    try:
        trust.check_new_publisher(req.database, req.field("name", 60), req.field("namespace", 100))
        return _confirm_page(req, root)
    except ValidationError as exc:
        return _publishers_page(req, exc.message, 400)


@access(Role.ADMIN)
def publisher_confirm(req: Req) -> Response:
    """Step two: trust the root, only when the admin says its fingerprint matches."""
    try:
        root = base64.b64decode(req.field("root", _ROOT_FIELD), validate=True)
    except binascii.Error:
        raise BadRequest() from None
    actor = req.user.actor(req.client_address)
    try:
        if req.field("matches") != "yes":
            message = N_("Compare the fingerprint with the publisher, then tick the box.")
            return _confirm_page(req, root, message, 400)
        publisher = trust.add_publisher(
            req.database,
            actor,
            req.field("name", 60),
            req.field("namespace", 100),
            root,
            confirmed=req.field("fingerprint", 100),
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
