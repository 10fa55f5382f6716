"""Sync: for each trusted publisher, refresh its signed metadata, fetch what is new,
import it, and apply retractions — recording every run in the database.

Installed content keeps being served whatever happens here: a failed refresh, expired
metadata or a refused package only end the run with a message for the admin.
"""

from __future__ import annotations

import functools
import shutil
import sqlite3
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from content.errors import ContentError
from content.format.limits import DEFAULT_LIMITS
from content.importing.importer import import_package
from content.importing.narration import add_narration
from content.importing.store import ContentStore
from content.package.speech import EspeakEngine, SpeechEngine
from content.tuf.updater import (
    FolderSource,
    MirrorSource,
    PublisherClient,
    RemoteTarget,
    SyncError,
    TargetStream,
)
from server.catalog import library, trust
from server.catalog.library import CatalogHooks, CatalogRefused, Publisher
from server.catalog.sync_runs import RunReport, finish_run, reason, run_lock, start_run
from server.core.db import Database
from server.core.settings import Settings
from server.people import audit
from server.people.audit import Actor

__all__ = ["RunReport", "content_store", "sync_all", "sync_publisher"]


def content_store(settings: Settings) -> ContentStore:
    return _store_at(settings.data_dir)


@functools.lru_cache(maxsize=16)
def _store_at(data_dir: Path) -> ContentStore:
    # A ContentStore holds only its paths; one per data folder saves path work on every
    # media request.
    return ContentStore(data_dir / "store")


def _source(kind: str, location: str) -> FolderSource | MirrorSource:
    if kind == "folder":
        return FolderSource(Path(location))
    host = (urlsplit(location).hostname or "").lower()
    return MirrorSource(location, frozenset({host}))


def sync_publisher(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    actor: Actor,
    trigger: str = "cli",
) -> RunReport:
    """One sync run for one publisher, over its sources in order until one works.

    The run always ends with a status and a message, whatever stops it: one target's
    failure is that target's refusal, and the run goes on with the next.
    """
    report = RunReport(publisher.name)
    with run_lock(settings, publisher) as alone:
        run_id = start_run(database, publisher, trigger, alone=alone)
        source_id = None
        try:
            if alone:
                source_id = _run(database, settings, hooks, publisher, actor, report)
            else:
                report.status = "failed"
                report.problems.append(
                    f"Another sync for {publisher.name} is running; try again when it ends."
                )
        except BaseException as exc:
            # Ctrl-C, or a failure outside any one target: the run still says it ended.
            report.status = "failed"
            report.problems.append(f"the run stopped: {reason(exc)}")
            raise
        finally:
            report.settle()
            finish_run(database, run_id, source_id, report, actor)
    return report


def _run(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    actor: Actor,
    report: RunReport,
) -> int | None:
    """Refresh, then take every target; returns the source that was used."""
    client, source_id = _refreshed_client(database, settings, publisher, report)
    if client is None:
        report.status = "failed"
        return source_id
    with client:
        try:
            targets = client.targets()
        except SyncError as exc:
            report.status = "failed"
            report.problems.append(str(exc))
            return source_id
        report.skipped += [f"{name}: {BAD_TARGET}" for name in client.skipped]
        _take_targets(database, settings, hooks, publisher, client, actor, report, targets)
    return source_id


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
                publisher.name,
                folder,
                root,
                _source(source.kind, source.location),
                # A package with a reference collection's ZIM is far above the 8 GiB of
                # the rest; the extractor holds each part to its own limit.
                max_target_bytes=DEFAULT_LIMITS.max_signed_package_bytes,
            )
            client.refresh()
        except (SyncError, ValueError) as exc:
            report.problems.append(f"{source.location}: {exc}")
            continue
        return client, source.id
    return None, None


BAD_TARGET = (
    "its name or signed fields do not follow the rules (course-id/course-id-vN.tar, with"
    " course_id and version in custom); ask the publisher to fix it"
)


def _take_targets(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    client: PublisherClient,
    actor: Actor,
    report: RunReport,
    targets: list[RemoteTarget],
) -> None:
    report.skipped += _behind(database, targets)
    for target in sorted(targets, key=lambda t: (t.course_id, t.version)):
        label = f"{target.course_id} v{target.version}"
        try:
            _take(database, settings, hooks, publisher, client, target, actor, report)
        except (CatalogRefused, ContentError) as exc:
            _refuse(database, actor, report, label, exc.message)
        except Exception as exc:  # noqa: BLE001 - the one place a target's failure stops
            # Whatever fails with one target (a full disk at the commit, a fault that a
            # hostile package reaches) is the refusal of that target, with its reason:
            # the run goes on with the next target and the next publisher.
            _refuse(database, actor, report, label, reason(exc))


def _take(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    client: PublisherClient,
    target: RemoteTarget,
    actor: Actor,
    report: RunReport,
) -> None:
    label = f"{target.course_id} v{target.version}"
    if target.retracted:
        if library.retract(database, hooks, actor, target.course_id, target.version):
            report.retracted.append(label)
        return
    if target.version <= _high_water(database, target.course_id):
        return
    library.check_target(database.reader.conn, publisher, target.course_id, target.version)
    _install(database, settings, hooks, publisher, client, target, actor)
    report.imported.append(label)


def _refuse(database: Database, actor: Actor, report: RunReport, label: str, why: str) -> None:
    report.refused.append(f"{label}: {why}")
    try:
        with database.write() as db:
            audit.record(db, actor, "content.refused", label, reason=why[:500])
    except sqlite3.Error as exc:  # a full disk: the run's own message still says it
        report.problems.append(f"the refusal of {label} could not be audited ({exc})")


def _high_water(database: Database, course_id: str) -> int:
    row = database.query_one(
        "SELECT high_water_version FROM courses WHERE course_id = ?", [course_id]
    )
    return int(row[0]) if row is not None else 0


def _behind(database: Database, targets: list[RemoteTarget]) -> list[str]:
    """Courses whose newest offered version is older than the newest one here: an old
    copy of the publisher's files (say, after the facility lost its metadata cache).
    Never installed, and worth an admin's look."""
    newest: dict[str, int] = {}
    for target in targets:
        newest[target.course_id] = max(newest.get(target.course_id, 0), target.version)
    found = []
    for course_id, version in sorted(newest.items()):
        here = _high_water(database, course_id)
        if version < here:
            found.append(
                f"{course_id} v{version}: older than v{here}, the newest here (an old copy"
                " of the publisher's files?)"
            )
    return found


def _install(
    database: Database,
    settings: Settings,
    hooks: CatalogHooks,
    publisher: Publisher,
    client: PublisherClient,
    target: RemoteTarget,
    actor: Actor,
) -> None:
    _check_room(settings, target)
    # Streamed from the source into the importer: the package is never written to disk
    # whole, and its blobs reach the store only once it is known to be the signed target.
    with client.open_target(target) as stream:
        staged = import_package(
            stream, content_store(settings), confirm=partial(_confirm, stream, target)
        )
    # Before the version is recorded, so it is reviewed with its narration; long before
    # any learner asks for it.
    staged = add_narration(staged, content_store(settings), import_engine(settings)).staged
    library.record_import(database, hooks, publisher, staged, target.sha256, actor)


def _check_room(settings: Settings, target: RemoteTarget) -> None:
    """Refuse a package the data folder has no room for before a byte of it is fetched: a
    reference collection can be tens of GB, and a disk that fills up half-way through
    costs the whole transfer (the import still leaves nothing behind then)."""
    free = shutil.disk_usage(settings.data_dir).free
    if target.length > free:
        raise CatalogRefused(
            f"Not enough disk space: the package is {_gigabytes(target.length)} and the data"
            f" folder has {_gigabytes(free)} free. Free some space (or move the data folder to a"
            " bigger disk) and sync again."
        )


def _gigabytes(count: int) -> str:
    """A size as `df -h` counts it (1 GB = 1024 MB), to a tenth."""
    return f"{count / 1024**3:.1f} GB"


def import_engine(settings: Settings) -> SpeechEngine | None:
    """The engine that reads lessons aloud at import, or None when that is turned off."""
    return EspeakEngine() if settings.import_narration == "espeak-ng" else None


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
    """One run per publisher (or only the one named); a publisher whose run cannot even
    start (its folder or the database refuses) does not keep the others from theirs."""
    publishers = trust.list_publishers(database, settings)
    if only is not None:
        publishers = [p for p in publishers if p.name == only.strip().lower()]
    reports = []
    for publisher in publishers:
        try:
            reports.append(sync_publisher(database, settings, hooks, publisher, actor, trigger))
        except (OSError, sqlite3.Error) as exc:
            reports.append(
                RunReport(publisher.name, "failed", problems=[f"not started: {reason(exc)}"])
            )
    return reports
