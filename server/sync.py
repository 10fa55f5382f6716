"""Sync: for each trusted publisher, refresh its signed metadata, fetch what is new,
import it, and apply retractions — recording every run in the database.

Installed content keeps being served whatever happens here: a failed refresh, expired
metadata or a refused package only end the run with a message for the admin.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from content.errors import ContentError
from content.importer import import_package
from content.store import ContentStore
from content.tuf_client import (
    FolderSource,
    MirrorSource,
    PublisherClient,
    RemoteTarget,
    SyncError,
    TargetStream,
)
from server import audit, catalog, clock, trust
from server.audit import Actor
from server.catalog import CatalogHooks, CatalogRefused, Publisher
from server.db import Database
from server.settings import Settings


def content_store(settings: Settings) -> ContentStore:
    return _store_at(settings.data_dir)


@functools.lru_cache(maxsize=16)
def _store_at(data_dir: Path) -> ContentStore:
    # A ContentStore holds only its paths; one per data folder saves path work on every
    # media request.
    return ContentStore(data_dir / "store")


@dataclass
class RunReport:
    publisher: str
    status: str = "ok"
    imported: list[str] = field(default_factory=list)
    retracted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        parts = [f"imported {len(self.imported)}", f"retracted {len(self.retracted)}"]
        if self.refused:
            parts.append(f"refused {len(self.refused)}")
        return "; ".join(parts + self.problems + self.refused)


def _source(kind: str, location: str) -> FolderSource | MirrorSource:
    if kind == "folder":
        return FolderSource(Path(location))
    host = (urlsplit(location).hostname or "").lower()
    return MirrorSource(location, frozenset({host}))


STALE_RUN_HOURS = 24


def _start_run(database: Database, publisher: Publisher, trigger: str) -> int:
    with database.write() as db:
        # A run still "running" after a day belongs to a process that was killed (a
        # download is bounded far below that): close it so the admin page tells the truth.
        db.execute(
            "UPDATE sync_runs SET status = 'failed', finished_at = ?,"
            " message = 'interrupted: the sync process stopped before the run ended'"
            " WHERE publisher_id = ? AND status = 'running' AND started_at < ?",
            [clock.iso(), publisher.id, clock.iso(clock.now() - STALE_RUN_HOURS * 3600)],
        )
        cursor = db.execute(
            "INSERT INTO sync_runs (publisher_id, trigger, started_at, status)"
            " VALUES (?, ?, ?, 'running')",
            [publisher.id, trigger, clock.iso()],
        )
    return int(cursor.lastrowid or 0)


def _finish_run(
    database: Database, run_id: int, source_id: int | None, report: RunReport, actor: Actor
) -> None:
    with database.write() as db:
        db.execute(
            "UPDATE sync_runs SET finished_at = ?, status = ?, message = ?, imported = ?,"
            " retracted = ?, refused = ?, source_id = ? WHERE id = ?",
            [
                clock.iso(),
                report.status,
                report.message[:4000],
                len(report.imported),
                len(report.retracted),
                len(report.refused),
                source_id,
                run_id,
            ],
        )
        audit.record(
            db,
            actor,
            "sync.run",
            f"publisher:{report.publisher}",
            status=report.status,
            imported=len(report.imported),
            refused=len(report.refused),
        )


def sync_publisher(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    actor: Actor,
    trigger: str = "cli",
) -> RunReport:
    """One sync run for one publisher, over its sources in order until one works."""
    report = RunReport(publisher.name)
    run_id = _start_run(database, publisher, trigger)
    client, source_id = _refreshed_client(database, settings, publisher, report)
    if client is not None:
        _take_targets(database, settings, hooks, publisher, client, actor, report)
    if client is None:
        report.status = "failed"
    elif report.refused or report.problems:
        report.status = "partial"
    _finish_run(database, run_id, source_id, report, actor)
    return report


def _refreshed_client(
    database: Database, settings: Settings, publisher: Publisher, report: RunReport
) -> tuple[PublisherClient | None, int | None]:
    found = trust.sources(database, publisher)
    if not found:
        report.problems.append("no source is set up for this publisher")
        return None, None
    folder = trust.metadata_dir(settings, publisher)
    folder.mkdir(parents=True, exist_ok=True)
    root = trust.trusted_root(database, publisher)
    for source in found:
        try:
            client = PublisherClient(
                publisher.name, folder, root, _source(source.kind, source.location)
            )
            client.refresh()
        except (SyncError, ValueError) as exc:
            report.problems.append(f"{source.location}: {exc}")
            continue
        return client, source.id
    return None, None


def _take_targets(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    client: PublisherClient,
    actor: Actor,
    report: RunReport,
) -> None:
    for target in sorted(client.targets(), key=lambda t: (t.course_id, t.version)):
        label = f"{target.course_id} v{target.version}"
        if target.retracted:
            if catalog.retract(database, hooks, actor, target.course_id, target.version):
                report.retracted.append(label)
            continue
        if _installed_or_older(database, target):
            continue
        try:
            catalog.check_target(database.reader.conn, publisher, target.course_id, target.version)
            _install(database, settings, hooks, publisher, client, target, actor)
        except (CatalogRefused, ContentError) as exc:
            message = getattr(exc, "message", str(exc))
            report.refused.append(f"{label}: {message}")
            with database.write() as db:
                audit.record(db, actor, "content.refused", label, reason=str(message)[:500])
            continue
        report.imported.append(label)


def _installed_or_older(database: Database, target: RemoteTarget) -> bool:
    row = database.query_one(
        "SELECT high_water_version FROM courses WHERE course_id = ?", [target.course_id]
    )
    return row is not None and target.version <= row[0]


def _install(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    client: PublisherClient,
    target: RemoteTarget,
    actor: Actor,
) -> None:
    # Streamed from the source into the importer: the package is never written to disk
    # whole, and its blobs reach the store only once it is known to be the signed target.
    with client.open_target(target) as stream:
        staged = import_package(
            stream, content_store(settings), confirm=partial(_confirm, stream, target)
        )
    catalog.record_import(database, hooks, publisher, staged, target.sha256, actor)


def _confirm(stream: TargetStream, target: RemoteTarget, course: Mapping[str, Any]) -> None:
    """The last checks before a package's blobs move into the store: every byte is the
    signed target's, and the course inside is the one it was signed as."""
    stream.verify()
    if (course["id"], course["version"]) != (target.course_id, target.version):
        raise CatalogRefused(
            f"The package says it is {course['id']} v{course['version']}, but it was "
            f"signed as {target.course_id} v{target.version}."
        )


def sync_all(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    actor: Actor,
    only: str | None = None,
    trigger: str = "cli",
) -> list[RunReport]:
    publishers = trust.list_publishers(database, settings)
    if only is not None:
        publishers = [p for p in publishers if p.name == only.strip().lower()]
    return [sync_publisher(database, settings, hooks, p, actor, trigger) for p in publishers]
