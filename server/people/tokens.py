"""One signed-token service per purpose, each with its own salt and maximum age.

A token made for one purpose (say a CSRF token) never loads as another (a session).
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from server.core.errors import StepstoneError


class InvalidToken(StepstoneError):
    """The token was not made by this server for this purpose."""


class ExpiredToken(InvalidToken):
    """The token is genuine but older than its purpose allows."""


class TokenService:
    def __init__(self, secret: str, purpose: str, max_age: int) -> None:
        self.purpose = purpose
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret, salt=f"stepstone.{purpose}")

    def dumps(self, data: Any) -> str:
        return str(self._serializer.dumps(data))

    def loads(self, token: str, max_age: int | None = None) -> Any:
        try:
            return self._serializer.loads(token, max_age=max_age or self.max_age)
        except SignatureExpired:
            raise ExpiredToken(self.purpose) from None
        except BadSignature:
            raise InvalidToken(self.purpose) from None


class Tokens:
    """The token services of one app."""

    def __init__(self, secret: str, session_max_age: int) -> None:
        self.session = TokenService(secret, "session", session_max_age)
        self.csrf = TokenService(secret, "csrf", session_max_age)
        self.one_time = TokenService(secret, "one-time", 15 * 60)
        # The address of one interactive lesson's files for the page that shows it
        # (`server.web.sandbox`); it lives as long as a session may.
        self.sandbox = TokenService(secret, "sandbox", session_max_age)
