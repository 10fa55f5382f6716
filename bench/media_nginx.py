"""Benchmark: video through nginx with TLS, each request authorised by Stepstone, against
nginx sending the same file without asking anyone (the limit).

Set-up, all on loopback: a published course with one generated video (64 MiB by
default), a signed-in learner, ``stepstone serve`` (uvicorn, 2 workers, the settings of
deploy/stepstone.env) and Debian's nginx with the shipped site (deploy/nginx/stepstone.conf,
only ports and paths replaced) plus one extra location that serves the content store
directly. Then many clients stream 1 MiB ranges of the video at random offsets, on
keep-alive TLS connections, for a fixed time:

- **authorised**: ``GET /media/<sha256>/clip-000.webm`` with the session cookie: nginx asks
  Stepstone (session, course visibility), which answers ``X-Accel-Redirect``, and nginx
  sends the range from the store itself;
- **limit**: ``GET /_bench_plain/<ab>/<sha256>``: nginx sends the same range at once.

The two alternate (limit, authorised, limit, authorised, ...) so that a change in the
machine's load hits both. Reported: requests/s, MiB/s, p50/p95/p99 latency of each, the
CPU time nginx, Stepstone and wrk spent per request (from /proc), and the ratio of the
authorised throughput to the limit's, measured and as predicted from CPU per request
(everything here is CPU-bound, so the second stays put when other work on the machine
takes cores away; the first does not). Target: >= 0.80.

The load generator is wrk (Debian package ``wrk``) with a Lua script for the Range and
Cookie headers: it is C on epoll, so one thread keeps hundreds of TLS connections busy
for a fraction of the CPU an async Python client needs per response; with a Python client
the client itself would be the limit and both sides would look the same. wrk does share
the 2 cores with nginx and uvicorn, equally on both sides.

    .venv/bin/python bench/media_nginx.py --dir /srv/scratch
    .venv/bin/python bench/media_nginx.py --dir /srv/scratch --connections 100 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import package_build  # noqa: E402  (beside this file: its course generator)

from content.package.build import build_package  # noqa: E402
from content.tuf.fingerprint import root_fingerprint  # noqa: E402
from content.tuf.repository import add_packages, init_repository  # noqa: E402
from server.catalog import trust  # noqa: E402
from server.catalog.library import CatalogHooks  # noqa: E402
from server.catalog.sync import sync_publisher  # noqa: E402
from server.cli.main import initialize  # noqa: E402
from server.core.settings import load_settings  # noqa: E402
from server.people import accounts, passwords  # noqa: E402
from server.people.accounts import Role  # noqa: E402
from server.people.audit import Actor  # noqa: E402
from tests.deploy.nginx_site import Site, make_certificates, running_nginx  # noqa: E402
from tests.live import free_port, running_server  # noqa: E402

MIB = 1024 * 1024
COURSE = "org.example.bench"
LESSON = f"/learn/courses/{COURSE}/lessons/l0000"
LOGIN, PIN = "BENCH1", "493817"
PLAIN = "/_bench_plain/"

# Random 1 MiB-aligned ranges; the results as one JSON line. No response() callback: wrk
# would then copy every body into Lua, which costs the client more than the server.
WRK_SCRIPT = """
local path, cookie, size, chunk = "{path}", "{cookie}", {size}, {chunk}
local slots = math.floor(size / chunk)
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + seed)
end
function request()
  local first = math.random(0, slots - 1) * chunk
  return wrk.format("GET", path, {{
    ["Range"] = "bytes=" .. first .. "-" .. (first + chunk - 1),
    ["Cookie"] = cookie,
  }})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{{"requests": %d, "bytes": %d, "seconds": %f, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_ms": %f, "p95_ms": %f, ' ..
    '"p99_ms": %f, "max_ms": %f}}\\n',
    summary.requests, summary.bytes, summary.duration / 1e6, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
"""


def make_facility(work: Path, size_mb: int) -> Path:
    """A data folder with the generated course published and a learner; returns it."""
    source, dist, repo, data = (work / name for name in ("course", "dist", "ngo", "data"))
    package_build.write_course(source, 1, size_mb, 1)
    dist.mkdir()
    package = build_package(source, dist, progress=False)
    init_repository(repo, "bench-ngo", "org.example")
    add_packages(repo, [package])
    settings = load_settings(environ={}, data_dir=data)
    database = initialize(settings)
    actor = Actor.system("bench")
    root = (repo / "published" / "metadata" / "1.root.json").read_bytes()
    publisher = trust.add_publisher(
        database,
        actor,
        "bench-ngo",
        "org.example",
        root,
        confirmed=root_fingerprint(root).root,
        auto_publish=True,
    )
    trust.add_source(database, actor, publisher, "folder", str(repo / "published"))
    report = sync_publisher(database, settings, CatalogHooks(), publisher, actor, "bench")
    if report.status != "ok" or not report.imported:
        sys.exit(f"the course was not published: {report.status}: {report.message}")
    learner, _ = accounts.create_user(database, actor, Role.LEARNER, LOGIN, "Bench", "en")
    with database.write() as db:
        db.execute(
            "UPDATE users SET secret_hash = ?, must_change_secret = 0 WHERE id = ?",
            [passwords.hash_secret(PIN), learner.id],
        )
    database.close()
    return data


def sign_in(base: str, tls: ssl.SSLContext) -> tuple[str, str, str]:
    """Sign the learner in; returns (cookie header, media URL, blob sha256)."""
    with httpx.Client(base_url=base, verify=tls, timeout=10) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").text)
        assert token, "no CSRF token on the sign-in page"
        fields = {"facility_id": LOGIN, "pin": PIN, "csrf_token": token.group(1)}
        signed = client.post("/signin", data=fields)
        assert signed.status_code == 303, signed.text[:300]
        found = re.search(r'src="(/media/([0-9a-f]{64})/clip-000\.webm)"', client.get(LESSON).text)
        assert found, "the video is not on the lesson page"
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return cookie, found.group(1), found.group(2)


def check_same_bytes(base: str, tls: ssl.SSLContext, cookie: str, paths: list[str]) -> None:
    """Both URLs give the same 1 MiB range, as 206, before any load (else: no benchmark)."""
    bodies = []
    with httpx.Client(base_url=base, verify=tls, timeout=10) as client:
        for path in paths:
            response = client.get(
                path, headers={"Range": f"bytes={MIB}-{2 * MIB - 1}", "Cookie": cookie}
            )
            assert response.status_code == 206, (path, response.status_code)
            bodies.append(response.content)
    assert bodies[0] == bodies[1] and len(bodies[0]) == MIB


def wrk(
    base: str, path: str, cookie: str, size: int, args: argparse.Namespace, seconds: int
) -> dict[str, Any]:
    script = Path(args.work) / "range.lua"
    script.write_text(
        WRK_SCRIPT.format(path=path, cookie=cookie, size=size, chunk=MIB), encoding="utf-8"
    )
    command = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={seconds}s",
        "--timeout=30s",
        f"--script={script}",
        base + path,
    ]
    servers = {name: cpu_seconds(pids) for name, pids in args.processes.items()}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(line for line in out.stdout.splitlines() if line.startswith("{"))
    result: dict[str, Any] = json.loads(line)
    cpu = {name: cpu_seconds(args.processes[name]) - used for name, used in servers.items()}
    cpu["wrk"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result["cpu_ms"] = {
        name: 1000 * used / max(result["requests"], 1) for name, used in cpu.items()
    }
    result["cores"] = sum(cpu.values()) / result["seconds"]
    result["rps"] = result["requests"] / result["seconds"]
    result["mib_s"] = result["bytes"] / MIB / result["seconds"]
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (uvicorn's and nginx's workers are direct children)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
            except (OSError, IndexError):
                continue  # ended meanwhile
    return [pid, *children]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by these processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = _stat(pid)
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def serve_pid(port: int) -> int:
    """The `stepstone serve` process listening on `port` (tests/live.py started it)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in argv and b"--port" in argv and str(port).encode() in argv:
                return int(entry.name)
    raise RuntimeError(f"no stepstone serve on port {port}")


def peak_rss_mib(pids: list[int]) -> list[float]:
    """Peak resident memory of each process (VmHWM), for sizing MemoryMax."""
    peaks = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        peaks.append(int(found.group(1)) / 1024 if found else 0.0)
    return peaks


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def row(name: str, runs: list[dict[str, Any]]) -> str:
    mib_s = statistics.mean(r["mib_s"] for r in runs)
    rps = statistics.mean(r["rps"] for r in runs)
    p50, p95, p99 = (max(r[k] for r in runs) for k in ("p50_ms", "p95_ms", "p99_ms"))
    errors = sum(r["errors"] for r in runs)
    cpu = cpu_per_request(runs)
    split = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items())
    cores = statistics.mean(r["cores"] for r in runs)
    return (
        f"{name:<11} {mib_s:6.0f} MiB/s {rps:6.0f} req/s  p50 {p50:5.0f} ms  "
        f"p95 {p95:5.0f} ms  p99 {p99:5.0f} ms  errors {errors}\n"
        f"{'':<11} CPU ms per request: {split}; total {sum(cpu.values()):.2f}"
        f" ({cores:.2f} of {os.cpu_count()} cores busy with these)"
    )


def cpu_per_request(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {k: statistics.mean(r["cpu_ms"][k] for r in runs) for k in runs[0]["cpu_ms"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--size-mb", type=int, default=64, help="video size in MiB (>= 50)")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seconds", type=int, default=20, help="per measured round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each side")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--nginx-workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    args.work = args.dir / "stepstone-media-nginx"
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    start = time.perf_counter()
    data = make_facility(args.work, args.size_mb)
    print(f"facility with a {args.size_mb} MiB video ready in {time.perf_counter() - start:.1f}s")
    certificates = make_certificates(args.work / "tls")
    tls = ssl.create_default_context(cafile=str(certificates.ca))
    store = data / "store"
    plain = f"    location {PLAIN} {{ alias {store}/; }}\n"
    with running_server(
        data,
        workers=args.workers,
        STEPSTONE_HTTPS="true",
        STEPSTONE_TRUSTED_PROXIES="127.0.0.1",
        STEPSTONE_MEDIA_ACCEL_PREFIX="/_media/",
    ) as upstream:
        site = Site(free_port(), free_port(), upstream.removeprefix("http://"), store, certificates)
        with running_nginx(args.work / "nginx", site, plain, workers=args.nginx_workers):
            args.processes = {
                "nginx": process_tree(int((args.work / "nginx" / "nginx.pid").read_text())),
                "stepstone": process_tree(serve_pid(int(upstream.rsplit(":", 1)[1]))),
            }
            cookie, media, sha256 = sign_in(site.base, tls)
            size = (store / sha256[:2] / sha256).stat().st_size
            direct = f"{PLAIN}{sha256[:2]}/{sha256}"
            check_same_bytes(site.base, tls, cookie, [media, direct])
            print(
                f"{args.connections} connections, {args.threads} wrk threads, 1 MiB ranges of"
                f" {size / MIB:.0f} MiB, {args.rounds} x {args.seconds}s per side;"
                f" load average before: {load_average()}"
            )
            for path in (direct, media):  # warm up: TLS sessions, page cache, workers
                wrk(site.base, path, cookie, size, args, 3)
            limit, authorised = [], []
            for _ in range(args.rounds):
                limit.append(wrk(site.base, direct, cookie, size, args, args.seconds))
                authorised.append(wrk(site.base, media, cookie, size, args, args.seconds))
            memory = peak_rss_mib(args.processes["stepstone"])
    for run in limit + authorised:
        per_request = run["bytes"] / max(run["requests"], 1)
        assert per_request > MIB, f"responses were not 1 MiB ranges ({per_request:.0f} B)"
    print(
        "stepstone serve peak RSS (MiB, master then workers): "
        + ", ".join(f"{m:.0f}" for m in memory)
    )
    print(row("limit", limit))
    print(row("authorised", authorised))
    ratio = statistics.mean(r["mib_s"] for r in authorised) / statistics.mean(
        r["mib_s"] for r in limit
    )
    # When all of them are CPU-bound on the same cores, throughput goes as 1 / CPU per
    # request: this ratio does not move when other work on the machine takes cores away.
    cpu_ratio = sum(cpu_per_request(limit).values()) / sum(cpu_per_request(authorised).values())
    print(
        f"ratio authorised/limit: {ratio:.2f} measured, {cpu_ratio:.2f} from CPU per request"
        f" (target >= 0.80); load average after: {load_average()}"
    )
    print(
        "rounds (MiB/s): limit "
        + ", ".join(f"{r['mib_s']:.0f}" for r in limit)
        + "; authorised "
        + ", ".join(f"{r['mib_s']:.0f}" for r in authorised)
    )


if __name__ == "__main__":
    main()
