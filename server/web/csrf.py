"""CSRF: a request that changes something must come from one of this server's own pages.

Two checks. The browser's own headers first: `Sec-Fetch-Site` must say same-origin (or
none, typed by the person), and an `Origin` must be this host. Then a token: signed
(itsdangerous, its own salt) over a per-session secret, or for someone not signed in a
random seed kept in a strict cookie, so a page of another site can neither read nor
forge one. A JSON call or a file upload brings its token outside the body (the
`X-CSRF-Token` header, or `?csrf_token=` in the form's action URL), so it is checked
before a byte of the body is read; only a plain form may carry it as a field. Where each
check runs in a request is the plumbing's business (`server.web.plumbing`).
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

from server.core.errors import CSRFError
from server.people.tokens import InvalidToken, Tokens

ANON_CSRF_COOKIE = "stepstone_csrf"
FIELD = "csrf_token"
MAX_TOKEN = 500


def check_origin(request: Request) -> None:
    """CSRFError unless the browser says the request comes from this site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        raise CSRFError()
    origin = request.headers.get("origin")
    # A browser sends "null" from sandboxed or privacy-sensitive contexts; Sec-Fetch-Site
    # and the token still guard those.
    if origin not in (None, "null") and urlsplit(origin).netloc != request.headers.get("host"):
        raise CSRFError()


def token_outside_body(request: Request) -> str:
    """The token a JSON call or an upload brings in its header or its URL ("" if none)."""
    return request.headers.get("x-csrf-token", "") or request.query_params.get(FIELD, "")


def make_token(tokens: Tokens, seed: str) -> str:
    """A token for the forms of one page (signing costs ~0.1 ms: one per request)."""
    return tokens.csrf.dumps(seed)


def check_token(tokens: Tokens, token: str, expected_seed: str) -> None:
    """CSRFError unless `token` is a genuine token over `expected_seed`."""
    if not token or not expected_seed or len(token) > MAX_TOKEN:
        raise CSRFError()
    try:
        seed = tokens.csrf.loads(token)
    except InvalidToken:
        raise CSRFError() from None
    if not isinstance(seed, str) or not hmac.compare_digest(seed, expected_seed):
        raise CSRFError()


def anonymous_seed(cookie: str) -> tuple[str, bool]:
    """The seed for someone not signed in: theirs from the cookie, or a new one (then
    True: the response must set the cookie)."""
    if len(cookie) >= 32:
        return cookie, False
    return secrets.token_urlsafe(32), True
