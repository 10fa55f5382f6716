"""The exceptions that carry an HTTP status and a message a user can read.

Messages are English message ids; templates translate them. One handler in
`server.web.views.errors` renders them all.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a string for translation without translating it here (done at render time)."""
    return message


class StepstoneError(Exception):
    """Base of everything Stepstone raises on purpose."""


class ConfigError(StepstoneError):
    """The settings or the data folder are not usable."""


class HTTPError(StepstoneError):
    status = 500
    default_message = N_("Something went wrong on the server. Please tell staff.")

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(HTTPError):
    status = 400
    default_message = N_("Something in the form was not right. Please try again.")


class NotSignedIn(HTTPError):
    status = 401
    default_message = N_("Please sign in.")


class Forbidden(HTTPError):
    status = 403
    default_message = N_("You cannot open this page.")


class CSRFError(Forbidden):
    default_message = N_("This form is too old. Please go back, reload the page and try again.")


class NotFound(HTTPError):
    status = 404
    default_message = N_("We could not find this page.")


class Conflict(HTTPError):
    status = 409
    default_message = N_("This was changed by someone else. Please reload and try again.")


class PayloadTooLarge(HTTPError):
    status = 413
    default_message = N_("What you sent is too big.")


class TooManyRequests(HTTPError):
    status = 429
    default_message = N_("Too many tries. Please wait and try again.")


class CannotSave(HTTPError):
    """The disk or the database refuses writes (full, read-only, failing): pages that
    only read still work; nothing saved before is lost."""

    status = 503
    default_message = N_(
        "We cannot save right now. What you saved before is safe. Please try again later."
    )


class ValidationError(StepstoneError):
    """A domain rule was broken by input; the message says what to change."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)
