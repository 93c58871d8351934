"""The Model drill-down dashboard, templated by model, version and feature."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, Panel

from dashboards import catalogue as cat
from dashboards.panels import (
    DATASOURCE,
    GREEN,
    RED,
    YELLOW,
    row,
    stat_panel,
    status_history,
    time_series,
)
from dashboards.variables import api_url_variable, datasource_variable, model_variables

RATE = "$__rate_interval"
MODEL = 'model="$model", version=~"$version"'
FEATURE = f'{MODEL}, feature=~"$feature"'
CONCEPT_DRIFT = ("sum by (model, version, detector) (changes(driftline_concept_drift_detections"
                 f"_total{{{MODEL}}}[$__interval])) > 0")


def build() -> dash.Dashboard:
    board = (dash.Dashboard("driftline — Model drill-down").uid(cat.MODEL_UID)
             .description("One model's data drift, feature by feature and window by window, "
                          "its performance and its concept-drift detections.")
             .tags(["driftline"]).refresh("30s").time("now-6h", "now").timezone("browser")
             .editable().with_variable(datasource_variable())
             .link(dash.DashboardLink("Overview").type(DashboardLinkType.DASHBOARDS).tags(["driftline"])
                   .as_dropdown(False).include_vars(False).keep_time(True))
             .annotation(dash.AnnotationQuery().name("Concept drift").datasource(DATASOURCE)
                         .enable(True).icon_color("red").expr(CONCEPT_DRIFT)))
    for variable in model_variables():
        board = board.with_variable(variable)
    board = board.with_variable(api_url_variable())
    for title, panels in (("Data drift", _summary() + _drift()),
                          ("Performance and labels", _performance())):
        board = board.with_row(row(title))
        for panel in panels:
            board = board.with_panel(panel)
    return board


def _summary() -> list[Builder[Panel]]:
    return [
        stat_panel(
            "Dataset drift", "Whether the last closed window drifted as a whole (share of "
            "drifted features at or above the threshold, or prediction drift). Red: the model "
            "sees data unlike its reference; read the feature panels below before deciding "
            "on a retrain.",
            [(f"driftline_dataset_drift{{{MODEL}}}", "v{{version}}")], unit="bool_yes_no",
            steps=((None, GREEN), (1, RED))),
        stat_panel(
            "Drift share", "Share of features that drifted in the last closed window. Red "
            "at 0.5 (the default dataset-drift threshold).",
            [(f"driftline_dataset_drift_share{{{MODEL}}}", "v{{version}}")],
            unit="percentunit", steps=((None, GREEN), (0.25, YELLOW), (0.5, RED))),
        stat_panel(
            "Drifted features", "Features with a warn or critical verdict in the last window. "
            "Many at once: suspect an upstream change (schema, units, a broken join) first.",
            [(f"sum by (version) (driftline_feature_drift{{{MODEL}}} >= bool 1)",
              "v{{version}}")], steps=((None, GREEN), (1, YELLOW), (3, RED))),
        stat_panel(
            "Events in the last window", "Prediction events in the last closed window. Far "
            "below usual: traffic dropped or events are being dead-lettered (see the "
            "Overview's invalid-event panels); too few events give insufficient-data verdicts.",
            [(f"driftline_window_events{{{MODEL}}}", "v{{version}}")]),
    ]


def _drift() -> list[Builder[Panel]]:
    return [
        time_series(
            "PSI per feature", "Population stability index of each selected feature per "
            "window, against the reference's frozen quantile bins. Dashed lines: warn 0.1, "
            "critical 0.25. Above red: compare the feature's recent values with the "
            "reference (driftline windows MODEL --format json shows the bins) and ask its owner.",
            [(f"driftline_feature_psi{{{FEATURE}}}", "{{feature}} v{{version}}")],
            steps=((None, GREEN), (cat.PSI_WARN, YELLOW), (cat.PSI_CRITICAL, RED)),
            draw_thresholds=True, minimum=0, report=True),
        time_series(
            "KS statistic per feature", "Kolmogorov–Smirnov distance of each selected numeric "
            "feature per window. Dashed lines: 0.1 and 0.2. A high KS with a low PSI is a "
            "shape change inside bins (variance, tails): look at the feature's quantiles.",
            [(f"driftline_feature_ks_statistic{{{FEATURE}}}", "{{feature}} v{{version}}")],
            steps=((None, GREEN), (cat.KS_WARN, YELLOW), (cat.KS_CRITICAL, RED)),
            draw_thresholds=True, minimum=0, maximum=1, report=True),
        status_history(
            "Feature × window drift (heatmap)", "Each row a feature, each cell a window: green "
            "none, yellow warn, red critical. A column of red is a dataset-wide event (an "
            "upstream change); a row of red is one feature drifting — start with the earliest "
            "red cell and what was deployed then.",
            [(f"driftline_feature_drift{{{MODEL}}}", "{{feature}} v{{version}}")],
            steps=((None, GREEN), (cat.DRIFT_WARN, YELLOW), (cat.DRIFT_CRITICAL, RED)),
            severity=True, height=12, report=True),
        status_history(
            "Feature × window PSI (heatmap)", "PSI of every feature per window, coloured by "
            "the warn (0.1) and critical (0.25) thresholds, including features without a "
            "drift verdict (too few samples or a non-significant p-value).",
            [(f"driftline_feature_psi{{{MODEL}}}", "{{feature}} v{{version}}")],
            steps=((None, GREEN), (cat.PSI_WARN, YELLOW), (cat.PSI_CRITICAL, RED)),
            height=12, report=True),
        time_series(
            "KS p-value per feature", "Corrected decisions use Benjamini–Hochberg across "
            "features; this is the raw p-value. Below 0.05 (red area) alone is not drift on "
            "large windows: the effect size (PSI, KS) decides.",
            [(f"driftline_feature_ks_pvalue{{{FEATURE}}}", "{{feature}} v{{version}}")],
            steps=((None, RED), (0.05, GREEN)), draw_thresholds=True, minimum=0, maximum=1,
            report=True),
        time_series(
            "Other effect sizes", "Jensen–Shannon distance, Hellinger distance and "
            "Wasserstein distance (in reference σ) of the selected features. Above 0.2: "
            "the feature's distribution changed even if PSI is calm.",
            [(f"driftline_feature_statistic{{{FEATURE}, "
              'statistic=~"js_distance|hellinger|wasserstein"}',
              "{{feature}} {{statistic}} v{{version}}")],
            steps=((None, GREEN), (0.1, YELLOW), (0.2, RED)), minimum=0, report=True),
    ]


def _performance() -> list[Builder[Panel]]:
    realised = "|".join(cat.CLASSIFICATION_METRICS)
    estimated = "|".join(f"estimated_{m}" for m in cat.CLASSIFICATION_METRICS)
    errors = "|".join(m for m in (*cat.REGRESSION_METRICS, "log_loss") if m != "r2")
    return [
        time_series(
            "Realised performance", "Accuracy, precision, recall, F1 and ROC AUC of the "
            "windows whose labels arrived. A drop that follows data drift: request a "
            "retrain; a drop without drift: concept drift — check the detections below.",
            [(f'driftline_model_performance{{{MODEL}, metric=~"{realised}"}}',
              "{{metric}} v{{version}}")], unit="percentunit",
            steps=((None, RED), (0.7, YELLOW), (0.8, GREEN)), minimum=0, maximum=1),
        time_series(
            "Estimated performance", "Performance estimated from the scores before labels "
            "arrive. A fall here is the earliest warning; confirm with realised performance "
            "once label coverage catches up.",
            [(f'driftline_model_performance{{{MODEL}, metric=~"{estimated}"}}',
              "{{metric}} v{{version}}")], unit="percentunit",
            steps=((None, RED), (0.7, YELLOW), (0.8, GREEN)), minimum=0, maximum=1),
        time_series(
            "Errors (regression and log loss)", "MAE, RMSE and log loss per window: higher is "
            "worse. A step up after a deployment points at the model; a slow climb at drift.",
            [(f'driftline_model_performance{{{MODEL}, metric=~"{errors}"}}',
              "{{metric}} v{{version}}")], minimum=0, width=8),
        time_series(
            "Label coverage", "Share of the window's predictions with a joined label. Red "
            "below 20 %: realised performance is not trustworthy — check the label feed "
            "(driftline.labels) and the join TTL.",
            [(f'driftline_model_performance{{{MODEL}, metric="label_coverage"}}',
              "v{{version}}")], unit="percentunit",
            steps=((None, RED), (0.2, YELLOW), (0.5, GREEN)), minimum=0, maximum=1, width=8),
        time_series(
            "Labels per second", "Label events by join outcome. Unmatched or expired labels "
            "rising: labels arrive for unknown predictions or after the TTL — fix the ids or "
            "raise the join TTL.",
            [(f'sum by (outcome) (rate(driftline_labels_total{{model="$model"}}[{RATE}]))',
              "{{outcome}}")], unit="ops", width=8),
        time_series(
            "Concept-drift detections (1 h)", "Online detector alarms on the error stream "
            "(also drawn as red annotations on every panel). A detection means the error "
            "rate changed: compare with realised performance and request a retrain if it "
            "fell.",
            [(f"sum by (detector) (increase(driftline_concept_drift_detections_total"
              f"{{{MODEL}}}[1h]))", "{{detector}}")], steps=((None, GREEN), (1, RED)),
            width=24),
    ]
