"""PromQL as the dashboards use it: Grafana variables substituted, metric names found.

Prometheus itself parses the expressions (``tests/integration/test_dashboards.py``
sends each to ``/api/v1/query``); this module only does what Prometheus has no
API for in the releases we support: listing the metric names an expression
reads, so a test can compare them with the series a worker really exports.

>>> metric_names('sum by (model) (rate(driftline_events_total{outcome="late"}[5m]))')
['driftline_events_total']
>>> substitute('x{model="$model", feature=~"${feature}"}[$__rate_interval]',
...            {"model": "fraud", "feature": "amount"})
'x{model="fraud", feature=~"amount"}[1m]'
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Grafana's built-in variables, with values a short test scrape can answer.
BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h",
                     "__range_s": "3600", "__interval_ms": "15000"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*(?![\w:])")
KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                      "group_right", "bool", "offset", "inf", "nan", "start", "end", "atan2"})


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with every Grafana variable replaced; an unknown variable is a ``KeyError``."""
    known = {**BUILTIN_VARIABLES, **values}

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in known:
            raise KeyError(f"no value for the Grafana variable ${name} in {expr!r}")
        return known[name]

    return _VARIABLE.sub(value, expr)


def metric_names(expr: str) -> list[str]:
    """The metric names ``expr`` selects, sorted (``{__name__=...}`` included)."""
    names = set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("{}", text)
    previous = None
    while previous != text:  # nested ranges (subqueries) and label lists
        previous = text
        text = _BRACKETS.sub("", _LABEL_LISTS.sub(" ", text))
    for match in _IDENTIFIER.finditer(text):
        rest = text[match.end():].lstrip()
        if match.group() in KEYWORDS or rest.startswith("("):
            continue  # a keyword, a function or an aggregation
        names.add(match.group())
    return sorted(names)
