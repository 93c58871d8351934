"""``driftline compare``: a reference file against a current one, the verdict printed."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from detectors import DriftPolicy, ProfileOptions
from detectors.policy import CATEGORICAL_EFFECTS, NUMERIC_EFFECTS, VERDICTS
from streams.batch.compare import CompareRequest, run_compare
from streams.batch.files import InputError
from streams.batch.report import render_table
from streams.cli.errors import CLIError

EXIT_DRIFT = 3
F = TypeVar("F", bound=Callable[..., Any])


def column_options(command: F) -> F:
    """The options naming the files' columns, shared by ``compare`` and ``report``."""
    for option in reversed([
            click.option("--target", multiple=True, metavar="COL",
                         help="Ground-truth label column."),
            click.option("--prediction", multiple=True, metavar="COL",
                         help="Model output column (prediction or score); repeatable."),
            click.option("--exclude", multiple=True, metavar="COL",
                         help="Column to leave out (ids...)."),
            click.option("--numeric", multiple=True, metavar="COL",
                         help="Treat COL as numeric."),
            click.option("--categorical", multiple=True, metavar="COL",
                         help="Treat COL as categorical.")]):
        command = option(command)
    return command


@click.command()
@click.argument("reference", type=click.Path(path_type=Path))
@click.argument("current", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format; json is the documented contract.")
@column_options
@click.option("--verdict", type=click.Choice(VERDICTS), default="budget", show_default=True,
              help="budget: tests at the false-alarm level --alpha, with effect floors and a "
                   "reference minimum (docs/statistics.md); classic: PSI and "
                   "Benjamini-Hochberg at 0.05.")
@click.option("--alpha", type=float, default=None,
              help="budget: the probability a comparison without drift is flagged (default "
                   "1.16e-4, one window in 30 days of 5-minute windows); classic: the false "
                   "discovery rate (default 0.05).")
@click.option("--min-samples", type=int, default=100, show_default=True,
              help="Smallest sample, in both files, that gets a verdict.")
@click.option("--min-reference-rows", type=int, default=None,
              help="Rows the reference must hold for any verdict (budget 10000, classic 0).")
@click.option("--bins", type=int, default=10, show_default=True,
              help="Quantile bins of the reference for PSI.")
@click.option("--numeric-effect", type=click.Choice(NUMERIC_EFFECTS), default=None,
              help="Effect size that decides numeric drift (budget: wasserstein, classic: "
                   "psi).")
@click.option("--categorical-effect", type=click.Choice(CATEGORICAL_EFFECTS), default=None,
              help="Effect size that decides categorical drift (budget: hellinger, "
                   "classic: psi).")
@click.option("--warn", "warn_at", type=float, default=None,
              help="Warn threshold of the effect sizes chosen (Wasserstein default 0.1, "
                   "PSI 0.1).")
@click.option("--critical", "critical_at", type=float, default=None,
              help="Critical threshold of the effect sizes chosen (Wasserstein default "
                   "0.25, PSI 0.25).")
@click.option("--drift-share", type=float, default=0.5, show_default=True,
              help="Share of drifted features at which the dataset drifts.")
@click.option("--no-correction", is_flag=True, help="Do not correct p-values (not advised).")
@click.option("--fail-on-drift", is_flag=True,
              help=f"Exit with status {EXIT_DRIFT} when the dataset drifts.")
def compare(reference: Path, current: Path, fmt: str, target: tuple[str, ...],
            prediction: tuple[str, ...], exclude: tuple[str, ...], numeric: tuple[str, ...],
            categorical: tuple[str, ...], verdict: str, alpha: float | None,
            min_samples: int, min_reference_rows: int | None, bins: int,
            numeric_effect: str | None, categorical_effect: str | None,
            warn_at: float | None, critical_at: float | None, drift_share: float,
            no_correction: bool, fail_on_drift: bool) -> None:
    """Compare CURRENT against REFERENCE (CSV, Parquet or JSONL files).

    Prints per-column PSI, KS, Wasserstein, Jensen-Shannon, Hellinger and
    chi-square statistics with corrected p-values and verdicts, then the
    model-level result.
    """
    try:
        policy = build_policy(verdict, alpha, min_samples, min_reference_rows, numeric_effect,
                              categorical_effect, warn_at, critical_at, drift_share,
                              no_correction)
        request = CompareRequest(
            reference=reference, current=current, targets=target, predictions=prediction,
            exclude=exclude, numeric=numeric, categorical=categorical,
            policy=policy, options=ProfileOptions(bins=bins),
        )
        result = run_compare(request)
    except (InputError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        click.echo(render_table(result))
    if fail_on_drift and result.report.dataset_drift:
        sys.exit(EXIT_DRIFT)


def build_policy(verdict: str, alpha: float | None, min_samples: int,
                 min_reference_rows: int | None, numeric_effect: str | None,
                 categorical_effect: str | None, warn_at: float | None,
                 critical_at: float | None, drift_share: float, no_correction: bool
                 ) -> DriftPolicy:
    """The verdict policy of the threshold options (``compare`` and ``report`` share them)."""
    given: dict[str, object] = {
        key: value for key, value in (
            ("alpha", alpha), ("min_reference_rows", min_reference_rows),
            ("numeric_effect", numeric_effect), ("categorical_effect", categorical_effect),
            ("correction", "none" if no_correction else None)) if value is not None}
    base = DriftPolicy.of(verdict, **given)
    effects = dict.fromkeys((base.numeric_effect, base.categorical_effect))
    return DriftPolicy.of(
        verdict, **given, min_samples=min_samples, drift_share_threshold=drift_share,
        thresholds={k: v for effect in effects
                    for k, v in _thresholds(effect, warn_at, critical_at).items()})


def _thresholds(effect: str, warn: float | None, critical: float | None
                ) -> dict[str, tuple[float, float]]:
    if warn is None and critical is None:
        return {}
    from detectors import DEFAULT_THRESHOLDS

    default_warn, default_critical = DEFAULT_THRESHOLDS[effect]
    return {effect: (default_warn if warn is None else warn,
                     default_critical if critical is None else critical)}
