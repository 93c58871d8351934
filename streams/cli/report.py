"""``driftline report``: a self-contained HTML page of two files or of stored windows."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import click

from detectors import DriftPolicy, ProfileOptions
from detectors.policy import CATEGORICAL_EFFECTS, NUMERIC_EFFECTS, VERDICTS
from streams.cli.common import iso_time
from streams.cli.compare import build_policy, column_options
from streams.cli.errors import CLIError
from streams.report.model import ReportData

# As in ``streams.cli.store``, which is imported only for a stored report: it loads SQL.
config_option = click.option("--config", type=click.Path(path_type=Path), default=None,
                             help="YAML settings file (default: $DRIFTLINE_CONFIG).")
database_option = click.option("--database", default=None, metavar="URL",
                               help="Database URL (default: the settings' database_url).")


def _fail(message: str) -> NoReturn:
    """``driftline: error: MESSAGE``, exit status 2 (``streams.cli.common.fail``, which
    loads the settings: a report of two files needs none)."""
    raise CLIError(message)


@click.command("report")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="The HTML file to write.")
@click.option("--reference", type=click.Path(path_type=Path), default=None,
              help="Reference file (CSV, Parquet or JSONL), with --current.")
@click.option("--current", type=click.Path(path_type=Path), default=None,
              help="Current file, compared with --reference as `driftline compare` does.")
@column_options
@click.option("--verdict", type=click.Choice(VERDICTS), default="budget", show_default=True,
              help="The verdict of `driftline compare --verdict`.")
@click.option("--alpha", type=float, default=None, help="As `driftline compare --alpha`.")
@click.option("--min-samples", type=int, default=100, show_default=True,
              help="Smallest sample, in both files, that gets a verdict.")
@click.option("--min-reference-rows", type=int, default=None,
              help="Rows the reference must hold for any verdict (budget 10000, classic 0).")
@click.option("--bins", type=int, default=10, show_default=True,
              help="Quantile bins of the reference (PSI and the histograms).")
@click.option("--numeric-effect", type=click.Choice(NUMERIC_EFFECTS), default=None,
              help="As `driftline compare --numeric-effect`.")
@click.option("--categorical-effect", type=click.Choice(CATEGORICAL_EFFECTS), default=None,
              help="As `driftline compare --categorical-effect`.")
@click.option("--warn", "warn_at", type=float, default=None,
              help="Warn threshold of the effect sizes chosen.")
@click.option("--critical", "critical_at", type=float, default=None,
              help="Critical threshold of the effect sizes chosen.")
@click.option("--drift-share", type=float, default=0.5, show_default=True,
              help="Share of drifted features at which the dataset drifts.")
@click.option("--no-correction", is_flag=True, help="Do not correct p-values (not advised).")
@click.option("--model", default=None, help="Model id: report its stored windows instead.")
@click.option("--model-version", "model_version", default=None,
              help="Model version of --model ('' for windows stored without one).")
@click.option("--since", callback=iso_time, default=None, metavar="TIME",
              help="First window start to include (ISO 8601; no offset means UTC).")
@click.option("--until", callback=iso_time, default=None, metavar="TIME",
              help="Windows starting at or after TIME are left out (ISO 8601).")
@config_option
@database_option
def report(out: Path, reference: Path | None, current: Path | None, target: tuple[str, ...],
           prediction: tuple[str, ...], exclude: tuple[str, ...], numeric: tuple[str, ...],
           categorical: tuple[str, ...], verdict: str, alpha: float | None, min_samples: int,
           min_reference_rows: int | None, bins: int, numeric_effect: str | None,
           categorical_effect: str | None, warn_at: float | None, critical_at: float | None,
           drift_share: float, no_correction: bool, model: str | None,
           model_version: str | None, since: datetime | None, until: datetime | None,
           config: Path | None, database: str | None) -> None:
    """Write an HTML report (no network needed to open it) of two files or of MODEL's
    stored windows over a time range.
    """
    started = time.perf_counter()
    files = reference is not None or current is not None
    if files == (model is not None):
        _fail("give either --reference and --current, or --model and --model-version")
    if files:
        if reference is None or current is None:
            _fail("--reference and --current go together")
        try:
            policy = build_policy(verdict, alpha, min_samples, min_reference_rows,
                                  numeric_effect, categorical_effect, warn_at, critical_at,
                                  drift_share, no_correction)
            data = _from_files(reference, current, target, prediction, exclude, numeric,
                               categorical, policy, ProfileOptions(bins=bins))
        except ValueError as exc:
            _fail(str(exc))
    else:
        assert model is not None
        if model_version is None:
            _fail("--model needs --model-version")
        data = _from_store(model, model_version, since, until, config, database)
    from streams.report.page import render

    try:
        out.write_text(render(data), encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {out} ({len(data.columns)} columns, "
               f"{time.perf_counter() - started:.2f} s)")


def _from_files(reference: Path, current: Path, target: tuple[str, ...],
                prediction: tuple[str, ...], exclude: tuple[str, ...],
                numeric: tuple[str, ...], categorical: tuple[str, ...],
                policy: DriftPolicy, options: ProfileOptions) -> ReportData:
    from streams.batch.compare import CompareRequest, run_compare
    from streams.batch.files import InputError
    from streams.report.files import from_compare

    request = CompareRequest(reference=reference, current=current, targets=target,
                             predictions=prediction, exclude=exclude, numeric=numeric,
                             categorical=categorical, policy=policy, options=options)
    try:
        return from_compare(run_compare(request))
    except InputError as exc:
        _fail(str(exc))


def _from_store(model: str, model_version: str, since: datetime | None,
                until: datetime | None, config: Path | None, database: str | None
                ) -> ReportData:
    from store.engine import make_engine
    from streams.cli.store import _database_url, _store_errors
    from streams.report.stored import NoWindowsError, from_store

    with _store_errors():
        engine = make_engine(_database_url(config, database))
        try:
            with engine.connect() as conn:
                return from_store(conn, model, model_version, since, until)
        except NoWindowsError as exc:
            _fail(str(exc))
        finally:
            engine.dispose()
