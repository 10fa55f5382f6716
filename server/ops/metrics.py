"""Prometheus metrics for `GET /metrics` (answered on loopback only).

Requests are counted per worker process, in memory, by route *template*
(`/learn/courses/{course_id}`, never the filled-in path, so the number of series stays
small and no id leaks), and each worker writes its totals to
`DATA_DIR/metrics/<pid>.json` every couple of seconds. `/metrics` adds up every live
worker's file, so whichever worker answers the scrape, the totals cover all of them.
The files of processes that are gone are removed when a worker starts (`serve` clears
the folder too); after a restart the counters start from zero, which Prometheus
`rate()` handles as a counter reset.

Sync results and metadata expiry come from the database (they are facts, not
counters of this process); the health checks' statuses come from the cached report.
Search latency is the latency histogram of the search route.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from content.tuf.updater import metadata_expiry
from server.catalog import trust
from server.core.db import Database
from server.core.settings import Settings
from server.ops import health

log = logging.getLogger("stepstone.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_SECONDS = 2.0
UNMATCHED = "unmatched"  # a path no route matched: one series, however many such paths
_CHECK_VALUE = {health.Status.OK: 0, health.Status.WARN: 1, health.Status.FAIL: 2}


def metrics_dir(settings: Settings) -> Path:
    return settings.data_dir / "metrics"


class RequestMetrics:
    """This process's request counts and latencies, shared with sibling workers by file."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._latency: dict[str, list[float]] = {}  # route -> bucket counts, count, sum
        self._dirty = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(method, route, str(status))] += 1
            row = self._latency.setdefault(route, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[-2] += 1
            row[-1] += seconds
            self._dirty = True

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": [[*key, count] for key, count in self._requests.items()],
                "latency": {route: list(row) for route, row in self._latency.items()},
            }

    # --- sharing between workers --------------------------------------------------------

    @property
    def _own_file(self) -> Path | None:
        return None if self.folder is None else self.folder / f"{os.getpid()}.json"

    def start(self) -> None:
        """Remove the files of processes that are gone, then flush in the background."""
        if self.folder is None:
            return
        self.folder.mkdir(mode=0o700, exist_ok=True)
        for path in self.folder.glob("*.json"):
            if path.stem.isdigit() and not _alive(int(path.stem)):
                path.unlink(missing_ok=True)
        self._stop.clear()  # the same app may be started again (tests do)
        self._thread = threading.Thread(target=self._flush_often, name="metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.flush()

    def _flush_often(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        own = self._own_file
        if own is None or not self._dirty:
            return
        self._dirty = False
        temporary = own.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(self.snapshot()), encoding="utf-8")
            temporary.replace(own)
        except OSError:  # a full disk must not stop the worker; the next flush retries
            self._dirty = True
            log.warning("cannot write request metrics to %s", own, exc_info=True)

    def merged(self) -> dict[str, Any]:
        """Every worker's totals added up (this one's from memory: the newest)."""
        snapshots = [self.snapshot()]
        own = self._own_file
        for path in self.folder.glob("*.json") if self.folder is not None else ():
            if path != own:
                try:
                    snapshots.append(json.loads(path.read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue  # being replaced right now, or gone: next scrape has it
        return _add(snapshots)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _add(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    requests: Counter[tuple[str, str, str]] = Counter()
    latency: dict[str, list[float]] = {}
    workers = 0
    for snap in snapshots:
        workers += 1
        for method, route, status, count in snap.get("requests", []):
            requests[(str(method), str(route), str(status))] += int(count)
        for route, row in snap.get("latency", {}).items():
            total = latency.setdefault(str(route), [0.0] * (len(BUCKETS) + 2))
            for i, value in enumerate(row[: len(total)]):
                total[i] += float(value)
    return {"requests": requests, "latency": latency, "workers": workers}


# --- the exposition ---------------------------------------------------------------------


def render(
    metrics: RequestMetrics,
    settings: Settings,
    database: Database,
    report: health.Report,
) -> str:
    """The Prometheus text format of everything this server reports."""
    totals = metrics.merged()
    out: list[str] = []
    _family(out, "stepstone_http_requests_total", "counter", "HTTP requests by route and status")
    for (method, route, status), count in sorted(totals["requests"].items()):
        labels = {"method": method, "route": route, "status": status}
        out.append(_sample("stepstone_http_requests_total", labels, count))
    name = "stepstone_http_request_duration_seconds"
    _family(out, name, "histogram", "Time to answer a request, by route")
    for route, row in sorted(totals["latency"].items()):
        bounds = (*map(str, BUCKETS), "+Inf")
        for bound, count in zip(bounds, [*row[: len(BUCKETS)], row[-2]], strict=True):
            out.append(_sample(f"{name}_bucket", {"route": route, "le": bound}, count))
        out.append(_sample(f"{name}_sum", {"route": route}, row[-1]))
        out.append(_sample(f"{name}_count", {"route": route}, row[-2]))
    _family(out, "stepstone_workers_reporting", "gauge", "Worker processes in these totals")
    out.append(_sample("stepstone_workers_reporting", {}, totals["workers"]))
    _sync_metrics(out, settings, database)
    _family(out, "stepstone_check_status", "gauge", "Health checks: 0 ok, 1 warn, 2 fail")
    for check in report.checks:
        out.append(
            _sample("stepstone_check_status", {"check": check.key}, _CHECK_VALUE[check.status])
        )
    return "\n".join(out) + "\n"


def _sync_metrics(out: list[str], settings: Settings, database: Database) -> None:
    runs = "stepstone_sync_runs_total"
    _family(out, runs, "counter", "Sync runs recorded, by publisher and outcome")
    rows = database.query(
        "SELECT p.name, r.status, count(*) AS n FROM sync_runs r JOIN publishers p"
        " ON p.id = r.publisher_id GROUP BY p.name, r.status ORDER BY p.name, r.status"
    )
    for row in rows:
        out.append(_sample(runs, {"publisher": row["name"], "status": row["status"]}, row["n"]))
    last = "stepstone_sync_last_success_timestamp_seconds"
    expiry = "stepstone_sync_metadata_expiry_timestamp_seconds"
    _family(out, last, "gauge", "End of the last successful sync (Unix time)")
    _family(out, expiry, "gauge", "When the publisher's trusted timestamp expires (Unix time)")
    for publisher in trust.list_publishers(database, settings):
        ok = database.query_one(
            "SELECT max(finished_at) FROM sync_runs WHERE publisher_id = ? AND status = 'ok'",
            [publisher.id],
        )
        if ok is not None and ok[0]:
            when = health.parse_time(ok[0]).timestamp()
            out.append(_sample(last, {"publisher": publisher.name}, when))
        expires = metadata_expiry(trust.metadata_dir(settings, publisher))
        if expires is not None:
            out.append(_sample(expiry, {"publisher": publisher.name}, expires.timestamp()))


def _family(out: list[str], name: str, kind: str, help_text: str) -> None:
    out.append(f"# HELP {name} {help_text}.")
    out.append(f"# TYPE {name} {kind}")


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    if labels:
        inner = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
        return f"{name}{{{inner}}} {_number(value)}"
    return f"{name} {_number(value)}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
