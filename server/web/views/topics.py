"""Topic requests: a learner asks for a course on a listed topic or in their own words;
staff approve (under a local label) or drop what learners wrote. Their own words never
leave the facility; see `server.learning.topic_requests`."""

from __future__ import annotations

from starlette.responses import Response

from server.core.errors import BadRequest, ValidationError
from server.learning import topic_requests
from server.learning.access import Scope
from server.people.accounts import Role
from server.web.plumbing import Req, access, redirect

STAFF = (Role.EDUCATOR, Role.ADMIN)


def _learner_page(req: Req, error: str = "", status: int = 200) -> Response:
    return req.render(
        "learn/requests.html",
        {
            "topics": topic_requests.listed_topics(req.database, req.settings, req.user),
            "asked": topic_requests.requested_by(req.database, req.user.id),
            "waiting": topic_requests.waiting_count(req.database, req.user.id),
            "error": error,
            "entered": req.field("text", 300),
        },
        status,
    )


@access(Role.LEARNER)
def learner_requests(req: Req) -> Response:
    return _learner_page(req)


@access(Role.LEARNER)
def learner_request(req: Req) -> Response:
    try:
        if req.field("topic", 300):
            topic_requests.request_topic(
                req.database, req.settings, req.user, req.field("topic", 300)
            )
        else:
            topic_requests.suggest(req.database, req.user, req.field("text", 300))
    except ValidationError as exc:
        return _learner_page(req, exc.message, 400)
    return redirect("/learn/requests", notice="requested")


@access(*STAFF)
def moderation_page(req: Req) -> Response:
    scope = Scope.of(req.user)
    return req.render(
        "teach/requests.html",
        {
            "waiting": topic_requests.waiting_suggestions(
                req.database, scope, req.user.actor(req.client_address)
            ),
            "local": topic_requests.local_counts(req.database, scope),
            "listed": topic_requests.listed_counts(req.database, scope),
        },
    )


@access(*STAFF)
def decide(req: Req) -> Response:
    try:
        topic_requests.decide(
            req.database,
            Scope.of(req.user),
            req.user.actor(req.client_address),
            int(req.request.path_params["suggestion_id"]),
            req.field("action", 10),
            req.field("label", 200),
        )
    except ValidationError as exc:
        raise BadRequest(exc.message) from None
    return redirect("/teach/requests", notice="saved")
