"""Panel helpers over grafana-foundation-sdk: every panel reads the Prometheus datasource
variable, carries a description for the on-call engineer, and draws its thresholds."""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, statushistory, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    FieldColorModeId,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)

from dashboards.catalogue import REPORT_LINK

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"

Step = tuple[float | None, str]
Target = tuple[str, str]  # (expression, legend)


def thresholds(*steps: Step) -> dash.ThresholdsConfig:
    """Absolute thresholds; the first step's value is None (minus infinity)."""
    return (dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE)
            .steps([Threshold(value=value, color=color) for value, color in steps]))


def severity_mappings() -> list[ValueMap]:
    """driftline_feature_drift's 0 / 1 / 2 as none, warn and critical."""
    names = {"0": ("none", GREEN), "1": ("warn", YELLOW), "2": ("critical", RED)}
    return [ValueMap(options={
        value: ValueMappingResult(text=text, color=color, index=i)
        for i, (value, (text, color)) in enumerate(names.items())})]


def _targets(targets: Sequence[Target], instant: bool = False) -> list[prometheus.Dataquery]:
    queries = []
    for i, (expr, legend) in enumerate(targets):
        query = (prometheus.Dataquery().expr(expr).legend_format(legend)
                 .ref_id(chr(ord("A") + i)).datasource(DATASOURCE))
        queries.append(query.instant() if instant else query.range())
    return queries


def time_series(title: str, description: str, targets: Sequence[Target], *,
                unit: str = "short", steps: Sequence[Step] = ((None, GREEN),),
                draw_thresholds: bool = False, width: int = 12, height: int = 8,
                minimum: float | None = None, maximum: float | None = None,
                report: bool = False) -> timeseries.Panel:
    """A time series; ``draw_thresholds`` draws the steps as dashed lines and areas;
    ``report`` links each point to the report of its window (``report_link``)."""
    panel = (timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(list(_targets(targets))).unit(unit).span(width).height(height)
             .thresholds(thresholds(*steps)).line_width(2).fill_opacity(10)
             .legend(common_builders.VizLegendOptions().show_legend(True)
                     .display_mode(common.LegendDisplayMode.TABLE)
                     .placement(common.LegendPlacement.BOTTOM).calcs(["lastNotNull", "max"]))
             .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                      .sort(common.SortOrder.DESCENDING)))
    if draw_thresholds:
        panel = panel.thresholds_style(common_builders.GraphThresholdsStyleConfig()
                                       .mode(common.GraphThresholdsStyleMode.DASHED_AND_AREA))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if report:
        panel = panel.data_links([report_link()])
    return panel


def stat_panel(title: str, description: str, targets: Sequence[Target], *,
               unit: str = "short", steps: Sequence[Step] = ((None, GREEN),),
               width: int = 6, height: int = 5, severity: bool = False) -> stat.Panel:
    """A stat of the last value, coloured by its thresholds (or as a drift severity)."""
    panel = (stat.Panel().title(title).description(description).datasource(DATASOURCE)
             .targets(list(_targets(targets, instant=True))).unit(unit).span(width)
             .height(height).thresholds(thresholds(*steps))
             .color_mode(common.BigValueColorMode.BACKGROUND)
             .graph_mode(common.BigValueGraphMode.NONE)
             .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
             .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"])
                             .values(False)))
    if severity:
        panel = panel.mappings(list(severity_mappings()))
    return panel


def status_history(title: str, description: str, targets: Sequence[Target], *,
                   steps: Sequence[Step], width: int = 24, height: int = 10,
                   severity: bool = False, unit: str = "short", report: bool = False
                   ) -> statushistory.Panel:
    """One row per series (feature), one cell per interval (window), coloured by value;
    ``report`` links each cell to the report of its window (``report_link``)."""
    panel = (statushistory.Panel().title(title).description(description)
             .datasource(DATASOURCE).targets(list(_targets(targets))).span(width)
             .height(height).thresholds(thresholds(*steps)).unit(unit)
             .color_scheme(dash.FieldColor().mode(FieldColorModeId.THRESHOLDS))
             .show_value(common.VisibilityMode.NEVER).row_height(0.9))
    if severity:
        panel = panel.mappings(list(severity_mappings()))
    if report:
        panel = panel.data_links([report_link()])
    return panel


def report_link() -> dash.DashboardLink:
    """A data link: the API's report of the window a series showed at the clicked time."""
    return (dash.DashboardLink("Report of this window").type(DashboardLinkType.LINK)
            .url(REPORT_LINK).target_blank(True)
            .tooltip("The HTML report of the window (driftline api)"))


def row(title: str) -> dash.Row:
    return dash.Row(title)
