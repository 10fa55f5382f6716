"""Benchmark: import a 1 GiB course package into the content store, against an anchor.

Anchor: ``openssl dgst -sha256`` of the same package file in the same run (read every
byte once and hash it: the floor for any import that verifies what it stores). The import
(``content.importer.import_package``: strict extraction, manifest and SHA-256 checks, type
sniffing, HTML re-sanitizing, fsync and rename into the store) runs in a subprocess so its
peak RSS is its own. Targets: import throughput >= 40% of the anchor's, peak RSS < 200 MB
whatever the package size.

A second figure is printed for context: ``dd ... conv=fsync``, copying the same bytes to
a file on the same disk and flushing it. An import must write every byte durably, so on
a machine whose disk writes slower than OpenSSL hashes, that copy (not the hash) is the
real floor.

    .venv/bin/python bench/import.py              # 1 GiB of media
    .venv/bin/python bench/import.py --size-mb 64 # quicker

``run(package_path)`` imports one package into a fresh store and returns the figures, for
reuse by a later sync benchmark.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024

IMPORT = """
import json, resource, sys, time
from pathlib import Path
from content.importer import import_package
from content.store import ContentStore
start = time.perf_counter()
staged = import_package(Path(sys.argv[1]), ContentStore(Path(sys.argv[2])))
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kib": peak_kib, "files": len(staged.files),
                  "lessons": len(staged.lessons)}))
"""


def _package_build() -> ModuleType:
    """bench/package_build.py, whose course generator we reuse (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "package_build", ROOT / "bench" / "package_build.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(package_path: Path, store_root: Path | None = None) -> dict[str, Any]:
    """Import ``package_path`` into a fresh store (a temporary one unless given), in a
    subprocess; returns seconds, peak RSS (KiB), file and lesson counts, MiB/s."""
    with tempfile.TemporaryDirectory(prefix="stepstone-store-", dir=package_path.parent) as temp:
        store = store_root or Path(temp) / "store"
        subprocess.run(["sync"], check=True)  # no writes of an earlier run in the way
        shutil.rmtree(store, ignore_errors=True)
        result: dict[str, Any] = _package_build().measure(IMPORT, str(package_path), str(store))
    result["mib_per_s"] = package_path.stat().st_size / MIB / result["seconds"]
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
    copy = package.with_suffix(".copy")
    start = time.perf_counter()
    subprocess.run(
        ["dd", f"if={package}", f"of={copy}", "bs=1M", "conv=fsync", "status=none"], check=True
    )
    seconds = time.perf_counter() - start
    copy.unlink()
    return seconds


def build(temp: Path, args: argparse.Namespace) -> Path:
    """Generate the course (video-sized media), build its package, drop the source."""
    generator = _package_build()
    src = temp / "course"
    start = time.perf_counter()
    generator.write_course(src, args.lessons, args.size_mb, args.media_files)
    sys.path.insert(0, str(ROOT))
    from content.package import build_package

    package: Path = build_package(src, temp / "dist", progress=False)
    shutil.rmtree(src)  # only the package is needed now; halves the disk used
    print(
        f"package: {args.lessons} lessons, {args.media_files} media files, "
        f"{package.stat().st_size / MIB:.0f} MiB (made in {time.perf_counter() - start:.1f}s)"
    )
    return package


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="media size in MiB")
    parser.add_argument("--lessons", type=int, default=2000)
    parser.add_argument("--media-files", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2, help="best of N for each side")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: $TMPDIR)")
    args = parser.parse_args()
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stepstone-bench-", dir=args.dir) as name:
        package = build(Path(name), args)
        size = package.stat().st_size / MIB
        anchor_seconds(package)  # warm the page cache so both sides read from memory
        anchor = min(anchor_seconds(package) for _ in range(args.runs))
        subprocess.run(["sync"], check=True)  # start every write run with a clean page cache
        copy = min(copy_seconds(package) for _ in range(args.runs))
        imports = [run(package) for _ in range(args.runs)]
        best = min(imports, key=lambda r: r["seconds"])
        peak_mb = max(r["peak_kib"] for r in imports) / 1024
        anchor_rate, import_rate = size / anchor, size / best["seconds"]
        print(f"anchor openssl dgst -sha256 : {anchor:6.2f}s  {anchor_rate:7.1f} MiB/s")
        print(
            f"import_package              : {best['seconds']:6.2f}s  {import_rate:7.1f} MiB/s  "
            f"({best['files']} files, {best['lessons']} lessons)"
        )
        print(f"ratio import/anchor         : {import_rate / anchor_rate:.2f}  (target >= 0.40)")
        copy_rate = size / copy
        print(f"write floor dd conv=fsync   : {copy:6.2f}s  {copy_rate:7.1f} MiB/s")
        print(f"ratio import/write floor    : {import_rate / copy_rate:.2f}")
        print(f"peak RSS of the import      : {peak_mb:.0f} MB  (target < 200 MB)")


if __name__ == "__main__":
    main()
