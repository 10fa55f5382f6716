"""A shift change: 500 learners sign in within one minute, each from their own tablet,
against a real 2-worker server; before (PINs at the staff argon2id cost, as every PIN was
hashed before the pepper) and after (PINs keyed with the pepper, at the PIN cost).

For each phase it starts `stepstone serve` (uvicorn, 2 workers) on a free loopback port
with a throw-away data folder of learners, then each learner arrives at a random moment of
the window (the same moments in both phases), opens the sign-in form (CSRF cookie and
token) and posts their facility id and PIN, expecting 303. Each tablet has its own
address, as on the facility's network: its connections come from its own loopback address
(127.0.x.y), which is what the server counts tries per address by. The latency is the
POST's, what a learner waits for after pressing "Sign in". The target is p95 < 3 s; the
anchor is the cost of one argon2id verification with each phase's parameters.

    .venv/bin/python bench/signin.py [--learners 500] [--window 60] [--phase both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.cli.main import cli, initialize  # noqa: E402
from server.core.settings import load_settings  # noqa: E402
from server.people import accounts, passwords  # noqa: E402
from server.people.accounts import Role  # noqa: E402

PIN = "582046"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TARGET_P95 = 3.0
# What every PIN cost before the pepper: the staff parameters (19 MiB, 2 passes).
OLD_PIN_COST = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Set for the "before" server: its worker processes are spawned and import this file as
# their main module, so each one hashes PINs at the old cost from its first request.
_OLD_COST_ENV = "STEPSTONE_BENCH_OLD_PIN_COST"


def _use_old_pin_cost() -> None:
    staff = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
    passwords.use_hashers(passwords.Hashers(staff=staff, pin=OLD_PIN_COST))


if os.environ.get(_OLD_COST_ENV) == "1":
    _use_old_pin_cost()


def prepare(data: Path, learners: int) -> None:
    """A data folder with ``learners`` learners whose PIN is PIN, hashed at the cost in use."""
    database = initialize(load_settings(environ={}, data_dir=data))
    now = "2026-01-01T00:00:00+00:00"
    with database.write() as db:
        # One record for all: each verification costs the same whatever its salt.
        stored = accounts.secret_hash_in(db, Role.LEARNER, PIN)
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


def tablet_address(n: int) -> str:
    """Learner n's own loopback address: 127.0.1.1, 127.0.1.2, ... (never 127.0.0.1)."""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


@dataclass
class Outcome:
    latencies: list[float]
    errors: list[str]
    elapsed: float


async def one_learner(base: str, n: int, delay: float, outcome: Outcome) -> None:
    await asyncio.sleep(delay)
    transport = httpx.AsyncHTTPTransport(local_address=tablet_address(n))
    async with httpx.AsyncClient(base_url=base, timeout=120, transport=transport) as client:
        step = "form"
        try:
            # The form's connection is closed after it: on a box this busy the client may
            # send the POST after uvicorn's 5 s keep-alive ran out, which a browser would
            # retry on a new connection but httpx reports as an error of the server.
            form = await client.get("/signin", headers={"Connection": "close"})
            token = CSRF.search(form.text)
            if token is None:
                outcome.errors.append(f"form {form.status_code}")
                return
            step, started = "sign-in", time.perf_counter()
            response = await client.post(
                "/signin", data={"facility_id": f"L{n:05d}", "pin": PIN, "csrf_token": token[1]}
            )
        except httpx.TransportError as exc:
            outcome.errors.append(f"{step} {type(exc).__name__}")
            return
        outcome.latencies.append(time.perf_counter() - started)
        if response.status_code != 303:
            outcome.errors.append(f"sign-in {response.status_code}")


async def shift_change(base: str, arrivals: list[float]) -> Outcome:
    outcome = Outcome([], [], 0.0)
    started = time.monotonic()
    await asyncio.gather(*(one_learner(base, n, at, outcome) for n, at in enumerate(arrivals)))
    outcome.elapsed = time.monotonic() - started
    return outcome


def run_phase(old_cost: bool, arrivals: list[float]) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        if old_cost:
            real = passwords.use_hashers(passwords.Hashers(OLD_PIN_COST, OLD_PIN_COST))
        try:
            prepare(data, len(arrivals))
        finally:
            if old_cost:
                passwords.use_hashers(real)
        port = free_port()
        env = os.environ | {"STEPSTONE_DATA_DIR": str(data), _OLD_COST_ENV: "1" if old_cost else ""}
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    httpx.get(base + "/signin", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            return asyncio.run(shift_change(base, arrivals))
        finally:
            server.terminate()
            server.wait()


def ms_per_verify(hasher: PasswordHasher, seconds: float = 1.0) -> float:
    stored = hasher.hash(PIN)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        hasher.verify(stored, PIN)
        count += 1
    return (time.perf_counter() - started) / count * 1000


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def report(name: str, outcome: Outcome, kdf_ms: float) -> None:
    lat = outcome.latencies
    p50, p95 = (percentile(lat, 50), percentile(lat, 95)) if lat else (float("nan"),) * 2
    print(
        f"{name}: argon2id verify {kdf_ms:.1f} ms   sign-ins {len(lat)} in"
        f" {outcome.elapsed:.1f} s, errors {len(outcome.errors)}   p50 {p50:.2f} s"
        f"   p95 {p95:.2f} s   max {max(lat, default=float('nan')):.2f} s"
        f"   p95 / {TARGET_P95:.0f} s target: {p95 / TARGET_P95:.2f}"
    )
    if outcome.errors:
        print("  first errors:", outcome.errors[:5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument("--window", type=float, default=60, help="seconds they arrive within")
    parser.add_argument("--phase", choices=["before", "after", "both"], default="both")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--serve", metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # the server of one phase, in its own process; exits when stopped
        cli.main(["serve", "--port", args.serve, "--workers", "2"])
    if args.learners > 250 * 254:
        parser.error("at most 63,500 learners (one loopback address each)")
    chance = random.Random(args.seed)
    arrivals = sorted(chance.uniform(0, args.window) for _ in range(args.learners))
    print(f"{args.learners} learners arriving within {args.window:.0f} s, 2 workers")
    if args.phase in ("before", "both"):
        outcome = run_phase(True, arrivals)
        report("before (PINs at the staff cost)", outcome, ms_per_verify(OLD_PIN_COST))
    if args.phase in ("after", "both"):
        outcome = run_phase(False, arrivals)
        report("after (pepper, PIN cost)", outcome, ms_per_verify(passwords.hashers_in_use().pin))


if __name__ == "__main__":
    main()
