"""The admin page of the facility's watch list: words and phrases flagged in packages."""

from __future__ import annotations

from starlette.responses import Response

from server.catalog import watchlist
from server.core.errors import ValidationError
from server.people.accounts import Role
from server.web.plumbing import Req, access, redirect


def _page(req: Req, error: str = "", status: int = 200) -> Response:
    return req.render(
        "admin/watch_list.html",
        {"words": watchlist.words(req.database), "error": error, "form": req.form},
        status,
    )


@access(Role.ADMIN)
def watch_list(req: Req) -> Response:
    return _page(req)


@access(Role.ADMIN)
def watch_word_add(req: Req) -> Response:
    try:
        watchlist.add(
            req.database,
            req.user.actor(req.client_address),
            req.field("phrase", watchlist.MAX_PHRASE_CHARS * 4),
        )
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    return redirect("/admin/content/watch-list", notice="saved")


@access(Role.ADMIN)
def watch_word_remove(req: Req) -> Response:
    word_id = int(req.request.path_params["word_id"])
    watchlist.remove_by_id(req.database, req.user.actor(req.client_address), word_id)
    return redirect("/admin/content/watch-list", notice="saved")
