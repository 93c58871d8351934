"""The ``api`` section of the configuration: who may call ``driftline api``.

::

    api:
      open_reads: false          # true: reads need no token (writes always do)
      max_page: 1000             # the largest ``limit`` a page may ask for
      tokens:
        ci:                      # a name, for logs and the audit trail
          scopes: [read]
          value_env: CI_API_TOKEN
        oncall:
          scopes: [read, write]
          value_file: /run/secrets/driftline-oncall

Decisions:

- A token's value comes from ``value_env`` or ``value_file`` only (read the way
  alerting's secrets are, ``alerting.config._read_secret``); a literal ``value`` in
  the file is refused, so the configuration file holds no credential. The
  variable should not start with ``DRIFTLINE_``: those are read as settings.
- Only the SHA-256 digest of a token is kept (``ApiToken.digest``), and the API
  compares digests in constant time. Nothing shows a token: ``driftline config
  check`` lists each token's name and scopes only.
- Two tokens with the same value are refused: the name a request is logged under
  would be ambiguous.
- ``write`` does not imply ``read``: a token lists every scope it has.
- The section is read from YAML only, like ``alerting``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from alerting.config import _read_secret
from alerting.config_values import (
    ConfigError,
    check_keys,
    flag,
    integer,
    mapping,
    secret_mapping,
    show,
)

SCOPES = ("read", "write")
KEYS = ("open_reads", "max_page", "tokens")
TOKEN_KEYS = ("scopes", "value_env", "value_file")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_MAX_PAGE = 1000


@dataclass(frozen=True)
class ApiToken:
    """One configured token: its name, scopes and the SHA-256 digest of its value."""

    name: str
    scopes: frozenset[str]
    digest: bytes = field(repr=False)


@dataclass(frozen=True)
class ApiSettings:
    open_reads: bool = False
    max_page: int = DEFAULT_MAX_PAGE
    tokens: Mapping[str, ApiToken] = field(default_factory=lambda: MappingProxyType({}))


def token_digest(value: str) -> bytes:
    """The SHA-256 digest a token is kept and compared as."""
    return hashlib.sha256(value.encode("utf-8")).digest()


def _scopes(raw: object, path: str) -> frozenset[str]:
    if (not isinstance(raw, list) or not raw
            or not all(isinstance(s, str) and s in SCOPES for s in raw)):
        raise ConfigError(f"{path}: must be a non-empty list of {', '.join(SCOPES)}, "
                          f"got {show(raw)}", path)
    return frozenset(raw)


def _token(name: str, raw: object, environ: Mapping[str, str], path: str) -> ApiToken:
    values = secret_mapping(raw, path)
    check_keys(values, TOKEN_KEYS, path)
    if "scopes" not in values:
        raise ConfigError(f"{path}: missing scopes", f"{path}.scopes")
    scopes = _scopes(values["scopes"], f"{path}.scopes")
    found = _read_secret(values, "value", environ, path)
    if found is None:
        raise ConfigError(f"{path}: missing value_env or value_file", f"{path}.value_env")
    return ApiToken(name, scopes, token_digest(found[0]))


def parse_api(raw: object, environ: Mapping[str, str], path: str = "api") -> ApiSettings:
    """The ``api`` section (None: no tokens, reads closed)."""
    values = mapping(raw, path)
    check_keys(values, KEYS, path)
    open_reads = flag(values["open_reads"], f"{path}.open_reads") \
        if "open_reads" in values else False
    max_page = integer(1, 100_000, text=False)(values["max_page"], f"{path}.max_page") \
        if "max_page" in values else DEFAULT_MAX_PAGE
    tokens: dict[str, ApiToken] = {}
    seen: dict[bytes, str] = {}
    for name, body in secret_mapping(values.get("tokens"), f"{path}.tokens").items():
        where = f"{path}.tokens.{name}"
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ConfigError(f"{path}.tokens: a token's name must match {NAME.pattern}, "
                              f"got {show(name)}", where)
        token = _token(name, body, environ, where)
        if token.digest in seen:
            raise ConfigError(f"{where}: same value as token {seen[token.digest]!r}", where)
        seen[token.digest] = name
        tokens[name] = token
    return ApiSettings(open_reads, max_page, MappingProxyType(tokens))
