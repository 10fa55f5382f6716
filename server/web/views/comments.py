"""Comments on a writing task's attempt, from the form on the learner's lesson page, the
learner's plan page or the educator's grading page: one way to read the form and post."""

from __future__ import annotations

from server.learning import written
from server.web.plumbing import Req


def post(req: Req, attempt_id: int) -> None:
    """The form's comment on the attempt, by whoever is signed in (`written.comment`
    checks who may write there and raises `ValidationError` for what is wrong)."""
    written.comment(
        req.database,
        req.settings,
        req.user,
        attempt_id,
        req.field("comment", written.MAX_COMMENT + 1),
        req.client_address,
    )
