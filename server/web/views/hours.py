"""What a learner's page asks the server: are tablets still open for me, until when.

The page polls this (``static/js/app.js``) so a lockdown or a changed schedule reaches a
tablet that is just showing a lesson: it saves the learner's work and leaves. Asking
does not count as activity for the idle sign-out.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from server.people.accounts import Role
from server.web.plumbing import Req, access


@access(Role.LEARNER, while_closing=True, touch=False, inline=True)
def status(req: Req) -> Response:
    """GET /api/access → {"open": bool, "reason": "", "closes_in": seconds or null,
    "closes_at": "14:00"}."""
    verdict = req.access
    open_now = verdict is None or verdict.open
    return JSONResponse(
        {
            "open": open_now,
            "reason": "" if verdict is None else verdict.reason,
            "closes_in": req.closes_in if open_now else 0,
            "closes_at": req.closes_at(),
        },
        headers={"Cache-Control": "no-store"},
    )
