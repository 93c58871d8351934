from __future__ import annotations

import pytest

from dashboards.promql import metric_names, substitute


@pytest.mark.parametrize(("expr", "names"), [
    ("driftline_feature_psi", ["driftline_feature_psi"]),
    ('sum by (model, version) (driftline_feature_drift{model="a"} >= bool 1)',
     ["driftline_feature_drift"]),
    ("sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total[5m])) + sum(rate(a_total[5m])), 1e-9)",
     ["a_total", "b_total"]),
    ("histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))", ["x_bucket"]),
    ("time() - max without (instance) (ts_seconds)", ["ts_seconds"]),
    ("a_metric > on (model) group_left (team) b_info and ignoring (x) c offset 1h",
     ["a_metric", "b_info", "c"]),
    ('max_over_time(rate(x_total{job="a:b"}[5m])[1h:1m])', ["x_total"]),
    ('{__name__="driftline_ready"} == 0', ["driftline_ready"]),
    ("driftline:feature_psi:max >= 2", ["driftline:feature_psi:max"]),
    ('count({job="x"})', []),
])
def test_metric_names(expr: str, names: list[str]) -> None:
    assert metric_names(expr) == names


def test_substitute_replaces_every_variable_form() -> None:
    expr = 'x{a="$model", b=~"${feature:regex}", c="[[version]]"}[$__rate_interval]'
    assert substitute(expr, {"model": "m", "feature": "f", "version": "7"}) == (
        'x{a="m", b=~"f", c="7"}[1m]')


def test_substitute_refuses_an_unknown_variable() -> None:
    with pytest.raises(KeyError, match=r"\$team"):
        substitute('x{team="$team"}', {})
