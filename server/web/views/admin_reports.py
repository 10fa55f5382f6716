"""NGO impact reports: preview exactly what leaves the facility, then download it
(CSV, JSON, or JSON signed with the facility's key)."""

from __future__ import annotations

import json

from starlette.responses import Response

from server.catalog import trust
from server.core.errors import NotFound
from server.people.accounts import Role
from server.teaching import impact
from server.web.plumbing import Req, access


@access(Role.ADMIN)
def impact_page(req: Req) -> Response:
    publishers = trust.publisher_names(req.database)
    chosen = req.request.query_params.get("publisher", "")
    excluded = _excluded(req)
    report = None
    preview = ""
    if chosen:
        report = impact.build(req.database, req.settings, chosen, excluded)
        preview = impact.to_json(report).decode("utf-8")
    return req.render(
        "admin/impact.html",
        {
            "publishers": publishers,
            "chosen": chosen,
            "report": report,
            "preview": preview,
            "excluded": excluded,
        },
    )


def _excluded(req: Req) -> bool:
    """Whether the report leaves lockdown days out of days to complete."""
    return req.request.query_params.get("exclude_disrupted", "") == "yes"


@access(Role.ADMIN)
def impact_download(req: Req) -> Response:
    name = req.request.query_params.get("publisher", "")
    kind = req.request.path_params["kind"]
    if kind not in ("csv", "json", "signed"):
        raise NotFound()
    report = impact.build(req.database, req.settings, name, _excluded(req))
    if kind == "csv":
        body, media_type, filename = impact.to_csv(report), "text/csv; charset=utf-8", "csv"
    elif kind == "json":
        body, media_type, filename = impact.to_json(report), "application/json", "json"
    else:
        data = impact.to_json(report)
        envelope = {
            "report": report,
            "signed_bytes": "the 'report' object as JSON with sorted keys, indent 2, UTF-8,"
            " plus a final newline",
            "signature": {
                "algorithm": "ed25519",
                "value": impact.sign(req.settings, data),
                "public_key": impact.public_key_pem(req.settings).decode("ascii"),
            },
        }
        body = json.dumps(envelope, indent=2, ensure_ascii=False).encode("utf-8")
        media_type, filename = "application/json", "signed.json"
    impact.record_export(
        req.database, req.user.actor(req.client_address), name, kind, len(report["rows"])
    )
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="impact-{name}.{filename}"'},
    )


@access(Role.ADMIN)
def facility_key(req: Req) -> Response:
    return Response(
        impact.public_key_pem(req.settings),
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="facility-report-key.pub.pem"'},
    )
