"""Multivariate drift: changes of the joint distribution of a window's features.

- ``reconstruction``: ``fit`` a ``Reconstruction`` on reference rows (PCA of the
  imputed, encoded and standardised columns) and ``test`` a window's mean
  reconstruction error against its null distribution, for a p-value;
- ``classifier``: ``classifier_test`` of reference rows against window rows, a
  cross-fitted logistic regression's held-out AUC with a Mann–Whitney p-value.

Input is a window's row-aligned sample (``detectors.rowsample.RowSample.columns()``):
numeric columns as float64 with NaN for missing, categorical columns as object
arrays with None. Pure functions and small state objects: no I/O.
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
