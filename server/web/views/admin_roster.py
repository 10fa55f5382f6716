"""Roster import in the browser: upload, see the dry run, then import for real."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.responses import Response

from server.core.errors import N_, ValidationError
from server.core.settings import SUPPORTED_LANGUAGES
from server.people import roster
from server.people.accounts import Role
from server.people.tokens import InvalidToken
from server.web import i18n
from server.web.plumbing import Req, access

UPLOAD_DIR = "roster-uploads"
# What each learner's PIN slip says, in the learner's language (not the admin's): the
# slip is cut out and handed to them.
SLIP_TEXT = {
    "title": N_("Your first sign-in"),
    "id": N_("Your ID number"),
    "pin": N_("Your one-time PIN"),
    "step_open": N_("On a tablet, open the Sign in page."),
    "step_type": N_("Type your ID number and this PIN, then tap Sign in."),
    "step_choose": N_(
        "Choose your own PIN: 4 to 8 numbers, not easy to guess like 1234. Keep it secret."
    ),
    "once": N_("This PIN works only once. Then throw this paper away."),
}


def slip_text(language: str) -> dict[str, str]:
    translations = i18n.translations(language)
    return {key: translations.gettext(message) for key, message in SLIP_TEXT.items()}


def _upload_dir(req: Req) -> Path:
    path = req.settings.data_dir / UPLOAD_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@access(Role.ADMIN)
def roster_form(req: Req) -> Response:
    return req.render("admin/roster.html", {"plan": None, "error": "", "token": ""})


@access(Role.ADMIN)
def roster_check(req: Req) -> Response:
    """The dry run: keep the file aside under a random name and show what would happen."""
    upload = req.form.get("file")
    if not isinstance(upload, UploadFile):
        return req.render(
            "admin/roster.html", {"plan": None, "error": N_("Choose a CSV file."), "token": ""}, 400
        )
    data = upload.file.read(roster.MAX_BYTES + 1)
    try:
        plan = roster.plan_roster(req.database, data)
    except ValidationError as exc:
        return req.render(
            "admin/roster.html", {"plan": None, "error": exc.message, "token": ""}, 400
        )
    token = ""
    if plan.ok:
        name = secrets.token_hex(16)
        path = _upload_dir(req) / f"{name}.csv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        token = req.services.tokens.one_time.dumps({"roster": name})
    return req.render("admin/roster.html", {"plan": plan, "error": "", "token": token})


def _chosen_kinds(req: Req) -> dict[str, str]:
    """The kind the admin chose for each new group: the preview posts each new group's
    name (`new_group`) and its kind (`group_kind`) in the same order."""
    names = [n for n in req.form.getlist("new_group") if isinstance(n, str)]
    kinds = [k for k in req.form.getlist("group_kind") if isinstance(k, str)]
    if len(names) != len(kinds):
        raise ValidationError(N_("Choose a kind for each new group."))
    return dict(zip(names, kinds, strict=True))


@access(Role.ADMIN)
def roster_import(req: Req) -> Response:
    try:
        payload = req.services.tokens.one_time.loads(req.field("token", 500))
        name = str(payload["roster"])
    except (InvalidToken, KeyError, TypeError):
        return req.render(
            "admin/roster.html",
            {
                "plan": None,
                "token": "",
                "error": N_("This check is too old. Please upload the file again."),
            },
            400,
        )
    path = _upload_dir(req) / f"{name}.csv"
    claimed = path.with_suffix(".importing")
    try:
        # Renaming claims the file, so a double click cannot import it twice.
        path.rename(claimed)
    except FileNotFoundError:
        return req.render(
            "admin/roster.html",
            {
                "plan": None,
                "token": "",
                "error": N_("This roster was already imported."),
            },
            400,
        )
    data = claimed.read_bytes()
    try:
        plan = roster.apply_roster(
            req.database, req.user.actor(req.client_address), data, _chosen_kinds(req)
        )
    except ValidationError as exc:
        claimed.unlink()
        return req.render(
            "admin/roster.html", {"plan": None, "error": exc.message, "token": ""}, 400
        )
    claimed.unlink()
    slips = {language: slip_text(language) for language in SUPPORTED_LANGUAGES}
    return req.render("admin/roster_done.html", {"plan": plan, "slips": slips})
