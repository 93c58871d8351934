"""Bearer tokens with scopes (``streams.config.api``): who may read, who may write.

Decisions:

- A request names its token as ``Authorization: Bearer <token>``. Its SHA-256
  digest is compared with every configured digest by ``hmac.compare_digest``,
  all of them each time, so neither the comparison nor the loop ends early on a
  match.
- No token: 401 with ``WWW-Authenticate: Bearer``; an unknown token: 401; a known
  token without the scope: 403. ``read`` is needed for reads unless
  ``api.open_reads`` is true; ``write`` for writes, always.
- The token is never logged nor echoed: problems name the scope, not the token.
  The name of the token that passed is kept in ``request.state.token_name`` for
  the logs and the audit trail.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from streams.api.problems import ProblemError
from streams.config.api import ApiSettings, ApiToken, token_digest

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ProblemError(401, "the Authorization header must be 'Bearer <token>'", CHALLENGE)
    return value.strip()


def find_token(settings: ApiSettings, value: str) -> ApiToken | None:
    """The configured token with this value, or None; compares every digest."""
    digest = token_digest(value)
    found = None
    for token in settings.tokens.values():
        if hmac.compare_digest(token.digest, digest):
            found = token
    return found


def require(settings: ApiSettings, scope: str) -> Callable[[Request], None]:
    """A route dependency that lets a request through only with a token of ``scope``."""

    def check(request: Request) -> None:
        request.state.token_name = None
        value = _bearer(request)
        if value is None:
            if scope == "read" and settings.open_reads:
                return
            raise ProblemError(401, f"a token with the {scope!r} scope is needed "
                                  "(Authorization: Bearer <token>)", CHALLENGE)
        token = find_token(settings, value)
        if token is None:
            raise ProblemError(401, "the token is not valid", CHALLENGE)
        if scope not in token.scopes:
            raise ProblemError(403, f"token {token.name!r} has no {scope!r} scope")
        request.state.token_name = token.name

    return check
