"""Which database errors can never succeed on a retry (the data) and which can (the link).

A write that fails for its data (a value the column refuses, a key too long for its
index, a broken constraint) fails the same way forever: retrying it would stop every
later write of the worker. ``is_permanent`` tells those apart by the SQLSTATE class
PostgreSQL reports, and by the DB-API exception class where SQLite gives none:

- permanent: 22 data exception, 23 integrity constraint violation, 42 syntax error or
  access rule violation, 54 program limit exceeded (an index row too large); SQLite's
  ``IntegrityError``, ``DataError`` and ``ProgrammingError``; and a value the JSON
  serializer refuses (``ValueError``, ``TypeError``);
- everything else is transient: connection failures (08), a server shutting down (57),
  lock timeouts and serialization failures (40, 55), a locked SQLite file.
"""

from __future__ import annotations

from sqlalchemy import exc

PERMANENT_SQLSTATE_CLASSES = frozenset({"22", "23", "42", "54"})


def is_permanent(error: BaseException) -> bool:
    """True when retrying the write that raised ``error`` cannot succeed."""
    if isinstance(error, ValueError | TypeError):
        return True
    if not isinstance(error, exc.DBAPIError) or error.connection_invalidated:
        return False
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES
    return isinstance(error, exc.IntegrityError | exc.DataError | exc.ProgrammingError)
