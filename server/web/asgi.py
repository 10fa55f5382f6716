"""A base for middleware that acts once a request's answer is done: it notes the status
the app sent (500 if it failed before answering) and the time taken."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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
