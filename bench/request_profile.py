"""Profile: where one lesson-page request and one event post spend their CPU.

A data folder is prepared as `learner_load.py` does (demo courses, the generated video
course, one learner), the app is built with the settings of deploy/stepstone.env (as
behind nginx: the requests arrive from 127.0.0.1 with X-Forwarded-Proto https) and the
learner signs in. Then, in this one process and with no network in between:

1. each request is timed `--requests` times without a profiler (ms of CPU per request);
2. the same again with a stopwatch around a few functions, and a third time under
   cProfile; each request's time is split into what the design
   questions are about: the session (cookie check and its database read), the access
   check (role, tablet hours), CSRF (origin check, token check or signing), templates
   (rendering, less the CSRF token it signs), the view's own work (mostly the database:
   course, lessons, progress, the event write) and the rest (Starlette routing,
   middleware, security headers, the response). The SQLite share of all of it is shown
   apart.

Views run on the event loop here instead of the thread pool, so that one profiler sees
all the work; the hop to a worker thread (~0.1 ms, see `access(inline=...)`) is not in
these figures. The profiler's own overhead inflates small functions: read the shares,
and take the unprofiled time as the size.

    .venv/bin/python bench/request_profile.py --dir /srv/scratch --top

Latest figures (2-core test machine shared with other work, load 1.0–1.2; ms of CPU per
request without the profiler, the least of three passes of 500): lesson page 1.10 (1.16
before the page's translated words were kept per language; stopwatch total 0.94 against
1.27, templates 0.52 against 0.78), home page 0.85 (1.14 when it read the learner's
courses twice), event post 0.65–0.67 (0.65). Run it twice: one run is noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import learner_load  # noqa: E402  (beside this file: the data folder and the tablet model)

from server.core.settings import load_settings  # noqa: E402
from server.web import csrf, plumbing  # noqa: E402
from server.web.app import create_app  # noqa: E402
from server.web.templating import Templates  # noqa: E402

Answer = tuple[int, dict[str, str], list[str], bytes]
FuncKey = tuple[str, int, str]

# (bucket, file suffix, function name): cumulative time of these calls; none is called
# inside another except the CSRF token a template signs, taken out of templates below.
ENTRIES = (
    ("session", "server/web/plumbing.py", "_load_session"),
    ("access check", "server/web/plumbing.py", "_check_access"),
    ("CSRF", "server/web/plumbing.py", "_check_csrf"),
    ("CSRF", "server/web/plumbing.py", "_anon_csrf"),
    ("CSRF", "server/web/csrf.py", "check_origin"),
    ("CSRF", "server/web/plumbing.py", "csrf_token"),
    ("templates", "server/web/templating.py", "response"),
)
VIEWS = {"lesson page": "lesson_page", "home page": "learner_home", "event post": "events"}


class Client:
    """A browser's cookies and an ASGI call, as nginx passes a request on."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    async def call(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> Answer:
        sent = {"host": "learn.facility.internal", "x-forwarded-proto": "https"}
        sent |= {"x-forwarded-for": "10.0.0.7", **(headers or {})}
        if self.cookies:
            sent["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
        }
        chunks: list[bytes] = []
        head: dict[str, Any] = {}
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await asyncio.Event().wait()  # the client never disconnects
            return {}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                head.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        headers_out: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in head["headers"]:
            if name.lower() == b"set-cookie":
                cookies.append(value.decode())
            else:
                headers_out[name.decode().lower()] = value.decode()
        for raw in cookies:
            pair = raw.split(";", 1)[0]
            key, _, value = pair.partition("=")
            if value.strip('"'):
                self.cookies[key] = value
        return head["status"], headers_out, cookies, b"".join(chunks)


async def _inline(func: Callable[..., Any], *args: Any) -> Any:
    return func(*args)


class Stopwatch:
    """CPU time of chosen functions without a profiler, each call's time less that of
    the timed calls inside it (the token a template signs counts as CSRF only)."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._inner: list[float] = []
        self._saved: list[tuple[object, str, Any]] = []

    def wrap(self, bucket: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._inner.append(0.0)
            started = time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                took = time.process_time() - started
                inner = self._inner.pop()
                self.spent[bucket] = self.spent.get(bucket, 0.0) + took - inner
                if self._inner:
                    self._inner[-1] += took

        return timed

    def install(self) -> None:
        for bucket, owner, name in (
            ("session", plumbing, "_load_session"),
            ("access check", plumbing, "_check_access"),
            ("CSRF", plumbing, "_check_csrf"),
            ("CSRF", plumbing, "_anon_csrf"),
            ("CSRF", csrf, "check_origin"),
            ("CSRF", plumbing.Req, "csrf_token"),
            ("templates", Templates, "response"),
            ("view (database, logic)", plumbing, "_handle"),
            ("view (database, logic)", plumbing, "_admit"),
            ("view (database, logic)", plumbing, "_answer"),
        ):
            self._saved.append((owner, name, getattr(owner, name)))
            setattr(owner, name, self.wrap(bucket, getattr(owner, name)))

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


async def profile(app: Any, login: str, requests: int, top: dict[str, list[str]]) -> dict[str, Any]:
    client = Client(app)
    status, _, _, page = await client.call("GET", "/signin")
    token = learner_load.FORM_CSRF.search(page)
    if status != 200 or token is None:
        raise SystemExit(f"sign-in form: status {status}")
    form = {"facility_id": login, "pin": learner_load.PIN, "csrf_token": token.group(1).decode()}
    status, headers, _, _ = await client.call(
        "POST",
        "/signin",
        {"content-type": "application/x-www-form-urlencoded"},
        urlencode(form).encode(),
    )
    if status != 303 or not headers.get("location", "").endswith("/learn"):
        raise SystemExit(f"sign-in: status {status}, to {headers.get('location')!r}")
    _, _, _, lesson = await client.call("GET", learner_load.VIDEO_PATH)
    csrf = learner_load.PAGE_CSRF.search(lesson)
    if csrf is None:
        raise SystemExit("the lesson page has no CSRF token")
    position = [0.0]

    async def lesson_page() -> None:
        status, _, _, body = await client.call("GET", learner_load.VIDEO_PATH)
        if status != 200 or b'id="player"' not in body:
            raise SystemExit(f"lesson page: status {status}")

    async def home_page() -> None:
        status, _, _, body = await client.call("GET", "/learn")
        if status != 200 or learner_load.BENCH_COURSE.encode() not in body:
            raise SystemExit(f"home page: status {status}")

    async def event_post() -> None:
        position[0] = min(position[0] + 10, 900)
        event = {
            "id": secrets.token_urlsafe(12),
            "type": "progressed",
            "course": learner_load.BENCH_COURSE,
            "lesson": learner_load.VIDEO_KEY,
            "position": position[0],
            "duration": 900.0,
            "watched": [[0.0, position[0]]],
        }
        headers = {"content-type": "application/json", "x-csrf-token": csrf.group(1).decode()}
        status, _, _, body = await client.call(
            "POST", "/api/events", headers, json.dumps({"events": [event]}).encode()
        )
        if status != 200 or json.loads(body)["accepted"] != [event["id"]]:
            raise SystemExit(f"event post: status {status}: {body[:200]!r}")

    results = {}
    kinds = (("lesson page", lesson_page), ("home page", home_page), ("event post", event_post))
    for name, request in kinds:
        for _ in range(20):  # warm up: template cache, prepared statements
            await request()
        passes = []
        for _ in range(3):  # the least of three: start-up work on other threads (the search
            # index rebuild) is process time too
            started = time.process_time()
            for _ in range(requests):
                await request()
            passes.append((time.process_time() - started) * 1000 / requests)
        plain_ms = min(passes)
        watch = Stopwatch()
        watch.install()
        started = time.process_time()
        for _ in range(requests):
            await request()
        timed_total = time.process_time() - started
        watch.uninstall()
        timed = {k: 1000 * v / requests for k, v in watch.spent.items()}
        timed["rest (routing, middleware, headers)"] = 1000 * timed_total / requests - sum(
            timed.values()
        )
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            await request()
        profiler.disable()
        top[name] = heaviest(pstats.Stats(profiler), requests)
        results[name] = {
            "ms": plain_ms,
            "timed": timed,
            **split(pstats.Stats(profiler), VIEWS[name], requests),
        }
    return results


def heaviest(stats: pstats.Stats, requests: int, count: int = 15) -> list[str]:
    """The functions with the most own time under cProfile, as lines of a table."""
    table: dict[FuncKey, Any] = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:count]
    lines = []
    for (path, line, name), entry in ranked:
        where = f"{Path(path).name}:{line}" if line else path
        calls = entry[1] / requests
        lines.append(f"{1000 * entry[2] / requests:6.3f} ms {calls:7.1f} calls  {name} ({where})")
    return lines


def split(stats: pstats.Stats, view: str, requests: int) -> dict[str, float]:
    """Milliseconds per request (profiled) per bucket, and SQLite's share of the total."""
    table: dict[FuncKey, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())  # every function's own time

    def find(suffix: str, name: str) -> list[FuncKey]:
        return [key for key in table if key[0].endswith(suffix) and key[2] == name]

    buckets: dict[str, float] = {}
    for bucket, suffix, name in ENTRIES:
        buckets[bucket] = buckets.get(bucket, 0.0) + sum(table[k][3] for k in find(suffix, name))
    # The token a page shows is signed while its template renders: count it as CSRF only.
    for key in find("server/web/plumbing.py", "csrf_token"):
        callers: dict[FuncKey, tuple[int, int, float, float]] = table[key][4]
        inside = sum(edge[3] for caller, edge in callers.items() if caller[0].endswith(".html"))
        buckets["templates"] -= inside
    view_keys = find("server/web/views/learn.py", view)
    view_total = sum(table[k][3] for k in view_keys)
    page = view != "events"  # a page's template is drawn inside its view
    within_view = buckets["templates"] if page else 0.0
    buckets["view (database, logic)"] = view_total - within_view
    if page:  # a page's token is signed inside the view too
        buckets["view (database, logic)"] -= sum(
            edge[3]
            for key in find("server/web/plumbing.py", "csrf_token")
            for edge in table[key][4].values()
        )
    buckets["rest (routing, middleware, headers)"] = total - sum(buckets.values())
    sqlite = sum(
        entry[2]
        for key, entry in table.items()
        if "sqlite3" in key[2]
        or key[0].endswith(("server/core/db.py",))
        or "sqlite_utils" in key[0]
    )
    out = {name: 1000 * seconds / requests for name, seconds in buckets.items()}
    out["profiled total"] = 1000 * total / requests
    out["of which SQLite"] = 1000 * sqlite / requests
    return out


async def run(
    data_dir: Path, login: str, requests: int, top: dict[str, list[str]]
) -> dict[str, Any]:
    environ = learner_load.deployed_settings() | {"STEPSTONE_DEMO": "1"}
    settings = load_settings(environ=environ, data_dir=data_dir)
    app = create_app(settings)
    plumbing.run_in_threadpool = _inline  # type: ignore[attr-defined,assignment]
    async with app.router.lifespan_context(app):
        return await profile(app, login, requests, top)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--requests", type=int, default=500, help="of each kind, per pass")
    parser.add_argument(
        "--top", action="store_true", help="also list the 15 functions with most own time"
    )
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    args.dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="request-profile-", dir=args.dir.resolve()))
    try:
        prepared = learner_load.prepare(run_dir, [1], media_mb=1)
        top: dict[str, list[str]] = {}
        login = prepared.learners[0][0]
        results = asyncio.run(run(prepared.data_dir, login, args.requests, top))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for name, figures in results.items():
        total = figures["profiled total"]
        timed = figures.pop("timed")
        print(f"\n{name}: {figures['ms']:.2f} ms of CPU per request without the profiler")
        print(f"  {'':<38} {'timed':>9} {'':>7} {'cProfile':>9}")
        for bucket, ms in figures.items():
            if bucket not in ("ms", "profiled total"):
                plain = timed.get(bucket)
                share = 100 * plain / sum(timed.values()) if plain else 0.0
                left = f"{plain:6.2f} ms {share:5.1f} %" if plain else ""
                print(f"  {bucket:<38} {left:>17}  {ms:6.2f} ms {100 * ms / total:5.1f} %")
        print(f"  {'total':<38} {sum(timed.values()):6.2f} ms {'':>7}  {total:6.2f} ms")
        if args.top:
            print("  most own time under cProfile, per request:")
            for line in top[name]:
                print(f"    {line}")


if __name__ == "__main__":
    main()
