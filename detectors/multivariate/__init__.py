"""Multivariate drift: changes of the joint distribution of a window's features.

- ``reconstruction``: ``fit`` a ``Reconstruction`` on reference rows (PCA of the
  imputed, encoded and standardised columns) and ``test`` a window's mean
  reconstruction error against its null distribution, for a p-value;
- ``classifier``: ``classifier_test`` of reference rows against window rows, a
  cross-fitted logistic regression's held-out AUC with a Mann–Whitney p-value.

Input is a window's row-aligned sample (``detectors.rowsample.RowSample.columns()``):
numeric columns as float64 with NaN for missing, categorical columns as object
arrays with None. Pure functions and small state objects: no I/O.

A multivariate p-value is one more test of the window, corrected with the
columns' own (``detectors.correction``): with Bonferroni, the window is within
its budget ``alpha`` while no adjusted p-value is below it.

>>> import numpy as np
>>> from detectors.correction import bonferroni
>>> rng = np.random.default_rng(0)
>>> s = rng.standard_normal(4_000)
>>> reference = {"x": s + rng.standard_normal(4_000) / 4, "y": s + rng.standard_normal(4_000) / 4}
>>> model = fit(reference)
>>> t = rng.standard_normal(1_000)
>>> window = {"x": -(t + rng.standard_normal(1_000) / 4), "y": t + rng.standard_normal(1_000) / 4}
>>> column_pvalues = [0.41, 0.63]  # the per-column tests: each marginal unchanged
>>> adjusted = bonferroni([*column_pvalues, model.test(window).p_value])
>>> [p < 0.01 for p in adjusted]
[False, False, True]
"""

from detectors.multivariate._encoding import CategoricalEncoding
from detectors.multivariate.classifier import ClassifierResult, classifier_test
from detectors.multivariate.reconstruction import (
    Reconstruction,
    ReconstructionResult,
    fit,
)

__all__ = [
    "CategoricalEncoding",
    "ClassifierResult",
    "Reconstruction",
    "ReconstructionResult",
    "classifier_test",
    "fit",
]
