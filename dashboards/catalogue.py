"""What the dashboards and rules may read, and the thresholds they draw."""

from __future__ import annotations

from typing import Final

# The default effect-size thresholds of detectors.DriftPolicy (warn, critical).
PSI_WARN, PSI_CRITICAL = 0.1, 0.25
KS_WARN, KS_CRITICAL = 0.1, 0.2
# driftline_feature_drift: 0 none, 1 warn, 2 critical (streams.runtime.metrics.SEVERITY_LEVEL).
DRIFT_WARN, DRIFT_CRITICAL = 1, 2

# The Prometheus datasource provisioned with a fixed uid (provisioning/datasources/).
DATASOURCE_UID: Final = "driftline-prometheus"
OVERVIEW_UID: Final = "driftline-overview"
MODEL_UID: Final = "driftline-model"

# Where a browser reaches `driftline api` (the compose stack publishes it on port 8000),
# and the report of the window a series showed at a clicked time (streams/api/report_route.py:
# ``at`` takes the Unix milliseconds a data link's ${__value.time} gives).
API_URL: Final = "http://localhost:8000"
REPORT_LINK: Final = ("${api_url}/v1/models/${__field.labels.model}/versions/"
                      "${__field.labels.version}/report/window?at=${__value.time}")

# Realised performance metrics of driftline_model_performance{metric}; estimates are
# the same names prefixed with "estimated_". The package imports only the standard library
# and its build dependencies, so these copy detectors/catalogue.py's ESTIMATED_METRICS and
# regression metrics (tests/unit/detectors/test_catalogue.py checks they are equal).
CLASSIFICATION_METRICS: Final = ("accuracy", "precision", "recall", "f1", "roc_auc")
REGRESSION_METRICS: Final = ("mae", "rmse", "r2")
