"""Multivariate drift: the butterfly, the null false-alarm rate and the time per window.

Measures ``detectors.multivariate.reconstruction`` (PCA reconstruction error with
a p-value from held-out reference rows):

* **Butterfly**, NannyML's documented example: ``s ~ N(0, 1)``,
  ``x1 = s + e1/8``, ``x2 = s + e2/8``, ``x3 = e3/8``; from week 15 on, the
  three features are rotated by 90 degrees around the z axis, which maps
  ``(x1, x2)`` to ``(-x2, x1)`` and keeps every marginal. 20 weeks of 2,016
  rows (a row every 5 minutes), the first 10 the reference, as theirs. Each
  analysis week is one window, tested at the per-window level after Bonferroni
  over the per-feature tests and this one (``alpha / (features + 1)``); next to
  it the largest per-feature KS statistic and PSI (10 reference-decile bins)
  and the smallest KS p-value, and NannyML's own threshold (mean ± 3 std of the
  error over the 10 reference weeks, computed in their manner: on the fitted
  rows). Then repeated over seeds, with three irrelevant features added, and at
  smaller windows (the same rotation, windows of 100 and 1,000 rows).
* **Null**: windows drawn from the reference's own distribution (correlated
  and skewed numbers, 10 % missing values in one, a dependent categorical with
  5 % missing, an 80-category long-tailed one) at 100, 1,000 and 10,000 rows,
  a fresh reference of 20,000 rows (and a fresh fit) per few windows: the
  share flagged at alpha 0.05 and 0.01, with Clopper–Pearson 95 % intervals,
  and which side (error above or below the expected).
* **Tail**: how far into the tail the p-value holds, beyond what windows can
  measure: a million window means of 100 rows (200,000 of 1,000) drawn from a
  pool of a million held-out rows' errors, whose own mean, standard deviation
  and skewness stand in for the fitted ones; the share beyond each side's
  nominal level, as a multiple of it, for the normal tail and for the Pearson
  type III tail that ``test`` uses.
* **Classifier** (``detectors.multivariate.classifier``): the same butterfly
  windows (last column of the butterfly table) and null windows of the mixed
  data against 20,000-row references (a new one every 10 windows), at the
  defaults (at most 2,000 rows a side).
* **Time**: fitting on 20,000 rows; testing one window (median of the null
  windows), by window size.

Usage: ``.venv/bin/python bench/multivariate.py [--quick]`` (``make bench-multivariate``).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from detectors.multivariate import Reconstruction, classifier_test, fit
from detectors.multivariate.reconstruction import two_sided_p
from streams.devtools.multivariate_data import WEEK, Columns, butterfly, mixed

ALPHA = 0.05
def psi(reference: NDArray[np.float64], current: NDArray[np.float64]) -> float:
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])
    expected = np.bincount(np.searchsorted(edges, reference), minlength=10) / reference.size
    actual = np.bincount(np.searchsorted(edges, current), minlength=10) / current.size
    expected, actual = np.maximum(expected, 1e-4), np.maximum(actual, 1e-4)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def clopper_pearson(hits: int, n: int) -> str:
    low = sps.beta.ppf(0.025, hits, n - hits + 1) if hits else 0.0
    high = sps.beta.ppf(0.975, hits + 1, n - hits) if hits < n else 1.0
    return f"{hits / n:.4f} ({low:.4f}–{high:.4f})"


def nannyml_band(model: Reconstruction, weeks: list[Columns]) -> tuple[float, float]:
    """NannyML's threshold: mean ± 3 std of the reference weeks' mean errors."""
    means = np.array([model.errors(week).mean() for week in weeks])
    return float(means.mean() - 3 * means.std()), float(means.mean() + 3 * means.std())


def butterfly_weeks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    weeks = [butterfly(rng, WEEK, rotated=w >= 15) for w in range(20)]
    reference = {name: np.concatenate([w[name] for w in weeks[:10]]) for name in weeks[0]}
    start = time.perf_counter()
    model = fit(reference)
    fitted = time.perf_counter() - start
    low, high = nannyml_band(model, weeks[:10])
    level = ALPHA / (len(reference) + 1)
    print(f"Seed {seed}; {model.n_components} of {len(model.columns)} components "
          f"({model.explained_variance:.3f} of the variance); fit {fitted * 1e3:.0f} ms; "
          f"per-window level {level:.4f}; NannyML band [{low:.3f}, {high:.3f}].\n")
    print("| week | rotated | mean error | expected | z | p-value | flagged | NannyML band "
          "flags | largest KS D | smallest KS p | largest PSI |")
    print("|---:|---|---:|---:|---:|---:|---|---|---:|---:|---:|")
    for w in range(10, 20):
        window = weeks[w]
        result = model.test(window)
        assert result.p_value is not None
        assert result.z is not None
        ks = [sps.ks_2samp(reference[n], window[n]) for n in reference]
        print(f"| {w} | {'yes' if w >= 15 else 'no'} | {result.error:.3f} | "
              f"{result.expected:.3f} | {result.z:.1f} | {result.p_value:.2g} | "
              f"{'yes' if result.p_value < level else 'no'} | "
              f"{'yes' if not low <= result.error <= high else 'no'} | "
              f"{max(k.statistic for k in ks):.3f} | {min(k.pvalue for k in ks):.3f} | "
              f"{max(psi(reference[n], window[n]) for n in reference):.4f} |")


def butterfly_rates(seeds: int, quick: bool) -> None:
    print("\n| scenario | reference rows | window rows | rotated windows flagged | "
          "unrotated windows flagged | per-feature KS flags (rotated / unrotated) | "
          "classifier flags (rotated / unrotated) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for noise in (0, 3):
        for rows in (100, 1_000, WEEK):
            hits = [0, 0]
            ks_hits = [0, 0]
            classifier_hits = [0, 0]
            total = [0, 0]
            rng = np.random.default_rng(1_000 + noise * 10 + rows)
            for _ in range(seeds):
                reference = butterfly(rng, 10 * WEEK, rotated=False, noise=noise)
                model = fit(reference)
                level = ALPHA / (len(reference) + 1)
                for rotated in (True, False):
                    for _ in range(2 if quick else 5):
                        window = butterfly(rng, rows, rotated, noise)
                        p = model.test(window).p_value
                        assert p is not None
                        side = 0 if rotated else 1
                        hits[side] += p < level
                        classifier_hits[side] += classifier_test(
                            reference, window, seed=total[side]).p_value < level
                        ks_hits[side] += min(sps.ks_2samp(reference[n], window[n]).pvalue
                                             for n in reference) < level
                        total[side] += 1
            name = f"butterfly{' + 3 irrelevant features' if noise else ''}"
            print(f"| {name} | {10 * WEEK} | {rows} | {clopper_pearson(hits[0], total[0])} | "
                  f"{clopper_pearson(hits[1], total[1])} | {ks_hits[0]} / {ks_hits[1]} "
                  f"of {total[0]} / {total[1]} | {classifier_hits[0]} / {classifier_hits[1]} |")


def null(quick: bool) -> None:
    print("\n| window rows | windows | references | flagged at 0.05 | of which above / below "
          "| flagged at 0.01 | test time a window (median) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    plan = {100: (400, 10), 1_000: (1_000, 10), 10_000: (100, 5)}
    fits: list[float] = []
    for rows, (references, windows) in plan.items():
        if quick:
            references //= 5
        rng = np.random.default_rng(rows)
        z: list[float] = []
        pvalues: list[float] = []
        times: list[float] = []
        for r in range(references):
            start = time.perf_counter()
            model = fit(mixed(rng, 20_000), seed=r)
            fits.append(time.perf_counter() - start)
            for _ in range(windows):
                window = mixed(rng, rows)
                start = time.perf_counter()
                result = model.test(window)
                times.append(time.perf_counter() - start)
                assert result.z is not None
                assert result.p_value is not None
                z.append(result.z)
                pvalues.append(result.p_value)
        zs = np.array(z)
        p = np.array(pvalues)
        flagged = p < ALPHA
        print(f"| {rows} | {zs.size} | {references} | "
              f"{clopper_pearson(int(flagged.sum()), zs.size)} | "
              f"{int((flagged & (zs > 0)).sum())} / {int((flagged & (zs < 0)).sum())} | "
              f"{clopper_pearson(int((p < 0.01).sum()), zs.size)} | "
              f"{np.median(times) * 1e3:.1f} ms |")
    print(f"\nFit on 20,000 rows (6 columns, 2 categorical): median "
          f"{np.median(fits) * 1e3:.0f} ms.")


def classifier_null(quick: bool) -> None:
    print("\n| window rows | windows | flagged at 0.05 | flagged at 0.01 | "
          "mean AUC | time a window (median) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for rows, windows in ((100, 1_000), (1_000, 1_000), (10_000, 300)):
        if quick:
            windows //= 5
        rng = np.random.default_rng(rows + 1)
        p: list[float] = []
        auc: list[float] = []
        times: list[float] = []
        for w in range(windows):
            if w % 10 == 0:
                reference = mixed(rng, 20_000)
            window = mixed(rng, rows)
            start = time.perf_counter()
            result = classifier_test(reference, window, seed=w)
            times.append(time.perf_counter() - start)
            p.append(result.p_value)
            auc.append(result.auc)
        ps = np.array(p)
        print(f"| {rows} | {windows} | {clopper_pearson(int((ps < 0.05).sum()), windows)} | "
              f"{clopper_pearson(int((ps < 0.01).sum()), windows)} | {np.mean(auc):.4f} | "
              f"{np.median(times) * 1e3:.0f} ms |")


def tail(quick: bool) -> None:
    rng = np.random.default_rng(0)
    model = fit(mixed(rng, 20_000))
    pool = model.errors(mixed(rng, 200_000 if quick else 1_000_000))
    mu, sd, skew = float(pool.mean()), float(pool.std()), float(sps.skew(pool))
    print(f"\nPool of {pool.size} errors: skewness {skew:.2f}, excess kurtosis "
          f"{sps.kurtosis(pool):.2f}.\n")
    print("| window rows | means | nominal (two-sided) | normal: above / below | "
          "Pearson III: above / below |")
    print("|---:|---:|---:|---:|---:|")
    for n, means in ((100, 1_000_000), (1_000, 200_000)):
        if quick:
            means //= 10
        chunks = [pool[rng.integers(0, pool.size, (10_000, n))].mean(axis=1)
                  for _ in range(means // 10_000)]
        z = (np.concatenate(chunks) - mu) / (sd / np.sqrt(n))
        g = skew / np.sqrt(n)
        # two_sided_p, vectorised: scipy's pearson3 is the same tail (a test checks it)
        p3 = 2 * np.minimum(sps.pearson3.sf(z, g), sps.pearson3.cdf(z, g))
        assert abs(p3[0] - two_sided_p(float(z[0]), g)) < 1e-9
        normal = 2 * sps.norm.sf(np.abs(z))
        for level in (1e-2, 1e-3, 1e-4):
            half = level / 2 * z.size
            print(f"| {n} | {z.size} | {level:g} | {np.sum((normal < level) & (z > 0)) / half:.2f}"
                  f" / {np.sum((normal < level) & (z < 0)) / half:.2f} | "
                  f"{np.sum((p3 < level) & (z > 0)) / half:.2f} / "
                  f"{np.sum((p3 < level) & (z < 0)) / half:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the runs")
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}; "
          f"alpha {ALPHA}.\n")
    butterfly_weeks(23)
    butterfly_rates(4 if args.quick else 20, args.quick)
    null(args.quick)
    tail(args.quick)
    classifier_null(args.quick)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
