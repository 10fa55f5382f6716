"""Reference collections (ZIM files): learners and staff read and search them; admins keep
the list of blocked articles.

Who may open a collection is the course rule (`server.learning.bookshelf.collection_version`
over `server.learning.access`): a learner, the collections offered to them; staff (who
assign and review courses) every servable one, which is also what `/search` finds for
them. A collection or article a person may not see is a 404; blocked articles are blocked
for staff on these pages too (an admin sees them on the version's review pages).
Articles are sanitized on the server (`server.catalog.collections`) and shown under the
page's strict policy; pictures leave with their own media type, nosniff and the media
policy; nothing else of a ZIM (its CSS, its scripts) is ever sent.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from server.catalog import collections
from server.catalog.collections import CollectionInfo
from server.core.errors import BadRequest, NotFound
from server.learning import bookshelf
from server.people.accounts import Role
from server.web.headers import CSP
from server.web.plumbing import Req, access, redirect

# Who reads collections: learners (what is offered to them) and staff (every servable one).
READERS = (Role.LEARNER, Role.EDUCATOR, Role.ADMIN)


def _collection(req: Req) -> CollectionInfo:
    course_id = req.request.path_params["course_id"]
    version_id = bookshelf.collection_version(req.database, req.settings, req.user, course_id)
    info = collections.collection_info(req.database, version_id) if version_id else None
    if info is None:
        raise NotFound()
    return info


def _article_page(req: Req, info: CollectionInfo, path: str) -> Response:
    article = collections.article(req.database, req.settings, info, path)
    if article is None:
        raise NotFound()
    return req.render(
        "learn/collection.html",
        {
            "info": info,
            "article": article,
            "home": path == info.main_path,
            "q": "",
        },
    )


@access(*READERS)
def collection_home(req: Req) -> Response:
    info = _collection(req)
    return _article_page(req, info, info.main_path)


@access(*READERS)
def collection_entry(req: Req) -> Response:
    info = _collection(req)
    path = req.request.path_params["path"]
    found = collections.entry(req.database, req.settings, info, path)
    if found is None:
        raise NotFound()
    if found.is_article:
        return _article_page(req, info, path)
    return _picture(collections.picture(req.database, req.settings, info, path))


def _picture(picture: tuple[bytes, str] | None) -> Response:
    """A picture of a ZIM (raster, or an SVG that passed the check): its own media type,
    nosniff, and the media policy (a sandbox: nothing in it runs or loads)."""
    if picture is None:
        raise NotFound()
    data, media_type = picture
    response = Response(data, media_type=media_type)
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    CSP.MEDIA.apply(response)
    return response


@access(*READERS)
def collection_search(req: Req) -> Response:
    info = _collection(req)
    query = req.request.query_params.get("q", "")[:200]
    hits = collections.search(req.database, req.settings, info, query) if query.strip() else []
    return req.render(
        "learn/collection_search.html",
        {
            "info": info,
            "q": query,
            "hits": hits,
            "url": lambda hit: collections.article_url(info.course_id, hit.path),
        },
    )


@access(*READERS)
def collection_suggest(req: Req) -> Response:
    info = _collection(req)
    query = req.request.query_params.get("q", "")[:100]
    hits = collections.suggest(req.database, req.settings, info, query)
    return JSONResponse(
        {
            "suggestions": [
                {"title": hit.title, "url": collections.article_url(info.course_id, hit.path)}
                for hit in hits
            ]
        }
    )


# ---- Admins: a version's collection on its review page, and the blocked articles --


@access(Role.ADMIN)
def review_entry(req: Req) -> Response:
    """An article or picture of a version's collection for its reviewer, whatever the
    version's status and blocked list; cleaned exactly as for learners."""
    version_id = int(req.request.path_params["version_id"])
    info = collections.collection_info(req.database, version_id)
    if info is None:
        raise NotFound()
    path = req.request.path_params["path"]
    found = collections.entry(req.database, req.settings, info, path, reviewer=True)
    if found is None:
        raise NotFound()
    if found.is_article:
        article = collections.article(req.database, req.settings, info, path, reviewer=True)
        if article is None:
            raise NotFound()
        return req.render("admin/collection_article.html", {"info": info, "article": article})
    return _picture(collections.picture(req.database, req.settings, info, path, reviewer=True))


# ---- Admins: the blocked articles --------------------------------------------------


def _admin_collection(req: Req) -> CollectionInfo:
    """The newest version of the collection in the address, whatever its status."""
    course_id = req.request.path_params["course_id"]
    info = collections.newest_collection(req.database, course_id)
    if info is None:
        raise NotFound()
    return info


def _blocked_page(req: Req, info: CollectionInfo, error: str = "", status: int = 200) -> Response:
    return req.render(
        "admin/collection_blocks.html",
        {"info": info, "blocks": collections.blocks(req.database, info.course_id), "error": error},
        status,
    )


@access(Role.ADMIN)
def blocked_list(req: Req) -> Response:
    return _blocked_page(req, _admin_collection(req))


@access(Role.ADMIN)
def blocked_save(req: Req) -> Response:
    info = _admin_collection(req)
    actor = req.user.actor(req.client_address)
    remove = req.form_int("remove")
    try:
        if remove is not None:
            collections.remove_block(req.database, actor, info.course_id, remove)
        else:
            collections.add_block(
                req.database, actor, info.course_id, req.field("kind", 10), req.field("value", 600)
            )
    except BadRequest as exc:
        return _blocked_page(req, info, exc.message, 400)
    return redirect(f"/admin/content/collections/{info.course_id}/blocked", notice="saved")
