"""The admin page that says who a course is offered to: all learners, chosen groups only,
or all but chosen groups (`server.learning.offers`)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from server.catalog import content_review
from server.core.errors import NotFound, ValidationError
from server.learning import offers
from server.people.accounts import Role
from server.web.plumbing import Req, access, parse_number, redirect


def _course(req: Req) -> dict[str, Any]:
    """The newest version of the course in the address (any status: an admin may set the
    offer before approving a course)."""
    course_id = req.request.path_params["course_id"]
    for version in content_review.versions(req.database):
        if version["course_id"] == course_id:
            return version
    raise NotFound()


def _page(req: Req, offer: offers.Offer, error: str = "", status: int = 200) -> Response:
    return req.render(
        "admin/offer.html",
        {
            "course": _course(req),
            "offer": offer,
            "groups": offers.group_names(req.database),
            "error": error,
        },
        status,
    )


@access(Role.ADMIN)
def offer_page(req: Req) -> Response:
    course = _course(req)
    return _page(req, offers.offer_of(req.database, "course", course["course_id"]))


@access(Role.ADMIN)
def offer_save(req: Req) -> Response:
    course = _course(req)
    mode = req.field("mode", 20)
    chosen = frozenset(
        parse_number(value) for value in req.form.getlist("group") if isinstance(value, str)
    )
    # Groups ticked under "all learners" were left from an earlier choice: not a mistake.
    offer = offers.Offer(
        "course", course["course_id"], mode, chosen if mode != offers.EVERYONE else frozenset()
    )
    try:
        offers.set_offer(req.database, req.user.actor(req.client_address), offer)
    except ValidationError as exc:
        return _page(req, offer, exc.message, 400)
    return redirect("/admin/content", notice="saved")
