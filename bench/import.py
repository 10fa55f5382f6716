"""Benchmark: sync and import a 1 GiB course package from a folder TUF repository.

Anchor: ``openssl dgst -sha256`` of the same package file in the same run (read every
byte once and hash it: the floor for any import that verifies what it stores). Measured,
each in a fresh subprocess so its peak RSS is its own:

- ``sync_publisher``, end to end: refresh the publisher's signed metadata from a folder
  (a USB stick), verify and fetch the target, extract it strictly, check every file,
  re-sanitize the HTML, move the blobs into the store, record the version in SQLite;
- ``import_package`` alone, from the same file (the difference is what the signed sync
  adds: metadata refresh, the target's own hash, the database).

Targets: sync throughput >= 40% of the anchor's, peak RSS < 200 MB whatever the package
size. For context, ``dd ... oflag=direct conv=fsync`` copies the same bytes to a file on
the same disk, past the page cache as the import writes its big files, and flushes them:
an import must write every byte durably, so on a machine whose disk writes slower than
OpenSSL hashes, that copy (not the hash) is the real floor.

    .venv/bin/python bench/import.py --dir /srv/scratch               # 1 GiB of media
    .venv/bin/python bench/import.py --dir /srv/scratch --size-mb 64  # quicker
    .venv/bin/python bench/import.py --dir /srv/scratch --profile     # + where time goes

``run(package_path, work)`` imports one package into a new store and ``sync_run`` syncs
one into a new data folder; both return the figures.

Nothing is deleted until every side has run (the work folder needs about 2 + 2 x runs
times the package size): on ext4 without a journal, creating a file skips over every
inode freed in the last 30 s, one look-up each, so removing the 2,000 lesson files of
one run just before the next made each new file cost 0.25 ms of CPU instead of 0.015 ms
and charged the next run for the clean-up of the last.

Where a sync's time goes (1 GiB: 64 videos and 2,000 lessons, 2 cores, quiet machine,
about 1.55 s and 2.4 s of CPU in all): metadata refresh 0.02 s; reading and checking the
manifest 0.04 s (jsonschema-rs; the pure Python validator took 0.4 s); the 2,000 lesson
files 0.2 s (created on a thread of their own); the media about 1.0 s: the target's
SHA-256 and the reading on one thread, each file's SHA-256 on another, and the writes,
straight to the disk (O_DIRECT), on the main one; the HTML re-sanitizing 0.14 s; moving
2,128 blobs into the store 0.08 s (two syncfs calls and the renames); the database
0.05 s. Two SHA-256 passes over every byte are the floor: the target's (its signature)
and each file's (its name in the store); so is writing the bytes (see the write floor).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import package_build  # noqa: E402  (beside this file: its course generator and measure())

MIB = 1024 * 1024
PUBLISHER = "bench-ngo"
NAMESPACE = "org.example"

IMPORT = """
import json, resource, sys, time
from pathlib import Path
from content.importing.importer import import_package
from content.importing.store import ContentStore
start, cpu = time.perf_counter(), time.process_time()
staged = import_package(Path(sys.argv[1]), ContentStore(Path(sys.argv[2])))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_kib": peak_kib,
                  "files": len(staged.files), "lessons": len(staged.lessons)}))
"""

# A facility that trusts the publisher (pinned root, the repository folder as its stick)
# and runs one sync; only the sync itself is timed. With a 6th argument, the sync runs
# under cProfile and the top of the profile is written to that file.
SYNC = """
import cProfile, json, pstats, resource, sys, time
from pathlib import Path
from server.catalog import trust
from server.people.audit import Actor
from server.catalog.library import CatalogHooks
from server.cli.main import initialize
from server.core.settings import load_settings
from server.catalog.sync import sync_publisher
settings = load_settings(environ={}, data_dir=Path(sys.argv[1]))
database = initialize(settings)
actor = Actor.system("bench")
root = Path(sys.argv[2]).read_bytes()
publisher = trust.add_publisher(
    database, actor, sys.argv[4], sys.argv[5], root, confirmed=trust.fingerprint_of(root).root
)
trust.add_source(database, actor, publisher, "folder", sys.argv[3])
profile = cProfile.Profile() if len(sys.argv) > 6 else None
start, cpu = time.perf_counter(), time.process_time()
if profile:
    profile.enable()
report = sync_publisher(database, settings, CatalogHooks(), publisher, actor, "bench")
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
if profile:
    profile.disable()
    with open(sys.argv[6], "w") as out:
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
if report.status != "ok" or len(report.imported) != 1:
    sys.exit(f"the sync did not import the package: {report.status}: {report.message}")
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu": cpu, "peak_kib": peak_kib}))
"""


def run(package_path: Path, work: Path) -> dict[str, Any]:
    """Import ``package_path`` into a new store in a new folder under ``work``, in a
    subprocess; returns seconds, CPU seconds, peak RSS (KiB), file and lesson counts,
    MiB/s. The store is left for the caller to remove (see :func:`main`)."""
    folder = Path(tempfile.mkdtemp(prefix="stepstone-store-", dir=work))
    subprocess.run(["sync"], check=True)  # no writes of an earlier run in the way
    result: dict[str, Any] = package_build.measure(IMPORT, str(package_path), str(folder / "store"))
    result["mib_per_s"] = package_path.stat().st_size / MIB / result["seconds"]
    return result


def sync_run(repo: Path, work: Path, profile: Path | None = None) -> dict[str, Any]:
    """Sync the published ``repo`` into a new data folder under ``work``, in a
    subprocess; returns seconds, CPU seconds (all threads) and peak RSS (KiB) of that
    process. With ``profile``, the sync runs under cProfile (slower) and its profile is
    written to that file. The data folder is left for the caller to remove."""
    published = repo / "published"
    root = published / "metadata" / "1.root.json"
    folder = Path(tempfile.mkdtemp(prefix="stepstone-data-", dir=work))
    subprocess.run(["sync"], check=True)  # no writes of an earlier run in the way
    args = [str(folder / "data"), str(root), str(published), PUBLISHER, NAMESPACE]
    args += [str(profile)] if profile else []
    result: dict[str, Any] = package_build.measure(SYNC, *args)
    return result


def anchor_seconds(package: Path) -> float:
    """Seconds for ``openssl dgst -sha256`` to read and hash the package."""
    start = time.perf_counter()
    subprocess.run(
        ["openssl", "dgst", "-sha256", str(package)], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def copy_seconds(package: Path) -> float:
    """Seconds to copy the package to a new file beside it and fsync it (the write floor)."""
    copy = package.with_name(package.name + ".copy")
    start = time.perf_counter()
    subprocess.run(
        ["dd", f"if={package}", f"of={copy}", "bs=1M", "oflag=direct", "conv=fsync", "status=none"],
        check=True,
    )
    seconds = time.perf_counter() - start
    copy.unlink()
    return seconds


def build(temp: Path, args: argparse.Namespace) -> Path:
    """Generate the course (video-sized media) and build its package."""
    src = temp / "course"
    start = time.perf_counter()
    package_build.write_course(src, args.lessons, args.size_mb, args.media_files)
    from content.package.build import build_package

    package: Path = build_package(src, temp / "dist", progress=False)
    print(
        f"package: {args.lessons} lessons, {args.media_files} media files, "
        f"{package.stat().st_size / MIB:.0f} MiB (made in {time.perf_counter() - start:.1f}s)"
    )
    return package


def publish(temp: Path, package: Path) -> tuple[Path, Path]:
    """Publish ``package`` in a new folder TUF repository (the package file moves into
    it); returns the repository and the published target file."""
    from content.tuf import repository

    repo = temp / "repo"
    repository.init_repository(repo, "Bench NGO", NAMESPACE)
    repository.add_packages(repo, [package])
    package.unlink()  # the published copy holds the same bytes
    [target] = (repo / "published" / "targets").glob("*/*.tar")
    return repo, target


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="media size in MiB")
    parser.add_argument("--lessons", type=int, default=2000)
    parser.add_argument("--media-files", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3, help="best of N rounds for each side")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: $TMPDIR)")
    parser.add_argument(
        "--profile", action="store_true", help="also profile one sync (cProfile) and print it"
    )
    args = parser.parse_args()
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stepstone-bench-", dir=args.dir) as name:
        temp = Path(name)
        repo, package = publish(temp, build(temp, args))
        report(package, repo, temp, args)


def report(package: Path, repo: Path, temp: Path, args: argparse.Namespace) -> None:
    """Measure every side and print the figures.

    The sides take turns, round after round, and each keeps its best round: a shared
    machine speeds up and slows down over a minute, and that must not favour one side.
    """
    size = package.stat().st_size / MIB
    anchor_seconds(package)  # warm the page cache so every side reads from memory
    anchors, copies, syncs, imports = [], [], [], []
    for _ in range(args.runs):
        anchors.append(anchor_seconds(package))
        subprocess.run(["sync"], check=True)  # start every write run with a clean page cache
        copies.append(copy_seconds(package))
        syncs.append(sync_run(repo, temp))
        imports.append(run(package, temp))
    anchor, copy = min(anchors), min(copies)
    synced = min(syncs, key=lambda r: r["seconds"])
    imported = min(imports, key=lambda r: r["seconds"])
    rate = {
        "anchor": size / anchor,
        "sync": size / synced["seconds"],
        "import": size / imported["seconds"],
        "copy": size / copy,
    }
    print(f"anchor openssl dgst -sha256 : {anchor:6.2f}s  {rate['anchor']:7.1f} MiB/s")
    print(
        f"sync_publisher (end to end) : {synced['seconds']:6.2f}s  {rate['sync']:7.1f} MiB/s"
        f"  (CPU {synced['cpu']:.2f}s)"
    )
    print(
        f"import_package alone        : {imported['seconds']:6.2f}s  {rate['import']:7.1f} MiB/s"
        f"  (CPU {imported['cpu']:.2f}s; {imported['files']} files, {imported['lessons']} lessons)"
    )
    print(f"ratio sync/anchor           : {rate['sync'] / rate['anchor']:.2f}  (target >= 0.40)")
    print(f"ratio import/anchor         : {rate['import'] / rate['anchor']:.2f}")
    print(f"write floor dd oflag=direct : {copy:6.2f}s  {rate['copy']:7.1f} MiB/s")
    print(f"ratio sync/write floor      : {rate['sync'] / rate['copy']:.2f}")
    peak_sync = max(s["peak_kib"] for s in syncs) / 1024
    peak_import = max(r["peak_kib"] for r in imports) / 1024
    print(f"peak RSS sync / import      : {peak_sync:.0f} / {peak_import:.0f} MB  (target < 200)")
    if args.profile:
        sync_run(repo, temp, profile=temp / "profile.txt")
        print((temp / "profile.txt").read_text())


if __name__ == "__main__":
    main()
