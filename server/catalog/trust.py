"""Trusted publishers: each NGO's pinned TUF root, its course-id namespace, its sources.

Pinning a root is the one moment of trust: after it, everything a publisher sends must be
signed by keys that root (or its signed successors) names. So a root is pinned only with
the fingerprint a person confirmed against what the NGO sent through another channel
(:mod:`content.tuf.fingerprint`, the same text the publisher tool prints).
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError

from content.tuf.fingerprint import RootFingerprint, root_fingerprint
from server.catalog.library import Publisher
from server.core import clock
from server.core.db import Database
from server.core.errors import N_, NotFound, ValidationError
from server.core.settings import Settings
from server.people import audit
from server.people.audit import Actor

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
NAMESPACE_RE = re.compile(r"^[a-z0-9]+(\.[a-z0-9][a-z0-9-]*)+$")
MAX_ROOT_BYTES = 256 * 1024


def check_root(data: bytes) -> Metadata[Root]:
    """A TUF root document, signed by its own threshold of keys, or ValidationError."""
    if len(data) > MAX_ROOT_BYTES:
        raise ValidationError("This root.json is too big to be a TUF root.")
    try:
        root: Metadata[Root] = Metadata[Root].from_bytes(data)
    except (DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"This is not a TUF root.json: {exc}") from None
    if not isinstance(root.signed, Root):
        raise ValidationError("This TUF file is not a root (it is a different role).")
    try:
        root.signed.verify_delegate(Root.type, root.signed_bytes, root.signatures)
    except UnsignedMetadataError:
        raise ValidationError("This root.json is not signed by enough of its own keys.") from None
    return root


def fingerprint_of(root_json: bytes) -> RootFingerprint:
    """The fingerprint to show before trusting ``root_json`` (checked to be a TUF root)."""
    check_root(root_json)
    return root_fingerprint(root_json)


def check_new_publisher(database: Database, name: str, namespace: str) -> tuple[str, str]:
    """A new publisher's name and namespace, normalised, or ValidationError — checked
    before the admin spends a phone call comparing a fingerprint (and again on saving)."""
    name, namespace = name.strip().lower(), namespace.strip().lower()
    if not NAME_RE.match(name):
        raise ValidationError("A publisher name is 2 to 40 lowercase letters, numbers or dashes.")
    if not NAMESPACE_RE.match(namespace):
        raise ValidationError("A namespace looks like org.example (lowercase, with dots).")
    _refuse_overlap(database.query_one(_CLASH_SQL, [name, namespace, namespace, namespace]))
    return name, namespace


_CLASH_SQL = (
    "SELECT name FROM publishers WHERE name = ? OR namespace = ?"
    " OR ? LIKE namespace || '.%' OR namespace LIKE ? || '.%'"
)


def _refuse_overlap(clash: sqlite3.Row | tuple[str] | None) -> None:
    if clash is not None:
        raise ValidationError(
            f"The name or namespace overlaps with the trusted publisher {clash[0]}."
        )


def add_publisher(
    database: Database,
    actor: Actor,
    name: str,
    namespace: str,
    root_json: bytes,
    *,
    confirmed: str,
    display_name: str = "",
    auto_publish: bool = False,
    demo: bool = False,
) -> Publisher:
    """Pin a publisher's root and namespace.

    ``confirmed`` is the root fingerprint a person compared with the NGO's (any spacing or
    case); a root whose fingerprint differs is refused.
    """
    name, namespace = check_new_publisher(database, name, namespace)
    root = check_root(root_json)
    fingerprint = root_fingerprint(root_json)
    if not fingerprint.matches(confirmed):
        raise ValidationError(
            N_(
                "This root.json does not have the fingerprint that was confirmed. Do not trust "
                "it: ask the publisher for its root again, through a channel you trust."
            )
        )
    with database.write() as db:
        # Again inside the transaction: another admin may have trusted one meanwhile.
        _refuse_overlap(db.execute(_CLASH_SQL, [name, namespace, namespace, namespace]).fetchone())
        cursor = db.execute(
            "INSERT INTO publishers (name, display_name, namespace, trusted_root, auto_publish,"
            " demo, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                display_name.strip()[:80] or name,
                namespace,
                root_json,
                int(auto_publish),
                int(demo),
                clock.iso(),
            ],
        )
        audit.record(
            db,
            actor,
            "trust.add",
            f"publisher:{name}",
            namespace=namespace,
            root_version=root.signed.version,
            fingerprint=fingerprint.root,
            auto_publish=auto_publish,
        )
    return get_publisher(database, int(cursor.lastrowid or 0))


def get_publisher(database: Database, publisher_id: int) -> Publisher:
    row = database.query_one("SELECT * FROM publishers WHERE id = ?", [publisher_id])
    if row is None:
        raise NotFound()
    return Publisher.from_row(row)


def find_publisher(database: Database, name: str) -> Publisher | None:
    row = database.query_one("SELECT * FROM publishers WHERE name = ?", [name.strip().lower()])
    return Publisher.from_row(row) if row else None


def list_publishers(database: Database, settings: Settings) -> list[Publisher]:
    """Trusted publishers; a demo publisher counts only in demo mode."""
    rows = database.query("SELECT * FROM publishers ORDER BY name")
    return [Publisher.from_row(r) for r in rows if settings.demo or not r["demo"]]


def publisher_names(database: Database) -> list[tuple[str, str]]:
    """(name, display name) of every publisher, by display name, for a chooser."""
    rows = database.query("SELECT name, display_name FROM publishers ORDER BY display_name")
    return [(r[0], r[1]) for r in rows]


def trusted_root(database: Database, publisher: Publisher) -> bytes:
    row = database.query_one("SELECT trusted_root FROM publishers WHERE id = ?", [publisher.id])
    if row is None:
        raise NotFound()
    return bytes(row[0])


def publisher_fingerprint(database: Database, publisher: Publisher) -> RootFingerprint:
    """The fingerprint of the root this facility pinned for ``publisher``."""
    return root_fingerprint(trusted_root(database, publisher))


def set_auto_publish(database: Database, actor: Actor, publisher: Publisher, on: bool) -> None:
    with database.write() as db:
        db.execute("UPDATE publishers SET auto_publish = ? WHERE id = ?", [int(on), publisher.id])
        audit.record(db, actor, "trust.auto-publish", f"publisher:{publisher.name}", on=on)


def remove_publisher(
    database: Database, settings: Settings, actor: Actor, publisher: Publisher
) -> None:
    """Stop trusting a publisher. Refused while any of its courses is on the server."""
    with database.write() as db:
        courses = db.execute(
            "SELECT count(*) FROM courses WHERE publisher_id = ?", [publisher.id]
        ).fetchone()[0]
        if courses:
            raise ValidationError(
                f"{publisher.name} still has {courses} course(s) here. Pull or retire them "
                "first; the record of where they came from must stay."
            )
        db.execute("DELETE FROM publishers WHERE id = ?", [publisher.id])
        audit.record(db, actor, "trust.remove", f"publisher:{publisher.name}")
    shutil.rmtree(metadata_dir(settings, publisher), ignore_errors=True)


def metadata_dir(settings: Settings, publisher: Publisher) -> Path:
    return settings.data_dir / "tuf" / publisher.name


@dataclass(frozen=True)
class Source:
    id: int
    kind: str
    location: str


def add_source(
    database: Database, actor: Actor, publisher: Publisher, kind: str, location: str
) -> Source:
    """A folder (USB mount or inbox) or an http(s) mirror on the closed network."""
    location = location.strip()
    if kind == "folder":
        if not Path(location).is_absolute():
            raise ValidationError("A folder source needs a full path, like /media/usb.")
    elif kind == "mirror":
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError("A mirror is an http:// or https:// address on your network.")
    else:
        raise ValidationError("A source is a folder or a mirror.")
    with database.write() as db:
        cursor = db.execute(
            "INSERT OR IGNORE INTO sync_sources (publisher_id, kind, location, created_at)"
            " VALUES (?, ?, ?, ?)",
            [publisher.id, kind, location, clock.iso()],
        )
        audit.record(
            db,
            actor,
            "trust.add-source",
            f"publisher:{publisher.name}",
            kind=kind,
            location=location,
        )
    return Source(int(cursor.lastrowid or 0), kind, location)


def sources(database: Database, publisher: Publisher) -> list[Source]:
    rows = database.query(
        "SELECT id, kind, location FROM sync_sources WHERE publisher_id = ?"
        " ORDER BY kind = 'mirror', id",
        [publisher.id],
    )
    return [Source(r["id"], r["kind"], r["location"]) for r in rows]


def remove_source(database: Database, actor: Actor, publisher: Publisher, source_id: int) -> None:
    with database.write() as db:
        db.execute(
            "DELETE FROM sync_sources WHERE id = ? AND publisher_id = ?", [source_id, publisher.id]
        )
        audit.record(
            db, actor, "trust.remove-source", f"publisher:{publisher.name}", source=source_id
        )
