"""Synthetic model data with drift injected, for the demo and for trying ``compare``.

``python -m streams.devtools.examples --out DIR`` writes ``reference.csv`` (a calm period)
and ``current.csv`` (a later period where three features and the model's score
have shifted and a new country appears).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv


def synthetic_table(n: int, *, drift: bool, seed: int) -> pa.Table:
    """A fraud-scoring model's inputs and outputs; ``drift`` shifts some of them."""
    rng = np.random.default_rng(seed)
    countries = ["DE", "FR", "US", "GB", "ES"]
    weights = [0.3, 0.2, 0.25, 0.15, 0.1]
    if drift:
        countries, weights = [*countries, "BR"], [0.2, 0.15, 0.2, 0.1, 0.1, 0.25]
    amount = rng.lognormal(3.6 if drift else 3.0, 1.0, n)
    age = rng.normal(41 if drift else 40, 12, n).round().clip(18, 95)
    sessions = rng.poisson(6.0 if drift else 3.0, n).astype(np.float64)
    tenure = rng.exponential(400, n).round()
    logit = 0.02 * amount - 0.03 * (age - 40) + 0.2 * sessions - 3.0
    score = 1.0 / (1.0 + np.exp(-logit))
    return pa.table({
        "amount": amount.round(2),
        "age": pa.array(age, mask=rng.random(n) < 0.03),
        "sessions": sessions,
        "tenure_days": tenure,
        "country": rng.choice(countries, n, p=weights),
        "device": rng.choice(["ios", "android", "web"], n, p=[0.4, 0.4, 0.2]),
        "score": score.round(4),
        "prediction": (score > 0.5).astype(np.int64),
        "label": (rng.random(n) < score).astype(np.int64),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(".demo"))
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(synthetic_table(args.rows, drift=False, seed=1), args.out / "reference.csv")
    pacsv.write_csv(synthetic_table(args.rows, drift=True, seed=2), args.out / "current.csv")
    print(f"wrote {args.out / 'reference.csv'} and {args.out / 'current.csv'}")


if __name__ == "__main__":
    main()
