"""Receiving a learner from another facility: check a transfer bundle, preview it, merge it.

Checks, all before anything is written (and again inside the import's transaction): the
file's size and shape (``bundle``), the sender's signature against its trusted card
(``identity``: unknown, revoked, tampered), the bundle's expiry, and that no newer bundle
of the same learner from the same facility was merged already.

Merge rules (the receiver's own data is never lost or overwritten):

- **Account**: an existing learner chosen by id (``match``), or a new account (``new``,
  with the profile's name and language). A later bundle of the same learner finds the
  account the earlier one went to. An existing account keeps its name and language.
- **Both histories stay**: the sender's record as received (all but the workbook pages)
  is kept with the import's row in ``transfers``, beside what was merged.
- **Courses this facility holds in the same version**: lesson states are merged lesson
  by lesson (done if done at either; the longer time, the best score, the earliest start
  and completion); quiz attempts are added unless one started at the same moment is
  there already. The course is listed as the learner's.
- **Course versions this facility does not hold**: one "from elsewhere" record (completed
  there when it carries a certificate), with the sender, dates, time, score and the
  course's whole record kept as evidence. A certificate is always kept this way too:
  it was issued by the other facility and stays theirs.
- **Assignments** of courses learners can open here are added unless the learner has
  one for the same course already (with its own due date); others are listed as not added.
- **Plan goals** are added unless the same goal (category and title) is there.
- **Workbook pages** the learner chose are kept as pages they brought, each answer with
  its privacy: private answers stay readable by the learner alone.
- **Records the sender had from other facilities** are kept as those facilities'
  records (noting who passed them on), unless one is here already; this facility's own
  records coming back are not taken (it has the originals).
- **Sections this version does not understand** are listed in the preview and kept with
  the import's record, never silently dropped.

Importing the same bundle twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from server.core import clock
from server.core.db import Database
from server.core.errors import N_, ValidationError
from server.people import accounts, audit
from server.people.accounts import Role, User
from server.people.audit import Actor
from server.records import bundle, identity
from server.records.bundle import BundleRefused
from server.records.merge import held_version, merge_in


@dataclass
class CourseLine:
    """What happens to one course of the bundle."""

    course_id: str
    title: str
    version: int
    held: bool  # this facility has that version: merged into the learner's progress
    lessons_done: int
    lessons: int
    certificate: str | None


@dataclass
class Preview:
    """What an import would add, for a person to confirm."""

    bundle_id: str
    sender: identity.VerifiedSender
    sender_learner_id: str
    sequence: int
    issued_at: str
    expires_at: str
    name: str
    language: str
    account: User | None  # the account it merges into (None: a new one)
    new_login: str | None
    already_imported: bool
    courses: list[CourseLine] = field(default_factory=list)
    assignments_added: list[str] = field(default_factory=list)
    assignments_not_added: list[str] = field(default_factory=list)
    goals_added: list[str] = field(default_factory=list)
    pages: int = 0
    private_pages: int = 0
    passed_on: list[str] = field(default_factory=list)  # records from third facilities
    not_understood: list[str] = field(default_factory=list)

    @property
    def needs_account(self) -> bool:
        """No account is chosen yet: the import needs ``match`` or ``new``."""
        return self.account is None and self.new_login is None

    @property
    def completed_elsewhere(self) -> list[CourseLine]:
        return [line for line in self.courses if not line.held or line.certificate]


@dataclass(frozen=True)
class Imported:
    """The outcome of an import."""

    preview: Preview
    user: User
    one_time_pin: str | None  # a new account's first PIN, shown once


# --- reading and checking ------------------------------------------------------------


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def checked(
    db: sqlite_utils.Database, data: bytes
) -> tuple[dict[str, Any], identity.VerifiedSender]:
    """The bundle in ``data`` and its sender, or a refusal naming the problem."""
    document = bundle.parse(data)
    try:
        sender = identity.verify_document(db, document)
    except identity.IdentityError as exc:
        raise BundleRefused(exc.message) from None
    if sender.facility_id != document["sender"]["facility_id"]:
        raise BundleRefused("The bundle names another sender than the facility that signed it.")
    try:
        expires = _moment(document["expires_at"])
        issued = _moment(document["issued_at"])
    except (TypeError, ValueError):
        raise BundleRefused("The bundle's dates are not dates.") from None
    if expires.tzinfo is None or issued.tzinfo is None or expires <= issued:
        raise BundleRefused("The bundle's dates are not valid.")
    if _moment(clock.iso()) > expires:
        raise BundleRefused(
            f"The bundle expired on {document['expires_at'][:10]}. Ask {sender.name} for a new one."
        )
    if sender.own:
        raise BundleRefused("This bundle was made here: it is imported at the other facility.")
    return document, sender


def _previous(db: sqlite_utils.Database, document: dict[str, Any]) -> Any:
    """The newest earlier import of the same learner from the same facility."""
    return db.execute(
        "SELECT * FROM transfers WHERE sender_facility_id = ? AND sender_learner_id = ?"
        " ORDER BY sequence DESC LIMIT 1",
        [document["sender"]["facility_id"], document["learner"]["sender_id"]],
    ).fetchone()


def _refuse_older(db: sqlite_utils.Database, document: dict[str, Any]) -> bool:
    """Whether this very bundle was imported already; refuses one older than the last."""
    if db.execute(
        "SELECT 1 FROM transfers WHERE bundle_id = ?", [document["bundle_id"]]
    ).fetchone():
        return True
    last = _previous(db, document)
    if last is not None and last["sequence"] >= document["learner"]["sequence"]:
        raise BundleRefused(
            f"A bundle of this learner at least as new (number {last['sequence']}, imported on"
            f" {last['imported_at'][:10]}) was already merged; this one (number"
            f" {int(document['learner']['sequence'])}) is older and is refused."
        )
    return False


def _account(
    db: sqlite_utils.Database, document: dict[str, Any], match: str | None, new: str | None
) -> User | None:
    """The account the bundle goes to; None when a new one is to be made."""
    if match and new:
        raise ValidationError(N_("Choose either an existing account or a new one, not both."))
    if new:
        login = accounts.validate_login(Role.LEARNER, new)
        if accounts.login_taken(db, Role.LEARNER, login):
            raise ValidationError(f"The id {login!r} is already used by another account.", "new")
        return None
    if match:
        found = accounts.find_user_in(db, Role.LEARNER, match)
        if found is None:
            raise ValidationError(f"No learner with the id {match!r} here.", "match")
        return found[0]
    previous = _previous(db, document)
    if previous is not None:
        return accounts.get_user_in(db, previous["user_id"])
    raise ValidationError(
        N_("Choose the learner's account here: an existing one, or a new one with a new id."),
        "match",
    )


# --- the plan --------------------------------------------------------------------------


def _offered(db: sqlite_utils.Database, course_id: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM courses c JOIN course_versions v ON v.id = c.live_version_id"
            " WHERE c.course_id = ? AND v.status = 'approved' AND c.pulled_at IS NULL",
            [course_id],
        ).fetchone()
    )


def _plan(
    db: sqlite_utils.Database,
    document: dict[str, Any],
    sender: identity.VerifiedSender,
    account: User | None,
    new_login: str | None,
    already: bool,
) -> Preview:
    sections = document["sections"]
    profile = sections["profile.v1"]
    preview = Preview(
        bundle_id=document["bundle_id"],
        sender=sender,
        sender_learner_id=document["learner"]["sender_id"],
        sequence=int(document["learner"]["sequence"]),
        issued_at=document["issued_at"],
        expires_at=document["expires_at"],
        name=profile["name"],
        language=profile["language"],
        account=account,
        new_login=new_login,
        already_imported=already,
        not_understood=bundle.unknown_sections(document),
    )
    certificates = {c["course_id"]: c for c in sections.get("certificates.v1", [])}
    for course in sections.get("courses.v1", []):
        cert = certificates.get(course["course_id"])
        preview.courses.append(
            CourseLine(
                course["course_id"],
                course["title"] or course["course_id"],
                int(course["version"]),
                held_version(db, course["course_id"], course["version"]) is not None,
                sum(1 for lesson in course["lessons"] if lesson["status"] == "done"),
                len(course["lessons"]),
                cert["code"] if cert else None,
            )
        )
    listed = {line.course_id for line in preview.courses}
    for cert in certificates.values():
        if cert["course_id"] not in listed:
            preview.courses.append(
                CourseLine(
                    cert["course_id"],
                    cert["course_title"],
                    int(cert["version"]),
                    False,
                    0,
                    0,
                    cert["code"],
                )
            )
    for course_id in dict.fromkeys(a["course_id"] for a in sections.get("assignments.v1", [])):
        # One per course, as the merge adds it (a course given twice, alone and to a group).
        added = _offered(db, course_id) and not (account and _assigned(db, account.id, course_id))
        (preview.assignments_added if added else preview.assignments_not_added).append(course_id)
    for goal in sections.get("plan.v1", []):
        if not (account and _has_goal(db, account.id, goal)):
            preview.goals_added.append(goal["title"])
    preview.passed_on = [
        f"{found['course_title'] or found['course_id']} ({found['facility_name']})"
        for found in sections.get("elsewhere.v1", [])
    ]
    pages = sections.get("workbook.v1", [])
    preview.pages = len(pages)
    preview.private_pages = sum(
        1 for page in pages if any(a["visibility"] == "private" for a in page["answers"])
    )
    return preview


def _assigned(db: sqlite_utils.Database, user_id: int, course_id: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM assignments WHERE user_id = ? AND course_id = ?", [user_id, course_id]
        ).fetchone()
    )


def _has_goal(db: sqlite_utils.Database, user_id: int, goal: dict[str, Any]) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM plan_goals WHERE learner_id = ? AND category = ? AND title = ?",
            [user_id, goal["category"], goal["title"]],
        ).fetchone()
    )


def preview(
    database: Database, data: bytes, *, match: str | None = None, new: str | None = None
) -> Preview:
    """What importing ``data`` would do; refuses a bad bundle exactly as the import does."""
    db = database.reader
    document, sender = checked(db, data)
    already = _refuse_older(db, document)
    if match or new or _previous(db, document) is not None:
        account = _account(db, document, match, new)
    else:
        account = None  # a person chooses before the import: shown as undecided
    return _plan(db, document, sender, account, new, already)


# --- the import ------------------------------------------------------------------------


def import_bundle(
    database: Database,
    actor: Actor,
    data: bytes,
    *,
    match: str | None = None,
    new: str | None = None,
) -> Imported:
    """Check ``data`` again and merge it in one transaction, audited; the same bundle a
    second time changes nothing."""
    with database.write() as db:
        document, sender = checked(db, data)
        if _refuse_older(db, document):
            row = db.execute(
                "SELECT user_id FROM transfers WHERE bundle_id = ?", [document["bundle_id"]]
            ).fetchone()
            user = accounts.get_user_in(db, row[0])
            return Imported(_plan(db, document, sender, user, None, True), user, None)
        account = _account(db, document, match, new)
        plan = _plan(db, document, sender, account, new, False)
        pin = None
        if account is None:
            assert new is not None
            profile = document["sections"]["profile.v1"]
            user_id, pin = accounts.insert_user(
                db, actor, Role.LEARNER, new, profile["name"], profile["language"]
            )
            account = accounts.get_user_in(db, user_id)
        merge_in(db, document, sender, account)
        db.execute(
            "INSERT INTO transfers (bundle_id, sender_facility_id, sender_learner_id, sequence,"
            " user_id, bundle_sha256, issued_at, imported_at, imported_by, summary, received,"
            " extra_sections) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                document["bundle_id"],
                sender.facility_id,
                document["learner"]["sender_id"],
                int(document["learner"]["sequence"]),
                account.id,
                hashlib.sha256(data).hexdigest(),
                document["issued_at"],
                clock.iso(),
                actor.label,
                json.dumps(_summary(plan)),
                json.dumps(_received(document)),
                json.dumps({n: document["sections"][n] for n in plan.not_understood}),
            ],
        )
        audit.record(
            db,
            actor,
            "transfer.import",
            f"learner:{account.login}",
            bundle_id=document["bundle_id"],
            sender=sender.facility_id,
            **_summary(plan),
        )
    return Imported(plan, account, pin)


def _received(document: dict[str, Any]) -> dict[str, Any]:
    """The sender's record as it came, kept beside what was merged (both histories stay):
    everything but the workbook pages, which ``carried_pages`` keeps with their privacy."""
    sections = {k: v for k, v in document["sections"].items() if k != "workbook.v1"}
    return {"sender": document["sender"], "learner": document["learner"], "sections": sections}


def _summary(plan: Preview) -> dict[str, Any]:
    return {
        "courses_merged": sum(1 for line in plan.courses if line.held),
        "completed_elsewhere": len(plan.completed_elsewhere),
        "assignments_added": len(plan.assignments_added),
        "goals_added": len(plan.goals_added),
        "pages": plan.pages,
        "not_understood": plan.not_understood,
    }
