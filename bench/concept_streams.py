"""The labelled streams of the concept-drift benchmark (``bench/concept.py``).

Each change stream is River's synthetic generator under one concept for ``pre`` rows,
then under another for ``post`` rows, scored by a model that was right under the first
concept: what a deployed model sees when the world changes under it. The null streams
have no change at all. Every stream is a pure function of its seed.

* **SEA** (``river.datasets.synth.SEA``, noise 5%): the label is ``x1 + x2 > t`` with
  ``t`` = 8 under variant 0, 9 under variant 1 and 9.5 under variant 3. The model is the
  variant-0 rule with a logistic score, ``P(label) = 1 / (1 + exp(-2 (x1 + x2 - 8)))``,
  and predicts ``score >= 0.5``. Its error rate is about 5% before the change and about
  17% (variant 3) or 13% (variant 1) after it.
* **Agrawal** (``river.datasets.synth.Agrawal``, perturbation 5%): a scikit-learn
  decision tree (depth 6, at least 50 rows a leaf) trained on 2,000 rows of
  classification function 0, drawn with another seed; the stream switches from
  function 0 to function 2. Its error rate goes from about 5% to about 50%.
* **Null**: SEA variant 0 throughout (the same model), and errors drawn from a
  Bernoulli distribution at a constant rate (no labels or scores: 0/1 input only).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

import numpy as np
from numpy.typing import NDArray
from river.datasets import synth
from sklearn.tree import DecisionTreeClassifier

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
_OTHER_SEED = 100_003  # the seed offset of the second concept and of training data


@dataclass(frozen=True)
class Labelled:
    """Labels and the model's scores (probability of class 1) in event order."""

    labels: Ints
    scores: Floats
    change: int | None  # the index of the first row under the new concept

    @property
    def errors(self) -> Floats:
        """The 0/1 error: 1 where the prediction (``score >= 0.5``) is not the label."""
        wrong: NDArray[np.bool_] = (self.scores >= 0.5).astype(np.int64) != self.labels
        return wrong.astype(np.float64)

    @property
    def residuals(self) -> Floats:
        """The score residual ``|label - score|``."""
        return np.abs(self.labels - self.scores)


def _sea_rows(variant: int, seed: int, n: int) -> tuple[Floats, Ints]:
    rows = list(islice(synth.SEA(variant=variant, noise=0.05, seed=seed), n))
    x = np.array([[row[0], row[1], row[2]] for row, _ in rows], np.float64).reshape(-1, 3)
    return x, np.array([int(label) for _, label in rows], np.int64)


def sea_score(x: Floats) -> Floats:
    """The variant-0 model's probability that ``x1 + x2 > 8``."""
    return 1.0 / (1.0 + np.exp(-2.0 * (x[:, 0] + x[:, 1] - 8.0)))


def sea(seed: int, pre: int, post: int, after: int = 3) -> Labelled:
    """SEA variant 0 for ``pre`` rows, then variant ``after``; ``post == 0``: no change."""
    x0, y0 = _sea_rows(0, seed, pre)
    x1, y1 = _sea_rows(after, seed + _OTHER_SEED, post)
    x, y = np.vstack([x0, x1]), np.concatenate([y0, y1])
    return Labelled(y, sea_score(x), pre if post else None)


_AGRAWAL_FEATURES = ("salary", "commission", "age", "elevel", "car", "zipcode", "hvalue",
                     "hyears", "loan")


def _agrawal_rows(function: int, seed: int, n: int) -> tuple[Floats, Ints]:
    stream = synth.Agrawal(classification_function=function, seed=seed, perturbation=0.05)
    rows = list(islice(stream, n))
    x = np.array([[row[k] for k in _AGRAWAL_FEATURES] for row, _ in rows], np.float64)
    return x.reshape(-1, len(_AGRAWAL_FEATURES)), np.array([int(y) for _, y in rows], np.int64)


def agrawal(seed: int, pre: int, post: int, before: int = 0, after: int = 2,
            train: int = 2000) -> Labelled:
    """Agrawal function ``before`` then ``after``, scored by a tree fit on ``before``."""
    x_fit, y_fit = _agrawal_rows(before, seed + 2 * _OTHER_SEED, train)
    model = DecisionTreeClassifier(max_depth=6, min_samples_leaf=50, random_state=seed)
    model.fit(x_fit, y_fit)
    x0, y0 = _agrawal_rows(before, seed, pre)
    x1, y1 = _agrawal_rows(after, seed + _OTHER_SEED, post)
    x, y = np.vstack([x0, x1]), np.concatenate([y0, y1])
    scores = np.asarray(model.predict_proba(x)[:, 1], np.float64)
    return Labelled(y, scores, pre if post else None)


def bernoulli(seed: int, n: int, rate: float) -> Floats:
    """``n`` 0/1 errors at a constant ``rate``."""
    return (np.random.default_rng(seed).random(n) < rate).astype(np.float64)
