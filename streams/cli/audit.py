"""``driftline audit``: the audit trail of writes (references, silences, deletes), newest first.

The trail is read page by page (``store.audit.list_audit``, keyset on the id)
and printed as it is read, so a long trail is never held in memory. ``--since``
takes a duration back from now (``30m``, ``2h``, ``7d``) or an ISO 8601 time (a
time without a zone is UTC). Text is one line per write: when, who, what, on
which model and version, and the target; ``--format json`` prints one JSON
object per line with ``before`` and ``after`` as stored.

With ``--api URL`` the trail is read from ``GET /v1/audit`` instead, page by
page (``next_before``), and printed the same way (``streams.cli.remote``).
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from alerting.config_values import parse_duration
from store.audit import list_audit
from store.engine import make_engine
from streams.cli.common import fail
from streams.cli.remote import Api, api_options, connect
from streams.cli.store import _database_url, _store_errors, config_option, database_option

PAGE = 500
AUDIT_FIELDS = ("id", "at", "actor", "action", "model_id", "model_version", "target",
                "before", "after")  # AuditRow.to_dict()'s


def parse_since(since: str | None, now: datetime) -> datetime | None:
    """``--since`` as an aware datetime: now minus a duration, or an ISO 8601 time."""
    if since is None:
        return None
    seconds = parse_duration(since)
    if seconds is not None and seconds > 0:
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        fail(f"--since must be a duration such as 30m, 2h or 7d, or an ISO 8601 time, "
             f"got {since!r}")
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)


def text_line(data: dict[str, Any]) -> str:
    """One write (``AuditRow.to_dict()``, or an item of ``GET /v1/audit``) as a line of text."""
    model = data["model_id"] or "-"
    if data["model_version"]:
        model += f" v{data['model_version']}"
    target = " ".join(f"{k}={v}" for k, v in data["target"].items()) or "-"
    return f"{data['at']}  {data['actor']}  {data['action']}  {model}  {target}"


def _echo(data: dict[str, Any], fmt: str) -> None:
    click.echo(json.dumps(data, allow_nan=False) if fmt == "json" else text_line(data))


def _from_api(api: Api, model: str | None, action: str | None, start: datetime | None,
              limit: int | None, fmt: str) -> None:
    params = {"since": None if start is None else start.isoformat(), "action": action,
              "model_id": model}
    rows = api.audit_pages(params)
    for row in rows if limit is None else itertools.islice(rows, limit):
        _echo({name: row[name] for name in AUDIT_FIELDS}, fmt)


@click.command("audit")
@click.option("--model", default=None, help="Only writes to this model.")
@click.option("--action", default=None, help="Only this action (e.g. alert.silence).")
@click.option("--since", default=None, metavar="WHEN",
              help="Only writes since a duration ago (30m, 2h, 7d) or an ISO 8601 time.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the newest N writes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one audit row per line, before and after included.")
@config_option
@database_option
@api_options
def audit(model: str | None, action: str | None, since: str | None, limit: int | None,
          fmt: str, config: Path | None, database: str | None, api_url: str | None,
          api_token_file: Path | None) -> None:
    """The audit trail of writes (references, silences, deletes), newest first."""
    api = connect(api_url, api_token_file, config=config, database=database)
    start = parse_since(since, datetime.now(UTC))
    if api is not None:
        _from_api(api, model, action, start, limit, fmt)
        return
    with _store_errors():
        engine = make_engine(_database_url(config, database))
        try:
            with engine.connect() as conn:
                before: int | None = None
                left = limit
                while left is None or left > 0:
                    size = PAGE if left is None else min(PAGE, left)
                    page = list_audit(conn, since=start, action=action, model_id=model,
                                      before=before, limit=size)
                    for row in page.rows:
                        _echo(row.to_dict(), fmt)
                    if page.next_before is None:
                        break
                    before = page.next_before
                    left = None if left is None else left - len(page.rows)
        finally:
            engine.dispose()
