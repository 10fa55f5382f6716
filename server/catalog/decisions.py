"""Review decisions that teach: why a course version was refused, in words others can use.

A rejection names a reason from the facility's own list (editable; sensible defaults), the
lesson at fault if there is one, and free text. The decisions can be exported (CSV or
JSON) so another facility of the same department can review the same package knowing what
was found, and a de-identified summary goes to the publisher inside its impact report: the
package, version, lesson and reason category — the free text only where the admin ticked
"share with publisher", and never a staff name.

A decision keeps a copy of its reason's label: renaming or removing a reason later must not
rewrite why something was refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from server.catalog.library import get_version
from server.core import clock, csvfiles
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.audit import Actor

# The list as the migration ships it (codes are the same in every facility); marked here so
# the labels are translated on the review page.
DEFAULT_REASONS = (
    ("contact-information", N_("Contact information")),
    ("security-concern", N_("Security concern")),
    ("not-suitable", N_("Not suitable for this facility")),
    ("broken", N_("Broken or incomplete")),
    ("outside-links", N_("Outside links")),
    ("other", N_("Other")),
)
NOTE_LIMIT = 1000
LABEL_LIMIT = 80
_CODE_RE = re.compile(r"[^a-z0-9]+")

EXPORT_COLUMNS = (
    "publisher",
    "course_id",
    "version",
    "package_sha256",
    "title",
    "decision",
    "decided_on",
    "reason_code",
    "reason",
    "lesson_key",
    "lesson",
    "note",
)


@dataclass(frozen=True)
class Reason:
    code: str
    label: str


@dataclass(frozen=True)
class Rejection:
    """What the admin said when refusing a version."""

    reason_code: str
    note: str = ""
    lesson_key: str = ""
    share_note: bool = False


def reasons(database: Database) -> list[Reason]:
    """The facility's reasons for refusing content, in the order the form shows them."""
    rows = database.query(
        "SELECT code, label FROM reject_reasons WHERE retired_at IS NULL ORDER BY position, code"
    )
    return [Reason(r["code"], r["label"]) for r in rows]


def add_reason(database: Database, actor: Actor, label: str) -> Reason:
    """Add a reason to the list (shown before "Other")."""
    label = " ".join(label.split())
    if not 2 <= len(label) <= LABEL_LIMIT:
        raise ValidationError(N_("A reason is 2 to 80 characters."))
    code = _CODE_RE.sub("-", label.lower()).strip("-")[:40] or "reason"
    with database.write() as db:
        clash = db.execute(
            "SELECT retired_at FROM reject_reasons WHERE code = ? OR lower(label) = lower(?)",
            [code, label],
        ).fetchone()
        if clash is not None and clash[0] is None:
            raise ValidationError(N_("That reason is already on the list."))
        if clash is not None:  # a removed reason comes back, under its old code
            db.execute(
                "UPDATE reject_reasons SET retired_at = NULL, label = ? WHERE code = ?",
                [label, code],
            )
        else:
            position = db.execute(
                "SELECT coalesce(max(position), 0) FROM reject_reasons WHERE code != 'other'"
            ).fetchone()[0]
            db.execute(
                "INSERT INTO reject_reasons (code, label, position) VALUES (?, ?, ?)",
                [code, label, position + 1],
            )
        audit.record(db, actor, "review.reason-add", f"reason:{code}", label=label)
    return Reason(code, label)


def remove_reason(database: Database, actor: Actor, code: str) -> None:
    """Take a reason off the list; decisions that used it keep their copy of its label."""
    with database.write() as db:
        found = db.execute(
            "SELECT label FROM reject_reasons WHERE code = ? AND retired_at IS NULL", [code]
        ).fetchone()
        if found is None:
            raise NotFound()
        if code == "other":
            raise ValidationError(N_('Keep "Other": some problems fit no other reason.'))
        db.execute("UPDATE reject_reasons SET retired_at = ? WHERE code = ?", [clock.iso(), code])
        audit.record(db, actor, "review.reason-remove", f"reason:{code}", label=found[0])


def reject(database: Database, actor: Actor, version_id: int, rejection: Rejection) -> None:
    """Refuse a pending version, with its reason, lesson and note; audited."""
    info = get_version(database, version_id)
    note = rejection.note.strip()[:NOTE_LIMIT]
    if info.status != "pending":
        raise ValidationError(N_("Only a version waiting for review can be rejected."))
    reason = next((r for r in reasons(database) if r.code == rejection.reason_code), None)
    if reason is None:
        raise ValidationError(N_("Choose a reason for rejecting it."))
    if reason.code == "other" and not note:
        raise ValidationError(N_("Write why you reject it. The publisher will want to know."))
    lesson = ""
    if rejection.lesson_key:
        found = database.query_one(
            "SELECT title FROM lessons WHERE version_id = ? AND key = ?",
            [version_id, rejection.lesson_key],
        )
        if found is None:
            raise ValidationError(N_("That lesson is not part of this version."))
        lesson = found[0]
    with database.write() as db:
        db.execute(
            "UPDATE course_versions SET status = 'rejected', reviewed_at = ?, reviewed_by = ?,"
            " review_reason = ? WHERE id = ?",
            [
                clock.iso(),
                actor.label,
                f"{reason.label}: {note}" if note else reason.label,
                info.id,
            ],
        )
        db.execute(
            "INSERT INTO review_decisions (version_id, reason_code, reason, lesson_key, lesson,"
            " note, share_note) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                info.id,
                reason.code,
                reason.label,
                rejection.lesson_key,
                lesson,
                note,
                int(rejection.share_note),
            ],
        )
        audit.record(
            db,
            actor,
            "content.reject",
            f"{info.course_id} v{info.version}",
            reason=reason.code,
            lesson=rejection.lesson_key,
            note=note,
            share_with_publisher=rejection.share_note,
        )


# ---- What leaves the facility ---------------------------------------------------------

_DECISIONS_SQL = """
SELECT p.name AS publisher, c.course_id, v.version, v.package_sha256, v.title,
       CASE v.status WHEN 'rejected' THEN 'rejected' ELSE 'approved' END AS decision,
       substr(v.reviewed_at, 1, 10) AS decided_on,
       coalesce(d.reason_code, '') AS reason_code, coalesce(d.reason, '') AS reason,
       coalesce(d.lesson_key, '') AS lesson_key, coalesce(d.lesson, '') AS lesson,
       coalesce(d.note, CASE WHEN v.status = 'rejected' THEN v.review_reason ELSE '' END)
           AS note
FROM course_versions v
JOIN courses c ON c.id = v.course_pk
JOIN publishers p ON p.id = c.publisher_id
LEFT JOIN review_decisions d ON d.version_id = v.id
-- reviewed_at is set only by a decision; auto-published versions were never judged here.
WHERE v.reviewed_at IS NOT NULL AND v.reviewed_by != 'auto-publish'
ORDER BY p.name, c.course_id, v.version
"""


def decisions(database: Database) -> list[dict[str, Any]]:
    """Every decision a person made here: approvals and rejections with their reasons.

    For another facility of the department: the package hash says exactly which package
    was judged. Staff names stay out (the audit log keeps who decided).
    """
    rows = database.query(_DECISIONS_SQL)
    return [{column: row[column] for column in EXPORT_COLUMNS} for row in rows]


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark (so a spreadsheet reads accents), formula-safe cells."""
    return b"\xef\xbb\xbf" + csvfiles.records_to_text(rows, EXPORT_COLUMNS).encode("utf-8")


def to_json(rows: list[dict[str, Any]], facility: str) -> bytes:
    document = {"format": "stepstone-review-decisions/1", "facility": facility, "decisions": rows}
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def record_export(database: Database, actor: Actor, kind: str, rows: int) -> None:
    """Audit one export of the decisions: who took what out."""
    with database.write() as db:
        audit.record(db, actor, "export.decisions", "review-decisions", format=kind, rows=rows)


def publisher_summary(database: Database, publisher_name: str) -> list[dict[str, Any]]:
    """What this facility refused of one publisher's courses, and why, for the NGO.

    Package, version, lesson and reason category; the admin's note only where they chose
    to share it. No staff name, no date finer than the month.
    """
    rows = database.query(
        "SELECT c.course_id, v.version, v.package_sha256, v.title,"
        " substr(v.reviewed_at, 1, 7) AS month, d.reason_code, d.reason, d.lesson_key,"
        " d.lesson, CASE WHEN d.share_note THEN d.note ELSE '' END AS note"
        " FROM review_decisions d JOIN course_versions v ON v.id = d.version_id"
        " JOIN courses c ON c.id = v.course_pk JOIN publishers p ON p.id = c.publisher_id"
        " WHERE p.name = ? AND v.status = 'rejected' ORDER BY c.course_id, v.version",
        [publisher_name],
    )
    return [dict(row) for row in rows]
