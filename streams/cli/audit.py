"""``driftline audit``: the audit trail of writes (references, silences, deletes), newest first.

The trail is read page by page (``store.audit.list_audit``, keyset on the id)
and printed as it is read, so a long trail is never held in memory. ``--since``
takes a duration back from now (``30m``, ``2h``, ``7d``) or an ISO 8601 time (a
time without a zone is UTC). Text is one line per write: when, who, what, on
which model and version, and the target; ``--format json`` prints one JSON
object per line with ``before`` and ``after`` as stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from alerting.config_values import parse_duration
from store.audit import AuditRow, list_audit
from store.engine import make_engine
from streams.cli.common import fail
from streams.cli.store import _database_url, _store_errors, config_option, database_option

PAGE = 500


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


def text_line(row: AuditRow) -> str:
    """One write as a line of text."""
    data = row.to_dict()
    model = row.model_id or "-"
    if row.model_version:
        model += f" v{row.model_version}"
    target = " ".join(f"{k}={v}" for k, v in row.target.items()) or "-"
    return f"{data['at']}  {row.actor}  {row.action}  {model}  {target}"


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
def audit(model: str | None, action: str | None, since: str | None, limit: int | None,
          fmt: str, config: Path | None, database: str | None) -> None:
    """The audit trail of writes (references, silences, deletes), newest first."""
    start = parse_since(since, datetime.now(UTC))
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
                        click.echo(json.dumps(row.to_dict(), allow_nan=False)
                                   if fmt == "json" else text_line(row))
                    if page.next_before is None:
                        break
                    before = page.next_before
                    left = None if left is None else left - len(page.rows)
        finally:
            engine.dispose()
