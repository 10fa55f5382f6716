"""Moving learners between facilities in the browser: the learner's "Pages to take with
me"; the admin's transfers page (this facility's card, trusted facilities, export a
learner's bundle, import one: upload, preview, confirm)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from server.core.errors import N_, BadRequest, ConfigError, Forbidden, HTTPError, ValidationError
from server.learning.access import Scope
from server.people.accounts import Role
from server.people.tokens import InvalidToken
from server.records import bundle, identity, transfer_in, transfer_out
from server.web.plumbing import Req, access, redirect

UPLOAD_DIR = "transfer-uploads"
_BUNDLE_NAME = "stepstone-transfer"


# --- the learner's choice ------------------------------------------------------------


@access(Role.LEARNER)
def take_with_me(req: Req) -> Response:
    """The learner's workbook pages, each with a box: ticked ones go with them."""
    pages = transfer_out.page_choices(req.database, req.user.id)
    return req.render("learn/take_with_me.html", {"pages": pages})


@access(Role.LEARNER)
def take_with_me_save(req: Req) -> Response:
    chosen = []
    for raw in req.form.getlist("page"):
        if not isinstance(raw, str) or not raw.isdigit() or len(raw) > 18:
            raise BadRequest()
        chosen.append(int(raw))
    try:
        transfer_out.choose_pages(req.database, req.user, chosen)
    except ValidationError as exc:
        raise BadRequest(exc.message) from None
    return redirect("/learn/take-with-me", notice="saved")


# --- the admin's page ----------------------------------------------------------------


def _page(req: Req, error: str = "", status: int = 200) -> Response:
    try:
        card: dict[str, Any] | None = identity.own_card(req.settings)
    except ConfigError as exc:  # the key is lost: the page says so, the rest still works
        card, error, status = None, error or str(exc), status if error else 503
    return req.render(
        "admin/transfers.html",
        {
            "card": card,
            "fingerprint": identity.card_fingerprint(card) if card else "",
            "trusted": identity.list_trusted(req.database),
            "error": error,
        },
        status,
    )


@access(Role.ADMIN)
def transfers_page(req: Req) -> Response:
    return _page(req)


@access(Role.ADMIN)
def own_card(req: Req) -> Response:
    """This facility's card, to give to other facilities."""
    card = identity.own_card(req.settings)
    body = json.dumps(card, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{card["facility_id"]}.card.json"'},
    )


@access(Role.ADMIN)
def trust_add(req: Req) -> Response:
    upload = req.form.get("card")
    if not isinstance(upload, UploadFile):
        return _page(req, N_("Choose the facility's card file."), 400)
    data = upload.file.read(identity.MAX_CARD_BYTES + 1)
    try:
        card = identity.parse_card(data)
        identity.trust_card(
            req.database, card, req.field("fingerprint", 200), req.user.actor(req.client_address)
        )
    except (ValidationError, identity.IdentityError) as exc:
        return _page(req, exc.message, 400)
    return redirect("/admin/transfers", notice="saved")


@access(Role.ADMIN)
def trust_remove(req: Req) -> Response:
    try:
        identity.remove_trusted(
            req.database, req.field("facility_id", 64), req.user.actor(req.client_address)
        )
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    return redirect("/admin/transfers", notice="saved")


@access(Role.ADMIN)
def export(req: Req) -> Response:
    """Sign a learner's bundle and hand it over as a download."""
    try:
        learner = transfer_out.find_learner(req.database, req.field("learner", 64))
        exported = transfer_out.export_learner(
            req.database, req.settings, req.user.actor(req.client_address), learner
        )
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    except ConfigError as exc:
        return _page(req, str(exc), 503)
    return _download(exported)


@access(Role.EDUCATOR, Role.ADMIN)
def learner_export(req: Req) -> Response:
    """The transfer bundle of a learner, from their page: admins, and educators (for a
    learner in their groups) where the facility allows it."""
    if req.user.role is Role.EDUCATOR and not req.settings.transfer_by_educators:
        raise Forbidden(N_("Only an admin can export a learner's record here."))
    learner = Scope.of(req.user).learner(req.database, int(req.request.path_params["user_id"]))
    try:
        exported = transfer_out.export_learner(
            req.database, req.settings, req.user.actor(req.client_address), learner
        )
    except ConfigError as exc:
        raise CannotSign(str(exc)) from None
    return _download(exported)


class CannotSign(HTTPError):
    """The facility key is missing: nothing can be signed until it is replaced."""

    status = 503


def _download(exported: transfer_out.Exported) -> Response:
    return Response(
        exported.data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{exported.file_name}"',
            "Cache-Control": "no-store",
        },
    )


def _upload_dir(req: Req) -> Path:
    path = req.settings.data_dir / UPLOAD_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _choice(req: Req) -> tuple[str | None, str | None]:
    """The account the admin chose: an existing learner's id, or a new one."""
    how = req.field("account", 10)
    login = req.field("login", 64).strip()
    if how in {"match", "new"} and not login:
        raise ValidationError(N_("Type the learner's id here."), "login")
    return (login, None) if how == "match" else (None, login) if how == "new" else (None, None)


def _preview(req: Req, data: bytes, token: str, error: str = "", status: int = 200) -> Response:
    try:
        match, new = _choice(req)
        shown = transfer_in.preview(req.database, data, match=match, new=new)
    except ValidationError as exc:
        error, status = error or exc.message, 400
        try:
            shown = transfer_in.preview(req.database, data)
        except ValidationError as again:  # refused now (a newer bundle came in meanwhile)
            return _page(req, again.message, 400)
    return req.render(
        "admin/transfer_preview.html",
        {"preview": shown, "token": token, "error": error, "login": req.field("login", 64)},
        status,
    )


@access(Role.ADMIN)
def check(req: Req) -> Response:
    """Upload: keep the file aside under a random name and show what it would add."""
    upload = req.form.get("file")
    if not isinstance(upload, UploadFile):
        return _page(req, N_("Choose the transfer file."), 400)
    data = upload.file.read(bundle.MAX_BYTES + 1)
    try:
        transfer_in.preview(req.database, data)
    except ValidationError as exc:
        return _page(req, exc.message, 400)
    name = secrets.token_hex(16)
    fd = os.open(_upload_dir(req) / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return _preview(req, data, req.services.tokens.one_time.dumps({_BUNDLE_NAME: name}))


def _held_file(req: Req) -> Path | None:
    try:
        payload = req.services.tokens.one_time.loads(req.field("token", 500))
        name = str(payload[_BUNDLE_NAME])
    except (InvalidToken, KeyError, TypeError):
        return None
    path = _upload_dir(req) / name
    return path if len(name) == 32 and path.is_file() else None


@access(Role.ADMIN)
def confirm(req: Req) -> Response:
    """Import the checked file into the account chosen on the preview."""
    path = _held_file(req)
    if path is None:
        return _page(req, N_("This check is too old. Please upload the file again."), 400)
    data = bundle.read_file(path)
    try:
        match, new = _choice(req)
        done = transfer_in.import_bundle(
            req.database, req.user.actor(req.client_address), data, match=match, new=new
        )
    except ValidationError as exc:
        return _preview(req, data, req.field("token", 500), exc.message, 400)
    path.unlink(missing_ok=True)
    return req.render("admin/transfer_done.html", {"done": done})
