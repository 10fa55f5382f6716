"""Middleware that acts once a request's answer is done: a base that notes the status the
app sent (500 if it failed before answering) and the time taken, and its two uses, the
request log line (`server.ops.logs` says what a line holds) and the metrics count."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.core.settings import Settings
from server.ops.logs import request_log
from server.ops.metrics import UNMATCHED, RequestMetrics
from server.web.plumbing import client_address


class AfterResponse(ABC):
    """Calls `done(scope, status, seconds)` after every HTTP request, even a failed one.
    Subclasses (the request log, the metrics) say what to do with those figures."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.done(scope, status, time.perf_counter() - started)

    @abstractmethod
    def done(self, scope: Scope, status: int, seconds: float) -> None:
        """Record one finished request: its status and how long it took."""


class RequestLogMiddleware(AfterResponse):
    """Writes one line per HTTP request when its response is done (or has failed).

    Goes inside `SecurityHeadersMiddleware`, which gives each request its id. The user id
    is what the request handler noted after loading the session (`request.state`).
    """

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        super().__init__(app)
        self.settings = settings

    def done(self, scope: Scope, status: int, seconds: float) -> None:
        state = scope.get("state", {})
        request_log.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "request_id": state.get("request_id", ""),
                "user_id": state.get("user_id"),
                "client": client_address(Request(scope), self.settings),
            },
        )


class MetricsMiddleware(AfterResponse):
    """Counts each HTTP request under the template of the route that answered it."""

    def __init__(self, app: ASGIApp, *, metrics: RequestMetrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    def done(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        self.metrics.observe(scope["method"], route, status, seconds)
