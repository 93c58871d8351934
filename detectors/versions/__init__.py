"""Champion against challenger: two versions of a model compared on live traffic.

- ``moments``: ``Moments``, the mergeable count / mean / M2 of per-row values;
- ``rows``: the per-row values compared (correctness, absolute error, log loss);
- ``sequential``: ``SequentialTest``, the always-valid mSPRT, looked at every window;
- ``intervals``: one window's differences of metrics with fixed-sample intervals
  (Newcombe's hybrid score interval for proportions, Welch's for means);
- ``agreement``: how often two versions predict the same class, and Cohen's kappa.

Pure functions and small state objects, as the rest of ``detectors``: no I/O.
"""
