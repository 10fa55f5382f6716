"""Benchmark: build a 2,000-lesson course with 1 GiB of media, against an anchor.

Anchor: ``tar -cf - DIR | sha256sum`` on the same folder in the same run (read every byte
once and hash it). Targets: build throughput >= 50% of the anchor's, peak RSS < 150 MB
whatever the media size.

    .venv/bin/python bench/package_build.py              # 1 GiB of media
    .venv/bin/python bench/package_build.py --size-mb 64 # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"
VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n"
CHUNK = 1024 * 1024

BUILD = """
import json, resource, sys, time
from pathlib import Path
from content.package.build import build_package
start = time.perf_counter()
path = build_package(Path(sys.argv[1]), Path(sys.argv[2]), progress=False)
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kib": peak_kib, "size": path.stat().st_size}))
"""


def write_course(root: Path, lessons: int, size_mb: int, media_files: int) -> int:
    """Write the course; return the bytes of media written."""
    (root / "lessons").mkdir(parents=True)
    (root / "media").mkdir()
    per_file = size_mb * CHUNK // media_files
    for index in range(media_files):
        with (root / "media" / f"clip-{index:03}.webm").open("wb") as out:
            out.write(WEBM_HEAD)
            left = per_file - len(WEBM_HEAD)
            while left > 0:
                out.write(os.urandom(min(CHUNK, left)))
                left -= CHUNK
        (root / "media" / f"clip-{index:03}.en.vtt").write_bytes(VTT)
    names = []
    for index in range(lessons):
        name = f"lessons/{index:04}.md"
        names.append(name)
        (root / name).write_text(lesson_text(index, lessons, media_files), encoding="utf-8")
    course = {
        "id": "org.example.bench",
        "version": 1,
        "title": "Benchmark course",
        "summary": "Generated.",
        "category": "education",
        "language": "en",
        "level": "beginner",
        "estimated_hours": 100,
        "license": "CC0-1.0",
        "lessons": names,
    }
    (root / "course.yaml").write_text(json.dumps(course), encoding="utf-8")  # JSON is YAML
    return per_file * media_files


def lesson_text(index: int, lessons: int, media_files: int) -> str:
    link = f"[next]({index + 1:04}.md#part-two)" if index + 1 < lessons else "the end"
    body = (
        f"# Lesson {index}\n\nSome text with **bold** and {link}.\n\n"
        "## Part two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n::: tip\nA tip.\n:::\n"
    )
    if index < media_files:
        front = (
            f"key: l{index:04}\ntitle: Lesson {index}\nkind: video\n"
            f"media: ../media/clip-{index:03}.webm\ncaptions:\n"
            f"  - {{src: ../media/clip-{index:03}.en.vtt, language: en, label: English}}"
        )
    else:
        front = f"key: l{index:04}\ntitle: Lesson {index}\nkind: reading"
    return f"---\n{front}\n---\n{body}"


def anchor_seconds(folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"tar -cf - -C '{folder}' . | sha256sum"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def measure(snippet: str, *args: str) -> dict[str, Any]:
    """Run a Python snippet that prints JSON in a fresh process (so its peak RSS is its own)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", snippet, *args], capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        # Show the measured process's own error, not just "exit status 1".
        sys.exit(f"the measured run failed:\n{out.stderr.strip()}")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def build_once(src: Path, dist: Path) -> dict[str, Any]:
    shutil.rmtree(dist, ignore_errors=True)
    return measure(BUILD, str(src), str(dist))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="media size in MiB")
    parser.add_argument("--lessons", type=int, default=2000)
    parser.add_argument("--media-files", type=int, default=64)
    parser.add_argument("--runs", type=int, default=2, help="best of N for each side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stepstone-bench-") as temp:
        src, dist = Path(temp) / "course", Path(temp) / "dist"
        start = time.perf_counter()
        media = write_course(src, args.lessons, args.size_mb, args.media_files)
        total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
        print(
            f"course: {args.lessons} lessons, {media / CHUNK:.0f} MiB media, "
            f"{total / CHUNK:.0f} MiB total (written in {time.perf_counter() - start:.1f}s)"
        )
        anchor_seconds(src)  # warm the page cache so both sides read from memory
        anchor = min(anchor_seconds(src) for _ in range(args.runs))
        builds = [build_once(src, dist) for _ in range(args.runs)]
        best = min(builds, key=lambda b: b["seconds"])
        peak_mb = max(b["peak_kib"] for b in builds) / 1024
        anchor_rate = total / CHUNK / anchor
        build_rate = total / CHUNK / best["seconds"]
        print(f"anchor  tar | sha256sum : {anchor:6.2f}s  {anchor_rate:7.1f} MiB/s")
        print(
            f"build_package           : {best['seconds']:6.2f}s  {build_rate:7.1f} MiB/s  "
            f"package {best['size'] / CHUNK:.0f} MiB"
        )
        print(f"ratio build/anchor      : {build_rate / anchor_rate:.2f}  (target >= 0.50)")
        print(f"peak RSS of the build   : {peak_mb:.0f} MB  (target < 150 MB)")


if __name__ == "__main__":
    main()
