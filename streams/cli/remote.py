"""The read commands over the HTTP API (``--api URL``) instead of the database.

``driftline windows``, ``detections``, ``alerts`` and ``audit`` read the
database with its credentials by default; with ``--api URL`` (or
``$DRIFTLINE_API_URL``) they read the same rows from ``driftline api`` and print
them exactly as the database path does (docs/cli.md).

Decisions:

- The standard library's ``urllib.request``: the runtime dependencies have no
  synchronous HTTP client, and a few GETs do not need one.
- The token comes from ``$DRIFTLINE_API_TOKEN`` or from the file given with
  ``--api-token-file``, never from an option's value, which ``ps`` would show to
  every user of the machine. It is sent as ``Authorization: Bearer``. Without a
  token the requests go without the header (an API with ``api.open_reads``).
  The token never appears in an output or an error: errors quote the API's
  ``detail`` (which names scopes, not tokens) and the URL, and a URL with a
  user or password in it is refused, since errors print the URL.
- Redirects are not followed: urllib would send the token on to wherever the
  redirect points. A 3xx answer is an error naming the URL to give instead.
- A list is read page by page, following ``next_cursor`` (``before`` for the
  audit trail) with the API's default page size, and each page is handed on
  before the next is read: only one page per version is held beyond what the
  command prints.
- Errors are one line and exit status 2, as on the database path: an answer
  other than 200 quotes the problem's ``detail`` and its status; a server that
  cannot be reached (refused, unknown host, timed out after ``TIMEOUT``
  seconds) names the URL.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from streams.cli.common import fail
from streams.config.settings import client_variable

API_ENV = "DRIFTLINE_API_URL"
TOKEN_ENV = "DRIFTLINE_API_TOKEN"
TIMEOUT = 30.0  # seconds for one request
PAGE_SIZE: int | None = None  # rows per page asked for; None: the API's default

F = TypeVar("F", bound=Callable[..., Any])
Params = Mapping[str, str | int | None]


def api_options(command: F) -> F:
    """``--api URL`` (or ``$DRIFTLINE_API_URL``) and ``--api-token-file PATH``."""
    command = click.option(
        "--api-token-file", "api_token_file", type=click.Path(path_type=Path), default=None,
        metavar="PATH",
        help=f"File holding the API token (default: the token in ${TOKEN_ENV}).")(command)
    return click.option(
        "--api", "api_url", default=None, metavar="URL", envvar=API_ENV, show_envvar=True,
        help="Read from this driftline API instead of the database.")(command)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: following one would send the token to another address."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> None:
        return None


class Api:
    """GET requests to one driftline API, as its JSON answers; failures stop the command."""

    def __init__(self, url: str, token: str | None, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    def get(self, path: str, params: Params | None = None) -> Any:
        """The JSON answer of ``GET path?params`` (``None`` values are left out)."""
        query = urllib.parse.urlencode(
            {k: v for k, v in (params or {}).items() if v is not None})
        address = self.url + path + (f"?{query}" if query else "")
        request = urllib.request.Request(address, headers={"Accept": "application/json"})
        if self._token is not None:
            request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                body = answer.read()
        except urllib.error.HTTPError as exc:
            try:
                self._refused(exc)
            finally:
                exc.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            fail(f"cannot reach the API at {self.url}: {_reason(reason)}")
        try:
            return json.loads(body)
        except ValueError:
            fail(f"the API at {self.url} answered {path} with something other than JSON")

    def _refused(self, exc: urllib.error.HTTPError) -> NoReturn:
        if 300 <= exc.code < 400:
            target = exc.headers.get("Location", "another address")
            fail(f"the API at {self.url} redirects to {target} (HTTP {exc.code}): give the "
                 "final URL as --api")
        detail = None
        try:
            problem = json.loads(exc.read())
            if isinstance(problem, dict) and isinstance(problem.get("detail"), str):
                detail = problem["detail"]
        except (ValueError, OSError):
            pass
        fail(f"the API answered {exc.code}: {detail or exc.reason or 'no detail'}")

    def pages(self, path: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """The items of every page of a keyset-paged list, following ``next_cursor``."""
        cursor: str | None = None
        while True:
            page = self.get(path, {**(params or {}), "cursor": cursor, "limit": PAGE_SIZE})
            yield from _items(page, path)
            cursor = page.get("next_cursor")
            if cursor is None:
                return

    def audit_pages(self, params: Params) -> Iterator[dict[str, Any]]:
        """The audit trail, newest first, following ``next_before``."""
        before: int | None = None
        while True:
            page = self.get("/v1/audit", {**params, "before": before, "limit": PAGE_SIZE})
            yield from _items(page, "/v1/audit")
            before = page.get("next_before")
            if before is None:
                return

    def versions(self, model_id: str) -> list[str]:
        """The model's versions with windows, in the database's order (``/v1/models/{id}``)."""
        model = self.get(model_path(model_id))
        versions = model.get("versions") if isinstance(model, dict) else None
        if not isinstance(versions, list):
            fail(f"the API answered {model_path(model_id)} without a list of versions")
        return [str(version["model_version"]) for version in versions]


def _items(page: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(page, dict) or not isinstance(page.get("items"), list):
        fail(f"the API answered {path} without a list of items")
    items: list[dict[str, Any]] = page["items"]
    return items


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return str(reason.strerror)
    return str(reason) or type(reason).__name__


def model_path(model_id: str, model_version: str | None = None) -> str:
    """``/v1/models/{model}[/versions/{version}]``, each part quoted."""
    path = "/v1/models/" + urllib.parse.quote(model_id, safe="")
    if model_version is not None:
        path += "/versions/" + urllib.parse.quote(model_version, safe="")
    return path


def read_token(token_file: Path | None) -> str | None:
    """The token from ``token_file``, else ``$DRIFTLINE_API_TOKEN``, else None."""
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            fail(f"cannot read --api-token-file {token_file}: {reason}")
        token, where = text.strip(), f"--api-token-file {token_file}"
        if not token:
            fail(f"{where} is empty")
    else:
        token = (client_variable(TOKEN_ENV) or "").strip()
        where = f"${TOKEN_ENV}"
        if not token:
            return None
    if not all("!" <= char <= "~" for char in token):
        # Said without the token: it would end up in the error line.
        fail(f"the token in {where} has spaces, control or non-ASCII characters")
    return token


def connect(api_url: str | None, api_token_file: Path | None, *, config: Path | None,
            database: str | None) -> Api | None:
    """The API to read from, or None to read the database; ``--api`` with ``--database``
    or ``--config`` (or a token file without ``--api``) is a usage error."""
    ctx = click.get_current_context(silent=True)
    if api_url is None:
        if api_token_file is not None:
            raise click.UsageError("--api-token-file needs --api URL", ctx)
        return None
    source = "--api"
    if ctx is not None and ctx.get_parameter_source("api_url") == \
            click.core.ParameterSource.ENVIRONMENT:
        source = f"${API_ENV}"
    for name, value in (("--database", database), ("--config", config)):
        if value is not None:
            raise click.UsageError(f"{name} cannot be used with {source}: the command reads "
                                   "either the database or the API", ctx)
    # Not quoted back: the value may hold a password by mistake.
    try:
        parsed = urllib.parse.urlsplit(api_url)
        _ = parsed.port  # an invalid port raises here
    except ValueError:
        raise click.UsageError(f"{source} is not a valid URL", ctx) from None
    if "@" in parsed.netloc:
        raise click.UsageError(f"{source} must not hold a user or password: give the token "
                               f"in ${TOKEN_ENV} or --api-token-file", ctx)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise click.UsageError(f"{source} must be an http:// or https:// URL", ctx)
    if parsed.query or parsed.fragment:
        raise click.UsageError(f"{source} must be the API's base URL, without ?query or "
                               "#fragment", ctx)
    return Api(api_url, read_token(api_token_file))
