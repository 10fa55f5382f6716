"""Sign-in throughput and latency under 50 concurrent clients, against the KDF's ceiling.

Starts a real `stepstone serve` (uvicorn, 2 workers) on a free loopback port with a
throw-away data folder, then 50 concurrent clients each sign in again and again: GET the
form (CSRF cookie and token), POST the facility id and PIN, expect 303. The anchor is the
rate at which this machine can verify argon2id hashes with the same parameters in two
processes: no sign-in can be faster than its password check.

    .venv/bin/python bench/signin.py [--clients 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.cli.main import initialize  # noqa: E402
from server.core.settings import load_settings  # noqa: E402
from server.people import passwords  # noqa: E402

PIN = "582046"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def prepare(data: Path, learners: int) -> None:
    database = initialize(load_settings(environ={}, data_dir=data))
    stored = passwords.hash_secret(PIN)
    now = "2026-01-01T00:00:00+00:00"
    with database.write() as db:
        db.conn.executemany(
            "INSERT INTO users (role, facility_id, display_name, language, secret_hash,"
            " must_change_secret, created_at, updated_at)"
            " VALUES ('learner', ?, ?, 'en', ?, 0, ?, ?)",
            [(f"L{n:05d}", f"Learner {n}", stored, now, now) for n in range(learners)],
        )
    database.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def client_loop(
    base: str, login: str, until: float, latencies: list[float], errors: list[str]
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            form = await client.get("/signin")
            token = CSRF.search(form.text)
            if token is None:
                errors.append(f"form {form.status_code}")
                continue
            started = time.perf_counter()
            response = await client.post(
                "/signin", data={"facility_id": login, "pin": PIN, "csrf_token": token.group(1)}
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 303:
                errors.append(f"sign-in {response.status_code}")
            client.cookies.clear()


async def load(base: str, clients: int, seconds: float) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(
        *(client_loop(base, f"L{n:05d}", until, latencies, errors) for n in range(clients))
    )
    return latencies, errors, time.monotonic() - started


def _verify_for(seconds: float) -> int:
    stored = passwords.hash_secret(PIN)
    count, until = 0, time.monotonic() + seconds
    while time.monotonic() < until:
        passwords.verify_secret(stored, PIN)
        count += 1
    return count


def kdf_ceiling(seconds: float) -> float:
    with multiprocessing.Pool(2) as pool:
        counts = pool.map(_verify_for, [seconds, seconds])
    return sum(counts) / seconds


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        prepare(data, args.clients)
        port = free_port()
        env = os.environ | {"STEPSTONE_DATA_DIR": str(data)}
        server = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(base + "/signin", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            latencies, errors, elapsed = asyncio.run(load(base, args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait()
    ceiling = kdf_ceiling(5)
    rate = len(latencies) / elapsed
    print(
        f"clients: {args.clients}, duration: {elapsed:.1f} s, sign-ins: {len(latencies)}, "
        f"errors: {len(errors)}"
    )
    print(
        f"sign-in rate: {rate:.1f}/s   p50 {percentile(latencies, 50) * 1000:.0f} ms   "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms   "
        f"p99 {percentile(latencies, 99) * 1000:.0f} ms"
    )
    print(f"anchor, argon2id verify in 2 processes: {ceiling:.1f}/s   ratio: {rate / ceiling:.2f}")
    if errors:
        print("first errors:", errors[:5])


if __name__ == "__main__":
    main()
