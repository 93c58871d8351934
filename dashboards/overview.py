"""The Overview dashboard: every model's drift, the pipeline's health, alerts and delivery.

Queries read the worker's metrics directly (no recording rules), so the
dashboard works in a Grafana whose Prometheus does not load ``rules/``.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, Panel

from dashboards import catalogue as cat
from dashboards.panels import (
    GREEN,
    RED,
    YELLOW,
    row,
    stat_panel,
    time_series,
)
from dashboards.variables import datasource_variable

RATE = "$__rate_interval"


def build() -> dash.Dashboard:
    board = (dash.Dashboard("driftline — Overview").uid(cat.OVERVIEW_UID)
             .description("Every model monitored by driftline: drift, pipeline health, alerts.")
             .tags(["driftline"]).refresh("30s").time("now-6h", "now").timezone("browser")
             .editable().with_variable(datasource_variable())
             .link(dash.DashboardLink("Model drill-down").type(DashboardLinkType.DASHBOARDS)
                   .tags(["driftline"]).as_dropdown(False).include_vars(False)
                   .keep_time(True)))
    board = board.with_row(row("Drift"))
    for panel in _drift():
        board = board.with_panel(panel)
    board = board.with_row(row("Pipeline"))
    for panel in _pipeline():
        board = board.with_panel(panel)
    board = board.with_row(row("Alerts and delivery"))
    for panel in _alerting():
        board = board.with_panel(panel)
    return board


def _drift() -> list[Builder[Panel]]:
    return [
        stat_panel(
            "Drift status", "Worst feature verdict of each model version's last closed window "
            "(none / warn / critical). Red: at least one feature drifted critically — open the "
            "model drill-down (link at the top) to see which features and since when, then "
            "check upstream data changes or deployments before asking for a retrain.",
            [("max by (model, version) (driftline_feature_drift)", "{{model}} v{{version}}")],
            steps=((None, GREEN), (cat.DRIFT_WARN, YELLOW), (cat.DRIFT_CRITICAL, RED)),
            severity=True, width=8),
        stat_panel(
            "Drifted features", "Features whose verdict is warn or critical in the last "
            "closed window. Rising counts across many features usually mean an upstream "
            "pipeline change (schema, units, a broken join) rather than a real population "
            "shift: check the feature owners' recent changes.",
            [("sum by (model, version) (driftline_feature_drift >= bool 1)",
              "{{model}} v{{version}}")],
            steps=((None, GREEN), (1, YELLOW), (3, RED)), width=8),
        stat_panel(
            "Dataset drift share", "Share of the model's features that drifted in the last "
            "window. Red at the dataset-drift threshold (0.5 by default): the model as a "
            "whole is seeing data unlike its reference — consider pausing automated "
            "decisions and request a retrain once the cause is understood.",
            [("driftline_dataset_drift_share", "{{model}} v{{version}}")], unit="percentunit",
            steps=((None, GREEN), (0.25, YELLOW), (0.5, RED)), width=8),
        time_series(
            "Worst PSI per model", "Highest PSI of any feature, per model version and window. "
            "The dashed lines are the warn (0.1) and critical (0.25) thresholds. Above red: "
            "find the feature in the drill-down's PSI panel.",
            [("max by (model, version) (driftline_feature_psi)", "{{model}} v{{version}}")],
            steps=((None, GREEN), (cat.PSI_WARN, YELLOW), (cat.PSI_CRITICAL, RED)),
            draw_thresholds=True, minimum=0, width=24),
    ]


def _pipeline() -> list[Builder[Panel]]:
    accepted = f'sum(rate(driftline_events_total[{RATE}]))'
    invalid = f"sum(rate(driftline_events_invalid_total[{RATE}]))"
    return [
        time_series(
            "Events per second", "Prediction events accepted per model. A drop to zero with "
            "producers still running means the workers are stuck or the consumer group lost "
            "its partitions: check the workers' /readyz and logs and the consumer lag panel.",
            [(f'sum by (model) (rate(driftline_events_total{{outcome="accepted"}}[{RATE}]))',
              "{{model}}")], unit="ops", width=8),
        time_series(
            "Invalid events (dead letters) per second", "Events that failed validation and "
            "went to the dead-letter topic, by reason. Red when any arrive: read a few "
            "records of driftline.deadletter (each names the error and its source offset) "
            "and tell the model server's owners; the worker keeps running.",
            [(f"sum by (reason) (rate(driftline_events_invalid_total[{RATE}]))", "{{reason}}")],
            unit="ops", steps=((None, GREEN), (0.001, RED)), draw_thresholds=True, width=8),
        time_series(
            "Invalid share", "Invalid events as a share of all events read. Above 1 % "
            "(yellow) a producer is sending a broken schema; above 5 % (red) drift statistics "
            "are biased toward the valid part: fix the producer first.",
            [(f"{invalid} / clamp_min({accepted} + {invalid}, 1e-9)", "invalid share")],
            unit="percentunit", steps=((None, GREEN), (0.01, YELLOW), (0.05, RED)),
            draw_thresholds=True, minimum=0, width=8),
        time_series(
            "Late events per second", "Events later than the window's grace period, counted "
            "and left out of closed windows. A steady rise means producers buffer too long or "
            "their clocks are off: raise the model's window.grace or fix the producer.",
            [(f"sum by (model) (rate(driftline_late_events_total[{RATE}]))", "{{model}}")],
            unit="ops", width=8),
        time_series(
            "Consumer lag", "Prediction messages not yet read by the workers. Growing for "
            "more than a few minutes (red above 100k): scale the workers (docker compose up "
            "--scale worker=N, up to the partition count) or look for a slow database.",
            [("sum by (topic) (driftline_consumer_lag_messages)", "{{topic}}")],
            steps=((None, GREEN), (10_000, YELLOW), (100_000, RED)), draw_thresholds=True,
            minimum=0, width=8),
        time_series(
            "Last closed window age", "Wall-clock time since the event-time end of each model's "
            "last closed window. It grows when a model stops sending events or a worker stops "
            "closing windows; red after 30 minutes (the stalled-pipeline alert): check the "
            "model's traffic first, then the workers.",
            [("time() - max by (model, version) "
              "(driftline_last_window_end_timestamp_seconds)", "{{model}} v{{version}}")],
            unit="s", steps=((None, GREEN), (900, YELLOW), (1800, RED)), width=8),
        stat_panel(
            "Workers ready", "Workers that joined the consumer group and restored their "
            "window state. Red at zero: no window closes anywhere — restart the workers and "
            "read their logs (database and broker reachability come first).",
            [("sum(driftline_ready)", "ready")], steps=((None, RED), (1, GREEN)), width=6),
        stat_panel(
            "Open windows", "Windows held in memory across the workers. A count that only "
            "grows means watermarks do not advance (a partition with no traffic holds its "
            "windows until the idle timeout): check the idle timeout and the producers.",
            [("sum(driftline_open_windows)", "open")], width=6),
        time_series(
            "Window close time (p95)", "Time to finalise and store a window. Above 1 s "
            "(red) the database is slow or the windows very large: check PostgreSQL's load "
            "and the store-error rate.",
            [(f"histogram_quantile(0.95, sum by (le) "
              f"(rate(driftline_window_close_duration_seconds_bucket[{RATE}])))", "p95")],
            unit="s", steps=((None, GREEN), (0.25, YELLOW), (1, RED)), draw_thresholds=True,
            width=6),
        time_series(
            "Store errors per second", "Failed database transactions, retried by the worker "
            "without committing offsets (nothing is lost, windows wait). Red when any occur: "
            "check that PostgreSQL is up, reachable and has disk space.",
            [(f"sum(rate(driftline_store_errors_total[{RATE}]))", "store errors")],
            unit="ops", steps=((None, GREEN), (0.001, RED)), width=6),
    ]


def _alerting() -> list[Builder[Panel]]:
    return [
        stat_panel(
            "Open alerts", "driftline's own alerts currently firing, by model and severity. "
            "Each has a Slack / PagerDuty message with its window; acknowledge there and use "
            "the drill-down to judge it.",
            [("sum by (model, severity) (driftline_alerts_firing)",
              "{{model}} {{severity}}")],
            steps=((None, GREEN), (1, RED)), width=6),
        time_series(
            "Webhook delivery failures", "Deliveries to Slack, PagerDuty, webhooks and the "
            "retrain endpoint that did not succeed, by receiver and outcome. Retries are "
            "normal in bursts; a steady rate means a receiver is down or refuses us (check "
            "its URL, token and rate limits).",
            [("sum by (receiver, outcome) (rate(driftline_webhook_deliveries_total"
              f'{{outcome!="delivered"}}[{RATE}]))', "{{receiver}} {{outcome}}")],
            unit="ops", steps=((None, GREEN), (0.01, RED)), width=6),
        stat_panel(
            "Webhook dead letters (1 h)", "Notifications given up on in the last hour "
            "(4xx other than 429, or retries exhausted). Red: someone was not told — "
            "read the outbox rows in dead-letter state and re-send by hand.",
            [("sum by (receiver) (increase(driftline_webhook_deliveries_total"
              '{outcome="dead_letter"}[1h]))', "{{receiver}}")],
            steps=((None, GREEN), (1, RED)), width=6),
        stat_panel(
            "Outbox backlog", "Notifications waiting to be delivered. Growing: the dispatcher "
            "is not running or every receiver is failing — see the delivery failures panel.",
            [("sum(driftline_outbox_pending)", "pending")],
            steps=((None, GREEN), (100, YELLOW), (1000, RED)), width=6),
    ]
