"""Benchmark: N learner tablets against a real `stepstone serve` in its deployed shape,
beside two anchors, and the capacity curve over rising N.

A fresh data folder gets the demo courses plus one generated course with a large video,
and N learner accounts per tablet count. `stepstone serve` (uvicorn, 4 workers: the unit's) runs on
loopback in demo mode with the settings of deploy/stepstone.env, behind Debian's nginx with
the shipped site (deploy/nginx/stepstone.conf, only ports and paths replaced, by
tests/deploy/nginx_site.py) and a certificate from deploy/make-certs.sh: the tablets talk
TLS to nginx, and the video goes out through `X-Accel-Redirect` (nginx sends it from the
store once Stepstone allowed it). `--direct` keeps the older shape: plain HTTP straight to
uvicorn, which then sends the video itself. A load generator in separate processes then
plays N tablets:

1. sign-in, ramped at `--signin-rate` per second (argon2id makes each one cost ~35 ms of
   CPU, so 500 at once would only measure the KDF queue); reported on its own;
2. open home (`/learn`), the video lesson, and a 1 MiB Range of its video;
3. every `--post-every` seconds (30, the facility default of
   `STEPSTONE_EVENT_BATCH_SECONDS`), POST /api/events with what `learn.js` queued
   meanwhile: on the video lesson its place every 10 s ("progressed" with position,
   duration, played ranges), on a reading its place once, and a "heartbeat" every 30 s;
   failed posts are kept and re-sent with the next one, as `learn.js` does (until the
   tablets batched, a video tablet posted every 10 s: `--post-every 10` comes close);
4. every `--page-every` seconds, move on: home and a reading lesson of a demo course, or
   the video lesson again with its 1 MiB Range, turn about (spread over the tablets).

The steady state is the `--seconds` window that opens `--settle` seconds after the last
sign-in began (later, and so shorter, if the last first round is not done by then); its
figures (requests/s, p50/p95/p99 per kind, errors, events stored per second) are what the
limits are about: p95 < 250 ms with zero errors and zero lost events. Lost events are
event ids the server acknowledged that are not in `progress_events` afterwards. Each count
also reports the CPU milliseconds per steady request of the server, nginx and the
generator, and each server worker's resident memory; the summary is the capacity curve
and the largest count that holds the limits (and every count below it).

Then, in the same run and with the same N connections (or `--burst-connections`),
closed-loop bursts (every connection requests again as soon as it has its answer) measure
throughput against two anchors, which in the deployed shape sit behind the same nginx and
TLS (two bench-only locations added to the site):

- anchor 1: a bare Starlette app (`anchor_app` below, uvicorn, same worker count) that
  renders the same lesson template with a context built once at start-up: no database,
  no session, no CSRF signing, no middleware;
- anchor 2: nginx with sendfile serving the same video file with the same Range header.

Targets: lesson page >= 75% of anchor 1. The media ratio is reported for context (the
design answer to it is nginx `X-Accel-Redirect` in front, see DESIGN).

The generator is a small HTTP/1.1 client on asyncio (uvloop) written for this file. httpx
was measured first, against nginx on this machine: ~1 ms of CPU per request, and one
`AsyncClient` pool fell from ~700 to ~80 requests/s between 8 and 64 concurrent requests,
so it would have been the bottleneck; this client costs ~20 us per small request. Each
tablet has its own keep-alive connection and cookies. The machine's cores are shared by
the server, the generator and anything else running; the report shows each one's CPU
(and "others") so a starved run is visible.

    .venv/bin/python bench/learner_load.py --dir /srv/scratch            # N = 100, 300, 500
    .venv/bin/python bench/learner_load.py --dir /srv/scratch --curve 500,1000,2000,3000 \
        --seconds 40 --signin-rate 100 --burst-connections 200
    .venv/bin/python bench/learner_load.py --dir /srv/scratch --quick    # N = 20, 10 s
    .venv/bin/python bench/learner_load.py --dir /srv/scratch --tablets 500 --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, ClassVar, cast
from urllib.parse import urlencode

import httpx

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))

from starlette.applications import Starlette  # noqa: E402
from starlette.datastructures import FormData  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from server.catalog.sync import content_store  # noqa: E402
from server.cli.demo import course_folders, publish_demo_courses  # noqa: E402
from server.cli.main import initialize  # noqa: E402
from server.core.db import Database  # noqa: E402
from server.core.settings import Settings, load_settings  # noqa: E402
from server.learning import access, visibility  # noqa: E402
from server.people import accounts, passwords, pepper, sessions  # noqa: E402
from server.people.tokens import Tokens  # noqa: E402
from server.web import i18n  # noqa: E402
from server.web.plumbing import Req, Services  # noqa: E402
from server.web.templating import Templates  # noqa: E402
from server.web.views import learn  # noqa: E402
from tests.deploy.nginx_site import Site, make_certificates, running_nginx  # noqa: E402

PIN = "582046"
MIB = 1024 * 1024
MEDIA_RANGE = f"bytes=0-{MIB - 1}"
PROGRESS_EVERY = 10.0  # learn.js notes a playing video's place every 10 s
HEARTBEAT_EVERY = 30.0  # and time on task every 30 s
DURATION = 900.0  # the generated video's length as the tablets report it
BENCH_COURSE = "org.stepstone.demo.bench-video"
VIDEO_KEY = "watch"
VIDEO_PATH = f"/learn/courses/{BENCH_COURSE}/lessons/{VIDEO_KEY}"
READING_COURSE = "org.stepstone.demo.workplace-safety"
READING_KEY = "protective-gear"
READING_PATH = f"/learn/courses/{READING_COURSE}/lessons/{READING_KEY}"
LESSON_ROUTE = "/learn/courses/{course_id}/lessons/{key}"
WEBM_HEAD = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"
VTT = b"WEBVTT\n\n00:00.000 --> 00:04.000\nSafety starts before you pick up a tool.\n"
FORM_CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')
PAGE_CSRF = re.compile(rb'data-csrf="([^"]+)"')
PLAYER_SRC = re.compile(rb'id="player"[^>]*?\ssrc="([^"#]+)')
STEADY_KINDS = ("home", "lesson", "media", "events")
BURSTS = (  # (key, label, which server answers when the tablets talk to it directly)
    ("lesson", "lesson page, Stepstone", "server"),
    ("anchor", "lesson template, anchor 1", "anchor"),
    ("media", "1 MiB range, Stepstone", "server"),
    ("nginx", "1 MiB range, nginx anchor 2", "nginx"),
)
LESSON_TARGET = 0.75  # lesson page requests/s over anchor 1's, in the same run
P95_LIMIT = 0.250  # seconds, over every steady-state request
DEPLOY_ENV = ROOT / "deploy" / "stepstone.env"
# Deployed shape: both anchors sit behind the same nginx and TLS as Stepstone, so that the
# ratios compare the application only.
ANCHOR_PREFIX = "/_bench_anchor"
PLAIN_MEDIA = "/_bench_plain/talk.webm"


# ---------------------------------------------------------------------------------------
# A lean HTTP/1.1 client: one keep-alive connection, bytes read straight into a buffer.


class HttpError(Exception):
    """A request that got no usable answer (closed, timed out, malformed)."""


class ConnectionClosed(HttpError):
    def __init__(self, answered: bool) -> None:
        super().__init__("connection closed by the server")
        self.answered = answered  # some of the answer had arrived


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    cookies: list[str]
    body: bytes
    size: int


class _Http1(asyncio.BufferedProtocol):
    """Parses one response at a time; the body is kept or only counted (media)."""

    def __init__(self) -> None:
        self._buffer = memoryview(bytearray(256 * 1024))
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._waiter: asyncio.Future[Reply] | None = None
        self._keep = True
        self._head = bytearray()
        self._left = -1  # -1: still reading the status line and headers
        self._body = bytearray()
        self._size = 0
        self._reply: tuple[int, dict[str, str], list[str]] = (0, {}, [])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def expect(self, waiter: asyncio.Future[Reply], keep_body: bool) -> None:
        self._waiter, self._keep = waiter, keep_body
        self._head.clear()
        self._body = bytearray()
        self._left, self._size = -1, 0

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._waiter is None or self._waiter.done():
            self._close()  # bytes nobody asked for: the exchange is out of step
            return
        try:
            self._feed(self._buffer[:nbytes])
        except (HttpError, ValueError) as exc:
            self._waiter.set_exception(HttpError(f"bad response: {exc}"))
            self._close()

    def _feed(self, data: memoryview | bytes) -> None:
        if self._left < 0:
            start = max(0, len(self._head) - 3)
            self._head += data
            end = self._head.find(b"\r\n\r\n", start)
            if end < 0:
                if len(self._head) > 65536:
                    raise HttpError("response head over 64 KiB")
                return
            data = bytes(self._head[end + 4 :])
            self._start_body(self._head[:end].decode("latin-1"))
        take = min(len(data), self._left)
        if self._keep:
            self._body += data[:take]
        self._left -= take
        self._size += take
        if len(data) > take:
            raise HttpError("bytes after the end of the response")
        if self._left == 0:
            self._finish()

    def _start_body(self, head: str) -> None:
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "set-cookie":
                cookies.append(value.strip())
            else:
                headers[name] = value.strip()
        if "transfer-encoding" in headers:
            raise HttpError("chunked responses are not supported by this client")
        self._reply = (status, headers, cookies)
        self._left = int(headers.get("content-length", "0"))

    def _finish(self) -> None:
        status, headers, cookies = self._reply
        waiter, self._waiter = self._waiter, None
        assert waiter is not None
        waiter.set_result(Reply(status, headers, cookies, bytes(self._body), self._size))
        if headers.get("connection", "").lower() == "close":
            self._close()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionClosed(answered=bool(self._head)))


class Connection:
    """What one tablet's browser holds: one keep-alive connection, reopened when needed."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        source: str | None = None,
    ) -> None:
        self.host, self.port, self.timeout, self.tls = host, port, timeout, tls
        self.source = (source, 0) if source else None
        self._protocol: _Http1 | None = None

    async def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        keep_body: bool = True,
    ) -> Reply:
        fresh = self._protocol is None or self._protocol.lost
        if fresh:
            await self._connect()
        try:
            return await self._exchange(method, target, headers or {}, body, keep_body)
        except ConnectionClosed as closed:
            if fresh or closed.answered:
                raise
            # The server dropped an idle keep-alive connection just as we wrote to it;
            # browsers retry once on a new connection, and so do we.
            await self._connect()
            return await self._exchange(method, target, headers or {}, body, keep_body)

    async def _connect(self) -> None:
        self.close()
        loop = asyncio.get_running_loop()
        if self.tls is None:
            _, self._protocol = await loop.create_connection(
                _Http1, self.host, self.port, local_addr=self.source
            )
        else:
            _, self._protocol = await loop.create_connection(
                _Http1,
                self.host,
                self.port,
                ssl=self.tls,
                server_hostname=self.host,
                local_addr=self.source,
            )

    async def _exchange(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, keep: bool
    ) -> Reply:
        protocol = self._protocol
        assert protocol is not None and protocol.transport is not None
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Reply] = loop.create_future()
        protocol.expect(waiter, keep)
        protocol.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        timer = loop.call_later(self.timeout, _expire, waiter, self.timeout)
        try:
            return await waiter
        except HttpError:
            self.close()
            raise
        finally:
            timer.cancel()

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


def _expire(waiter: asyncio.Future[Reply], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(HttpError(f"no answer within {timeout:g} s"))


# ---------------------------------------------------------------------------------------
# The tablets (run inside generator processes).

# (kind, started at [monotonic], seconds, ok)
Sample = tuple[str, float, float, bool]


@dataclass(frozen=True)
class TabletPlan:
    """What every tablet of one shard does, and when."""

    host: str
    port: int
    tablets: list[tuple[int, str]]  # (position in the sign-in ramp, facility id)
    start_at: float  # time.monotonic(); CLOCK_MONOTONIC is shared by processes on Linux
    signin_interval: float
    stop_at: float
    post_every: float
    page_every_ticks: int
    timeout: float
    ca: str = ""  # the facility CA's file when the tablets talk TLS to nginx; "" for HTTP


@dataclass
class TabletOutcome:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    acked: dict[str, float] = field(default_factory=dict)  # event id -> its post's start
    rejected: int = 0
    unsent: int = 0
    cookies: list[str] = field(default_factory=list)  # Cookie headers of signed-in tablets
    first_rounds_done: float = 0.0  # when the last tablet finished (or gave up) its first round
    cpu_trace: list[tuple[float, float]] = field(default_factory=list)  # (moment, CPU seconds)


class Tablet:
    """One learner's tablet: sign in, read and watch, report progress."""

    def __init__(self, plan: TabletPlan, slot: int, login: str, outcome: TabletOutcome) -> None:
        self.plan, self.slot, self.login, self.outcome = plan, slot, login, outcome
        self.connection = Connection(
            plan.host, plan.port, plan.timeout, client_tls(plan.ca), tablet_address(slot)
        )
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.media = ""
        self.on_video = True
        self.moves = 0
        self.position = 0.0
        self.unbeaten = 0.0  # seconds since the last heartbeat the page queued
        self.queue: list[dict[str, Any]] = []

    async def run(self, start_at: float) -> None:
        try:
            await _sleep_until(start_at)
            ready = await self.sign_in() and await self.first_round()
            self.outcome.first_rounds_done = max(self.outcome.first_rounds_done, time.monotonic())
            if ready:
                self.outcome.cookies.append(self.cookie_header())
                await self.steady(start_at)
            if self.queue:  # one last try for events that failed, as a closing tab does
                await self.post_events()
            self.outcome.unsent += len(self.queue)
        finally:
            self.connection.close()

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    async def fetch(
        self,
        kind: str,
        method: str,
        target: str,
        expect: int = 200,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        keep_body: bool = True,
        check: Callable[[Reply], str | None] | None = None,
    ) -> Reply | None:
        """One request, timed and recorded; None (and an error noted) if it failed."""
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        started = time.monotonic()
        problem = None
        try:
            reply = await self.connection.request(method, target, sent, body, keep_body)
        except (HttpError, OSError) as exc:
            reply, problem = None, f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        if reply is not None:
            self.keep_cookies(reply)
            if reply.status != expect:
                problem = f"status {reply.status}, expected {expect}"
            elif check is not None:
                problem = check(reply)
        self.outcome.samples.append((kind, started, seconds, problem is None))
        if problem is not None:
            if len(self.outcome.errors) < 20:
                self.outcome.errors.append(f"{kind} {target}: {problem}")
            return None
        return reply

    def keep_cookies(self, reply: Reply) -> None:
        for raw in reply.cookies:
            pair, _, attributes = raw.partition(";")
            name, _, value = pair.strip().partition("=")
            if value.strip('"') == "" or "max-age=0" in attributes.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    async def sign_in(self) -> bool:
        form = await self.fetch("signin-form", "GET", "/signin", check=_has(FORM_CSRF))
        if form is None:
            return False
        token = FORM_CSRF.search(form.body)
        assert token is not None
        fields = {"facility_id": self.login, "pin": PIN, "csrf_token": token.group(1).decode()}
        reply = await self.fetch(
            "signin",
            "POST",
            "/signin",
            expect=303,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode(fields).encode(),
            check=_redirects_to("/learn"),
        )
        return reply is not None

    async def first_round(self) -> bool:
        home = await self.fetch("home", "GET", "/learn")
        return home is not None and await self.open_lesson(video=True)

    async def open_lesson(self, video: bool) -> bool:
        wanted = (PAGE_CSRF, PLAYER_SRC) if video else (PAGE_CSRF,)
        page = await self.fetch(
            "lesson", "GET", VIDEO_PATH if video else READING_PATH, check=_has(*wanted)
        )
        if page is None:
            return False
        self.on_video = video
        self.csrf = _found(PAGE_CSRF, page.body)
        if not video:
            return True
        self.media = _found(PLAYER_SRC, page.body)
        media = await self.fetch(
            "media",
            "GET",
            self.media,
            expect=206,
            headers={"Range": MEDIA_RANGE},
            keep_body=False,
            check=_is_first_mib,
        )
        return media is not None

    async def steady(self, start_at: float) -> None:
        """An event post every tick (`--post-every`, learn.js's batch), with what the page
        queued since the last; every few ticks (offset by the tablet's slot, so page loads
        spread over time) the learner moves on."""
        tick, every = 1, self.plan.post_every
        while start_at + tick * every < self.plan.stop_at:
            await _sleep_until(start_at + tick * every)
            if (tick + self.slot) % self.plan.page_every_ticks == 0:
                await self.move_on()
            self.queue.extend(self.queued_events(every))
            await self.post_events()
            tick += 1

    async def move_on(self) -> None:
        """Home and a reading lesson, or the video lesson (again) and its first MiB, turn
        about; half the tablets start with one, half with the other."""
        self.moves += 1
        if (self.moves + self.slot) % 2:
            await self.open_lesson(video=True)
        elif await self.fetch("home", "GET", "/learn"):
            await self.open_lesson(video=False)

    def queued_events(self, seconds: float) -> list[dict[str, Any]]:
        """What learn.js queues in `seconds`: on the video, its place every 10 s; on the
        reading, its place once (the learner scrolled on); a heartbeat every 30 s."""
        course, lesson = (
            (BENCH_COURSE, VIDEO_KEY) if self.on_video else (READING_COURSE, READING_KEY)
        )
        events: list[dict[str, Any]] = []
        if self.on_video:
            for _ in range(max(1, round(seconds / PROGRESS_EVERY))):
                self.position = min(self.position + PROGRESS_EVERY, DURATION)
                events.append(
                    {
                        "type": "progressed",
                        "position": self.position,
                        "duration": DURATION,
                        "watched": [[0.0, self.position]],
                    }
                )
        else:
            self.position = min(self.position + 1, 40)
            events.append({"type": "progressed", "position": self.position, "duration": 40})
        self.unbeaten += seconds
        while self.unbeaten >= HEARTBEAT_EVERY:
            self.unbeaten -= HEARTBEAT_EVERY
            events.append({"type": "heartbeat", "seconds": HEARTBEAT_EVERY})
        return [
            {"id": secrets.token_urlsafe(12), "course": course, "lesson": lesson, **event}
            for event in events
        ]

    async def post_events(self) -> None:
        batch = self.queue[:50]
        sent = [event["id"] for event in batch]
        answer: dict[str, Any] = {}

        def all_taken(reply: Reply) -> str | None:
            answer.update(json.loads(reply.body))
            taken = set(answer["accepted"]) | set(answer["duplicates"])
            if answer["rejected"]:
                return f"rejected {answer['rejected']}"
            missing = [event_id for event_id in sent if event_id not in taken]
            return f"not acknowledged: {missing}" if missing else None

        await self.fetch(
            "events",
            "POST",
            "/api/events",
            headers={"Content-Type": "application/json", "X-CSRF-Token": self.csrf},
            body=json.dumps({"events": batch}).encode(),
            check=all_taken,
        )
        started = self.outcome.samples[-1][1]  # the post's own start, as its sample has it
        if not answer:
            return  # no answer: everything stays queued for the next post
        for event_id in answer["accepted"] + answer["duplicates"]:
            self.outcome.acked[event_id] = started
        self.outcome.rejected += len(answer["rejected"])
        done = set(answer["accepted"]) | set(answer["duplicates"]) | set(answer["rejected"])
        self.queue = [event for event in self.queue if event["id"] not in done]


def _has(*patterns: re.Pattern[bytes]) -> Callable[[Reply], str | None]:
    def check(reply: Reply) -> str | None:
        missing = [p.pattern.decode() for p in patterns if not p.search(reply.body)]
        return f"page lacks {missing}" if missing else None

    return check


def _found(pattern: re.Pattern[bytes], body: bytes) -> str:
    match = pattern.search(body)
    assert match is not None
    return match.group(1).decode().replace("&amp;", "&")


def _redirects_to(path: str) -> Callable[[Reply], str | None]:
    def check(reply: Reply) -> str | None:
        location = reply.headers.get("location", "")
        return None if location.endswith(path) else f"redirected to {location!r}"

    return check


def _is_first_mib(reply: Reply) -> str | None:
    if reply.size != MIB:
        return f"{reply.size} bytes instead of {MIB}"
    if not reply.headers.get("content-range", "").startswith(f"bytes 0-{MIB - 1}/"):
        return f"Content-Range {reply.headers.get('content-range')!r}"
    return None


_TLS: dict[str, ssl.SSLContext] = {}


def tablet_address(slot: int) -> str:
    """Each tablet its own loopback address (Linux answers all of 127/8), as each has its
    own on the facility network: the sign-in throttle counts tries per address, and 500
    tablets behind one address would be one client guessing PINs."""
    return f"127.{1 + slot // 62500}.{slot // 250 % 250}.{slot % 250 + 1}"


def client_tls(ca: str) -> ssl.SSLContext | None:
    """One TLS context per generator process (as a browser has one), trusting only the
    facility CA; None for plain HTTP. TLS 1.3, as a current tablet browser negotiates."""
    if not ca:
        return None
    if ca not in _TLS:
        _TLS[ca] = ssl.create_default_context(cafile=ca)
    return _TLS[ca]


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


def run_tablets(plan: TabletPlan) -> TabletOutcome:
    """Entry point of a generator process for the tablet phase."""
    outcome = TabletOutcome()
    _run(_tablets(plan, outcome))
    return outcome


async def _tablets(plan: TabletPlan, outcome: TabletOutcome) -> None:
    tablets = [
        Tablet(plan, slot, login, outcome).run(plan.start_at + slot * plan.signin_interval)
        for slot, login in plan.tablets
    ]
    meter = asyncio.create_task(_trace_cpu(outcome.cpu_trace))
    await asyncio.gather(*tablets)
    meter.cancel()
    outcome.cpu_trace.append((time.monotonic(), _own_cpu()))


async def _trace_cpu(trace: list[tuple[float, float]]) -> None:
    """Note this process's CPU seconds ten times a second, so that any window chosen
    afterwards can be measured."""
    while True:
        trace.append((time.monotonic(), _own_cpu()))
        await asyncio.sleep(0.1)


def cpu_in(trace: Sequence[tuple[float, float]], start: float, stop: float) -> float:
    """CPU seconds spent between two moments, from the trace points nearest to them."""

    def at(moment: float) -> float:
        return min(trace, key=lambda point: abs(point[0] - moment))[1]

    return at(stop) - at(start) if trace else 0.0


# ---------------------------------------------------------------------------------------
# Closed-loop bursts: every connection asks again as soon as it has its answer.


@dataclass(frozen=True)
class BurstPlan:
    host: str
    port: int
    target: str
    cookies: list[str]  # one connection per Cookie header
    range_header: bool
    start_at: float
    stop_at: float
    timeout: float
    ca: str = ""


@dataclass
class BurstOutcome:
    samples: list[tuple[float, float, bool]] = field(default_factory=list)  # start, end, ok
    errors: list[str] = field(default_factory=list)
    cpu_trace: list[tuple[float, float]] = field(default_factory=list)


def run_burst(plan: BurstPlan) -> BurstOutcome:
    """Entry point of a generator process for one closed-loop burst."""
    outcome = BurstOutcome()
    _run(_burst(plan, outcome))
    return outcome


async def _burst(plan: BurstPlan, outcome: BurstOutcome) -> None:
    async def loop(cookie: str) -> None:
        connection = Connection(plan.host, plan.port, plan.timeout, client_tls(plan.ca))
        headers = {"Cookie": cookie} if cookie else {}
        if plan.range_header:
            headers["Range"] = MEDIA_RANGE
        await _sleep_until(plan.start_at)
        while time.monotonic() < plan.stop_at:
            started = time.monotonic()
            try:
                reply = await connection.request(
                    "GET", plan.target, headers, keep_body=not plan.range_header
                )
                problem = _burst_problem(plan, reply)
            except (HttpError, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            outcome.samples.append((started, time.monotonic(), problem is None))
            if problem and len(outcome.errors) < 20:
                outcome.errors.append(f"{plan.target}: {problem}")
        connection.close()

    meter = asyncio.create_task(_trace_cpu(outcome.cpu_trace))
    await asyncio.gather(*(loop(cookie) for cookie in plan.cookies))
    meter.cancel()
    outcome.cpu_trace.append((time.monotonic(), _own_cpu()))


def _burst_problem(plan: BurstPlan, reply: Reply) -> str | None:
    expected = 206 if plan.range_header else 200
    if reply.status != expected:
        return f"status {reply.status}, expected {expected}"
    return _is_first_mib(reply) if plan.range_header else None


def _run(coroutine: Coroutine[Any, Any, None]) -> None:
    import uvloop  # uvicorn[standard] brings it; only generator processes need it

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coroutine)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------
# The data folder: demo courses, one generated course with a big video, learners.

TRANSCRIPT_SENTENCES = (
    "Safety starts before you pick up a tool.",
    "Wear your gloves, safety glasses and boots, every time and for every task.",
    "Bend your knees, keep the load close to your body, and do not twist as you lift.",
    "Clean up spills at once and move cords out of the walkway so nobody trips.",
    "If you see a hazard, tell your supervisor right away and write down what you saw.",
    "Read the label before you use a chemical, and never mix two cleaners together.",
)


def write_bench_course(folder: Path, media_mb: int) -> None:
    """A course in the demo namespace: a video lesson whose file is `media_mb` MiB shaped
    like WebM (so the importer's type sniffing accepts it), and a reading lesson."""
    (folder / "lessons").mkdir(parents=True)
    (folder / "media").mkdir()
    with (folder / "media" / "talk.webm").open("wb") as out:
        out.write(WEBM_HEAD)
        for left in range(media_mb * MIB - len(WEBM_HEAD), 0, -MIB):
            out.write(os.urandom(min(MIB, left)))
    (folder / "media" / "talk.en.vtt").write_bytes(VTT)
    parts = [f"## Part {number}\n\n" + " ".join(TRANSCRIPT_SENTENCES) for number in range(1, 7)]
    video = (
        f"---\nkey: {VIDEO_KEY}\ntitle: 'Video: working safely every day'\nkind: video\n"
        "estimated_minutes: 15\nmedia: ../media/talk.webm\ncaptions:\n"
        "  - {src: ../media/talk.en.vtt, language: en, label: English}\n---\n"
        + "\n\n".join(parts)
        + "\n"
    )
    (folder / "lessons" / "01-watch.md").write_text(video, encoding="utf-8")
    reading = "---\nkey: notes\ntitle: Notes\nkind: reading\n---\n" + parts[0] + "\n"
    (folder / "lessons" / "02-notes.md").write_text(reading, encoding="utf-8")
    course = {
        "id": BENCH_COURSE,
        "version": 1,
        "title": "Load test: working safely",
        "summary": "Generated by bench/learner_load.py.",
        "category": "vocational",
        "language": "en",
        "level": "beginner",
        "estimated_hours": 1,
        "license": "CC0-1.0",
        "lessons": ["lessons/01-watch.md", "lessons/02-notes.md"],
    }
    (folder / "course.yaml").write_text(json.dumps(course), encoding="utf-8")  # JSON is YAML


@dataclass(frozen=True)
class Prepared:
    data_dir: Path
    media_file: Path  # the video's blob in the content store
    media_url: str
    learners: list[list[str]]  # per tablet count, its own learners' facility ids


def prepare(run_dir: Path, sizes: Sequence[int], media_mb: int) -> Prepared:
    """Initialise a data folder, publish the courses, create every learner."""
    settings = load_settings(environ={}, data_dir=run_dir / "data", demo=True)
    database = initialize(settings)
    courses = run_dir / "courses"
    for folder in course_folders(ROOT / "courses"):
        shutil.copytree(folder, courses / folder.name)
    write_bench_course(courses / "bench-video", media_mb)
    report = publish_demo_courses(settings, database, courses)
    if report.status != "ok":
        raise SystemExit(f"publishing the courses failed: {report.message}")
    learners = [[f"T{phase:02d}{n:04d}" for n in range(size)] for phase, size in enumerate(sizes)]
    add_learners(database, [login for group in learners for login in group])
    row = database.query_one(
        "SELECT sha256, size FROM assets WHERE path LIKE '%talk.webm' ORDER BY size DESC"
    )
    database.close()
    if row is None or row["size"] < MIB:
        raise SystemExit("the generated video is not in the content store")
    media_file = content_store(settings).path_for(row["sha256"])
    media_url = f"/media/{row['sha256']}/talk.webm"
    return Prepared(settings.data_dir, media_file, media_url, learners)


def add_learners(database: Database, logins: Sequence[str]) -> None:
    """Learner accounts with the PIN `PIN`, stored as the server stores a PIN (keyed with
    the facility's pepper, at the PIN cost): a first sign-in costs what every later one
    does, not a staff-cost check and a re-hash. argon2id takes milliseconds per hash: the
    PIN is hashed once and the record shared (a bench does not need one salt each)."""
    with database.write() as db:
        stored = passwords.hash_pin(PIN, pepper.keyring_in(db))
        now = "2026-01-01T00:00:00+00:00"
        db.conn.executemany(
            "INSERT INTO users (role, facility_id, display_name, language, secret_hash,"
            " must_change_secret, created_at, updated_at)"
            " VALUES ('learner', ?, ?, 'en', ?, 0, ?, ?)",
            [(login, f"Tablet {login}", stored, now, now) for login in logins],
        )


# ---------------------------------------------------------------------------------------
# Anchor 1: the lesson template in a bare Starlette app.


@dataclass(frozen=True)
class _AnchorReq:
    """What templates read from `req`: no tablet hours end for the anchor's learner."""

    settings: Settings
    request: Request
    closes_in: int | None = None

    def closes_at(self) -> str:
        return ""


def fixed_lesson_context(settings: Settings, database: Database) -> dict[str, Any]:
    """The video lesson's template context, built once through the view's own helper."""
    row = database.query_one("SELECT id FROM users WHERE role = 'learner' ORDER BY id LIMIT 1")
    if row is None:
        raise SystemExit("anchor: no learner in the database")
    user = accounts.get_user(database, row["id"])
    services = Services(settings, database, Tokens(settings.signing_key(), 3600), Templates())
    scope = {
        "type": "http",
        "method": "GET",
        "path": VIDEO_PATH,
        "query_string": b"",
        "headers": [],
    }
    req = Req(Request(scope), services, FormData())
    req.session = sessions.Session("anchor", user, secrets.token_urlsafe(32), math.inf)
    course = access.visible_course(database, settings, user, BENCH_COURSE)
    lessons = visibility.lessons_of(database, course.version_id)
    lesson = visibility.lesson_of(lessons, VIDEO_KEY)
    token = req.csrf_token()
    return {
        "user": user,
        "language": "en",
        "csrf_token": lambda: token,
        "facility_name": settings.facility_name,
        "notice": "",
        **learn._lesson_context(req, course, lessons, lesson),
    }


def anchor_app() -> Starlette:
    """Anchor 1, for `uvicorn --factory learner_load:anchor_app` with STEPSTONE_DATA_DIR
    set: the lesson page's template and context, and nothing else per request."""
    settings = load_settings()
    database = Database(settings.database_path)
    try:
        context = fixed_lesson_context(settings, database)
    finally:
        database.close()
    templates = Templates()

    def lesson(request: Request) -> Response:
        # A plain `def`, so it runs on the thread pool like every Stepstone view.
        i18n.set_language("en")
        page = {**context, "req": _AnchorReq(settings, request)}
        return templates.response(request, "learn/lesson.html", page)

    return Starlette(routes=[Route(LESSON_ROUTE, lesson, methods=["GET"])])


# ---------------------------------------------------------------------------------------
# The servers under test, and who used how much CPU.

NGINX_CONF = """\
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log {root}/access.log combined buffer=64k;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        location = /media/talk.webm {{
            alias {root}/www/talk.webm;
            default_type video/webm;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Service:
    name: str
    pid: int
    port: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    name: str, command: list[str], env: Mapping[str, str], log: Path, ready: str, port: int
) -> Iterator[Service]:
    """Start a server; wait until `ready` (a path) answers below 300; stop it afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2)
                if answer.status_code < 300:
                    break
                problem = f"status {answer.status_code}"
            except httpx.TransportError as exc:
                problem = str(exc)
            if time.monotonic() > deadline or process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"{name} did not start ({problem}):\n{tail}")
            time.sleep(0.2)
        yield Service(name, process.pid, port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_env(data_dir: Path) -> dict[str, str]:
    """This environment without stray STEPSTONE_* settings, plus the data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPSTONE_")}
    return env | {"STEPSTONE_DATA_DIR": str(data_dir), "STEPSTONE_DEMO": "1"}


def nginx_files(run_dir: Path, media_file: Path, workers: int, port: int) -> Path:
    """nginx's folder: its config, and the video's blob hard-linked (the same file)."""
    root = run_dir / "nginx"
    (root / "www").mkdir(parents=True)
    (root / "tmp").mkdir()
    try:
        os.link(media_file, root / "www" / "talk.webm")
    except OSError:
        shutil.copyfile(media_file, root / "www" / "talk.webm")
    # nginx workers started by root run as an unprivileged user: let them in.
    for folder in (run_dir, root, root / "www"):
        folder.chmod(0o755)
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, root=root, port=port), encoding="utf-8")
    return conf


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds used) of a process; (0, 0.0) once it has ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0, 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _process_tree(root: int) -> list[int]:
    """A server's master and its workers (and theirs)."""
    parents = {int(p.name): _cpu_of(int(p.name))[0] for p in Path("/proc").glob("[0-9]*")}
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return tree


def _machine_busy() -> tuple[float, float]:
    """CPU seconds the whole machine spent in processes, and in interrupts (where the
    kernel does most loopback networking, for everyone)."""
    with Path("/proc/stat").open() as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + steal) / CLOCK_TICKS, (irq + softirq) / CLOCK_TICKS


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    machine: tuple[float, float]
    services: dict[str, float]
    own: float


class CpuRecorder:
    """Notes, ten times a second in a thread, the CPU used so far by each server, by this
    process and by the whole machine; any window can then be measured afterwards."""

    def __init__(self, services: Sequence[Service]) -> None:
        self._trees = {service.name: _process_tree(service.pid) for service in services}
        self._snapshots: list[CpuSnapshot] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._snapshots.append(
                CpuSnapshot(
                    time.monotonic(),
                    _machine_busy(),
                    {n: sum(_cpu_of(pid)[1] for pid in t) for n, t in self._trees.items()},
                    _own_cpu(),
                )
            )
            if self._stop.wait(0.1):
                return

    def cores(self, start: float, stop: float, generator: float) -> dict[str, float]:
        """Average cores busy per party between two moments, the generator's CPU seconds
        given; "others" is whatever else ran, "irq" the kernel's interrupt work (our
        loopback traffic and anyone else's)."""
        before, after = (
            min(self._snapshots, key=lambda snap: abs(snap.at - moment)) for moment in (start, stop)
        )
        wall = after.at - before.at
        if wall <= 0:  # a starved run: no two snapshots around the window
            return dict.fromkeys([*after.services, "generator", "others", "irq"], 0.0)
        used = {
            name: (after.services[name] - before.services[name]) / wall for name in after.services
        }
        used["generator"] = (generator + after.own - before.own) / wall
        processes = (after.machine[0] - before.machine[0]) / wall
        used["others"] = max(0.0, processes - sum(used.values()))
        used["irq"] = (after.machine[1] - before.machine[1]) / wall
        return used


# ---------------------------------------------------------------------------------------
# Phases and figures.


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values (NaN when there are none)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass(frozen=True)
class Figures:
    """Requests of one kind in one window."""

    count: int
    errors: int
    rate: float
    p50: float
    p95: float
    p99: float
    HEADER: ClassVar[str] = (
        f"{'requests':>8} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )

    @classmethod
    def of(cls, durations: Sequence[tuple[float, bool]], seconds: float) -> Figures:
        ordered = sorted(d for d, _ in durations)
        errors = sum(1 for _, ok in durations if not ok)
        return cls(
            len(ordered),
            errors,
            len(ordered) / seconds if seconds else 0.0,
            *(percentile(ordered, q) for q in (50, 95, 99)),
        )

    def row(self, label: str, width: int = 12) -> str:
        ms = " ".join(
            f"{'-':>8}" if math.isnan(v) else f"{v * 1000:8.1f}"
            for v in (self.p50, self.p95, self.p99)
        )
        return f"  {label:<{width}} {self.count:>8} {self.rate:>9.1f} {ms} {self.errors:>7}"


@dataclass(frozen=True)
class BurstTarget:
    port: int
    target: str
    media: bool
    served_by: tuple[str, ...]  # the processes whose CPU answers it


@dataclass
class Context:
    """What every phase needs."""

    pool: ProcessPoolExecutor
    generators: int
    server: Service
    anchor: Service
    nginx: Service
    prepared: Prepared
    args: argparse.Namespace
    front: int  # the port the tablets talk to: nginx's TLS port, or the server's
    ca: str  # the facility CA file when `front` is TLS, else ""
    targets: dict[str, BurstTarget]

    @property
    def services(self) -> list[Service]:
        return [self.server, self.anchor, self.nginx]


@dataclass
class CountReport:
    tablets: int
    signin: Figures
    signin_seconds: float
    backlog_seconds: float  # from the last sign-in's start to the last first round's end
    ramp_requests: int
    ramp_errors: int
    steady: dict[str, Figures]
    steady_seconds: float
    steady_cores: dict[str, float]
    events_stored: int
    acked: int
    lost: int
    rejected: int
    unsent: int
    steady_cpu_ms: dict[str, float]  # CPU ms per steady-state request, per party
    rss_mib: list[float]  # each server worker's resident memory at the window's end
    bursts: dict[str, tuple[Figures, dict[str, float]]]
    served_by: dict[str, tuple[str, ...]]
    errors: list[str]

    def rate(self, burst: str, per_core: bool = False) -> float:
        """Requests/s of a burst, or per core busy in the processes that served it (which
        other load on a shared machine disturbs much less)."""
        figures, used = self.bursts[burst]
        if not per_core:
            return figures.rate
        return figures.rate / sum(used[name] for name in self.served_by[burst])

    @property
    def holds(self) -> bool:
        """The capacity limits: p95 under 250 ms, no error, no event lost or unsent."""
        everything = self.steady["all"]
        return (
            self.steady_seconds > 0
            and everything.p95 < P95_LIMIT
            and not (everything.errors or self.ramp_errors)
            and not (self.lost or self.unsent or self.rejected)
        )

    @property
    def lesson_ratio(self) -> float:
        return self.rate("lesson") / self.rate("anchor")

    @property
    def media_ratio(self) -> float:
        return self.rate("media") / self.rate("nginx")

    def per_core_ratio(self, burst: str, anchor: str) -> float:
        return self.rate(burst, per_core=True) / self.rate(anchor, per_core=True)

    def misses(self) -> list[str]:
        """What keeps this run from the target (empty when met)."""
        everything = self.steady["all"]
        found = [] if self.steady_seconds > 0 else ["no steady state"]
        if self.steady_seconds > 0 and not everything.p95 < P95_LIMIT:
            found.append(f"p95 {everything.p95 * 1000:.0f} ms")
        if everything.errors or self.ramp_errors:
            found.append(f"{everything.errors + self.ramp_errors} errors")
        if self.lost or self.unsent or self.rejected:
            found.append(f"{self.lost + self.unsent + self.rejected} events lost/unsent")
        if not self.lesson_ratio >= LESSON_TARGET:
            found.append(f"lesson/anchor {self.lesson_ratio:.2f}")
        return found


def tablet_phase(ctx: Context, logins: list[str]) -> tuple[CountReport, list[str]]:
    """Sign N tablets in (ramped), let them run, then count their events in the database.

    The steady window opens `--settle` seconds after the last sign-in starts, or later if
    the ramp's backlog is not cleared by then (the last first round is not done)."""
    args = ctx.args
    interval = 1 / args.signin_rate
    start_at = time.monotonic() + 2
    last_signin = start_at + (len(logins) - 1) * interval
    stop_at = last_signin + args.settle + args.seconds
    slots = list(enumerate(logins))
    every = max(1, round(args.page_every / args.post_every))
    plans = [
        TabletPlan(
            "127.0.0.1",
            ctx.front,
            slots[shard :: ctx.generators],
            start_at,
            interval,
            stop_at,
            args.post_every,
            every,
            args.timeout,
            ctx.ca,
        )
        for shard in range(ctx.generators)
    ]
    with CpuRecorder(ctx.services) as recorder:
        futures = [ctx.pool.submit(run_tablets, plan) for plan in plans]
        outcomes = [future.result() for future in futures]
        rss = resident_mib(_process_tree(ctx.server.pid)[1:])  # the workers, still loaded
    ramp_done = max(outcome.first_rounds_done for outcome in outcomes)
    steady_from = max(last_signin + args.settle, ramp_done)
    seconds = stop_at - steady_from
    if seconds <= 0:
        # The first rounds were still queued when the run ended: no steady state at all,
        # which is itself the answer for this count (it does not hold).
        print("warning: the ramp's backlog ran past the end: no steady state")
        steady_from, seconds = stop_at, 0.0
    elif seconds < args.seconds / 2:
        print(f"warning: the ramp's backlog left only {seconds:.0f} s of steady state")
    samples = [s for outcome in outcomes for s in outcome.samples]
    acked = {k: v for outcome in outcomes for k, v in outcome.acked.items()}
    stored = stored_event_ids(ctx.prepared.data_dir)

    def steady_sample(s: Sample) -> bool:
        return s[0] in STEADY_KINDS and steady_from <= s[1] < stop_at

    in_window = [s for s in samples if steady_sample(s)]
    steady = {
        kind: Figures.of([(s[2], s[3]) for s in in_window if s[0] == kind], seconds)
        for kind in STEADY_KINDS
    }
    steady["all"] = Figures.of([(s[2], s[3]) for s in in_window], seconds)
    signins = [s for s in samples if s[0] == "signin"]
    outside = [s for s in samples if not steady_sample(s) and s[0] != "signin"]
    signin_span = max((s[1] + s[2] for s in signins), default=start_at) - start_at
    # Without a steady window, the cores of the whole tablet phase show who was busy.
    since = steady_from if seconds else start_at
    generator = sum(cpu_in(outcome.cpu_trace, since, stop_at) for outcome in outcomes)
    cores = recorder.cores(since, stop_at, generator)
    requests = max(1, steady["all"].count)
    report = CountReport(
        tablets=len(logins),
        signin=Figures.of([(s[2], s[3]) for s in signins], signin_span),
        signin_seconds=signin_span,
        backlog_seconds=ramp_done - last_signin,
        ramp_requests=len(outside),
        ramp_errors=sum(1 for s in outside if not s[3]),
        steady=steady,
        steady_seconds=seconds,
        steady_cores=cores,
        steady_cpu_ms={
            name: 1000 * cores[name] * seconds / requests if seconds else math.nan
            for name in ("server", "nginx", "generator")
        },
        rss_mib=rss,
        events_stored=sum(
            1 for k, t in acked.items() if steady_from <= t < stop_at and k in stored
        ),
        acked=len(acked),
        lost=len(acked.keys() - stored),
        rejected=sum(o.rejected for o in outcomes),
        unsent=sum(o.unsent for o in outcomes),
        bursts={},
        served_by={key: target.served_by for key, target in ctx.targets.items()},
        errors=[e for outcome in outcomes for e in outcome.errors],
    )
    return report, [cookie for outcome in outcomes for cookie in outcome.cookies]


def stored_event_ids(data_dir: Path) -> set[str]:
    """Ids of the tablet-sent kinds in `progress_events`, through a read-only connection."""
    uri = (data_dir / "stepstone.db").as_uri() + "?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        rows = conn.execute(
            "SELECT event_id FROM progress_events WHERE type IN ('heartbeat', 'progressed')"
        )
        return {row[0] for row in rows}


def resident_mib(pids: Sequence[int]) -> list[float]:
    """Resident memory (VmRSS) of each process, largest first."""
    sizes = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # ended meanwhile
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if found:
            sizes.append(int(found.group(1)) / 1024)
    return sorted(sizes, reverse=True)


def burst(
    ctx: Context, name: str, target: BurstTarget, cookies: list[str]
) -> tuple[Figures, dict[str, float]]:
    """One closed-loop burst, one connection per cookie, measured after a second's start."""
    start_at = time.monotonic() + 1
    measured, stop_at = start_at + 1, start_at + 1 + ctx.args.burst_seconds
    plans = [
        BurstPlan(
            "127.0.0.1",
            target.port,
            target.target,
            cookies[shard :: ctx.generators],
            target.media,
            start_at,
            stop_at,
            ctx.args.timeout,
            ctx.ca,
        )
        for shard in range(ctx.generators)
    ]
    with CpuRecorder(ctx.services) as recorder:
        futures = [ctx.pool.submit(run_burst, plan) for plan in plans]
        outcomes = [future.result() for future in futures]
    done = [
        (end - start, ok)
        for outcome in outcomes
        for start, end, ok in outcome.samples
        if measured <= end < stop_at
    ]
    for outcome in outcomes:
        if outcome.errors:
            print(f"  {name} {target.target}: {outcome.errors[:3]}")
    generator = sum(cpu_in(outcome.cpu_trace, measured, stop_at) for outcome in outcomes)
    return Figures.of(done, ctx.args.burst_seconds), recorder.cores(measured, stop_at, generator)


def run_count(ctx: Context, logins: list[str]) -> CountReport:
    """Everything for one tablet count: the tablets, then the four bursts."""
    report, cookies = tablet_phase(ctx, logins)
    if not cookies:
        raise SystemExit(f"no tablet signed in; first errors: {report.errors[:5]}")
    if ctx.args.burst_connections:
        cookies = cookies[: ctx.args.burst_connections]
    for key, target in ctx.targets.items():
        report.bursts[key] = burst(ctx, key, target, cookies)
    return report


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _cores(used: Mapping[str, float], *names: str) -> str:
    return ", ".join(f"{name} {used[name]:.2f}" for name in names)


def print_report(report: CountReport, args: argparse.Namespace) -> None:
    signin = report.signin
    print(f"\n=== {report.tablets} tablets ===")
    print(
        f"sign-in, ramped at {args.signin_rate:g}/s: {signin.count} in "
        f"{report.signin_seconds:.1f} s, p50 {_ms(signin.p50)}, p95 {_ms(signin.p95)}, "
        f"p99 {_ms(signin.p99)}, errors {signin.errors}"
    )
    print(
        f"last first round (home, lesson, media) done {report.backlog_seconds:.1f} s after the "
        f"last sign-in began; outside the steady window (sign-in forms, first rounds, posts "
        f"during the ramp, last flushes): {report.ramp_requests} requests, "
        f"{report.ramp_errors} errors"
    )
    cores = _cores(report.steady_cores, "server", "nginx", "generator", "others", "irq")
    print(f"steady state, {report.steady_seconds:g} s; cores busy: {cores}")
    cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in report.steady_cpu_ms.items())
    rss = ", ".join(f"{mib:.0f}" for mib in report.rss_mib)
    print(f"  CPU ms per request: {cpu}; server workers' RSS (MiB): {rss}")
    print(f"  {'kind':<12} {Figures.HEADER}")
    for kind in (*STEADY_KINDS, "all"):
        print(report.steady[kind].row(kind))
    print(
        f"  events stored {report.events_stored / (report.steady_seconds or math.inf):.1f}/s "
        f"({report.events_stored} acknowledged in the window); over the whole run: "
        f"{report.acked} acknowledged, lost {report.lost}, rejected {report.rejected}, "
        f"unsent {report.unsent}"
    )
    width = 27
    connections = min(report.tablets, args.burst_connections or report.tablets)
    print(f"closed loop, {connections} connections, {args.burst_seconds:g} s each:")
    print(
        f"  {'':<{width}} {Figures.HEADER} {'per core':>8}   cores: served by, generator, "
        "others, irq"
    )
    for key, label, _ in BURSTS:
        figures, used = report.bursts[key]
        served = sum(used[name] for name in report.served_by[key])
        shares = ", ".join(f"{v:.2f}" for v in (served, *(used[n] for n in BURST_OTHERS)))
        # A generator process near a full core may be what limits the rate.
        bound = "  generator-bound" if used["generator"] > 0.85 * args.generators else ""
        print(
            f"{figures.row(label, width)} {report.rate(key, per_core=True):>8.0f}   {shares}{bound}"
        )
    print(
        f"  lesson page / anchor 1: {report.lesson_ratio:.2f} (target >= {LESSON_TARGET}), "
        "per core "
        f"{report.per_core_ratio('lesson', 'anchor'):.2f}; 1 MiB range / nginx: "
        f"{report.media_ratio:.2f}, per core {report.per_core_ratio('media', 'nginx'):.2f}"
    )
    for error in report.errors[:5]:
        print(f"  error: {error}")


BURST_OTHERS = ("generator", "others", "irq")


def print_summary(reports: Sequence[CountReport]) -> None:
    """The capacity curve: one line per tablet count, then the largest count that holds."""
    print("\n=== capacity curve (steady state; ratios from the closed-loop bursts) ===")
    print(
        f"{'tablets':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'events/s':>8} {'lost':>5} {'CPU ms/req srv+nginx':>20} {'RSS MiB':>7} "
        f"{'cores srv,ngx,gen,oth':>21} {'lesson/a1':>9} {'per core':>8} {'media/a2':>8}  "
        "target"
    )
    for report in reports:
        everything = report.steady["all"]
        misses = report.misses()
        cpu = report.steady_cpu_ms
        cores = ",".join(
            f"{report.steady_cores[n]:.2f}" for n in ("server", "nginx", "generator", "others")
        )
        print(
            f"{report.tablets:>7} {everything.rate:>7.1f} {everything.p50 * 1000:>7.1f} "
            f"{everything.p95 * 1000:>7.1f} {everything.p99 * 1000:>7.1f} "
            f"{everything.errors + report.ramp_errors:>6} "
            f"{report.events_stored / (report.steady_seconds or math.inf):>8.1f} "
            f"{report.lost + report.unsent:>5} "
            f"{cpu['server']:>11.2f}+{cpu['nginx']:<8.2f} {max(report.rss_mib, default=0):>7.0f} "
            f"{cores:>21} {report.lesson_ratio:>9.2f} "
            f"{report.per_core_ratio('lesson', 'anchor'):>8.2f} {report.media_ratio:>8.2f}  "
            + ("met" if not misses else "missed: " + ", ".join(misses))
        )
    holding = [report.tablets for report in reports if report.holds]
    # The largest count below which every measured count holds: a count that holds above
    # one that failed is luck of the run, not capacity.
    largest = 0
    for report in sorted(reports, key=lambda r: r.tablets):
        if not report.holds:
            break
        largest = report.tablets
    print(
        f"largest count holding p95 < {P95_LIMIT * 1000:.0f} ms, 0 errors, 0 lost events: "
        + (f"{largest} tablets" if largest else "none of those measured")
        + (
            f" (also held alone: {holding})"
            if set(holding) - {r for r in holding if r <= largest}
            else ""
        )
    )


# ---------------------------------------------------------------------------------------
# The command.


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Default --dir: $STEPSTONE_BENCH_DIR, else the system's temporary folder.",
    )
    default_dir = os.environ.get("STEPSTONE_BENCH_DIR") or tempfile.gettempdir()
    add = parser.add_argument
    add("--dir", type=Path, default=Path(default_dir), help="scratch folder (outside the repo)")
    add("--tablets", type=int, nargs="+", default=[100, 300, 500], help="tablet counts, in turn")
    add(
        "--curve",
        type=_counts,
        help="capacity curve: comma-separated tablet counts, e.g. 500,1000,2000 (as --tablets)",
    )
    add(
        "--direct",
        action="store_true",
        help="the old shape: tablets talk plain HTTP to uvicorn, which sends the video itself",
    )
    add(
        "--burst-connections",
        type=int,
        default=0,
        help="connections of each closed-loop burst (default: one per tablet)",
    )
    add("--seconds", type=float, default=60, help="steady-state window (s)")
    add("--burst-seconds", type=float, default=10, help="each closed-loop burst (s)")
    add("--signin-rate", type=float, default=25, help="sign-ins started per second")
    add("--settle", type=float, default=10, help="from the last sign-in to the window (s)")
    add(
        "--post-every",
        type=float,
        default=30,
        help="a tablet posts its queued events every ... s (STEPSTONE_EVENT_BATCH_SECONDS)",
    )
    add("--page-every", type=float, default=30, help="a tablet moves on every ... s")
    add("--media-mb", type=int, default=8, help="size of the generated video (MiB)")
    add(
        "--workers",
        type=int,
        default=4,
        help="uvicorn (both apps) and nginx workers (4: the unit's, two per core of 2)",
    )
    add("--generators", type=int, default=2, help="load generator processes")
    add("--timeout", type=float, default=30, help="per request (s)")
    add("--quick", action="store_true", help="smoke run: 20 tablets, 10 s, 3 s bursts")
    add("--keep", action="store_true", help="keep the run's folder and server logs")
    add("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.curve:
        args.tablets = args.curve
    if args.quick:
        args.tablets, args.seconds, args.burst_seconds = [20], 10.0, 3.0
        # so every kind of request is in the window
        args.settle, args.post_every, args.page_every = 3.0, 5.0, 5.0
    if args.media_mb < 1:
        parser.error("--media-mb must be at least 1: the tablets fetch a 1 MiB range")
    if min(args.tablets) < 1 or args.generators < 1 or args.workers < 1:
        parser.error("--tablets, --generators and --workers must be at least 1")
    if args.burst_connections < 0:
        parser.error("--burst-connections must be 0 (one per tablet) or more")
    if min(args.seconds, args.burst_seconds, args.signin_rate, args.timeout) <= 0:
        parser.error("--seconds, --burst-seconds, --signin-rate and --timeout must be > 0")
    if args.post_every < 1:
        parser.error("--post-every must be at least 1 s")
    if args.page_every < args.post_every:
        parser.error("--page-every must be at least --post-every (one event tick)")
    args.dir = args.dir.resolve()
    if args.dir.is_relative_to(ROOT):
        parser.error(f"--dir must be outside the repository ({ROOT})")
    return args


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}"
        ) from None
    if not counts:
        raise argparse.ArgumentTypeError("no tablet count given")
    return counts


def deployed_settings() -> dict[str, str]:
    """The settings lines of deploy/stepstone.env (what the systemd unit passes on)."""
    found = {}
    for line in DEPLOY_ENV.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def find_nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise SystemExit("anchor 2 needs nginx: apt-get install nginx-light")
    return found


def _warm_up(_: int) -> None:
    """Run once in each generator process so imports happen before any timed phase."""
    import uvloop  # noqa: F401


def server_commands(
    args: argparse.Namespace, ports: Mapping[str, int], nginx_conf: Path, nginx: str
) -> dict[str, tuple[list[str], str]]:
    """Each server's command line, and a path that answers once it is up. Both uvicorn
    apps run as `stepstone serve` does: same workers, access log on, no server header."""
    workers = ["--workers", str(args.workers)]
    uvicorn = [sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH_DIR)]
    uvicorn += ["--no-server-header", "--no-proxy-headers", "--log-level", "info"]
    root = nginx_conf.parent
    return {
        "server": (
            [sys.executable, "-m", "server", "serve", "--port", str(ports["server"]), *workers],
            "/signin",
        ),
        "anchor": (
            [*uvicorn, "learner_load:anchor_app", "--port", str(ports["anchor"]), *workers],
            VIDEO_PATH,
        ),
        "nginx": (
            [nginx, "-p", str(root), "-c", str(nginx_conf), "-e", str(root / "error.log")],
            "/media/talk.webm",
        ),
    }


def run(args: argparse.Namespace, run_dir: Path, nginx: str) -> list[CountReport]:
    started = time.monotonic()
    prepared = prepare(run_dir, args.tablets, args.media_mb)
    size = prepared.media_file.stat().st_size
    print(
        f"data folder ready in {time.monotonic() - started:.1f} s: "
        f"{sum(args.tablets)} learners, a {size / MIB:.0f} MiB video"
    )
    env = server_env(prepared.data_dir)
    if not args.direct:
        env |= deployed_settings()
    ports = {name: free_port() for name in ("server", "anchor", "nginx")}
    conf = nginx_files(run_dir, prepared.media_file, args.workers, ports["nginx"])
    commands = server_commands(args, ports, conf, nginx)
    if not args.direct:
        del commands["nginx"]  # the shipped site below serves anchor 2 as well
    with ExitStack() as stack:
        pool = stack.enter_context(
            ProcessPoolExecutor(args.generators, mp_context=get_context("spawn"))
        )
        list(pool.map(_warm_up, range(args.generators)))
        up = {
            name: stack.enter_context(
                running(name, command, env, run_dir / f"{name}.log", ready, ports[name])
            )
            for name, (command, ready) in commands.items()
        }
        if args.direct:
            front, ca = up["server"].port, ""
            targets = {
                "lesson": BurstTarget(front, VIDEO_PATH, False, ("server",)),
                "anchor": BurstTarget(up["anchor"].port, VIDEO_PATH, False, ("anchor",)),
                "media": BurstTarget(front, prepared.media_url, True, ("server",)),
                "nginx": BurstTarget(up["nginx"].port, "/media/talk.webm", True, ("nginx",)),
            }
        else:
            up["nginx"], front, ca = stack.enter_context(
                deployed_front(run_dir, prepared, args.workers, up["server"], up["anchor"])
            )
            targets = {
                "lesson": BurstTarget(front, VIDEO_PATH, False, ("server", "nginx")),
                "anchor": BurstTarget(
                    front, ANCHOR_PREFIX + VIDEO_PATH, False, ("anchor", "nginx")
                ),
                "media": BurstTarget(front, prepared.media_url, True, ("server", "nginx")),
                "nginx": BurstTarget(front, PLAIN_MEDIA, True, ("nginx",)),
            }
        ctx = Context(
            pool,
            args.generators,
            up["server"],
            up["anchor"],
            up["nginx"],
            prepared,
            args,
            front,
            ca,
            targets,
        )
        reports = []
        for logins in prepared.learners:
            reports.append(run_count(ctx, logins))
            print_report(reports[-1], args)
    return reports


@contextmanager
def deployed_front(
    run_dir: Path, prepared: Prepared, workers: int, server: Service, anchor: Service
) -> Iterator[tuple[Service, int, str]]:
    """nginx with the shipped site over TLS in front of the server (media by
    `X-Accel-Redirect` from the store), plus two bench-only locations in the same TLS
    server: anchor 1 proxied as Stepstone is, and the video's file sent directly (anchor
    2). Yields (nginx, its TLS port, the facility CA file)."""
    certificates = make_certificates(run_dir / "tls")
    anchors = (
        f"    location {ANCHOR_PREFIX}/ {{ proxy_pass http://127.0.0.1:{anchor.port}/; }}\n"
        f"    location = {PLAIN_MEDIA} {{ alias {prepared.media_file}; }}\n"
    )
    store = prepared.media_file.parents[1]
    site = Site(free_port(), free_port(), f"127.0.0.1:{server.port}", store, certificates)
    with running_nginx(run_dir / "site", site, anchors, workers=workers) as folder:
        pid = int((folder / "nginx.pid").read_text())
        yield Service("nginx", pid, site.https_port), site.https_port, str(certificates.ca)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    nginx = find_nginx()
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
        f"server and anchor: uvicorn, {args.workers} workers; generator: "
        f"{args.generators} process(es)"
    )
    args.dir.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="learner-load-", dir=args.dir))
    try:
        reports = run(args, run_dir, nginx)
    finally:
        if args.keep:
            print(f"kept {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    print_summary(reports)
    if args.json:
        args.json.write_text(
            json.dumps([dataclasses.asdict(report) for report in reports], indent=2)
        )


if __name__ == "__main__":
    main()
