"""The search page, for everyone signed in. Visibility is decided here, per person,
before the engine sees the query (`server.learning.access.search_versions`): a learner's
hits come only from the course versions they may open; educators search every live course;
admins also see versions waiting for review, clearly marked. Hits in reference collections
(ZIM) follow below the course hits, under their own heading, by the same rule."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from server.catalog import collections
from server.catalog.search_misses import record_miss
from server.learning import bookshelf
from server.learning.access import search_versions
from server.people.accounts import Role
from server.web.lessonpage import lesson_url
from server.web.plumbing import MAX_PAGE, SIGNED_IN, Req, access

FACETS = ("category", "course", "language")


@access(SIGNED_IN)
def search_page(req: Req) -> Response:
    params = req.request.query_params
    query = params.get("q", "")[:500]
    facets = {name: params.get(name, "")[:200] for name in FACETS if params.get(name)}
    page = req.query_int("page", 1, MAX_PAGE)
    user = req.user
    visible = search_versions(req.database, req.settings, user)
    service = req.services.search
    results = None
    if service is not None and query.strip():
        results = service.search(
            query, language=req.language, visible_versions=visible, facets=facets, page=page
        )
        if results.ok and results.total and not results.hits and results.page > results.pages:
            # A page past the end (an old link, an edited address, fewer results since):
            # show the last page, whose Back link works, rather than an empty page.
            results = service.search(
                query,
                language=req.language,
                visible_versions=visible,
                facets=facets,
                page=results.pages,
            )
    if (
        results is not None
        and results.ok
        and not results.total
        and not results.cut_short
        and not facets
        and user.role is Role.LEARNER
    ):
        # What the library lacks, for the NGOs (only words many learners looked for leave).
        record_miss(req.database, user.id, query)
    return req.render(
        "search.html",
        {
            "collection_hits": _collection_hits(req, query) if not facets else [],
            "q": query,
            "results": results,
            "facets": facets,
            "link": _linker(user.role),
            "url": _url_maker(results.query if results else query, facets),
        },
    )


def _collection_hits(req: Req, query: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Hits in the reference collections this person may open, each collection's own
    (title, address) list, under their own heading; blocked articles are never among them.
    The course rule decides which collections: a learner's offered ones; staff every
    servable (approved, live) one, as for courses. A collection waiting for review is
    not searched here: an admin reads it on the version's review page."""
    if not query.strip():
        return []
    found = []
    for shelved in bookshelf.collections_for(req.database, req.settings, req.user):
        info = collections.collection_info(req.database, shelved.course.version_id)
        if info is None:
            continue
        hits = collections.search(req.database, req.settings, info, query, limit=5)
        if hits:
            urls = [(h.title, collections.article_url(info.course_id, h.path)) for h in hits]
            found.append((shelved.course.title, urls))
    return found


def _url_maker(query: str, facets: dict[str, str]):  # type: ignore[no-untyped-def]
    """`url(course=None, page=2)`: this search with some parameters changed or dropped."""

    def url(**changes: str | int | None) -> str:
        params: dict[str, str | int | None] = {"q": query, **facets, **changes}
        return "/search?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})

    return url


def _linker(role: Role):  # type: ignore[no-untyped-def]
    """Where a hit opens: the lesson (learners), the course dashboard (educators), the
    review page of that version (admins)."""

    def link(hit) -> str:  # type: ignore[no-untyped-def]
        anchor = f"#{hit.anchor}" if hit.anchor else ""
        if role is Role.LEARNER:
            return lesson_url(hit.course_id, hit.lesson_key) + anchor
        if role is Role.ADMIN:
            return f"/admin/content/versions/{hit.version_id}#lesson-{hit.lesson_key}"
        return f"/teach/courses/{hit.course_id}"

    return link
