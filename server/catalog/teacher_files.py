"""Files educators make here (a PDF handout, a short video), reviewed before learners see
them, like a publisher's course version.

An upload goes through the checks a file inside an NGO package goes through: its type is
read from its bytes and must agree with its name (`content.format.mediatypes`: a PDF, or
a WebM or MP4 video, the types PDF and video lessons use), and a PDF is walked for actions
(`content.importing.fileflags`). Where a package's PDF only gets a flag for the reviewer,
an upload is refused outright when its PDF runs JavaScript, starts a program, sends form
data, reads or opens another file, or cannot be read at all: an educator can export the
handout again, and no reviewer should have to judge a script. Web addresses in a PDF are
kept as notes for the reviewer.

The bytes are streamed into a private staging folder of the content store while being
hashed and counted (never held whole in memory), refused past the size limit, then moved
into the store by one rename: ``store/ab/abcdef…``, read-only, deduplicated, the same
place course files live. So the backup takes them, ``content verify --gc`` keeps them,
and nginx sends them (X-Accel-Redirect) after the server's check.

A file waits for review (``waiting``) until an admin approves or rejects it with one of
the facility's listed reasons; an educator an admin waived review for has each upload
approved at once, recorded as approved by waiver with who granted it. The owner (or an
admin) may withdraw a file; learners then see it as not available. Decisions stay in this
table, not in ``review_decisions``: that table and the decisions export are about
publishers' packages, and a teacher's handout is not something another facility reviews.
Every change is audited.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import sqlite_utils

from content.errors import MediaTypeError
from content.format.mediatypes import (
    FileType,
    check_media,
    disallowed_kind,
    file_type_for,
    read_head,
    sniff_family,
)
from content.importing.fileflags import read_pdf
from content.importing.store import ContentStore
from server.catalog.decisions import NOTE_LIMIT, reasons
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.people import audit
from server.people.accounts import Role, User
from server.people.audit import Actor

MAX_TITLE = 120
MAX_DESCRIPTION = 500
MAX_NAME = 100
_CHUNK = 1024 * 1024
STATUSES = ("waiting", "approved", "rejected", "withdrawn")
# The file kinds an educator may share, by the role `content.format.mediatypes` gives the
# extension: what PDF lessons and video lessons of a package may hold.
KIND_OF_ROLE = {"document": "pdf", "video": "video"}
# PDF actions that refuse an upload (`fileflags.PDF_ACTIONS`, by the name it shows).
_REFUSED_ACTION = re.compile(r"\((JavaScript|JS|Launch|SubmitForm|ImportData|GoToR|GoToE)\)")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class TeacherFile:
    id: int
    owner_id: int
    owner: str
    title: str
    description: str
    file_name: str
    kind: str  # pdf | video
    media_type: str
    sha256: str
    size: int
    notes: tuple[str, ...]  # for the reviewer: web addresses the PDF opens
    status: str  # waiting | approved | rejected | withdrawn
    uploaded_at: str
    decided_at: str | None
    decided_by: str | None
    waived_by: str | None  # approved by waiver: who granted it
    reason: str | None  # a rejection's listed reason
    note: str | None  # and what the admin wrote

    @property
    def approved(self) -> bool:
        return self.status == "approved"


@dataclass(frozen=True)
class Waiver:
    user_id: int
    granted_by: str
    granted_at: str


_COLUMNS = (
    "f.id, f.owner_id, u.display_name, f.title, f.description, f.file_name, f.kind,"
    " f.media_type, f.sha256, f.size, f.notes, f.status, f.uploaded_at, f.decided_at,"
    " f.decided_by, f.waived_by, f.reason, f.note"
)
_FROM = "FROM teacher_files f JOIN users u ON u.id = f.owner_id"


def _file(row: Any) -> TeacherFile:
    values = list(row)
    values[10] = tuple(json.loads(values[10] or "[]"))
    return TeacherFile(*values)


def get_file(database: Database, file_id: int) -> TeacherFile:
    row = database.query_one(f"SELECT {_COLUMNS} {_FROM} WHERE f.id = ?", [file_id])
    if row is None:
        raise NotFound()
    return _file(row)


def files_of(database: Database, owner_id: int) -> list[TeacherFile]:
    """An educator's own files, newest first."""
    rows = database.query(
        f"SELECT {_COLUMNS} {_FROM} WHERE f.owner_id = ? ORDER BY f.id DESC", [owner_id]
    )
    return [_file(row) for row in rows]


def review_list(database: Database, decided: int = 30) -> list[TeacherFile]:
    """For the admins' content page: every file waiting for review (oldest first), then
    the ``decided`` most recent others."""
    waiting = database.query(
        f"SELECT {_COLUMNS} {_FROM} WHERE f.status = 'waiting' ORDER BY f.id", []
    )
    others = database.query(
        f"SELECT {_COLUMNS} {_FROM} WHERE f.status != 'waiting' ORDER BY f.id DESC LIMIT ?",
        [decided],
    )
    return [_file(row) for row in [*waiting, *others]]


def waiting_count(database: Database) -> int:
    row = database.query_one("SELECT count(*) FROM teacher_files WHERE status = 'waiting'")
    return int(row[0]) if row else 0


def blobs_in(db: sqlite_utils.Database) -> set[str]:
    """Every blob a teacher file needs (whatever its state: a rejected file may be
    looked at again, and its record names it)."""
    return {str(row[0]) for row in db.execute("SELECT sha256 FROM teacher_files")}


# ---- Uploading -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    kind: str
    media_type: str
    notes: list[str]


def _clean(title: str, description: str) -> tuple[str, str]:
    title = " ".join(title.split())
    if not 1 <= len(title) <= MAX_TITLE:
        raise ValidationError(N_("Write a title of 1 to 120 characters."), "title")
    description = description.strip().replace("\r\n", "\n")
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(N_("Keep the description to 500 characters or fewer."), "description")
    return title, description


def clean_name(name: str) -> str:
    """The file's own name, kept for the download: letters, digits, dot, dash, underscore."""
    base = PurePosixPath(name.replace("\\", "/")).name.strip()
    stem, dot, suffix = base.rpartition(".")
    cleaned = _SAFE_NAME.sub("_", stem if dot else base).strip("._")[: MAX_NAME - 10] or "file"
    return f"{cleaned}.{suffix.lower()}" if dot else cleaned


def check_file(path: Path, name: str) -> Checked:
    """The package checks for one uploaded file: type by its bytes and its name, and for
    a PDF its actions. ValidationError (in words an educator can act on) when refused."""
    file_type: FileType | None = file_type_for(name)
    head = read_head(path)
    if not head:
        raise ValidationError(N_("The file is empty. Choose the file again."), "file")
    bad = disallowed_kind(head)
    family = sniff_family(head)
    if file_type is None or file_type.role not in KIND_OF_ROLE:
        raise ValidationError(
            N_("Share a PDF (.pdf) or a video (.mp4 or .webm). Other files cannot be shared."),
            "file",
        )
    if bad is not None or family not in file_type.families:
        if file_type.role == "document":
            raise ValidationError(
                N_(
                    "This file is not a PDF: its name ends in .pdf, but what is inside is"
                    " something else. Save or export it as a PDF again."
                ),
                "file",
            )
        raise ValidationError(
            N_(
                "This file is not a video of the kind its name says (.mp4 or .webm)."
                " Export the video again."
            ),
            "file",
        )
    try:
        checked = check_media(path, name)  # the package's own check, in full
    except MediaTypeError:
        raise ValidationError(N_("This file failed the safety checks."), "file") from None
    notes: list[str] = []
    if checked.role == "document":
        findings = read_pdf(path, name)
        if findings.unreadable:
            raise ValidationError(
                N_(
                    "This PDF cannot be read to the end (it may be locked with a password"
                    " or damaged). Save it as a PDF again, without a password."
                ),
                "file",
            )
        for _where, what in findings.actions:
            if _REFUSED_ACTION.search(what):
                raise ValidationError(
                    N_(
                        "This PDF has a script or an action that opens programs, files"
                        " or forms. Such PDFs cannot be shared. Print it to a new PDF"
                        " and upload that."
                    ),
                    "file",
                )
            notes.append(what)
    return Checked(KIND_OF_ROLE[checked.role], checked.media_type, notes)


def _stream_into(source: BinaryIO, target: Path, limit: int) -> tuple[str, int]:
    """Copy ``source`` into a new private file, hashing and counting; refused (and the
    file removed by the caller's staging folder) past ``limit`` bytes."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ValidationError(
                    N_(
                        "This file is too big. Make it smaller (a shorter video, or a PDF"
                        " with smaller pictures) and upload it again."
                    ),
                    "file",
                )
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def upload(
    database: Database,
    store: ContentStore,
    uploader: User,
    client_address: str,
    title: str,
    description: str,
    name: str,
    source: BinaryIO,
    limit_bytes: int,
) -> TeacherFile:
    """Check and store one file of an educator (or admin); it waits for review unless
    the uploader's review is waived. Nothing is recorded when a check fails."""
    if uploader.role is Role.LEARNER:
        raise NotFound()
    title, description = _clean(title, description)
    file_name = clean_name(name)
    store.ensure()
    with store.staging() as folder:
        staged = folder / "upload"
        sha256, size = _stream_into(source, staged, limit_bytes)
        checked = check_file(staged, file_name)
        store.adopt(staged, sha256)
    actor = uploader.actor(client_address)
    now = clock.iso()
    with database.write() as db:
        waiver = db.execute(
            "SELECT granted_by FROM file_review_waivers WHERE user_id = ?", [uploader.id]
        ).fetchone()
        status = "approved" if waiver is not None else "waiting"
        cursor = db.execute(
            "INSERT INTO teacher_files (owner_id, title, description, file_name, kind,"
            " media_type, sha256, size, notes, status, uploaded_at, decided_at, decided_by,"
            " waived_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                uploader.id,
                title,
                description,
                file_name,
                checked.kind,
                checked.media_type,
                sha256,
                size,
                json.dumps(checked.notes),
                status,
                now,
                now if waiver else None,
                actor.label if waiver else None,
                waiver[0] if waiver else None,
            ],
        )
        file_id = int(cursor.lastrowid or 0)
        target = f"teacher-file:{file_id}"
        audit.record(
            db, actor, "teacher-file.upload", target, sha256=sha256, size=size, kind=checked.kind
        )
        if waiver is not None:
            audit.record(db, actor, "teacher-file.approve", target, waiver_by=waiver[0])
    return get_file(database, file_id)


# ---- Review --------------------------------------------------------------------------


def _decide(
    database: Database,
    actor: Actor,
    file_id: int,
    allowed_from: tuple[str, ...],
    change: Callable[[sqlite_utils.Database, TeacherFile], None],
) -> None:
    found = get_file(database, file_id)
    if found.status not in allowed_from:
        raise ValidationError(N_("This file was already decided. Reload the page."))
    with database.write() as db:
        # The state is read again in the write transaction: two admins deciding at once
        # cannot both win.
        (status,) = db.execute(
            "SELECT status FROM teacher_files WHERE id = ?", [file_id]
        ).fetchone()
        if status != found.status:
            raise ValidationError(N_("This file was already decided. Reload the page."))
        change(db, found)


def approve(database: Database, actor: Actor, file_id: int) -> None:
    """Approve a waiting file: learners of plans that hold it may open it now."""

    def change(db: sqlite_utils.Database, found: TeacherFile) -> None:
        db.execute(
            "UPDATE teacher_files SET status = 'approved', decided_at = ?, decided_by = ?"
            " WHERE id = ?",
            [clock.iso(), actor.label, found.id],
        )
        audit.record(db, actor, "teacher-file.approve", f"teacher-file:{found.id}")

    _decide(database, actor, file_id, ("waiting",), change)


def reject(database: Database, actor: Actor, file_id: int, reason_code: str, note: str) -> None:
    """Refuse a waiting (or approved) file with one of the listed reasons; its educator
    sees the reason and, where written, the note."""
    note = note.strip()[:NOTE_LIMIT]
    reason = next((r for r in reasons(database) if r.code == reason_code), None)
    if reason is None:
        raise ValidationError(N_("Choose a reason for rejecting it."))
    if reason.code == "other" and not note:
        raise ValidationError(N_("Write why you reject it. The educator will want to know."))

    def change(db: sqlite_utils.Database, found: TeacherFile) -> None:
        db.execute(
            "UPDATE teacher_files SET status = 'rejected', decided_at = ?, decided_by = ?,"
            " reason_code = ?, reason = ?, note = ? WHERE id = ?",
            [clock.iso(), actor.label, reason.code, reason.label, note, found.id],
        )
        audit.record(
            db, actor, "teacher-file.reject", f"teacher-file:{found.id}", reason=reason.code
        )

    _decide(database, actor, file_id, ("waiting", "approved"), change)


def withdraw(database: Database, actor: Actor, file_id: int) -> None:
    """Take a file back (its owner, or an admin): learners see it as not available."""

    def change(db: sqlite_utils.Database, found: TeacherFile) -> None:
        db.execute("UPDATE teacher_files SET status = 'withdrawn' WHERE id = ?", [found.id])
        audit.record(db, actor, "teacher-file.withdraw", f"teacher-file:{found.id}")

    _decide(database, actor, file_id, ("waiting", "approved"), change)


# ---- Waivers -------------------------------------------------------------------------


def waiver_of(database: Database, user_id: int) -> Waiver | None:
    row = database.query_one(
        "SELECT user_id, granted_by, granted_at FROM file_review_waivers WHERE user_id = ?",
        [user_id],
    )
    return Waiver(*row) if row else None


def set_waiver(database: Database, actor: Actor, subject: User, on: bool) -> None:
    """Let an educator share files without review (``on``), or end that; audited."""
    if subject.role is not Role.EDUCATOR:
        raise ValidationError(N_("Only an educator's files can skip review."))
    with database.write() as db:
        if on:
            db.execute(
                "INSERT INTO file_review_waivers (user_id, granted_by, granted_at)"
                " VALUES (?, ?, ?) ON CONFLICT (user_id) DO NOTHING",
                [subject.id, actor.label, clock.iso()],
            )
        else:
            db.execute("DELETE FROM file_review_waivers WHERE user_id = ?", [subject.id])
        action = "teacher-file.waiver-grant" if on else "teacher-file.waiver-end"
        audit.record(db, actor, action, subject.label)
