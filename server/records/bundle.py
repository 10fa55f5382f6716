"""The transfer bundle file: one learner's record as it travels between facilities.

A bundle is one JSON document (optionally gzip-compressed), signed by the sending
facility (``identity.sign_document``)::

    {"type": "stepstone-transfer", "version": 1, "bundle_id", "issued_at", "expires_at",
     "sender": {"facility_id", "name"},
     "learner": {"sender_id", "sequence"},
     "sections": {"profile.v1": {...}, "courses.v1": [...], ...},
     "signature": {"facility_id", "keyid", "sig"}}

``sections`` has versioned keys so that what a later Stepstone adds (an earned-credit
ledger, say) travels without changing the envelope: a receiver that does not know a
section lists it as "not understood" and keeps it as evidence, never drops it silently.

The file comes from a USB stick or an upload, so it is read as hostile: its size is
checked before anything is parsed, the decompressed size too, the nesting depth after,
and every known section is checked field by field, each error naming where it is.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.core.errors import N_, ValidationError
from server.learning.credit_rules import CREDIT_TYPES

TYPE = "stepstone-transfer"
VERSION = 1
SUFFIX = ".stepstone-transfer"
MAX_BYTES = 16 * 1024 * 1024  # a learner's years of work is well under 1 MiB
MAX_DEPTH = 12
MAX_ITEMS = 5000  # in any one list
MAX_TEXT = 20_000  # characters in any one string
BUNDLE_ID = re.compile(r"[0-9a-f]{32}")
KNOWN_SECTIONS = (
    "profile.v1",
    "courses.v1",
    "assignments.v1",
    "plan.v1",
    "certificates.v1",
    "workbook.v1",
    "elsewhere.v1",
    "credit.v1",
)


class BundleRefused(ValidationError):
    """The bundle is not accepted; the message names the problem. Nothing changed."""


# --- bytes -------------------------------------------------------------------------


def read_file(path: Path) -> bytes:
    """The bytes of a bundle file, refused before reading when too big."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise BundleRefused(_too_big())
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BundleRefused(f"Cannot read the bundle file {path.name}: {exc.strerror}.") from None
    if len(data) > MAX_BYTES:
        raise BundleRefused(_too_big())
    return data


def _too_big() -> str:
    return f"The bundle is larger than {MAX_BYTES // (1024 * 1024)} MiB: it is refused unread."


def parse(data: bytes) -> dict[str, Any]:
    """The bundle document in ``data`` (JSON, or gzip of JSON), checked for shape."""
    if len(data) > MAX_BYTES:
        raise BundleRefused(_too_big())
    if data[:2] == b"\x1f\x8b":
        data = _gunzip(data)
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BundleRefused(N_("This file is not a transfer bundle (not JSON).")) from None
    _check_depth(document)
    return check(document)


def _gunzip(data: bytes) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            plain = handle.read(MAX_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        raise BundleRefused(N_("The bundle's compression is damaged.")) from None
    if len(plain) > MAX_BYTES:
        raise BundleRefused(_too_big())
    return plain


def _check_depth(document: Any) -> None:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BundleRefused(f"The bundle is nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                raise BundleRefused(f"A list in the bundle has more than {MAX_ITEMS} items.")
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            raise BundleRefused(f"A text in the bundle is longer than {MAX_TEXT} characters.")


def encode(document: dict[str, Any]) -> bytes:
    """The file's bytes: gzip of the JSON (a bundle is mostly repeated keys)."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=1).encode()
    return gzip.compress(text, mtime=0)


# --- shape -------------------------------------------------------------------------


def _fail(where: str, what: str) -> BundleRefused:
    return BundleRefused(f"The bundle is malformed: {where} {what}.")


def text(value: Any, where: str, *, empty: bool = True, limit: int = 500) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()) or len(value) > limit:
        raise _fail(where, f"must be a text of at most {limit} characters")
    return value


def maybe_text(value: Any, where: str) -> str | None:
    return None if value is None else text(value, where)


def number(value: Any, where: str, low: float = 0, high: float = 1e9) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _fail(where, f"must be a number from {low:g} to {high:g}")
    return float(value)


def maybe_number(value: Any, where: str, low: float = 0, high: float = 1e9) -> float | None:
    return None if value is None else number(value, where, low, high)


def record(value: Any, where: str, fields: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "must be an object")
    missing = [name for name in fields if name not in value]
    if missing:
        raise _fail(where, f"lacks {', '.join(missing)}")
    return value


def items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, "must be a list")
    return value


def choice(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(where, f"must be one of {', '.join(allowed)}")
    return str(value)


def check(document: Any) -> dict[str, Any]:
    """``document`` if it is a transfer bundle of a known version with well-formed known
    sections (the signature is checked elsewhere: ``identity.verify_document``)."""
    if not isinstance(document, dict) or document.get("type") != TYPE:
        raise BundleRefused(N_("This file is not a Stepstone transfer bundle."))
    if document.get("version") != VERSION:
        raise BundleRefused(f"Transfer bundle version {document.get('version')!r} is not known.")
    record(document, "the bundle", ("bundle_id", "issued_at", "expires_at", "sender"))
    if not isinstance(document["bundle_id"], str) or not BUNDLE_ID.fullmatch(document["bundle_id"]):
        raise _fail("bundle_id", "must be 32 hexadecimal digits")
    sender = record(document["sender"], "sender", ("facility_id", "name"))
    text(sender["facility_id"], "sender.facility_id", empty=False, limit=64)
    text(sender["name"], "sender.name", empty=False, limit=200)
    learner = record(document.get("learner"), "learner", ("sender_id", "sequence"))
    text(learner["sender_id"], "learner.sender_id", empty=False, limit=64)
    number(learner["sequence"], "learner.sequence", 1, 1e12)
    sections = document.get("sections")
    if not isinstance(sections, dict) or "profile.v1" not in sections:
        raise _fail("sections", "must be an object with at least profile.v1")
    for name in KNOWN_SECTIONS:
        if name in sections:
            _CHECKS[name](sections[name], name)
    return document


def unknown_sections(document: dict[str, Any]) -> list[str]:
    """Sections this version does not understand (kept as evidence, listed in the preview)."""
    return sorted(name for name in document["sections"] if name not in KNOWN_SECTIONS)


def _profile(value: Any, where: str) -> None:
    profile = record(value, where, ("name", "language"))
    text(profile["name"], f"{where}.name", empty=False, limit=200)
    choice(profile["language"], f"{where}.language", ("en", "es"))


def _course(value: Any, where: str) -> None:
    course = record(value, where, ("course_id", "title", "version", "lessons", "attempts"))
    text(course["course_id"], f"{where}.course_id", empty=False, limit=200)
    text(course["title"], f"{where}.title", limit=300)
    number(course["version"], f"{where}.version", 1, 1e9)
    for i, raw in enumerate(items(course["lessons"], f"{where}.lessons")):
        at = f"{where}.lessons[{i}]"
        lesson = record(raw, at, ("key", "status", "seconds_spent", "started_at"))
        text(lesson["key"], f"{at}.key", empty=False, limit=200)
        choice(lesson["status"], f"{at}.status", ("in_progress", "done"))
        number(lesson["seconds_spent"], f"{at}.seconds_spent")
        maybe_number(lesson.get("score"), f"{at}.score", 0, 1)
        text(lesson["started_at"], f"{at}.started_at", empty=False, limit=40)
        maybe_text(lesson.get("completed_at"), f"{at}.completed_at")
    for i, raw in enumerate(items(course["attempts"], f"{where}.attempts")):
        at = f"{where}.attempts[{i}]"
        attempt = record(raw, at, ("lesson_key", "version", "started_at"))
        text(attempt["lesson_key"], f"{at}.lesson_key", empty=False, limit=200)
        number(attempt["version"], f"{at}.version", 1, 1e9)
        text(attempt["started_at"], f"{at}.started_at", empty=False, limit=40)
        maybe_text(attempt.get("submitted_at"), f"{at}.submitted_at")
        maybe_number(attempt.get("score"), f"{at}.score", 0, 1)
        if not isinstance(attempt.get("answers", {}), dict):
            raise _fail(f"{at}.answers", "must be an object")


def _courses(value: Any, where: str) -> None:
    for i, raw in enumerate(items(value, where)):
        _course(raw, f"{where}[{i}]")


def _assignments(value: Any, where: str) -> None:
    for i, raw in enumerate(items(value, where)):
        at = f"{where}[{i}]"
        assignment = record(raw, at, ("course_id", "due_date"))
        text(assignment["course_id"], f"{at}.course_id", empty=False, limit=200)
        maybe_text(assignment.get("lesson_key"), f"{at}.lesson_key")
        maybe_text(assignment["due_date"], f"{at}.due_date")
        text(assignment.get("note", ""), f"{at}.note", limit=2000)


def _plan(value: Any, where: str) -> None:
    for i, raw in enumerate(items(value, where)):
        at = f"{where}[{i}]"
        goal = record(raw, at, ("category", "title", "status"))
        text(goal["category"], f"{at}.category", empty=False, limit=40)
        text(goal["title"], f"{at}.title", empty=False, limit=300)
        choice(goal["status"], f"{at}.status", ("active", "met", "dropped"))
        maybe_text(goal.get("course_id"), f"{at}.course_id")
        maybe_text(goal.get("target_date"), f"{at}.target_date")
        text(goal.get("note", ""), f"{at}.note", limit=2000)


def _certificates(value: Any, where: str) -> None:
    for i, raw in enumerate(items(value, where)):
        at = f"{where}[{i}]"
        fields = ("code", "course_id", "course_title", "version", "completed_at", "hours")
        cert = record(raw, at, fields)
        text(cert["code"], f"{at}.code", empty=False, limit=64)
        text(cert["course_id"], f"{at}.course_id", empty=False, limit=200)
        text(cert["course_title"], f"{at}.course_title", limit=300)
        number(cert["version"], f"{at}.version", 1, 1e9)
        text(cert["completed_at"], f"{at}.completed_at", empty=False, limit=40)
        number(cert["hours"], f"{at}.hours", 0, 1e5)


def _workbook(value: Any, where: str) -> None:
    for i, raw in enumerate(items(value, where)):
        at = f"{where}[{i}]"
        fields = ("entry", "course_id", "course_title", "lesson_key", "lesson_title", "status")
        page = record(raw, at, (*fields, "answers", "written_at"))
        text(page["entry"], f"{at}.entry", empty=False, limit=64)
        for name in fields[1:]:
            text(page[name], f"{at}.{name}", limit=300)
        text(page["written_at"], f"{at}.written_at", empty=False, limit=40)
        text(page.get("feedback", ""), f"{at}.feedback", limit=MAX_TEXT)
        for j, answer in enumerate(items(page["answers"], f"{at}.answers")):
            got = record(answer, f"{at}.answers[{j}]", ("prompt", "visibility", "value"))
            text(got["prompt"], f"{at}.answers[{j}].prompt", empty=False, limit=200)
            choice(got["visibility"], f"{at}.answers[{j}].visibility", ("private", "educator"))
            text(got.get("question", ""), f"{at}.answers[{j}].question", limit=2000)
            if not isinstance(got["value"], str | list):
                raise _fail(f"{at}.answers[{j}].value", "must be a text or a list")


def _elsewhere(value: Any, where: str) -> None:
    for i, raw in enumerate(items(value, where)):
        at = f"{where}[{i}]"
        fields = ("facility_id", "facility_name", "course_id", "course_title", "version")
        found = record(raw, at, (*fields, "status", "seconds_spent", "evidence"))
        text(found["facility_id"], f"{at}.facility_id", empty=False, limit=64)
        text(found["facility_name"], f"{at}.facility_name", empty=False, limit=200)
        text(found["course_id"], f"{at}.course_id", empty=False, limit=200)
        text(found["course_title"], f"{at}.course_title", limit=300)
        number(found["version"], f"{at}.version", 1, 1e9)
        choice(found["status"], f"{at}.status", ("completed", "in_progress"))
        number(found["seconds_spent"], f"{at}.seconds_spent")
        maybe_number(found.get("score"), f"{at}.score", 0, 1)
        for name in ("started_at", "completed_at", "certificate_code"):
            maybe_text(found.get(name), f"{at}.{name}")
        if not isinstance(found["evidence"], dict):
            raise _fail(f"{at}.evidence", "must be an object")


def _credit(value: Any, where: str) -> None:
    """Earned-credit ledger entries in force, each with the facility that wrote it."""
    for i, raw in enumerate(items(value, where)):
        at = f"{where}[{i}]"
        fields = ("facility_id", "facility_name", "course_id", "course_title", "credit_type")
        entry = record(raw, at, (*fields, "hours", "nominal_hours", "measured_hours"))
        text(entry["facility_id"], f"{at}.facility_id", empty=False, limit=64)
        text(entry["facility_name"], f"{at}.facility_name", limit=200)
        text(entry["course_id"], f"{at}.course_id", empty=False, limit=200)
        text(entry["course_title"], f"{at}.course_title", limit=300)
        choice(entry["credit_type"], f"{at}.credit_type", tuple(CREDIT_TYPES))
        for name in ("hours", "nominal_hours", "measured_hours"):
            number(entry[name], f"{at}.{name}", 0, 1e5)
        maybe_number(entry.get("score"), f"{at}.score", 0, 100)
        for name in ("completed_at", "started_at", "certificate_code", "digest", "reason"):
            maybe_text(entry.get(name), f"{at}.{name}")


_CHECKS: dict[str, Callable[[Any, str], None]] = {
    "profile.v1": _profile,
    "courses.v1": _courses,
    "assignments.v1": _assignments,
    "plan.v1": _plan,
    "certificates.v1": _certificates,
    "workbook.v1": _workbook,
    "elsewhere.v1": _elsewhere,
    "credit.v1": _credit,
}
